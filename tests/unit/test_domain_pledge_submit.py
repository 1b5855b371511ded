"""Submitting a pledge: who may, for which cities, and the rules every pledge's content obeys."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput, NotFound, NotPermitted, UnknownTaxonomyCode
from domain.events import PledgeSubmitted, invalid_input_from
from domain.pledge import SubmitPledge, pledge_stream, submit_pledge
from domain.principal import Principal
from domain.taxonomies import reference_taxonomies
from tests.unit.domain_builders import (
    CLOSED_CALL,
    MEMBER_CITY,
    NETWORK_ID,
    OPEN_CALL,
    OTHER_NETWORK_ID,
    OUTSIDER_CITY,
    PLEDGE_ID,
    RETIRED_AREA,
    SECOND_MEMBER_CITY,
    UNREGISTERED_CITY,
    admin,
    network_state,
    other_network_key,
    percentage_indicator,
    qualitative_indicator,
    reference_tags,
    registered_cities,
    submit,
    submit_command,
    submit_data,
    submitted,
    unit_indicator,
    validator,
)


def refused_by_reference(**overrides: Any) -> InvalidInput | NotFound:
    """The refusal of a valid command whose tags the log's reference data does not allow."""
    with pytest.raises((InvalidInput, NotFound)) as caught:
        submit(submit_command(**overrides))
    error = caught.value
    assert isinstance(error, InvalidInput | NotFound)
    return error


def refused(**overrides: Any) -> InvalidInput:
    """The InvalidInput that submitting the default pledge with ``overrides`` raises."""
    with pytest.raises(InvalidInput) as caught:
        submit(submit_command(**overrides))
    return caught.value


def shape_error(**overrides: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        SubmitPledge.model_validate(submit_data(**overrides))
    return caught.value


# --- the accepted submission ----------------------------------------------------------------------


def test_pledge_stream_id_is_namespaced() -> None:
    assert pledge_stream(PLEDGE_ID) == "pledge:pledge-1"


def test_submission_records_one_pledge_submitted_event() -> None:
    [event] = submit()
    assert event.type == "pledge.submitted"
    assert isinstance(event.payload, PledgeSubmitted)
    assert event.payload.pledge_id == PLEDGE_ID
    assert event.payload.network_id == NETWORK_ID
    assert event.payload.content == submit_command().content()


def test_submission_is_made_on_behalf_of_the_pledge_cities() -> None:
    [event] = submit(submit_command(cities=[MEMBER_CITY, SECOND_MEMBER_CITY]))
    assert event.on_behalf_of == (MEMBER_CITY, SECOND_MEMBER_CITY)


def test_submitted_pledge_awaits_validation() -> None:
    state = submitted()
    assert state.status == "awaiting_validation"
    assert not state.ended
    assert not state.ever_validated
    assert state.stage is None
    assert state.outcome is None
    assert state.last_period_end is None


def test_submitted_pledge_belongs_to_the_submitting_network() -> None:
    state = submitted()
    assert (state.pledge_id, state.network_id) == (PLEDGE_ID, NETWORK_ID)


# --- who may submit, for which cities -------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [admin(), validator(), other_network_key()],
    ids=["admin", "validator", "other_network"],
)
def test_only_the_network_itself_submits_its_pledges(principal: Principal) -> None:
    with pytest.raises(NotPermitted):
        submit(principal=principal)


def test_submission_for_an_unregistered_network_is_refused() -> None:
    command = submit_command(network_id=OTHER_NETWORK_ID)
    with pytest.raises(NotFound) as caught:
        submit_pledge(
            command,
            PLEDGE_ID,
            None,
            registered_cities(),
            other_network_key(),
            reference_taxonomies(),
            reference_tags(),
        )
    assert caught.value.field == "network_id"


def test_pledge_for_an_unregistered_city_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        submit(submit_command(cities=[MEMBER_CITY, UNREGISTERED_CITY]))
    assert caught.value.field == "cities"


def test_pledge_for_a_city_outside_the_network_is_refused() -> None:
    with pytest.raises(NotPermitted) as caught:
        submit(submit_command(cities=[MEMBER_CITY, OUTSIDER_CITY]))
    assert caught.value.field == "cities"


def test_pledge_for_a_city_that_left_the_network_is_refused() -> None:
    with pytest.raises(NotPermitted) as caught:
        submit(network=network_state(members=[SECOND_MEMBER_CITY]))
    assert caught.value.field == "cities"


def test_duplicate_cities_are_refused() -> None:
    assert refused(cities=[MEMBER_CITY, MEMBER_CITY]).field == "cities"


def test_pledge_without_cities_is_refused_by_the_command_model() -> None:
    assert invalid_input_from(shape_error(cities=[])).field == "cities"


# --- dates ----------------------------------------------------------------------------------------


def test_pledge_ending_before_it_starts_is_refused() -> None:
    assert refused(starts_on="2026-01-01", ends_on="2025-12-31").field == "ends_on"


def test_pledge_may_start_and_end_on_the_same_day() -> None:
    [event] = submit(submit_command(starts_on="2025-01-01", ends_on="2025-01-01", indicators=[]))
    assert isinstance(event.payload, PledgeSubmitted)
    assert event.payload.content.ends_on == date(2025, 1, 1)


def test_malformed_start_date_is_refused_by_the_command_model() -> None:
    error = shape_error(starts_on="2025-02-30")
    assert invalid_input_from(error).field == "starts_on"


# --- compacts, SDGs and priority areas ------------------------------------------------------------


def test_pledge_without_gcm_objective_or_gcr_area_is_refused() -> None:
    error = refused(gcm_objectives=[], gcr_areas=[])
    assert type(error) is InvalidInput
    assert error.field == "gcm_objectives"


def test_gcm_objective_alone_is_enough() -> None:
    assert submit(submit_command(gcr_areas=[]))


def test_gcr_area_alone_is_enough() -> None:
    assert submit(submit_command(gcm_objectives=[]))


@pytest.mark.parametrize("objective", [0, 24])
def test_unknown_gcm_objective_is_refused(objective: int) -> None:
    error = refused(gcm_objectives=[objective])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "gcm_objectives"


def test_unknown_gcr_area_is_refused() -> None:
    error = refused(gcr_areas=["gcr-objective-9"])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "gcr_areas"


@pytest.mark.parametrize("target", ["18", "10.x1"])
def test_unknown_sdg_target_is_refused(target: str) -> None:
    error = refused(sdg_targets=["10.7", target])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "sdg_targets"


def test_unregistered_priority_area_is_refused() -> None:
    error = refused_by_reference(priority_areas=["urban-farming"])
    assert isinstance(error, NotFound)
    assert error.field == "priority_areas"


def test_priority_area_retired_before_the_submission_is_refused() -> None:
    error = refused_by_reference(priority_areas=["housing", RETIRED_AREA])
    assert isinstance(error, InvalidInput)
    assert "retired" in error.message
    assert error.field == "priority_areas"


def test_priority_area_registered_on_the_log_is_accepted() -> None:
    command = submit_command(priority_areas=["urban-farming"])
    assert submit(command, reference=reference_tags(areas=["urban-farming"]))


def test_answer_to_an_open_call_is_accepted() -> None:
    [event] = submit(submit_command(calls=[OPEN_CALL]))
    assert isinstance(event.payload, PledgeSubmitted)
    assert event.payload.content.calls == (OPEN_CALL,)


@pytest.mark.parametrize(
    "today", [date(2025, 12, 31), date(2026, 5, 2)], ids=["before opening", "after closing"]
)
def test_answer_to_a_call_outside_its_dates_is_refused(today: date) -> None:
    with pytest.raises(InvalidInput) as caught:
        submit(submit_command(calls=[OPEN_CALL]), reference=reference_tags(today=today))
    assert caught.value.field == "calls"


def test_answer_on_a_call_s_opening_and_closing_days_is_accepted() -> None:
    for today in (date(2026, 1, 1), date(2026, 5, 1)):
        assert submit(submit_command(calls=[OPEN_CALL]), reference=reference_tags(today=today))


def test_answer_to_a_closed_call_is_refused() -> None:
    error = refused_by_reference(calls=[CLOSED_CALL])
    assert error.field == "calls"


def test_answer_to_an_unregistered_call_is_refused() -> None:
    error = refused_by_reference(calls=["no-such-call"])
    assert isinstance(error, NotFound)
    assert error.field == "calls"


def test_unknown_gcm_guiding_principle_is_refused() -> None:
    error = refused(gcm_principles=["people-centred", "fast-and-loose"])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "gcm_principles"


def test_gcm_guiding_principles_and_nua_paragraphs_are_recorded() -> None:
    command = submit_command(gcm_principles=["people-centred", "gender-responsive"],
                             nua_paragraphs=[28, 99])  # fmt: skip
    [event] = submit(command)
    assert isinstance(event.payload, PledgeSubmitted)
    assert event.payload.content.gcm_principles == ("people-centred", "gender-responsive")
    assert event.payload.content.nua_paragraphs == (28, 99)


def test_unknown_new_urban_agenda_paragraph_is_refused() -> None:
    error = refused(nua_paragraphs=[176])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "nua_paragraphs"


def test_sdg_target_that_does_not_exist_is_refused_and_a_real_one_accepted() -> None:
    error = refused(sdg_targets=["10.99"])
    assert isinstance(error, UnknownTaxonomyCode)
    assert error.field == "sdg_targets"
    assert submit(submit_command(sdg_targets=["10.7"]))


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("gcm_objectives", [15, 16, 15]),
        ("gcr_areas", ["gcr-objective-1", "gcr-objective-1"]),
        ("sdg_targets", ["10.7", "10.7"]),
        ("priority_areas", ["housing", "health", "housing"]),
        ("gcm_principles", ["people-centred", "people-centred"]),
        ("nua_paragraphs", [28, 28]),
        ("calls", [OPEN_CALL, OPEN_CALL]),
    ],
)
def test_duplicate_tags_are_refused(field: str, values: list[object]) -> None:
    error = refused(**{field: values})
    assert type(error) is InvalidInput
    assert error.field == field


def test_gcm_objective_that_is_not_a_number_is_refused_by_the_command_model() -> None:
    error = shape_error(gcm_objectives=["fifteen"])
    assert invalid_input_from(error).field == "gcm_objectives.0"


# --- title and description ------------------------------------------------------------------------


def test_title_without_any_language_is_refused_by_the_command_model() -> None:
    assert invalid_input_from(shape_error(title={"en": " "})).field == "title"


def test_title_in_an_unknown_language_is_refused_by_the_command_model() -> None:
    error = invalid_input_from(shape_error(title={"en": "Housing", "de": "Wohnen"}))
    assert error.field is not None
    assert error.field.startswith("title.de")


def test_submitted_text_is_normalised_to_nfc() -> None:
    [event] = submit(submit_command(title={"fr": "Acce\u0300s au logement"}))
    assert isinstance(event.payload, PledgeSubmitted)
    assert event.payload.content.title == {"fr": "Acc\u00e8s au logement"}


def test_submit_command_refuses_unknown_fields() -> None:
    assert invalid_input_from(shape_error(contact_email="x@example.org")).field == "contact_email"


# --- indicators -----------------------------------------------------------------------------------


def test_pledge_without_indicators_is_accepted() -> None:
    assert submit(submit_command(indicators=[]))


def test_duplicate_indicator_ids_are_refused() -> None:
    indicators = [unit_indicator(), percentage_indicator(id="households-housed")]
    assert refused(indicators=indicators).field == "indicators.id"


def test_qualitative_baseline_with_a_value_is_refused() -> None:
    indicator = qualitative_indicator(baseline={"value": "0", "date": "2025-01-01"})
    assert refused(indicators=[indicator]).field == "indicators.0.baseline.value"


def test_qualitative_target_with_a_value_is_refused() -> None:
    indicator = qualitative_indicator(targets=[{"value": "1", "date": "2026-01-01"}])
    assert refused(indicators=[indicator]).field == "indicators.0.targets.0.value"


def test_unit_baseline_without_a_value_is_refused() -> None:
    indicator = unit_indicator(baseline={"date": "2025-01-01"})
    assert refused(indicators=[indicator]).field == "indicators.0.baseline.value"


def test_unit_target_without_a_value_is_refused() -> None:
    indicator = unit_indicator(targets=[{"date": "2026-01-01", "comment": "more"}])
    assert refused(indicators=[indicator]).field == "indicators.0.targets.0.value"


def test_indicator_without_baseline_is_accepted() -> None:
    assert submit(submit_command(indicators=[unit_indicator(baseline=None)]))


@pytest.mark.parametrize("value", ["100.01", "101", "-1", "-0.5"])
def test_percentage_outside_0_to_100_is_refused(value: str) -> None:
    indicator = percentage_indicator(targets=[{"value": value, "date": "2027-12-31"}])
    assert refused(indicators=[indicator]).field == "indicators.0.targets.0.value"


@pytest.mark.parametrize("value", ["0", "100", "100.0", "33.333"])
def test_percentage_within_0_to_100_is_accepted(value: str) -> None:
    indicator = percentage_indicator(baseline={"value": value, "date": "2025-01-01"})
    assert submit(submit_command(indicators=[indicator]))


def test_percentage_baseline_out_of_range_is_refused() -> None:
    indicator = percentage_indicator(baseline={"value": "140", "date": "2025-01-01"})
    assert refused(indicators=[indicator]).field == "indicators.0.baseline.value"


def test_target_dated_before_the_baseline_is_refused() -> None:
    indicator = unit_indicator(
        baseline={"value": "0", "date": "2025-06-01"},
        targets=[{"value": "10", "date": "2025-05-31"}],
    )
    assert refused(indicators=[indicator]).field == "indicators.0.targets.0.date"


def test_target_on_the_baseline_date_is_accepted() -> None:
    indicator = unit_indicator(
        baseline={"value": "0", "date": "2025-06-01"},
        targets=[{"value": "10", "date": "2025-06-01"}],
    )
    assert submit(submit_command(indicators=[indicator]))


def test_targets_out_of_date_order_are_refused() -> None:
    indicator = unit_indicator(
        targets=[{"value": "250", "date": "2027-12-31"}, {"value": "100", "date": "2026-01-01"}]
    )
    assert refused(indicators=[indicator]).field == "indicators.0.targets.1.date"


def test_two_targets_on_the_same_date_are_refused() -> None:
    indicator = unit_indicator(
        targets=[{"value": "100", "date": "2026-01-01"}, {"value": "120", "date": "2026-01-01"}]
    )
    assert refused(indicators=[indicator]).field == "indicators.0.targets.1.date"


def test_error_names_the_position_of_the_faulty_indicator() -> None:
    indicators = [qualitative_indicator(), unit_indicator(baseline={"date": "2025-01-01"})]
    assert refused(indicators=indicators).field == "indicators.1.baseline.value"


def test_indicator_value_as_float_is_refused_by_the_command_model() -> None:
    error = shape_error(indicators=[unit_indicator(baseline={"value": 0.5, "date": "2025-01-01"})])
    converted = invalid_input_from(error)
    assert converted.field == "indicators.0.baseline.value"
    assert "never floats" in converted.message


@pytest.mark.parametrize("value", ["1e3", "01", "1,000", "12."])
def test_indicator_value_not_in_decimal_notation_is_refused_by_the_command_model(
    value: str,
) -> None:
    error = shape_error(
        indicators=[unit_indicator(baseline={"value": value, "date": "2025-01-01"})]
    )
    assert invalid_input_from(error).field == "indicators.0.baseline.value"


def test_unknown_measure_is_refused_by_the_command_model() -> None:
    error = shape_error(indicators=[unit_indicator(measure="currency")])
    assert invalid_input_from(error).field == "indicators.0.measure"


def test_indicator_id_must_be_a_slug() -> None:
    error = shape_error(indicators=[unit_indicator(id="Households Housed")])
    assert invalid_input_from(error).field == "indicators.0.id"


def test_gcm_objective_given_as_text_or_boolean_is_refused_not_coerced() -> None:
    for value in ("15", True, 15.0):
        with pytest.raises(ValidationError):
            submit_command(gcm_objectives=[value])
