"""The pledge lifecycle after submission: amendments, vetting, progress, matches, withdrawal,
closure, errata, and how their events fold into the state machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotPermitted,
    UnknownTaxonomyCode,
)
from domain.events import (
    CityRegistered,
    DeclarationSigned,
    ErratumRecorded,
    MatchOffered,
    NetworkRegistered,
    NewEvent,
    Payload,
    PledgeAmended,
    PledgeChanges,
    PledgeChangesRequested,
    PledgeClosed,
    PledgeValidated,
    PledgeWithdrawn,
    ProgressReported,
    invalid_input_from,
)
from domain.pledge import (
    MATERIAL_FIELDS,
    STATUSES,
    AmendPledge,
    ClosePledge,
    MatchPledge,
    PledgeState,
    RecordErratum,
    ValidatePledge,
    WithdrawPledge,
    amend_pledge,
    amended_content,
    apply_changes,
    close_pledge,
    evolve_pledge,
    match_pledge,
    record_erratum,
    report_progress,
    vet_pledge,
    withdraw_pledge,
)
from domain.principal import Principal
from domain.registry import NetworkState
from domain.taxonomies import reference_taxonomies
from tests.unit.domain_builders import (
    MEMBER_CITY,
    NETWORK_ID,
    OPEN_CALL,
    OTHER_NETWORK_ID,
    OTHER_PLEDGE_ID,
    OUTSIDER_CITY,
    PERCENTAGE_INDICATOR,
    PLEDGE_ID,
    QUALITATIVE_INDICATOR,
    SECOND_MEMBER_CITY,
    TODAY,
    UNIT_INDICATOR,
    UNREGISTERED_CITY,
    admin,
    amend_command,
    amended,
    changes_requested,
    closed,
    fold,
    network_key,
    network_state,
    other_network_key,
    progress_command,
    reference_tags,
    registered_cities,
    reported,
    submitted,
    unit_indicator,
    validated,
    validator,
    withdrawn,
)

EVENT_IDS = frozenset({"event-1", "event-2", "event-3"})
MATCH_ID = "match-1"

# One valid change per field of PledgeChanges, each different from the default pledge's value.
CHANGES: dict[str, Any] = {
    "cities": [MEMBER_CITY, SECOND_MEMBER_CITY],
    "title": {"en": "Housing first, in every district"},
    "description": {"en": "Every newly arrived family gets a home within 60 days."},
    "gcm_objectives": [15, 16],
    "gcr_areas": ["gcr-objective-2"],
    "sdg_targets": ["10.7", "11.1"],
    "priority_areas": ["housing", "health"],
    "starts_on": "2025-02-01",
    "ends_on": "2028-12-31",
    "indicators": [unit_indicator()],
    "gcm_principles": ["people-centred"],
    "nua_paragraphs": [28],
    "calls": [OPEN_CALL],
}
# Tags of approach and context (ADR 0014): they do not change what was promised.
NON_MATERIAL_FIELDS = frozenset(
    {"description", "priority_areas", "gcm_principles", "nua_paragraphs", "calls"}
)


def amend(
    state: PledgeState,
    *,
    principal: Principal | None = None,
    network: NetworkState | None = None,
    **changes: Any,
) -> list[NewEvent]:
    return amend_pledge(
        state,
        amend_command(**changes),
        network if network is not None else network_state(),
        registered_cities(),
        principal or network_key(),
        reference_taxonomies(),
        reference_tags(),
    )


def amendment(events: list[NewEvent]) -> PledgeAmended:
    [event] = events
    assert isinstance(event.payload, PledgeAmended)
    return event.payload


def vet(state: PledgeState, principal: Principal | None = None, **command: Any) -> list[NewEvent]:
    data = {"decision": "validated", "criteria": ["specific", "measurable"], **command}
    return vet_pledge(state, ValidatePledge.model_validate(data), principal or validator())


def report(
    state: PledgeState,
    principal: Principal | None = None,
    today: date = TODAY,
    **command: Any,
) -> list[NewEvent]:
    return report_progress(state, progress_command(**command), principal or network_key(), today)


def observation(indicator_id: str = UNIT_INDICATOR, **fields: Any) -> dict[str, Any]:
    return {"indicator_id": indicator_id, "value": "42", "date": "2025-06-30", **fields}


def match(
    state: PledgeState,
    principal: Principal | None = None,
    supporting: PledgeState | None = None,
    **command: Any,
) -> list[NewEvent]:
    return match_pledge(
        state,
        MatchPledge.model_validate(command),
        supporting,
        principal or network_key(),
        MATCH_ID,
    )


def supporting_pledge() -> PledgeState:
    return submitted(pledge_id=OTHER_PLEDGE_ID, network_id=OTHER_NETWORK_ID)


def withdraw(state: PledgeState, principal: Principal | None = None) -> list[NewEvent]:
    return withdraw_pledge(
        state, WithdrawPledge(reason="Funding ended."), principal or network_key()
    )


def close(state: PledgeState, principal: Principal | None = None) -> list[NewEvent]:
    return close_pledge(
        state, ClosePledge(outcome="partially_fulfilled"), principal or network_key(), TODAY
    )


def erratum(
    state: PledgeState, principal: Principal | None = None, corrects: str = "event-2"
) -> list[NewEvent]:
    command = RecordErratum(corrects_event_id=corrects, note="The period ended in June, not May.")
    return record_erratum(state, command, EVENT_IDS, principal or network_key())


def only_payload(events: list[NewEvent]) -> Payload:
    [event] = events
    return event.payload


# --- amendments -----------------------------------------------------------------------------------


def test_material_fields_are_what_was_promised() -> None:
    assert frozenset(PledgeChanges.model_fields) - MATERIAL_FIELDS == NON_MATERIAL_FIELDS
    assert frozenset(CHANGES) == frozenset(PledgeChanges.model_fields)


@pytest.mark.parametrize("field", sorted(MATERIAL_FIELDS))
def test_changing_a_material_field_makes_a_material_amendment(field: str) -> None:
    payload = amendment(amend(validated(), **{field: CHANGES[field]}))
    assert payload.material
    assert payload.changes.changed_fields() == (field,)


@pytest.mark.parametrize("field", sorted(NON_MATERIAL_FIELDS))
def test_changing_only_a_non_material_field_makes_a_non_material_amendment(field: str) -> None:
    assert not amendment(amend(validated(), **{field: CHANGES[field]})).material


def test_amendment_mixing_material_and_non_material_fields_is_material() -> None:
    payload = amendment(
        amend(validated(), description=CHANGES["description"], title=CHANGES["title"])
    )
    assert payload.material


def test_amendment_records_its_reason() -> None:
    payload = amendment(amend(validated(), title=CHANGES["title"]))
    assert payload.reason == "the council asked for it"


def test_material_amendment_after_validation_returns_pledge_to_awaiting_validation() -> None:
    assert amended(validated(), title=CHANGES["title"]).status == "awaiting_validation"


def test_non_material_amendment_keeps_validated_status() -> None:
    assert amended(validated(), description=CHANGES["description"]).status == "validated"


def test_material_amendment_keeps_the_fact_that_the_pledge_was_once_validated() -> None:
    assert amended(validated(), title=CHANGES["title"]).ever_validated


@pytest.mark.parametrize("field", ["title", "description"])
def test_amendment_answering_changes_requested_goes_back_to_awaiting_validation(
    field: str,
) -> None:
    assert amended(changes_requested(), **{field: CHANGES[field]}).status == "awaiting_validation"


def test_amendment_while_awaiting_validation_keeps_awaiting() -> None:
    assert amended(submitted(), title=CHANGES["title"]).status == "awaiting_validation"


def test_folded_amendment_replaces_only_the_changed_fields() -> None:
    before = submitted()
    after = amended(before, title=CHANGES["title"], ends_on=CHANGES["ends_on"])
    assert after.content.title == CHANGES["title"]
    assert after.content.ends_on == date(2028, 12, 31)
    assert after.content.description == before.content.description
    assert after.content.indicators == before.content.indicators


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_replayed_amendment_gives_the_content_the_decision_validated(field: str) -> None:
    before = submitted()
    changes = amendment(amend(before, **{field: CHANGES[field]})).changes
    replayed = amended_content(before.content, changes)
    decided = apply_changes(before.content, changes)
    assert replayed == decided
    assert replayed.model_dump(mode="json") == decided.model_dump(mode="json")
    assert getattr(replayed, field) != getattr(before.content, field)


def test_amendment_is_made_on_behalf_of_the_amended_cities() -> None:
    [event] = amend(submitted(), cities=[MEMBER_CITY, SECOND_MEMBER_CITY])
    assert event.on_behalf_of == (MEMBER_CITY, SECOND_MEMBER_CITY)


def test_amendment_may_drop_a_city() -> None:
    state = submitted(cities=[MEMBER_CITY, SECOND_MEMBER_CITY])
    assert amended(state, cities=[SECOND_MEMBER_CITY]).content.cities == (SECOND_MEMBER_CITY,)


@pytest.mark.parametrize(
    "principal",
    [other_network_key(), validator(), admin()],
    ids=["other_network", "validator", "admin"],
)
def test_only_the_owning_network_amends(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        amend(submitted(), principal=principal, title=CHANGES["title"])


def test_amendment_without_changes_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        amend(submitted())
    assert caught.value.field == "changes"


def test_amendment_changing_nothing_is_refused() -> None:
    state = submitted()
    with pytest.raises(InvalidInput) as caught:
        amend(state, title=dict(state.content.title))
    assert caught.value.field == "changes.title"


def test_amendment_with_one_unchanged_field_among_changes_is_refused() -> None:
    state = submitted()
    with pytest.raises(InvalidInput) as caught:
        amend(state, title=CHANGES["title"], gcm_objectives=list(state.content.gcm_objectives))
    assert caught.value.field == "changes.gcm_objectives"


def test_amended_dates_out_of_order_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        amend(submitted(), ends_on="2024-12-31")
    assert caught.value.field == "ends_on"


def test_amendment_to_an_unknown_gcm_objective_is_refused() -> None:
    with pytest.raises(UnknownTaxonomyCode) as caught:
        amend(submitted(), gcm_objectives=[24])
    assert caught.value.field == "gcm_objectives"


def test_amendment_removing_every_gcm_objective_and_gcr_area_is_refused() -> None:
    state = submitted(gcr_areas=[])
    with pytest.raises(InvalidInput) as caught:
        amend(state, gcm_objectives=[])
    assert caught.value.field == "gcm_objectives"


def test_amendment_with_invalid_indicators_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        amend(submitted(), indicators=[unit_indicator(baseline={"date": "2025-01-01"})])
    assert caught.value.field == "indicators.0.baseline.value"


def test_amendment_adding_a_city_outside_the_network_is_refused() -> None:
    with pytest.raises(NotPermitted) as caught:
        amend(submitted(), cities=[MEMBER_CITY, OUTSIDER_CITY])
    assert caught.value.field == "cities"


def test_amendment_adding_an_unregistered_city_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        amend(submitted(), cities=[MEMBER_CITY, UNREGISTERED_CITY])
    assert caught.value.field == "cities"


def test_amendment_adding_a_city_when_the_network_is_unknown_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        amend_pledge(
            submitted(),
            amend_command(cities=[MEMBER_CITY, SECOND_MEMBER_CITY]),
            None,
            registered_cities(),
            network_key(),
            reference_taxonomies(),
            reference_tags(),
        )
    assert caught.value.field == "network_id"


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_be_amended(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        amend(ended(), description=CHANGES["description"])


def test_amendment_needs_a_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        AmendPledge.model_validate({"changes": {"title": CHANGES["title"]}, "reason": "  "})
    assert invalid_input_from(caught.value).field == "reason"


def test_amendment_emptying_the_city_list_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        AmendPledge.model_validate({"changes": {"cities": []}, "reason": "fewer"})
    assert invalid_input_from(caught.value).field == "changes.cities"


def test_changed_fields_lists_only_the_fields_given() -> None:
    changes = PledgeChanges.model_validate({"ends_on": "2028-12-31", "title": {"en": "T"}})
    assert changes.changed_fields() == ("title", "ends_on")


# --- vetting --------------------------------------------------------------------------------------


def test_validator_validates_a_pledge_awaiting_validation() -> None:
    [event] = vet(submitted())
    assert event.type == "pledge.validated"
    assert event.payload == PledgeValidated(criteria=("specific", "measurable"))
    assert event.on_behalf_of == (MEMBER_CITY,)


def test_validated_pledge_folds_into_validated_status() -> None:
    state = validated()
    assert state.status == "validated"
    assert state.ever_validated


def test_validator_requests_changes() -> None:
    [event] = vet(submitted(), decision="changes_requested", criteria=[], note="Name a district.")
    assert event.type == "pledge.changes_requested"
    assert event.payload == PledgeChangesRequested(note="Name a district.")


def test_changes_requested_folds_into_changes_requested_status() -> None:
    state = changes_requested()
    assert state.status == "changes_requested"
    assert not state.ever_validated


def test_changes_requested_may_name_the_criteria_not_met() -> None:
    payload = only_payload(
        vet(submitted(), decision="changes_requested", criteria=["time_bound"], note="When?")
    )
    assert isinstance(payload, PledgeChangesRequested)
    assert payload.criteria == ("time_bound",)


@pytest.mark.parametrize(
    "principal",
    [network_key(), other_network_key(), admin()],
    ids=["owning_network", "other_network", "admin"],
)
def test_only_validators_vet_pledges(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        vet(submitted(), principal)


def test_validation_without_criteria_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        vet(submitted(), criteria=[])
    assert caught.value.field == "criteria"


@pytest.mark.parametrize("note", ["", "   "])
def test_changes_requested_without_a_note_is_refused(note: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        vet(submitted(), decision="changes_requested", note=note)
    assert caught.value.field == "note"


def test_duplicate_criteria_are_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        vet(submitted(), criteria=["specific", "specific"])
    assert caught.value.field == "criteria"


def test_unknown_criterion_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        ValidatePledge.model_validate({"decision": "validated", "criteria": ["ambitious"]})
    assert invalid_input_from(caught.value).field == "criteria.0"


def test_unknown_decision_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        ValidatePledge.model_validate({"decision": "rejected"})
    assert invalid_input_from(caught.value).field == "decision"


@pytest.mark.parametrize(
    "status_of", [validated, changes_requested], ids=["validated", "changes_requested"]
)
@pytest.mark.parametrize("decision", ["validated", "changes_requested"])
def test_only_a_pledge_awaiting_validation_is_vetted(status_of: Any, decision: str) -> None:
    with pytest.raises(InvalidTransition):
        vet(status_of(), decision=decision, note="again")


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_be_vetted(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        vet(ended())


def test_materially_amended_pledge_can_be_validated_again() -> None:
    state = amended(validated(), title=CHANGES["title"])
    assert fold(state, vet(state)).status == "validated"


def test_changes_requested_note_too_long_for_the_event_is_refused_as_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        vet(submitted(), decision="changes_requested", note="x" * 3000)
    assert caught.value.field == "note"


# --- progress -------------------------------------------------------------------------------------


def test_owning_network_reports_progress() -> None:
    [event] = report(validated())
    assert event.type == "pledge.progress_reported"
    assert isinstance(event.payload, ProgressReported)
    assert event.payload.stage == "in_progress"
    assert len(event.payload.observations) == 3
    assert event.occurred_on == date(2025, 6, 30)
    assert event.on_behalf_of == (MEMBER_CITY,)


def test_progress_folds_into_stage_and_last_period_end() -> None:
    state = reported(validated())
    assert state.stage == "in_progress"
    assert state.last_period_end == date(2025, 6, 30)


def test_progress_keeps_the_status_apart_from_the_stage() -> None:
    state = reported(validated(), progress_command(stage="on_hold"))
    assert (state.status, state.stage) == ("validated", "on_hold")


def test_progress_may_be_reported_before_validation() -> None:
    assert reported(submitted()).status == "awaiting_validation"


def test_an_older_period_reported_later_keeps_the_latest_period_end() -> None:
    state = reported(validated())
    earlier = progress_command(period={"start": "2025-01-01", "end": "2025-03-31"}, observations=[])
    assert reported(state, earlier).last_period_end == date(2025, 6, 30)


@pytest.mark.parametrize(
    "principal",
    [other_network_key(), validator(), admin()],
    ids=["other_network", "validator", "admin"],
)
def test_only_the_owning_network_reports_progress(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        report(validated(), principal)


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_report_progress(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        report(ended())


def test_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), period={"start": "2025-06-30", "end": "2025-01-01"}, observations=[])
    assert caught.value.field == "period.end"


def test_period_not_yet_over_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), today=date(2025, 6, 29))
    assert caught.value.field == "period.end"


def test_period_ending_today_may_be_reported() -> None:
    assert report(validated(), today=date(2025, 6, 30))


@pytest.mark.parametrize("day", ["2024-12-31", "2025-07-01"])
def test_observation_outside_its_period_is_refused(day: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), observations=[observation(date=day)])
    assert caught.value.field == "observations.0.date"


@pytest.mark.parametrize("day", ["2025-01-01", "2025-06-30"])
def test_observation_on_a_period_boundary_is_accepted(day: str) -> None:
    assert report(validated(), observations=[observation(date=day)])


def test_observation_of_an_unknown_indicator_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        report(validated(), observations=[observation(indicator_id="jobs-created")])
    assert caught.value.field == "observations.0.indicator_id"


def test_duplicate_observation_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), observations=[observation(), observation(value="43")])
    assert caught.value.field == "observations.1"


def test_two_observations_of_one_indicator_on_different_days_are_accepted() -> None:
    observations = [observation(date="2025-03-31"), observation(date="2025-06-30")]
    assert report(validated(), observations=observations)


def test_qualitative_observation_with_a_value_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), observations=[observation(QUALITATIVE_INDICATOR, value="1")])
    assert caught.value.field == "observations.0.value"


def test_unit_observation_without_a_value_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), observations=[observation(value=None)])
    assert caught.value.field == "observations.0.value"


@pytest.mark.parametrize("value", ["100.5", "-1"])
def test_percentage_observation_outside_0_to_100_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        report(validated(), observations=[observation(PERCENTAGE_INDICATOR, value=value)])
    assert caught.value.field == "observations.0.value"


def test_observation_value_as_float_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        progress_command(observations=[observation(value=42.0)])
    error = invalid_input_from(caught.value)
    assert error.field == "observations.0.value"
    assert "never floats" in error.message


def test_observation_value_in_exponent_notation_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        progress_command(observations=[observation(value="4.2e1")])
    assert invalid_input_from(caught.value).field == "observations.0.value"


def test_evidence_listed_twice_is_refused() -> None:
    evidence = {"url": "https://example.org/a.pdf", "sha256": "ab" * 32}
    with pytest.raises(InvalidInput) as caught:
        report(validated(), evidence=[evidence, {**evidence, "sha256": "cd" * 32}])
    assert caught.value.field == "evidence.url"


def test_evidence_without_a_sha256_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        progress_command(evidence=[{"url": "https://example.org/a.pdf"}])
    assert invalid_input_from(caught.value).field == "evidence.0.sha256"


def test_unknown_stage_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        progress_command(stage="finished")
    assert invalid_input_from(caught.value).field == "stage"


def test_too_much_evidence_is_refused_as_invalid_input() -> None:
    evidence = [{"url": f"https://example.org/{n}.pdf", "sha256": "ab" * 32} for n in range(51)]
    with pytest.raises(InvalidInput) as caught:
        report(validated(), evidence=evidence)
    assert caught.value.field is not None
    assert caught.value.field.startswith("evidence")


# --- matches --------------------------------------------------------------------------------------


def test_owning_network_offers_a_supporting_pledge_match() -> None:
    [event] = match(
        validated(), supporting=supporting_pledge(), kind="pledge", supporting_pledge_id="pledge-2"
    )
    assert event.type == "pledge.match_offered"
    assert event.payload == MatchOffered(
        match_id=MATCH_ID, kind="pledge", offered_by="host", supporting_pledge_id=OTHER_PLEDGE_ID
    )
    assert event.on_behalf_of == (MEMBER_CITY,)


def test_owning_network_offers_a_funder_match() -> None:
    payload = only_payload(match(validated(), kind="funder", funder="City Fund"))
    assert payload == MatchOffered(
        match_id=MATCH_ID, kind="funder", offered_by="host", funder="City Fund"
    )


def test_validator_may_offer_a_funders_match_for_the_funder() -> None:
    payload = only_payload(
        match(
            validated(), validator(), kind="funder", funder="City Fund", amount="2500.50",
            currency="EUR",
        )
    )  # fmt: skip
    assert payload == MatchOffered(
        match_id=MATCH_ID, kind="funder", offered_by="supporter", funder="City Fund",
        amount="2500.50", currency="EUR",
    )  # fmt: skip


def test_validator_may_not_offer_a_pledge_match() -> None:
    with pytest.raises(NotPermitted):
        match(
            validated(),
            validator(),
            supporting_pledge(),
            kind="pledge",
            supporting_pledge_id=OTHER_PLEDGE_ID,
        )


def test_network_of_the_supporting_pledge_may_offer_it() -> None:
    events = match(
        validated(),
        other_network_key(),
        supporting_pledge(),
        kind="pledge",
        supporting_pledge_id=OTHER_PLEDGE_ID,
    )
    assert only_payload(events) == MatchOffered(
        match_id=MATCH_ID,
        kind="pledge",
        offered_by="supporter",
        supporting_pledge_id=OTHER_PLEDGE_ID,
    )


@pytest.mark.parametrize(
    "principal", [admin(), network_key("third-network")], ids=["admin", "third_network"]
)
def test_unrelated_principals_may_not_link_pledges(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        match(
            validated(),
            principal,
            supporting_pledge(),
            kind="pledge",
            supporting_pledge_id=OTHER_PLEDGE_ID,
        )


def test_another_network_may_not_link_a_funder_to_a_pledge_it_does_not_own() -> None:
    with pytest.raises(NotPermitted):
        match(validated(), other_network_key(), kind="funder", funder="City Fund")


def test_pledge_cannot_support_itself() -> None:
    state = validated()
    with pytest.raises(InvalidInput) as caught:
        match(state, supporting=state, kind="pledge", supporting_pledge_id=PLEDGE_ID)
    assert caught.value.field == "supporting_pledge_id"


def test_missing_supporting_pledge_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        match(validated(), kind="pledge", supporting_pledge_id="pledge-404")
    assert caught.value.field == "supporting_pledge_id"


def test_pledge_match_without_a_supporting_pledge_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        match(validated(), kind="pledge")
    assert caught.value.field == "supporting_pledge_id"


def test_pledge_match_naming_a_funder_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        match(
            validated(),
            supporting=supporting_pledge(),
            kind="pledge",
            supporting_pledge_id=OTHER_PLEDGE_ID,
            funder="City Fund",
        )
    assert caught.value.field == "supporting_pledge_id"


def test_funder_match_without_a_funder_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        match(validated(), kind="funder")
    assert caught.value.field == "funder"


def test_funder_match_naming_a_pledge_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        match(validated(), kind="funder", funder="City Fund", supporting_pledge_id=OTHER_PLEDGE_ID)
    assert caught.value.field == "funder"


def test_blank_funder_name_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        MatchPledge.model_validate({"kind": "funder", "funder": "  "})
    assert invalid_input_from(caught.value).field == "funder"


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_be_matched(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        match(ended(), kind="funder", funder="City Fund")


def test_offer_adds_an_open_match_and_leaves_the_lifecycle_unchanged() -> None:
    state = validated()
    after = fold(state, match(state, kind="funder", funder="City Fund"))
    assert (after.status, after.content, after.stage) == (state.status, state.content, state.stage)
    [offered] = after.matches
    assert (offered.match_id, offered.status, offered.offered_by) == (MATCH_ID, "offered", "host")


# --- withdrawal -----------------------------------------------------------------------------------


def test_owning_network_withdraws_its_pledge() -> None:
    [event] = withdraw(validated())
    assert event.type == "pledge.withdrawn"
    assert event.payload == PledgeWithdrawn(reason="Funding ended.")


def test_withdrawn_pledge_is_ended() -> None:
    state = withdrawn()
    assert state.status == "withdrawn"
    assert state.ended


@pytest.mark.parametrize(
    "principal",
    [other_network_key(), validator(), admin()],
    ids=["other_network", "validator", "admin"],
)
def test_only_the_owning_network_withdraws(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        withdraw(validated(), principal)


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_be_withdrawn(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        withdraw(ended())


@pytest.mark.parametrize(
    "status_of",
    [submitted, changes_requested, validated],
    ids=["awaiting_validation", "changes_requested", "validated"],
)
def test_any_open_pledge_may_be_withdrawn(status_of: Any) -> None:
    state = status_of()
    assert fold(state, withdraw(state)).status == "withdrawn"


def test_withdrawal_needs_a_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        WithdrawPledge.model_validate({"reason": ""})
    assert invalid_input_from(caught.value).field == "reason"


# --- closure --------------------------------------------------------------------------------------


def test_owning_network_closes_its_pledge_with_an_outcome() -> None:
    [event] = close(validated())
    assert event.type == "pledge.closed"
    assert event.payload == PledgeClosed(outcome="partially_fulfilled")
    assert event.occurred_on == TODAY


def test_closed_pledge_keeps_its_outcome() -> None:
    state = closed()
    assert (state.status, state.outcome) == ("closed", "fulfilled")
    assert state.ended


@pytest.mark.parametrize(
    "principal",
    [other_network_key(), validator(), admin()],
    ids=["other_network", "validator", "admin"],
)
def test_only_the_owning_network_closes(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        close(validated(), principal)


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_ended_pledge_cannot_be_closed(ended: Any) -> None:
    with pytest.raises(InvalidTransition):
        close(ended())


def test_unknown_outcome_is_refused_by_the_command_model() -> None:
    with pytest.raises(ValidationError) as caught:
        ClosePledge.model_validate({"outcome": "abandoned"})
    assert invalid_input_from(caught.value).field == "outcome"


# --- errata ---------------------------------------------------------------------------------------


def test_erratum_points_at_an_earlier_event_of_the_stream() -> None:
    [event] = erratum(validated())
    assert event.type == "pledge.erratum_recorded"
    assert event.payload == ErratumRecorded(
        corrects_event_id="event-2", note="The period ended in June, not May."
    )


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_erratum_after_the_pledge_ended_is_allowed(ended: Any) -> None:
    assert erratum(ended())


def test_erratum_pointing_outside_the_stream_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        erratum(closed(), corrects="event-of-another-pledge")
    assert caught.value.field == "corrects_event_id"


@pytest.mark.parametrize("principal", [validator(), admin()], ids=["validator", "admin"])
def test_validators_and_admins_may_record_errata(principal: Principal) -> None:
    assert erratum(closed(), principal)


def test_another_network_may_not_record_errata() -> None:
    with pytest.raises(NotPermitted):
        erratum(closed(), other_network_key())


def test_erratum_leaves_the_state_unchanged() -> None:
    state = closed()
    assert fold(state, erratum(state)) == state


def test_erratum_needs_a_note() -> None:
    with pytest.raises(ValidationError) as caught:
        RecordErratum.model_validate({"corrects_event_id": "event-1", "note": ""})
    assert invalid_input_from(caught.value).field == "note"


# --- nothing but an erratum follows an ended pledge -----------------------------------------------


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_nothing_but_an_erratum_follows_a_closed_or_withdrawn_pledge(ended: Any) -> None:
    state = ended()
    attempts: list[Callable[[], list[NewEvent]]] = [
        lambda: amend(state, description=CHANGES["description"]),
        lambda: vet(state),
        lambda: report(state),
        lambda: match(state, kind="funder", funder="City Fund"),
        lambda: withdraw(state),
        lambda: close(state),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidTransition, match="only an erratum may follow"):
            attempt()
    assert isinstance(only_payload(erratum(state)), ErratumRecorded)


# --- the fold -------------------------------------------------------------------------------------


def test_statuses_are_the_five_lifecycle_states() -> None:
    assert STATUSES == (
        "awaiting_validation",
        "changes_requested",
        "validated",
        "withdrawn",
        "closed",
    )


@pytest.mark.parametrize(
    "payload",
    [
        PledgeValidated(criteria=("specific",)),
        PledgeWithdrawn(reason="no"),
        PledgeClosed(outcome="fulfilled"),
        ErratumRecorded(corrects_event_id="event-1", note="typo"),
    ],
    ids=lambda p: type(p).__name__,
)
def test_pledge_event_before_submission_is_refused(payload: Payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_pledge(None, payload)
    assert caught.value.field == "type"


@pytest.mark.parametrize(
    "payload",
    [
        NetworkRegistered(network_id=NETWORK_ID, name={"en": "C"}),
        CityRegistered(city_id=MEMBER_CITY, name={"en": "Rabat"}, country="MA"),
        DeclarationSigned(
            declaration_id="marrakech-2018", city_id=MEMBER_CITY, signed_on=date(2019, 1, 1)
        ),
    ],
    ids=lambda p: type(p).__name__,
)
def test_pledge_stream_refuses_events_of_other_kinds(payload: Payload) -> None:
    with pytest.raises(InvalidInput) as caught:
        evolve_pledge(submitted(), payload)
    assert caught.value.field == "type"


def test_replaying_the_same_events_gives_the_same_state() -> None:
    state = submitted()
    events: list[NewEvent] = []
    steps: list[Callable[[PledgeState], list[NewEvent]]] = [
        vet,
        report,
        lambda s: amend(s, title=CHANGES["title"]),
        vet,
        close,
    ]
    for step in steps:
        new = step(state)
        events.extend(new)
        state = fold(state, new)
    assert fold(submitted(), events) == state
    assert (state.status, state.outcome, state.ever_validated) == (
        "closed",
        "partially_fulfilled",
        True,
    )


def test_folding_an_older_period_keeps_the_latest_period_end() -> None:
    state = reported(validated())
    older = ProgressReported.model_validate(
        {"period": {"start": "2025-01-01", "end": "2025-01-31"}, "stage": "planning"}
    )
    after = evolve_pledge(state, older)
    assert after.last_period_end == date(2025, 6, 30)


def test_late_report_on_an_older_period_does_not_overwrite_the_current_stage() -> None:
    current = reported(
        validated(),
        progress_command(
            period={"start": "2025-07-01", "end": "2025-12-31"}, stage="completed", observations=[]
        ),
    )
    late = reported(
        current,
        progress_command(
            period={"start": "2025-01-01", "end": "2025-06-30"}, stage="on_hold", observations=[]
        ),
    )
    assert (late.stage, late.last_period_end) == ("completed", date(2025, 12, 31))
