"""Hand-written builders for the pure domain tests: principals, registry states and pledges.

Every builder returns a valid object by default; a test overrides only the one field its
behaviour is about, so that the reason a command is refused is always the override.
Pledge states are never written by hand: they are folded from the events the decision
functions return, exactly as the ledger does, so a test cannot build an unreachable state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from domain.events import NewEvent, Payload
from domain.pledge import (
    AmendPledge,
    ClosePledge,
    PledgeState,
    ReportProgress,
    SubmitPledge,
    ValidatePledge,
    WithdrawPledge,
    amend_pledge,
    close_pledge,
    evolve_pledge,
    report_progress,
    submit_pledge,
    vet_pledge,
    withdraw_pledge,
)
from domain.principal import Principal
from domain.reference import (
    DEFAULT_PRIORITY_AREAS,
    CallState,
    PriorityAreaState,
    ReferenceTags,
)
from domain.registry import CityState, NetworkState
from domain.taxonomies import Taxonomies, reference_taxonomies

TODAY = date(2026, 3, 1)

NETWORK_ID = "cities-for-all"
OTHER_NETWORK_ID = "mayors-mechanism"
MEMBER_CITY = "rabat"
SECOND_MEMBER_CITY = "montreal"
OUTSIDER_CITY = "lima"  # registered, but a member of no network in these tests
UNREGISTERED_CITY = "atlantis"

PLEDGE_ID = "pledge-1"
OTHER_PLEDGE_ID = "pledge-2"

UNIT_INDICATOR = "households-housed"
PERCENTAGE_INDICATOR = "school-enrolment"
QUALITATIVE_INDICATOR = "city-plan"

_COUNTRIES = {MEMBER_CITY: "MA", SECOND_MEMBER_CITY: "CA", OUTSIDER_CITY: "PE"}


# --- principals -----------------------------------------------------------------------------------


def admin() -> Principal:
    return Principal(key_id="admin-key", role="admin")


def validator() -> Principal:
    return Principal(key_id="validator-key", role="validator")


def network_key(network_id: str = NETWORK_ID) -> Principal:
    return Principal(key_id=f"{network_id}-key", role="network", network_id=network_id)


def other_network_key() -> Principal:
    return network_key(OTHER_NETWORK_ID)


# --- registry states ------------------------------------------------------------------------------


def city_state(city_id: str = MEMBER_CITY, country: str | None = None) -> CityState:
    return CityState(city_id, {"en": city_id.title()}, country or _COUNTRIES.get(city_id, "MA"))


def network_state(
    network_id: str = NETWORK_ID, members: Iterable[str] = (MEMBER_CITY, SECOND_MEMBER_CITY)
) -> NetworkState:
    return NetworkState(
        network_id, {"en": network_id.replace("-", " ").title()}, frozenset(members)
    )


def registered_cities(
    *city_ids: str,
) -> dict[str, CityState | None]:
    """The registry's answer for the named cities (default: every city these tests register)."""
    ids = city_ids or (MEMBER_CITY, SECOND_MEMBER_CITY, OUTSIDER_CITY)
    return {city_id: city_state(city_id) for city_id in ids}


# --- indicators and pledge content ----------------------------------------------------------------


def unit_indicator(**overrides: Any) -> dict[str, Any]:
    return {
        "id": UNIT_INDICATOR,
        "title": {"en": "Households housed"},
        "measure": "unit",
        "baseline": {"value": "0", "date": "2025-01-01"},
        "targets": [
            {"value": "100", "date": "2026-01-01"},
            {"value": "250", "date": "2027-12-31"},
        ],
        **overrides,
    }


def percentage_indicator(**overrides: Any) -> dict[str, Any]:
    return {
        "id": PERCENTAGE_INDICATOR,
        "title": {"en": "Refugee children enrolled in school"},
        "measure": "percentage",
        "baseline": {"value": "40", "date": "2025-01-01"},
        "targets": [{"value": "75", "date": "2027-12-31"}],
        **overrides,
    }


def qualitative_indicator(**overrides: Any) -> dict[str, Any]:
    return {
        "id": QUALITATIVE_INDICATOR,
        "title": {"en": "Integration plan adopted by the council"},
        "measure": "qualitative",
        "baseline": {"date": "2025-01-01", "comment": "no plan"},
        "targets": [{"date": "2026-06-30", "comment": "plan adopted"}],
        **overrides,
    }


# --- reference data on the log, as a decision sees it ---------------------------------------------

OPEN_CALL = "imrf-2026-call"
CLOSED_CALL = "grf-2023-call"
RETIRED_AREA = "climate-mobility"


def reference_tags(
    *,
    today: date = TODAY,
    areas: Iterable[str] = DEFAULT_PRIORITY_AREAS,
    retired: Iterable[str] = (RETIRED_AREA,),
    calls: Mapping[str, CallState | None] | None = None,
) -> ReferenceTags:
    """The log's reference data: the seed areas registered, one retired area, an open and a
    closed call (around ``TODAY``)."""
    registered: dict[str, PriorityAreaState | None] = {
        a: PriorityAreaState(a, {"en": a}) for a in areas
    }
    registered.update({a: PriorityAreaState(a, {"en": a}, retired=True) for a in retired})
    if calls is None:
        calls = {
            OPEN_CALL: CallState(OPEN_CALL, {"en": "IMRF"}, date(2026, 1, 1), date(2026, 5, 1)),
            CLOSED_CALL: CallState(
                CLOSED_CALL, {"en": "GRF"}, date(2023, 1, 1), date(2023, 12, 15)
            ),
        }
    return ReferenceTags(today=today, priority_areas=registered, calls=calls)


def submit_data(**overrides: Any) -> dict[str, Any]:
    """Raw input for a valid SubmitPledge; keyword arguments replace whole fields."""
    data: dict[str, Any] = {
        "network_id": NETWORK_ID,
        "cities": [MEMBER_CITY],
        "title": {"en": "Housing first for newcomers"},
        "description": {"en": "Every newly arrived family gets a home within 90 days."},
        "gcm_objectives": [15],
        "gcr_areas": ["gcr-objective-1"],
        "sdg_targets": ["10.7"],
        "priority_areas": ["housing"],
        "starts_on": "2025-01-01",
        "ends_on": "2027-12-31",
        "indicators": [unit_indicator(), percentage_indicator(), qualitative_indicator()],
    }
    data.update(overrides)
    return data


def submit_command(**overrides: Any) -> SubmitPledge:
    return SubmitPledge.model_validate(submit_data(**overrides))


def submit(
    command: SubmitPledge | None = None,
    *,
    pledge_id: str = PLEDGE_ID,
    network: NetworkState | None = None,
    cities: Mapping[str, CityState | None] | None = None,
    principal: Principal | None = None,
    taxonomies: Taxonomies | None = None,
    reference: ReferenceTags | None = None,
) -> list[NewEvent]:
    """Run ``submit_pledge`` with valid defaults for every argument not given."""
    command = command or submit_command()
    return submit_pledge(
        command,
        pledge_id,
        network if network is not None else network_state(command.network_id),
        cities if cities is not None else registered_cities(),
        principal or network_key(command.network_id),
        taxonomies or reference_taxonomies(),
        reference or reference_tags(),
    )


# --- pledge states, folded from real decisions ----------------------------------------------------


def fold(state: PledgeState | None, events: Iterable[NewEvent | Payload]) -> PledgeState:
    for event in events:
        payload = event.payload if isinstance(event, NewEvent) else event
        state = evolve_pledge(state, payload)
    assert state is not None
    return state


def submitted(
    pledge_id: str = PLEDGE_ID, network_id: str = NETWORK_ID, **overrides: Any
) -> PledgeState:
    """A pledge just submitted (awaiting validation)."""
    command = submit_command(network_id=network_id, **overrides)
    return fold(None, submit(command, pledge_id=pledge_id))


def amend_command(reason: str = "the council asked for it", **changes: Any) -> AmendPledge:
    return AmendPledge.model_validate({"changes": changes, "reason": reason})


def amended(
    state: PledgeState, *, reference: ReferenceTags | None = None, **changes: Any
) -> PledgeState:
    command = amend_command(**changes)
    events = amend_pledge(
        state,
        command,
        network_state(state.network_id),
        registered_cities(),
        network_key(state.network_id),
        reference_taxonomies(),
        reference or reference_tags(),
    )
    return fold(state, events)


def validated(state: PledgeState | None = None) -> PledgeState:
    state = state or submitted()
    command = ValidatePledge(decision="validated", criteria=("specific", "measurable"))
    return fold(state, vet_pledge(state, command, validator()))


def changes_requested(state: PledgeState | None = None) -> PledgeState:
    state = state or submitted()
    command = ValidatePledge(decision="changes_requested", note="Name the districts concerned.")
    return fold(state, vet_pledge(state, command, validator()))


def withdrawn(state: PledgeState | None = None) -> PledgeState:
    state = state or validated()
    command = WithdrawPledge(reason="The programme lost its funding.")
    return fold(state, withdraw_pledge(state, command, network_key(state.network_id)))


def closed(state: PledgeState | None = None) -> PledgeState:
    state = state or validated()
    command = ClosePledge(outcome="fulfilled")
    return fold(state, close_pledge(state, command, network_key(state.network_id), TODAY))


def progress_command(**overrides: Any) -> ReportProgress:
    data: dict[str, Any] = {
        "period": {"start": "2025-01-01", "end": "2025-06-30"},
        "stage": "in_progress",
        "observations": [
            {"indicator_id": UNIT_INDICATOR, "value": "42", "date": "2025-06-30"},
            {"indicator_id": PERCENTAGE_INDICATOR, "value": "51.5", "date": "2025-06-30"},
            {"indicator_id": QUALITATIVE_INDICATOR, "date": "2025-06-30", "comment": "drafted"},
        ],
        "narrative": {"en": "Half way there."},
        "evidence": [
            {"url": "https://example.org/report-2025-h1.pdf", "sha256": "ab" * 32},
        ],
    }
    data.update(overrides)
    return ReportProgress.model_validate(data)


def reported(state: PledgeState, command: ReportProgress | None = None) -> PledgeState:
    command = command or progress_command()
    return fold(state, report_progress(state, command, network_key(state.network_id), TODAY))
