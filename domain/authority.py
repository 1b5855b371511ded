"""Who may record which event: the one table behind the domain's permission checks and the
auditor's authority check.

Each event type names the roles whose keys may record it and, for a network key, which
networks it may act for (``NetworkScope``). The domain's decisions check a principal against
this table before they decide; the verifier replays the log and checks every event's
``recorded_by`` against the same table, so a rule changed here changes both.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from domain.errors import NotPermitted
from domain.principal import Principal, Role

NetworkScope = Literal[
    # the network the event is about (membership events and corrections of its own stream)
    "the_network",
    # the network that submitted the pledge (for an external id's claim: the claiming pledge's)
    "pledge_owner",
    # the network that submitted the pledge, or the one that submitted the supporting pledge
    "pledge_or_supporting_owner",
    # a network the city is a member of
    "member_city",
    # the network that submitted the host pledge of the match, or the supporting pledge's
    "match_party",
]


@dataclass(frozen=True, slots=True)
class Authority:
    """The roles that may record an event type; a network key only within ``network_scope``."""

    roles: frozenset[Role]
    network_scope: NetworkScope | None = None

    def __post_init__(self) -> None:
        if ("network" in self.roles) != (self.network_scope is not None):
            raise ValueError("a network key's authority names its scope, and only it does")


def _authority(*roles: Role, network_scope: NetworkScope | None = None) -> Authority:
    return Authority(frozenset(roles), network_scope)


EVENT_AUTHORITY: dict[str, Authority] = {
    "network.registered": _authority("admin"),
    "city.registered": _authority("admin"),
    "network.city_joined": _authority("admin", "network", network_scope="the_network"),
    "network.city_left": _authority("admin", "network", network_scope="the_network"),
    "declaration.signed": _authority("admin", "network", network_scope="member_city"),
    "declaration.registered": _authority("admin"),
    "area.registered": _authority("admin"),
    "area.retired": _authority("admin"),
    "call.registered": _authority("admin"),
    "declaration.signature_withdrawn": _authority("admin", "network", network_scope="member_city"),
    "city.corrected": _authority("admin"),
    "network.corrected": _authority("admin", "network", network_scope="the_network"),
    "pledge.submitted": _authority("network", network_scope="pledge_owner"),
    "pledge.amended": _authority("network", network_scope="pledge_owner"),
    "pledge.validated": _authority("validator"),
    "pledge.changes_requested": _authority("validator"),
    "pledge.progress_reported": _authority("network", network_scope="pledge_owner"),
    "pledge.matched": _authority(
        "validator", "network", network_scope="pledge_or_supporting_owner"
    ),
    "pledge.withdrawn": _authority("network", network_scope="pledge_owner"),
    "pledge.closed": _authority("network", network_scope="pledge_owner"),
    "pledge.erratum_recorded": _authority(
        "admin", "validator", "network", network_scope="pledge_owner"
    ),
    "pledge.translated": _authority("network", network_scope="pledge_owner"),
    "pledge.external_id_added": _authority("network", network_scope="pledge_owner"),
    "pledge.external_id_removed": _authority("network", network_scope="pledge_owner"),
    # the guard written beside pledge.external_id_added / _removed, by the same key
    "extid.claimed": _authority("network", network_scope="pledge_owner"),
    "extid.released": _authority("network", network_scope="pledge_owner"),
    # Two-way matching (ADR 0015): either party offers, the other answers, either ends; a
    # validator acts for a funder, which has no key. The domain also checks the side.
    "pledge.match_offered": _authority("validator", "network", network_scope="match_party"),
    "pledge.match_accepted": _authority("validator", "network", network_scope="match_party"),
    "pledge.match_declined": _authority("validator", "network", network_scope="match_party"),
    "pledge.match_ended": _authority("validator", "network", network_scope="match_party"),
    # Figures are the reporting network's: it corrects them, or the operator (admin) does.
    "pledge.observation_corrected": _authority("admin", "network", network_scope="pledge_owner"),
    "apikey.issued": _authority("admin"),
    "apikey.revoked": _authority("admin"),
    "report.published": _authority("admin"),
}


def authority_of(event_type: str) -> Authority:
    """The table's row for ``event_type``; an event type with no row may be recorded by no one."""
    authority = EVENT_AUTHORITY.get(event_type)
    if authority is None:
        raise NotPermitted(f"no key may record {event_type} events", field="type")
    return authority


def may_record(principal: Principal, event_type: str, networks: Collection[str] = ()) -> bool:
    """Whether ``principal`` may record an ``event_type`` event.

    ``networks`` are the networks a network key may act for on this event, found from the
    event's own scope (for a pledge event: the pledge's network, and for a match the supporting
    pledge's too; for a signature: the networks the city is a member of).
    """
    authority = authority_of(event_type)
    if principal.role not in authority.roles:
        return False
    if principal.role == "network":
        return principal.network_id in networks
    return True


def require_authority(
    principal: Principal,
    event_type: str,
    *,
    action: str,
    networks: Collection[str] = (),
    field: str | None = None,
) -> None:
    """Refuse (``NotPermitted``) a principal that may not record ``event_type`` for ``networks``;
    ``action`` says in words what it tried."""
    if not may_record(principal, event_type, networks):
        raise NotPermitted(f"{principal.role} key {principal.key_id} may not {action}", field=field)
