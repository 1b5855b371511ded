"""The persisted event contract: type strings, payload models, parsing and error translation."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.errors import InvalidInput
from domain.events import (
    ADDED_PLEDGE_FIELDS,
    EVENT_SPECS,
    TYPE_OF_PAYLOAD,
    CallRegistered,
    CityCorrected,
    CityJoinedNetwork,
    CityLeftNetwork,
    CityRegistered,
    DeclarationRegistered,
    DeclarationSigned,
    ErratumRecorded,
    ExternalIdAdded,
    ExternalIdClaimed,
    ExternalIdReleased,
    ExternalIdRemoved,
    KeyIssued,
    KeyRevoked,
    MatchAccepted,
    MatchDeclined,
    MatchEnded,
    MatchOffered,
    NetworkCorrected,
    NetworkRegistered,
    NewEvent,
    ObservationCorrected,
    Payload,
    PledgeAmended,
    PledgeChanges,
    PledgeChangesRequested,
    PledgeClosed,
    PledgeFields,
    PledgeMatched,
    PledgeSubmitted,
    PledgeTranslated,
    PledgeValidated,
    PledgeWithdrawn,
    PriorityAreaRegistered,
    PriorityAreaRetired,
    ProgressReported,
    ReportPublished,
    SignatureWithdrawn,
    invalid_input_from,
    parse_payload,
)
from tests.unit.domain_builders import (
    percentage_indicator,
    progress_command,
    qualitative_indicator,
    submit_command,
    unit_indicator,
)


def _progress() -> ProgressReported:
    command = progress_command()
    return ProgressReported(
        period=command.period,
        stage=command.stage,
        observations=command.observations,
        narrative=command.narrative,
        evidence=command.evidence,
    )


# One rich example per event type: every optional field set where the type has one.
SAMPLES: dict[str, Payload] = {
    "network.registered": NetworkRegistered(
        network_id="cities-for-all", name={"en": "Cities for all", "fr": "Villes pour tous"}
    ),
    "network.city_joined": CityJoinedNetwork(network_id="cities-for-all", city_id="rabat"),
    "network.city_left": CityLeftNetwork(network_id="cities-for-all", city_id="rabat"),
    "city.registered": CityRegistered(
        city_id="sao-paulo", name={"es": "São Paulo", "en": "São Paulo"}, country="BR"
    ),
    "declaration.signed": DeclarationSigned(
        declaration_id="marrakech-2018", city_id="rabat", signed_on=date(2018, 12, 8)
    ),
    "pledge.submitted": PledgeSubmitted(
        pledge_id="0b9c1f9e-5c1a-4a43-9d3e-0d6f3f0c2a11",
        network_id="cities-for-all",
        content=submit_command().content(),
    ),
    "pledge.amended": PledgeAmended(
        changes=PledgeChanges.model_validate(
            {
                "title": {"en": "Housing first, everywhere"},
                "ends_on": "2028-12-31",
                "indicators": [unit_indicator(), percentage_indicator(), qualitative_indicator()],
            }
        ),
        reason="The council extended the programme.",
        material=True,
    ),
    "pledge.validated": PledgeValidated(
        criteria=("specific", "measurable", "aligned_with_compacts"), note="Clear targets."
    ),
    "pledge.changes_requested": PledgeChangesRequested(
        criteria=("time_bound",), note="Give an end date per district."
    ),
    "pledge.progress_reported": _progress(),
    "pledge.matched": PledgeMatched(
        kind="pledge", supporting_pledge_id="pledge-2", note="Shared housing stock."
    ),
    "pledge.match_offered": MatchOffered(
        match_id="2f1d7d0a-0000-4000-8000-000000000002",
        kind="funder",
        offered_by="supporter",
        funder="Urban Fund",
        amount="12500.50",
        currency="EUR",
    ),
    "pledge.match_accepted": MatchAccepted(
        match_id="2f1d7d0a-0000-4000-8000-000000000002", note="Thank you"
    ),
    "pledge.match_declined": MatchDeclined(
        match_id="2f1d7d0a-0000-4000-8000-000000000002", reason="Already funded."
    ),
    "pledge.match_ended": MatchEnded(
        match_id="2f1d7d0a-0000-4000-8000-000000000002", reason="Grant spent."
    ),
    "pledge.observation_corrected": ObservationCorrected(
        progress_event_id="2f1d7d0a-0000-4000-8000-000000000001",
        indicator_id="households-housed",
        date=date(2025, 6, 30),
        previous_value="42",
        value="40",
        reason="Two households counted twice.",
    ),
    "pledge.withdrawn": PledgeWithdrawn(reason="Funding ended."),
    "pledge.closed": PledgeClosed(outcome="partially_fulfilled", note="180 of 250 households."),
    "pledge.erratum_recorded": ErratumRecorded(
        corrects_event_id="2f1d7d0a-0000-4000-8000-000000000001", note="Wrong period end."
    ),
    "apikey.issued": KeyIssued(
        key_id="k-3fa9c1d2", role="network", network_id="cities-for-all", label="Intake system"
    ),
    "apikey.revoked": KeyRevoked(key_id="k-3fa9c1d2", reason="The system was retired."),
    "declaration.registered": DeclarationRegistered(
        declaration_id="marrakech-2018",
        title={"en": "Marrakech Mayors Declaration"},
        adopted_on=date(2018, 12, 8),
    ),
    "area.registered": PriorityAreaRegistered(area_id="housing", title={"en": "Housing"}),
    "area.retired": PriorityAreaRetired(area_id="housing", reason="Merged into another area."),
    "call.registered": CallRegistered(
        call_id="imrf-2026",
        title={"en": "IMRF 2026"},
        opens_on=date(2025, 6, 1),
        closes_on=date(2026, 4, 30),
    ),
    "city.corrected": CityCorrected(
        city_id="sao-paulo",
        name={"en": "São Paulo", "es": "São Paulo", "fr": "São Paulo"},
        country="BR",
        reason="French name; country confirmed.",
    ),
    "network.corrected": NetworkCorrected(
        network_id="cities-for-all",
        name={"en": "Cities for all", "fr": "Villes pour tous", "es": "Ciudades para todos"},
        reason="Spanish name.",
    ),
    "declaration.signature_withdrawn": SignatureWithdrawn(
        declaration_id="marrakech-2018",
        city_id="rabat",
        withdrawn_on=date(2020, 3, 1),
        reason="Recorded for the wrong city.",
    ),
    "pledge.translated": PledgeTranslated(
        field="narrative",
        language="fr",
        text="Le centre a ouvert en mars.",
        progress_event_id="2f1d7d0a-0000-4000-8000-000000000002",
    ),
    "pledge.external_id_added": ExternalIdAdded(scheme="cities-for-all", value="CFA/2024/017"),
    "pledge.external_id_removed": ExternalIdRemoved(
        scheme="grf", value="GRF-00417", reason="It names another pledge."
    ),
    "extid.claimed": ExternalIdClaimed(
        scheme="gcm", value="12345", pledge_id="0b9c1f9e-5c1a-4a43-9d3e-0d6f3f0c2a11"
    ),
    "extid.released": ExternalIdReleased(
        scheme="gcm", value="12345", pledge_id="0b9c1f9e-5c1a-4a43-9d3e-0d6f3f0c2a11"
    ),
    "report.published": ReportPublished(
        report_sha256="0" * 64,
        output_sha256="f" * 64,
        format="html",
        as_of=date(2026, 6, 30),
        network_id="cities-for-all",
        framework="gcm",
        lang="es",
        freshness_months=12,
        tree_size=42,
        checkpoint_tree_size=42,
    ),
}


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _walk(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _walk(item)]
    return [value]


# --- the contract ---------------------------------------------------------------------------------


# The type strings and schema versions are pinned by tests/golden/test_event_contract.py.


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_event_type_is_namespaced_by_its_stream_kind(event_type: str) -> None:
    kind, _, name = event_type.partition(".")
    assert kind in {
        "network",
        "city",
        "declaration",
        "pledge",
        "apikey",
        "area",
        "call",
        "extid",
        "report",
    }
    assert name


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_spec_is_keyed_by_its_own_type(event_type: str) -> None:
    assert EVENT_SPECS[event_type].event_type == event_type


def test_every_payload_class_has_exactly_one_type() -> None:
    assert len(TYPE_OF_PAYLOAD) == len(EVENT_SPECS)
    assert all(EVENT_SPECS[t].payload is cls for cls, t in TYPE_OF_PAYLOAD.items())


def test_samples_cover_every_event_type() -> None:
    assert set(SAMPLES) == set(EVENT_SPECS)
    assert all(isinstance(p, EVENT_SPECS[t].payload) for t, p in SAMPLES.items())


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_payload_round_trips_through_json(event_type: str) -> None:
    payload = SAMPLES[event_type]
    data = payload.model_dump(mode="json")
    assert parse_payload(event_type, 1, data) == payload


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_payload_json_holds_no_floats(event_type: str) -> None:
    leaves = _walk(SAMPLES[event_type].model_dump(mode="json"))
    assert not [leaf for leaf in leaves if isinstance(leaf, float)]


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_payload_json_is_stable_across_a_round_trip(event_type: str) -> None:
    data = SAMPLES[event_type].model_dump(mode="json")
    assert parse_payload(event_type, 1, data).model_dump(mode="json") == data


def test_dates_are_stored_as_iso_strings() -> None:
    data = SAMPLES["declaration.signed"].model_dump(mode="json")
    assert data["signed_on"] == "2018-12-08"


def test_indicator_values_are_stored_as_the_strings_reported() -> None:
    data = SAMPLES["pledge.progress_reported"].model_dump(mode="json")
    assert [o.get("value") for o in data["observations"]] == ["42", "51.5", None]


# --- parse_payload --------------------------------------------------------------------------------


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payload("pledge.deleted", 1, {})
    assert caught.value.field == "type"


@pytest.mark.parametrize("version", [0, 2, -1])
def test_unsupported_schema_version_is_refused(version: int) -> None:
    data = SAMPLES["pledge.withdrawn"].model_dump(mode="json")
    with pytest.raises(InvalidInput) as caught:
        parse_payload("pledge.withdrawn", version, data)
    assert caught.value.field == "schema_version"


def test_malformed_stored_payload_is_refused_naming_the_field() -> None:
    data = SAMPLES["pledge.submitted"].model_dump(mode="json")
    data["content"]["starts_on"] = "01/01/2025"
    with pytest.raises(InvalidInput) as caught:
        parse_payload("pledge.submitted", 1, data)
    assert caught.value.field == "content.starts_on"
    assert isinstance(caught.value.__cause__, ValidationError)


def test_stored_payload_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payload("pledge.withdrawn", 1, {"reason": "r", "contact": "someone@example.org"})
    assert caught.value.field == "contact"


def test_stored_payload_of_another_type_is_refused() -> None:
    data = SAMPLES["pledge.withdrawn"].model_dump(mode="json")
    with pytest.raises(InvalidInput):
        parse_payload("pledge.closed", 1, data)


# --- payload models -------------------------------------------------------------------------------


def test_payloads_are_immutable() -> None:
    payload = PledgeWithdrawn(reason="Funding ended.")
    with pytest.raises(ValidationError):
        payload.reason = "changed"  # type: ignore[misc]


def test_validated_payload_needs_a_criterion() -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeValidated.model_validate({"criteria": []})
    assert invalid_input_from(caught.value).field == "criteria"


def test_changes_requested_payload_needs_a_note() -> None:
    with pytest.raises(ValidationError) as caught:
        PledgeChangesRequested.model_validate({"note": " "})
    assert invalid_input_from(caught.value).field == "note"


def test_pledge_content_needs_a_city() -> None:
    data = SAMPLES["pledge.submitted"].model_dump(mode="json")
    data["content"]["cities"] = []
    with pytest.raises(InvalidInput) as caught:
        parse_payload("pledge.submitted", 1, data)
    assert caught.value.field == "content.cities"


# --- NewEvent -------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(EVENT_SPECS))
def test_new_event_takes_its_type_from_its_payload(event_type: str) -> None:
    assert NewEvent(SAMPLES[event_type]).type == event_type


def test_new_event_carries_cities_and_date_of_the_fact() -> None:
    event = NewEvent(
        SAMPLES["declaration.signed"], on_behalf_of=("rabat",), occurred_on=date(2018, 12, 8)
    )
    assert (event.on_behalf_of, event.occurred_on) == (("rabat",), date(2018, 12, 8))


def test_new_event_defaults_to_no_city_and_no_date() -> None:
    event = NewEvent(SAMPLES["network.registered"])
    assert (event.on_behalf_of, event.occurred_on) == ((), None)


def test_new_event_is_immutable() -> None:
    event = NewEvent(SAMPLES["pledge.withdrawn"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "pledge.closed"  # type: ignore[misc]


# --- invalid_input_from ---------------------------------------------------------------------------


def _validation_error(model: type[Payload], data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_invalid_input_from_joins_the_location_with_dots() -> None:
    data = SAMPLES["pledge.progress_reported"].model_dump(mode="json")
    data["observations"][1]["value"] = "1e3"
    error = invalid_input_from(_validation_error(ProgressReported, data))
    assert error.field == "observations.1.value"


def test_invalid_input_from_drops_pydantics_value_error_prefix() -> None:
    data = {"network_id": "cities-for-all", "city_id": "Rabat"}
    error = invalid_input_from(_validation_error(CityJoinedNetwork, data))
    assert error.message.startswith("must be 2 to 64 characters")


def test_invalid_input_from_prefixes_the_location() -> None:
    error = invalid_input_from(_validation_error(PledgeWithdrawn, {}), prefix="command")
    assert error.field == "command.reason"


def test_invalid_input_from_uses_the_prefix_when_there_is_no_location() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(int).validate_python("seven")
    assert invalid_input_from(caught.value, prefix="schema_version").field == "schema_version"


def test_invalid_input_from_names_no_field_when_there_is_no_location() -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(int).validate_python("seven")
    assert invalid_input_from(caught.value).field is None


def test_invalid_input_from_reports_the_first_error_only() -> None:
    error = invalid_input_from(_validation_error(PledgeClosed, {"outcome": "lost", "note": 5}))
    assert error.field == "outcome"
    assert str(error).startswith("outcome: ")


# --- fields added to pledges after events were recorded (ADR 0014) -------------------------------


def test_added_pledge_fields_left_at_their_default_are_not_serialised() -> None:
    content = submit_command().content()
    data = content.model_dump(mode="json")
    assert not {"gcm_principles", "nua_paragraphs", "calls"} & set(data)


def test_added_pledge_fields_are_serialised_once_set() -> None:
    content = submit_command(gcm_principles=["people-centred"], calls=["imrf-2026"]).content()
    data = content.model_dump(mode="json")
    assert data["gcm_principles"] == ["people-centred"]
    assert data["calls"] == ["imrf-2026"]
    assert "nua_paragraphs" not in data


def test_an_amendment_that_leaves_the_added_fields_alone_does_not_name_them() -> None:
    data = PledgeChanges(description={"en": "Clearer."}).model_dump(mode="json")
    assert not {"gcm_principles", "nua_paragraphs", "calls"} & set(data)
    assert data["title"] is None  # the fields recorded before keep their explicit nulls


def test_an_amendment_that_empties_an_added_field_says_so() -> None:
    data = PledgeChanges(calls=()).model_dump(mode="json")
    assert data["calls"] == []
    assert PledgeChanges.model_validate(data).changed_fields() == ("calls",)


def test_every_added_pledge_field_is_left_out_while_it_holds_its_default() -> None:
    for name in ADDED_PLEDGE_FIELDS:
        assert PledgeFields.model_fields[name].exclude_if is not None, name
        assert PledgeChanges.model_fields[name].exclude_if is not None, name
