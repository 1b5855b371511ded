"""Reference data on the log (ADR 0014): who registers it, and how a pledge's tags are checked
against it as of the pledge's own submission or amendment, never again afterwards."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotPermitted,
    UnknownTaxonomyCode,
)
from domain.events import (
    CallRegistered,
    DeclarationRegistered,
    DeclarationSigned,
    PledgeContent,
    PledgeSubmitted,
    PriorityAreaRegistered,
    PriorityAreaRetired,
)
from domain.pledge import PledgeState, evolve_pledge
from domain.reference import (
    SEED_PRIORITY_AREAS,
    CallState,
    PriorityAreaState,
    RegisterCall,
    RegisterDeclaration,
    RegisterPriorityArea,
    RetirePriorityArea,
    evolve_call,
    evolve_priority_area,
    register_call,
    register_declaration,
    register_priority_area,
    retire_priority_area,
    seed_priority_area,
)
from domain.registry import evolve_declaration
from tests.unit.domain_builders import (
    CLOSED_CALL,
    NETWORK_ID,
    OPEN_CALL,
    PLEDGE_ID,
    RETIRED_AREA,
    TODAY,
    admin,
    amended,
    network_key,
    reference_tags,
    submit,
    submit_command,
    submitted,
    validator,
)

# --- a tag valid when it was added stays valid ---------------------------------------------------


def test_a_tag_valid_at_submission_stays_valid_after_its_area_is_retired() -> None:
    state = submitted(priority_areas=["housing"])
    later = reference_tags(areas=(), retired=["housing"])
    after = amended(state, reference=later, description={"en": "Homes within 60 days."})
    assert after.content.priority_areas == ("housing",)
    assert after.content.description == {"en": "Homes within 60 days."}


def test_an_answer_to_a_call_stays_valid_after_the_call_closes() -> None:
    state = submitted(calls=[OPEN_CALL])
    after_closing = reference_tags(today=date(2027, 1, 1))
    after = amended(state, reference=after_closing, ends_on="2028-06-30")
    assert after.content.calls == (OPEN_CALL,)


def recorded_before_the_rules(**content: object) -> PledgeState:
    """A pledge as an older version of the ledger recorded it: its tags were checked by rules
    (or lists) that have changed since."""
    data = submit_command().content().model_dump() | content
    payload = PledgeSubmitted(
        pledge_id=PLEDGE_ID, network_id=NETWORK_ID, content=PledgeContent.model_validate(data)
    )
    return evolve_pledge(None, payload)


def test_an_old_pledge_naming_an_unregistered_area_can_still_be_amended() -> None:
    # Stores written while LEDGER_PRIORITY_AREAS was the list: the area was never registered.
    state = recorded_before_the_rules(priority_areas=("legacy-area",))
    after = amended(state, title={"en": "A new title"})
    assert after.content.priority_areas == ("legacy-area",)


def test_an_old_pledge_naming_a_target_that_does_not_exist_can_still_be_amended() -> None:
    state = recorded_before_the_rules(sdg_targets=("10.99",))
    after = amended(state, description={"en": "Clearer."})
    assert after.content.sdg_targets == ("10.99",)


def test_an_amendment_adding_a_retired_area_is_refused() -> None:
    state = submitted(priority_areas=["housing"])
    with pytest.raises(InvalidInput) as caught:
        amended(state, priority_areas=["housing", RETIRED_AREA])
    assert caught.value.field == "priority_areas"


def test_an_amendment_changing_tags_checks_only_the_tags_it_adds() -> None:
    state = submitted(priority_areas=["housing"])
    later = reference_tags(areas=["health"], retired=["housing"])
    after = amended(state, reference=later, priority_areas=["housing", "health"])
    assert after.content.priority_areas == ("housing", "health")


def test_an_amendment_adding_a_target_that_does_not_exist_is_refused() -> None:
    state = recorded_before_the_rules(sdg_targets=("10.99",))
    with pytest.raises(UnknownTaxonomyCode) as caught:
        amended(state, sdg_targets=["10.99", "10.98"])
    assert caught.value.field == "sdg_targets"


def test_an_amendment_answering_a_closed_call_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        amended(submitted(), calls=[CLOSED_CALL])
    assert caught.value.field == "calls"


def test_an_amendment_adding_an_unknown_guiding_principle_is_refused() -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        amended(submitted(), gcm_principles=["people-centred", "speed"])
    assert caught.value.field == "gcm_principles"


def test_a_retired_area_is_refused_for_a_new_submission() -> None:
    with pytest.raises(InvalidInput) as caught:
        submit(submit_command(priority_areas=[RETIRED_AREA]))
    assert caught.value.field == "priority_areas"


def test_the_day_a_call_is_checked_on_is_the_ledger_s_day() -> None:
    call = CallState(OPEN_CALL, {"en": "IMRF"}, TODAY, TODAY)
    assert submit(
        submit_command(calls=[OPEN_CALL]), reference=reference_tags(calls={OPEN_CALL: call})
    )
    with pytest.raises(InvalidInput):
        submit(
            submit_command(calls=[OPEN_CALL]),
            reference=reference_tags(today=date(2026, 3, 2), calls={OPEN_CALL: call}),
        )


# --- registering priority areas ------------------------------------------------------------------


def test_an_admin_registers_a_priority_area() -> None:
    [event] = register_priority_area(
        RegisterPriorityArea(id="urban-farming", title={"en": "Urban farming"}), None, admin()
    )
    assert event.type == "area.registered"
    assert event.payload == PriorityAreaRegistered(
        area_id="urban-farming", title={"en": "Urban farming"}
    )


@pytest.mark.parametrize("principal", [network_key(), validator()], ids=["network", "validator"])
def test_only_an_admin_registers_priority_areas(principal: object) -> None:
    with pytest.raises(NotPermitted):
        register_priority_area(
            RegisterPriorityArea(id="urban-farming", title={"en": "Urban farming"}),
            None,
            principal,  # type: ignore[arg-type]
        )


def test_a_priority_area_registered_twice_is_refused() -> None:
    existing = PriorityAreaState("housing", {"en": "Housing"})
    with pytest.raises(AlreadyExists) as caught:
        register_priority_area(
            RegisterPriorityArea(id="housing", title={"en": "Housing"}), existing, admin()
        )
    assert caught.value.field == "id"


def test_retiring_a_priority_area_marks_it_retired() -> None:
    state = evolve_priority_area(
        None, PriorityAreaRegistered(area_id="housing", title={"en": "Housing"})
    )
    [event] = retire_priority_area(
        "housing", RetirePriorityArea(reason="Merged into services"), state, admin()
    )
    assert event.type == "area.retired"
    assert evolve_priority_area(state, event.payload).retired


def test_retiring_an_unregistered_priority_area_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        retire_priority_area("housing", RetirePriorityArea(reason="gone"), None, admin())
    assert caught.value.field == "area_id"


def test_retiring_a_retired_priority_area_is_refused() -> None:
    retired = PriorityAreaState("housing", {"en": "Housing"}, retired=True)
    with pytest.raises(InvalidTransition):
        retire_priority_area("housing", RetirePriorityArea(reason="again"), retired, admin())


def test_a_priority_area_event_before_its_registration_does_not_fold() -> None:
    with pytest.raises(InvalidInput):
        evolve_priority_area(None, PriorityAreaRetired(area_id="housing", reason="gone"))


def test_the_seed_names_seven_areas_in_three_languages() -> None:
    assert len(SEED_PRIORITY_AREAS) == 7
    assert all(set(area.title) == {"en", "fr", "es"} for area in SEED_PRIORITY_AREAS)


def test_a_seed_area_outside_the_shipped_list_is_titled_from_its_slug() -> None:
    assert seed_priority_area("climate-mobility").title == {"en": "Climate mobility"}
    assert seed_priority_area("housing").title["fr"] == "Logement"


# --- calls to action -----------------------------------------------------------------------------


def call_command(**overrides: object) -> RegisterCall:
    data: dict[str, object] = {
        "id": "imrf-2026",
        "title": {"en": "IMRF 2026"},
        "opens_on": "2025-06-01",
        "closes_on": "2026-04-30",
    } | overrides
    return RegisterCall.model_validate(data)


def test_an_admin_registers_a_call_with_its_dates() -> None:
    [event] = register_call(call_command(), None, admin())
    assert isinstance(event.payload, CallRegistered)
    state = evolve_call(None, event.payload)
    assert state.is_open_on(date(2025, 6, 1))
    assert state.is_open_on(date(2026, 4, 30))
    assert not state.is_open_on(date(2026, 5, 1))


def test_a_call_closing_before_it_opens_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        register_call(call_command(closes_on="2025-05-31"), None, admin())
    assert caught.value.field == "closes_on"


def test_a_call_registered_twice_is_refused() -> None:
    existing = CallState("imrf-2026", {"en": "IMRF"}, date(2025, 6, 1), date(2026, 4, 30))
    with pytest.raises(AlreadyExists):
        register_call(call_command(), existing, admin())


def test_a_network_may_not_register_a_call() -> None:
    with pytest.raises(NotPermitted):
        register_call(call_command(), None, network_key())


# --- declarations --------------------------------------------------------------------------------

MARRAKECH = RegisterDeclaration(
    id="marrakech-2018", title={"en": "Marrakech Mayors Declaration"}, adopted_on=date(2018, 12, 8)
)


def test_an_admin_registers_a_declaration() -> None:
    [event] = register_declaration(MARRAKECH, None, admin())
    assert event.type == "declaration.registered"
    assert event.occurred_on == date(2018, 12, 8)
    state = evolve_declaration(None, event.payload)
    assert state.registered
    assert state.adopted_on == date(2018, 12, 8)


def test_a_declaration_registered_twice_is_refused() -> None:
    [event] = register_declaration(MARRAKECH, None, admin())
    state = evolve_declaration(None, event.payload)
    with pytest.raises(AlreadyExists):
        register_declaration(MARRAKECH, state, admin())


def test_a_declaration_signed_before_it_was_registered_may_be_registered_afterwards() -> None:
    # A store written before declarations lived on the log holds signatures only.
    signed = evolve_declaration(
        None,
        DeclarationSigned(declaration_id="marrakech-2018", city_id="rabat", signed_on=TODAY),
    )
    assert not signed.registered
    [event] = register_declaration(MARRAKECH, signed, admin())
    state = evolve_declaration(signed, event.payload)
    assert state.registered
    assert state.signatories == frozenset({"rabat"})


def test_registering_a_declaration_adopted_after_its_first_signature_is_refused() -> None:
    signed = evolve_declaration(
        None,
        DeclarationSigned(
            declaration_id="marrakech-2018", city_id="rabat", signed_on=date(2018, 12, 10)
        ),
    )
    late = MARRAKECH.model_copy(update={"adopted_on": date(2019, 1, 1)})
    with pytest.raises(InvalidInput) as caught:
        register_declaration(late, signed, admin())
    assert caught.value.field == "adopted_on"


def test_a_declaration_registration_folds_before_any_signature() -> None:
    payload = DeclarationRegistered(
        declaration_id="paris-2030", title={"en": "Paris"}, adopted_on=date(2030, 1, 1)
    )
    state = evolve_declaration(None, payload)
    assert state.signatories == frozenset()
    assert state.first_signed_on is None
