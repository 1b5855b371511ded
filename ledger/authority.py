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
from typing import Any, NamedTuple

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


class AuthorityFacts(NamedTuple):
    """What the authority replay reads of one event's payload (see ``authority_facts``)."""

    payload_type: type[Payload]
    network_id: str | None = None
    city_id: str | None = None
    key_id: str | None = None
    role: str | None = None
    supporting_pledge_id: str | None = None
    pledge_id: str | None = None
    match_id: str | None = None


def reads_payload(event_type: str) -> bool:
    """Whether the authority replay needs this event type's payload."""
    return event_type in _READ_PAYLOAD


def authority_facts(event_type: str, payload: Payload) -> AuthorityFacts | None:
    """The facts of a decoded payload the replay reads (None for the types it does not read).

    Small and picklable, so that the verifier's worker processes decode payloads and its main
    process replays the keys' history in leaf order.
    """
    if event_type not in _READ_PAYLOAD:
        return None
    kind = type(payload)
    if isinstance(payload, KeyIssued):
        return AuthorityFacts(kind, payload.network_id, key_id=payload.key_id, role=payload.role)
    if isinstance(payload, KeyRevoked):
        return AuthorityFacts(kind, key_id=payload.key_id)
    if isinstance(payload, PledgeSubmitted):
        return AuthorityFacts(kind, payload.network_id)
    if isinstance(payload, CityJoinedNetwork | CityLeftNetwork):
        return AuthorityFacts(kind, payload.network_id, payload.city_id)
    if isinstance(payload, NetworkCorrected):
        return AuthorityFacts(kind, payload.network_id)
    if isinstance(payload, DeclarationSigned | SignatureWithdrawn):
        return AuthorityFacts(kind, city_id=payload.city_id)
    if isinstance(payload, PledgeMatched):
        return AuthorityFacts(kind, supporting_pledge_id=payload.supporting_pledge_id)
    if isinstance(payload, MatchOffered):
        return AuthorityFacts(
            kind, supporting_pledge_id=payload.supporting_pledge_id, match_id=payload.match_id
        )
    if isinstance(payload, MatchAccepted | MatchDeclined | MatchEnded):
        return AuthorityFacts(kind, match_id=payload.match_id)
    if isinstance(payload, ExternalIdClaimed | ExternalIdReleased):
        return AuthorityFacts(kind, pledge_id=payload.pledge_id)
    return AuthorityFacts(kind)


def decode_authority_facts(body: Mapping[str, Any]) -> AuthorityFacts | str | None:
    """The facts of a canonical envelope's payload, or the problem (in words) decoding it."""
    event_type: str = body["type"]
    if event_type not in _READ_PAYLOAD:
        return None
    try:
        payload = parse_payload(event_type, body["schema_version"], body["payload"])
    except DomainError as error:
        return f"its payload does not decode: {error}"
    return authority_facts(event_type, payload)


_SCOPED_BY_PAYLOAD: frozenset[type[Payload]] = frozenset(
    {PledgeSubmitted, CityJoinedNetwork, CityLeftNetwork, NetworkCorrected}
)
"""Payloads that name the network a network key acts for."""


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
        return self.check_facts(
            index,
            body["type"],
            body["recorded_by"],
            body["stream_id"],
            decode_authority_facts(body),
        )

    def check_facts(
        self,
        index: int,
        event_type: str,
        recorded_by: str,
        stream_id: str,
        facts: AuthorityFacts | str | None,
    ) -> str | None:
        """``check`` on what ``decode_authority_facts`` gave for the entry (a string: the
        problem decoding its payload)."""
        if isinstance(facts, str):
            return facts
        problem = self._authority_problem(event_type, recorded_by, stream_id, facts)
        if problem is not None:
            return problem
        return self._take_in(index, stream_id, facts)

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
        self, event_type: str, recorded_by: str, stream_id: str, facts: AuthorityFacts | None
    ) -> str | None:
        principal, problem = self._principal(recorded_by)
        if principal is None:
            return problem
        if event_type not in EVENT_AUTHORITY:
            return f"no key may record {event_type} events"
        networks = self._networks_for(stream_id, facts)
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

    def _networks_for(self, stream_id: str, facts: AuthorityFacts | None) -> set[str]:
        """The networks a network key may act for on this event (see ``NetworkScope``)."""
        kind = facts.payload_type if facts is not None else None
        if facts is not None and facts.network_id is not None and kind in _SCOPED_BY_PAYLOAD:
            return {facts.network_id}
        if facts is not None and kind in (DeclarationSigned, SignatureWithdrawn):
            return {n for n, cities in self.members.items() if facts.city_id in cities}
        if facts is not None and kind in (ExternalIdClaimed, ExternalIdReleased):
            # a claim acts for the pledge that claims or releases the id
            owner = self.pledge_networks.get(str(facts.pledge_id))
            return {owner} if owner is not None else set()
        networks: set[str] = set()
        kind_of_stream, _, pledge_id = stream_id.partition(":")
        if kind_of_stream == "pledge" and pledge_id in self.pledge_networks:
            networks.add(self.pledge_networks[pledge_id])
        supporting_pledge: str | None = None
        if facts is not None and kind in (PledgeMatched, MatchOffered):
            supporting_pledge = facts.supporting_pledge_id
        elif facts is not None and kind in (MatchAccepted, MatchDeclined, MatchEnded):
            supporting_pledge = self.match_supporters.get(str(facts.match_id))
        if supporting_pledge is not None:
            supporting = self.pledge_networks.get(supporting_pledge)
            if supporting is not None:
                networks.add(supporting)
        return networks

    def _take_in(self, index: int, stream_id: str, facts: AuthorityFacts | None) -> str | None:
        if facts is None:
            return None
        kind = facts.payload_type
        if kind is KeyIssued:
            key_id = str(facts.key_id)
            if key_id == OPERATOR_KEY_ID or key_id in self.keys:
                return f"issues key {key_id}, which is reserved or was issued before"
            try:
                principal = Principal(key_id, facts.role, facts.network_id)  # type: ignore[arg-type]
            except DomainError as error:
                return f"issues key {key_id} with {error}"
            self.keys[key_id] = _Key(principal, index)
        elif kind is KeyRevoked:
            key_id = str(facts.key_id)
            key = self.keys.get(key_id)
            if key is None or key.revoked_at is not None:
                return f"revokes key {key_id}, which is not an active key"
            key.revoked_at = index
        elif kind is PledgeSubmitted:
            self.pledge_networks[stream_id.partition(":")[2]] = str(facts.network_id)
        elif kind is MatchOffered:
            self.match_supporters[str(facts.match_id)] = facts.supporting_pledge_id
        elif kind is CityJoinedNetwork:
            self.members.setdefault(str(facts.network_id), set()).add(str(facts.city_id))
        elif kind is CityLeftNetwork:
            self.members.setdefault(str(facts.network_id), set()).discard(str(facts.city_id))
        return None
