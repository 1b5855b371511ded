"""The auditor's authority check: was every event recorded by a key allowed to record it then?

The keys' history is on the log (``apikey.issued``, ``apikey.revoked``), so an auditor replays
it in leaf order beside the events it authorises. Each event's ``recorded_by`` must be the local
operator (the reserved key id ``operator``, an admin) or a key issued at an earlier leaf and not
revoked before this one, whose role may record this event type, and, for a network key, only
for its own network: the pledge's network (from the pledge's ``pledge.submitted``), the network
whose members change or whose names are corrected, a network the signing (or withdrawing)
city is a member of at that point of the log, or, for an external id's claim, the network of
the pledge that claims it.
Which role may record what is ``domain.authority.EVENT_AUTHORITY``, the same table the domain's
decisions enforce when the events are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.authority import EVENT_AUTHORITY, may_record
from domain.errors import DomainError
from domain.events import (
    CityJoinedNetwork,
    CityLeftNetwork,
    DeclarationSigned,
    ExternalIdClaimed,
    ExternalIdReleased,
    KeyIssued,
    KeyRevoked,
    MatchAccepted,
    MatchDeclined,
    MatchEnded,
    MatchOffered,
    NetworkCorrected,
    Payload,
    PledgeMatched,
    PledgeSubmitted,
    SignatureWithdrawn,
    parse_payload,
)
from domain.keys import OPERATOR, OPERATOR_KEY_ID
from domain.principal import Principal

# The event types whose payload the replay reads: the keys' history, and what says which
# networks a network key may act for.
_READ_PAYLOAD = frozenset(
    {
        "apikey.issued",
        "apikey.revoked",
        "pledge.submitted",
        "pledge.matched",
        "pledge.match_offered",
        "pledge.match_accepted",
        "pledge.match_declined",
        "pledge.match_ended",
        "network.city_joined",
        "network.city_left",
        "network.corrected",
        "declaration.signed",
        "declaration.signature_withdrawn",
        "extid.claimed",
        "extid.released",
    }
)


@dataclass(slots=True)
class _Key:
    principal: Principal
    issued_at: int
    revoked_at: int | None = None


@dataclass
class AuthorityReplay:
    """Feed it every entry in leaf order; ``check`` answers what is wrong with one, or None."""

    keys: dict[str, _Key] = field(default_factory=dict)
    pledge_networks: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    # match id -> its supporting pledge (None: a funder), from the offers (ADR 0015)
    match_supporters: dict[str, str | None] = field(default_factory=dict)

    def check(self, index: int, body: Mapping[str, Any]) -> str | None:
        """Check one canonical envelope (already checked for shape) at leaf ``index``, then
        take in what it changes; answer the problem, if any, in words."""
        event_type: str = body["type"]
        recorded_by: str = body["recorded_by"]
        payload: Payload | None = None
        if event_type in _READ_PAYLOAD:
            try:
                payload = parse_payload(event_type, body["schema_version"], body["payload"])
            except DomainError as error:
                return f"its payload does not decode: {error}"
        problem = self._authority_problem(event_type, recorded_by, body["stream_id"], payload)
        if problem is not None:
            return problem
        return self._take_in(index, body["stream_id"], payload)

    def _principal(self, recorded_by: str) -> tuple[Principal | None, str | None]:
        if recorded_by == OPERATOR_KEY_ID:
            return OPERATOR, None
        key = self.keys.get(recorded_by)
        if key is None:
            return None, f"recorded by key {recorded_by}, which no earlier entry issued"
        if key.revoked_at is not None:
            return None, (
                f"recorded by key {recorded_by} after its revocation at entry {key.revoked_at}"
            )
        return key.principal, None

    def _authority_problem(
        self, event_type: str, recorded_by: str, stream_id: str, payload: Payload | None
    ) -> str | None:
        principal, problem = self._principal(recorded_by)
        if principal is None:
            return problem
        if event_type not in EVENT_AUTHORITY:
            return f"no key may record {event_type} events"
        networks = self._networks_for(stream_id, payload)
        if may_record(principal, event_type, networks):
            return None
        if principal.network_id is None:
            return (
                f"recorded by {principal.role} key {recorded_by}, which may not record {event_type}"
            )
        return (
            f"recorded by key {recorded_by} of network {principal.network_id}, which may not "
            f"record {event_type} here (only "
            f"{', '.join(sorted(networks)) or 'no network'} may)"
        )

    def _networks_for(self, stream_id: str, payload: Payload | None) -> set[str]:
        """The networks a network key may act for on this event (see ``NetworkScope``)."""
        if isinstance(payload, PledgeSubmitted):
            return {payload.network_id}
        if isinstance(payload, CityJoinedNetwork | CityLeftNetwork | NetworkCorrected):
            return {payload.network_id}
        if isinstance(payload, DeclarationSigned | SignatureWithdrawn):
            return {n for n, cities in self.members.items() if payload.city_id in cities}
        if isinstance(payload, ExternalIdClaimed | ExternalIdReleased):
            # a claim acts for the pledge that claims or releases the id
            owner = self.pledge_networks.get(payload.pledge_id)
            return {owner} if owner is not None else set()
        networks: set[str] = set()
        kind, _, pledge_id = stream_id.partition(":")
        if kind == "pledge" and pledge_id in self.pledge_networks:
            networks.add(self.pledge_networks[pledge_id])
        supporting_pledge: str | None = None
        if isinstance(payload, PledgeMatched | MatchOffered):
            supporting_pledge = payload.supporting_pledge_id
        elif isinstance(payload, MatchAccepted | MatchDeclined | MatchEnded):
            supporting_pledge = self.match_supporters.get(payload.match_id)
        if supporting_pledge is not None:
            supporting = self.pledge_networks.get(supporting_pledge)
            if supporting is not None:
                networks.add(supporting)
        return networks

    def _take_in(self, index: int, stream_id: str, payload: Payload | None) -> str | None:
        if isinstance(payload, KeyIssued):
            if payload.key_id == OPERATOR_KEY_ID or payload.key_id in self.keys:
                return f"issues key {payload.key_id}, which is reserved or was issued before"
            try:
                principal = Principal(payload.key_id, payload.role, payload.network_id)
            except DomainError as error:
                return f"issues key {payload.key_id} with {error}"
            self.keys[payload.key_id] = _Key(principal, index)
        elif isinstance(payload, KeyRevoked):
            key = self.keys.get(payload.key_id)
            if key is None or key.revoked_at is not None:
                return f"revokes key {payload.key_id}, which is not an active key"
            key.revoked_at = index
        elif isinstance(payload, PledgeSubmitted):
            self.pledge_networks[stream_id.partition(":")[2]] = payload.network_id
        elif isinstance(payload, MatchOffered):
            self.match_supporters[payload.match_id] = payload.supporting_pledge_id
        elif isinstance(payload, CityJoinedNetwork):
            self.members.setdefault(payload.network_id, set()).add(payload.city_id)
        elif isinstance(payload, CityLeftNetwork):
            self.members.setdefault(payload.network_id, set()).discard(payload.city_id)
        return None
