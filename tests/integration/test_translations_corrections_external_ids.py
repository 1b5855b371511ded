"""Issue 11, items 1, 2 and 5 through the real ledger, on SQLite and PostgreSQL: translations
that never reset validation, registry corrections and withdrawals that keep their history, and
external ids that name one pledge each. Each rule, and each refusal (which stores nothing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Services
from api.report_formats import render_csv
from domain.errors import (
    AlreadyExists,
    InvalidInput,
    NotFound,
    NotPermitted,
    PersonalDataRefused,
)
from domain.events import ExternalIdClaimed, NewEvent
from domain.external_ids import claim_stream
from ledger.bundle import export_bundle
from ledger.envelope import seal
from ledger.errors import ConcurrencyConflict
from ledger.verify import verify_bundle
from projections import list_pledges, pledge, pledge_timeline, read_snapshot, rollup
from projections.models import PledgeOut
from projections.registry import city, network, signatures
from projections.reports import build_report
from projections.timeline import stream_timeline
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    VALIDATOR,
    event_count,
    register_basics,
    register_reference,
    submit_pledge,
)

TODAY = date(2026, 3, 1)


def page(services: Services, pledge_id: str) -> PledgeOut:
    with read_snapshot(services.engine) as connection:
        found = pledge(connection, pledge_id, today=TODAY, freshness_months=12)
    assert found is not None
    return found


def validated_pledge(services: Services) -> str:
    pledge_id = submit_pledge(services)
    services.ledger.write(
        "validate_pledge",
        VALIDATOR,
        {"decision": "validated", "criteria": ["specific"]},
        target=pledge_id,
    )
    return pledge_id


def translate(services: Services, pledge_id: str, **body: Any) -> None:
    services.ledger.write("translate_pledge", UCLG, body, target=pledge_id)


def refused(services: Services, error: type[Exception], *args: Any, **kwargs: Any) -> Exception:
    """The command is refused with ``error`` and nothing is stored."""
    before = event_count(services)
    with pytest.raises(error) as caught:
        services.ledger.write(*args, **kwargs)
    assert event_count(services) == before
    return caught.value


# --- translations ---------------------------------------------------------------------------------


def test_a_translation_does_not_send_a_validated_pledge_back_to_validation(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = validated_pledge(services)

    translate(services, pledge_id, field="title", language="fr", text="Guichet unique d'accueil")

    shown = page(services, pledge_id)
    assert shown.status == "validated"
    assert shown.title == {"en": "One-stop welcome centre for newcomers"}  # the original
    [translation] = shown.translations
    assert (translation.field, translation.language, translation.text) == (
        "title",
        "fr",
        "Guichet unique d'accueil",
    )
    assert translation.recorded_by == UCLG.key_id


def test_an_amendment_of_the_original_title_is_still_material(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = validated_pledge(services)

    services.ledger.write(
        "amend_pledge",
        UCLG,
        {"changes": {"title": {"en": "A welcome centre"}}, "reason": "Shorter"},
        target=pledge_id,
    )

    assert page(services, pledge_id).status == "awaiting_validation"


def test_an_amendment_that_only_adds_a_language_is_refused_pointing_at_translations(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = validated_pledge(services)
    title = {"en": "One-stop welcome centre for newcomers", "es": "Centro de acogida"}

    error = refused(
        services,
        InvalidInput,
        "amend_pledge",
        UCLG,
        {"changes": {"title": title}, "reason": "Spanish title"},
        target=pledge_id,
    )

    assert error.field == "changes.title"  # type: ignore[attr-defined]
    assert f"/api/v1/pledges/{pledge_id}/translations" in str(error)
    assert page(services, pledge_id).status == "validated"


def test_a_translation_into_an_original_language_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "translate_pledge",
        UCLG,
        {"field": "title", "language": "en", "text": "Another English title"},
        target=pledge_id,
    )

    assert error.field == "language"  # type: ignore[attr-defined]
    assert "original" in str(error)


def test_translating_a_field_that_does_not_exist_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "translate_pledge",
        UCLG,
        {"field": "motto", "language": "fr", "text": "Bienvenue"},
        target=pledge_id,
    )

    assert error.field == "field"  # type: ignore[attr-defined]


def test_only_the_owning_network_may_translate(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    refused(
        services,
        NotPermitted,
        "translate_pledge",
        METROPOLIS,
        {"field": "title", "language": "fr", "text": "Guichet"},
        target=pledge_id,
    )


def test_a_later_translation_replaces_the_earlier_and_both_stay_in_the_timeline(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    translate(services, pledge_id, field="description", language="es", text="Abrir un centro.")
    translate(services, pledge_id, field="description", language="es", text="Abrir un centro.  ")
    translate(services, pledge_id, field="description", language="es", text="Abrir el centro.")

    assert [t.text for t in page(services, pledge_id).translations] == ["Abrir el centro."]
    with services.engine.connect() as connection:
        types = [e.type for e in pledge_timeline(services.store, connection, pledge_id)]
    assert types.count("pledge.translated") == 3


def test_an_amendment_of_a_text_retires_its_translations_only(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    translate(services, pledge_id, field="title", language="fr", text="Guichet unique")
    translate(services, pledge_id, field="description", language="fr", text="Ouvrir un guichet.")

    services.ledger.write(
        "amend_pledge",
        UCLG,
        {"changes": {"title": {"en": "A welcome centre"}}, "reason": "Shorter"},
        target=pledge_id,
    )

    assert [(t.field, t.language) for t in page(services, pledge_id).translations] == [
        ("description", "fr")
    ]


def test_a_report_narrative_is_translated_by_its_event_id(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = validated_pledge(services)
    report = services.ledger.write(
        "report_progress",
        UCLG,
        {
            "period": {"start": "2026-01-01", "end": "2026-02-28"},
            "stage": "in_progress",
            "narrative": {"en": "Centre opened in February."},
        },
        target=pledge_id,
    )
    report_id = report.result.events[0].event_id

    translate(
        services,
        pledge_id,
        field="narrative",
        language="fr",
        text="Centre ouvert en février.",
        progress_event_id=report_id,
    )

    [translation] = page(services, pledge_id).translations
    assert (translation.progress_event_id, translation.language) == (report_id, "fr")
    assert page(services, pledge_id).status == "validated"


def test_a_narrative_translation_of_an_event_that_is_not_a_report_is_refused(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    with services.engine.connect() as connection:
        [submitted] = pledge_timeline(services.store, connection, pledge_id)

    for progress_event_id in (submitted.event_id, "00000000-0000-4000-8000-00000000dead"):
        error = refused(
            services,
            NotFound,
            "translate_pledge",
            UCLG,
            {
                "field": "narrative",
                "language": "fr",
                "text": "Ouvert.",
                "progress_event_id": progress_event_id,
            },
            target=pledge_id,
        )
        assert error.field == "progress_event_id"  # type: ignore[attr-defined]


def test_a_narrative_translation_without_its_report_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "translate_pledge",
        UCLG,
        {"field": "narrative", "language": "fr", "text": "Ouvert."},
        target=pledge_id,
    )

    assert error.field == "progress_event_id"  # type: ignore[attr-defined]


def test_a_translation_is_found_by_the_text_search(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    translate(services, pledge_id, field="title", language="fr", text="Guichet unique")

    with read_snapshot(services.engine) as connection:
        found = list_pledges(connection, text="GUICHET")

    assert [p.pledge_id for p in found.items] == [pledge_id]


# --- external ids ---------------------------------------------------------------------------------


def add_id(services: Services, pledge_id: str, scheme: str, value: str) -> None:
    services.ledger.write(
        "add_external_id", UCLG, {"scheme": scheme, "value": value}, target=pledge_id
    )


def test_a_pledge_is_found_by_an_external_id_it_carries(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    other = submit_pledge(services)
    add_id(services, pledge_id, "grf", "GRF-2023-00417")
    add_id(services, pledge_id, "uclg", "P/2024/17")
    add_id(services, other, "gcm", "417")

    with read_snapshot(services.engine) as connection:
        by_grf = list_pledges(connection, external_id=("grf", "GRF-2023-00417"))
        by_ref = list_pledges(connection, external_id=("uclg", "P/2024/17"))
        unknown = list_pledges(connection, external_id=("grf", "GRF-9"))

    assert [p.pledge_id for p in by_grf.items] == [pledge_id]
    assert [p.pledge_id for p in by_ref.items] == [pledge_id]
    assert unknown.items == ()
    assert [x.id for x in page(services, pledge_id).external_ids] == [
        "grf:GRF-2023-00417",
        "uclg:P/2024/17",
    ]


def test_an_external_id_another_pledge_carries_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)
    add_id(services, first, "grf", "GRF-1")

    error = refused(
        services,
        AlreadyExists,
        "add_external_id",
        UCLG,
        {"scheme": "grf", "value": "GRF-1"},
        target=second,
    )

    assert first in str(error)
    assert page(services, second).external_ids == ()


def test_the_same_value_under_another_scheme_is_another_id(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)
    add_id(services, first, "grf", "417")

    add_id(services, second, "gcm", "417")

    assert [x.id for x in page(services, second).external_ids] == ["gcm:417"]


def test_an_external_id_the_pledge_already_carries_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    add_id(services, pledge_id, "grf", "GRF-1")

    refused(
        services,
        AlreadyExists,
        "add_external_id",
        UCLG,
        {"scheme": "grf", "value": "GRF-1"},
        target=pledge_id,
    )


def test_a_network_records_only_its_own_references(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "add_external_id",
        UCLG,
        {"scheme": "metropolis", "value": "M-1"},
        target=pledge_id,
    )

    assert error.field == "scheme"  # type: ignore[attr-defined]


def test_another_network_may_not_record_a_pledges_external_ids(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    refused(
        services,
        NotPermitted,
        "add_external_id",
        METROPOLIS,
        {"scheme": "grf", "value": "GRF-1"},
        target=pledge_id,
    )


def test_a_removed_external_id_may_name_another_pledge(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)
    add_id(services, first, "grf", "GRF-1")

    services.ledger.write(
        "remove_external_id",
        UCLG,
        {"scheme": "grf", "value": "GRF-1", "reason": "It is the other pledge's"},
        target=first,
    )
    add_id(services, second, "grf", "GRF-1")

    assert page(services, first).external_ids == ()
    with read_snapshot(services.engine) as connection:
        found = list_pledges(connection, external_id=("grf", "GRF-1"))
    assert [p.pledge_id for p in found.items] == [second]


def test_removing_an_id_the_pledge_does_not_carry_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)
    add_id(services, first, "grf", "GRF-1")

    refused(
        services,
        NotFound,
        "remove_external_id",
        UCLG,
        {"scheme": "grf", "value": "GRF-1", "reason": "Wrong"},
        target=second,
    )


def test_two_claims_of_one_id_in_one_batch_leave_only_the_first(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)

    batch = services.ledger.new_batch()
    batch.execute("add_external_id", UCLG, {"scheme": "gcm", "value": "9"}, target=first)
    with pytest.raises(AlreadyExists):
        batch.execute("add_external_id", UCLG, {"scheme": "gcm", "value": "9"}, target=second)
    services.ledger.commit(batch)

    assert [x.id for x in page(services, first).external_ids] == ["gcm:9"]
    assert page(services, second).external_ids == ()


def test_a_malformed_external_id_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "add_external_id",
        UCLG,
        {"scheme": "grf", "value": "has space"},
        target=pledge_id,
    )

    assert error.field == "value"  # type: ignore[attr-defined]


# --- registry corrections -------------------------------------------------------------------------


def test_a_city_is_corrected_and_translated_and_its_history_keeps_every_version(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())

    services.ledger.write(
        "correct_city",
        ADMIN,
        {"name": {"fr": "Marrakech", "es": "Marrakech"}, "reason": "Names in fr and es"},
        target="ma-marrakech",
    )

    with read_snapshot(services.engine) as connection:
        corrected = city(connection, "ma-marrakech")
        history = stream_timeline(services.store, connection, "city:ma-marrakech")
    assert corrected is not None
    assert corrected.name == {"en": "Marrakech", "fr": "Marrakech", "es": "Marrakech"}
    assert [e.type for e in history] == ["city.registered", "city.corrected"]


def test_correcting_an_unknown_city_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    error = refused(
        services,
        NotFound,
        "correct_city",
        ADMIN,
        {"country": "MA", "reason": "Typo"},
        target="ma-nowhere",
    )

    assert error.field == "city_id"  # type: ignore[attr-defined]


def test_a_correction_that_changes_nothing_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    refused(
        services,
        InvalidInput,
        "correct_city",
        ADMIN,
        {"name": {"en": "Marrakech"}, "country": "MA", "reason": "Nothing"},
        target="ma-marrakech",
    )


def test_a_correction_cannot_remove_every_name(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    error = refused(
        services,
        InvalidInput,
        "correct_city",
        ADMIN,
        {"name": {"en": ""}, "reason": "Empty"},
        target="ma-marrakech",
    )

    assert error.field == "name"  # type: ignore[attr-defined]


def test_only_the_admin_corrects_a_city(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    refused(
        services,
        NotPermitted,
        "correct_city",
        UCLG,
        {"country": "SN", "reason": "Moved"},
        target="ma-marrakech",
    )


def test_a_corrected_country_recounts_the_pledges_naming_the_city(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    services.ledger.write(
        "correct_city", ADMIN, {"country": "TN", "reason": "Wrong country"}, target="ma-marrakech"
    )

    assert page(services, pledge_id).countries == ("TN",)
    with read_snapshot(services.engine) as connection:
        tunisia = rollup(connection, "country", "TN", today=TODAY, freshness_months=12)
        morocco = rollup(connection, "country", "MA", today=TODAY, freshness_months=12)
        in_tunisia = list_pledges(connection, country="TN")
    assert tunisia is not None
    assert tunisia.pledges == 1
    assert morocco is None or morocco.pledges == 0
    assert [p.pledge_id for p in in_tunisia.items] == [pledge_id]


def test_a_network_corrects_its_own_names_and_no_other_networks(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    services.ledger.write(
        "correct_network",
        UCLG,
        {"name": {"fr": "CGLU", "es": "CGLU"}, "reason": "Our names in fr and es"},
        target="uclg",
    )
    refused(
        services,
        NotPermitted,
        "correct_network",
        METROPOLIS,
        {"name": {"fr": "Autre"}, "reason": "Not ours"},
        target="uclg",
    )

    with read_snapshot(services.engine) as connection:
        corrected = network(connection, "uclg")
    assert corrected is not None
    assert corrected.name == {"en": "UCLG", "fr": "CGLU", "es": "CGLU"}


def test_correcting_an_unknown_network_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    refused(
        services,
        NotFound,
        "correct_network",
        ADMIN,
        {"name": {"fr": "X"}, "reason": "Typo"},
        target="no-such-network",
    )


# --- signatures and membership --------------------------------------------------------------------


def sign(services: Services) -> None:
    services.ledger.write(
        "sign_declaration",
        UCLG,
        {"city_id": "ma-marrakech", "signed_on": "2018-12-10"},
        target="marrakech-2018",
    )


def test_a_withdrawn_signature_leaves_the_signatories_and_stays_in_the_history(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())
    sign(services)

    services.ledger.write(
        "withdraw_signature",
        UCLG,
        {"city_id": "ma-marrakech", "withdrawn_on": "2025-01-15", "reason": "Council decision"},
        target="marrakech-2018",
    )

    with read_snapshot(services.engine) as connection:
        assert signatures(connection, "marrakech-2018") == []
        history = stream_timeline(services.store, connection, "declaration:marrakech-2018")
    assert [e.type for e in history] == [
        "declaration.registered",
        "declaration.signed",
        "declaration.signature_withdrawn",
    ]
    sign(services)  # a city may sign again
    with read_snapshot(services.engine) as connection:
        assert [s.city_id for s in signatures(connection, "marrakech-2018")] == ["ma-marrakech"]


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ({"city_id": "sn-dakar", "withdrawn_on": "2025-01-15"}, NotPermitted, None),
        ({"city_id": "ma-marrakech", "withdrawn_on": "2018-12-09"}, InvalidInput, "withdrawn_on"),
        ({"city_id": "ma-marrakech", "withdrawn_on": "2027-01-01"}, InvalidInput, "withdrawn_on"),
    ],
)
def test_a_withdrawal_is_refused_when_it_cannot_have_happened(
    services: Services, body: dict[str, str], error: type[Exception], field: str | None
) -> None:
    register_basics(services)
    register_reference(services, ())
    sign(services)

    refused(
        services,
        error,
        "withdraw_signature",
        UCLG,
        {**body, "reason": "Council decision"},
        target="marrakech-2018",
    )


def test_withdrawing_a_signature_that_was_never_made_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())

    error = refused(
        services,
        NotFound,
        "withdraw_signature",
        ADMIN,
        {"city_id": "ma-marrakech", "withdrawn_on": "2025-01-15", "reason": "Never signed"},
        target="marrakech-2018",
    )

    assert error.field == "city_id"  # type: ignore[attr-defined]


# --- the auditor ----------------------------------------------------------------------------------


def test_a_log_with_every_new_event_verifies_with_its_rollups(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = validated_pledge(services)
    sign(services)
    translate(services, pledge_id, field="title", language="es", text="Centro de acogida")
    add_id(services, pledge_id, "grf", "GRF-1")
    services.ledger.write(
        "remove_external_id",
        UCLG,
        {"scheme": "grf", "value": "GRF-1", "reason": "Wrong"},
        target=pledge_id,
    )
    services.ledger.write(
        "correct_city", ADMIN, {"country": "TN", "reason": "Wrong"}, target="ma-marrakech"
    )
    services.ledger.write(
        "correct_network", UCLG, {"name": {"fr": "CGLU"}, "reason": "French"}, target="uclg"
    )
    services.ledger.write(
        "withdraw_signature",
        UCLG,
        {"city_id": "ma-marrakech", "withdrawn_on": "2025-01-15", "reason": "Council"},
        target="marrakech-2018",
    )

    services.log.sign(wait=False, force=True)
    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)
    result = verify_bundle(tmp_path / "bundle")

    assert result.ok, result.failure
    assert result.authority_checked


def test_a_title_translation_longer_than_a_title_may_be_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "translate_pledge",
        UCLG,
        {"field": "title", "language": "fr", "text": "G" * 301},
        target=pledge_id,
    )

    assert error.field == "text"  # type: ignore[attr-defined]


def test_a_title_translation_naming_a_report_is_refused(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)

    error = refused(
        services,
        InvalidInput,
        "translate_pledge",
        UCLG,
        {
            "field": "title",
            "language": "fr",
            "text": "Guichet",
            "progress_event_id": "00000000-0000-4000-8000-000000000001",
        },
        target=pledge_id,
    )

    assert error.field == "progress_event_id"  # type: ignore[attr-defined]


def test_a_translation_of_an_ended_pledge_is_recorded(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    services.ledger.write("close_pledge", UCLG, {"outcome": "fulfilled"}, target=pledge_id)

    translate(services, pledge_id, field="title", language="fr", text="Guichet unique")

    shown = page(services, pledge_id)
    assert shown.status == "closed"
    assert [t.language for t in shown.translations] == ["fr"]


def test_withdrawing_a_signature_of_an_unknown_declaration_is_refused(
    services: Services,
) -> None:
    register_basics(services)
    register_reference(services, ())

    error = refused(
        services,
        NotFound,
        "withdraw_signature",
        ADMIN,
        {"city_id": "ma-marrakech", "withdrawn_on": "2025-01-15", "reason": "Unknown"},
        target="no-such-declaration",
    )

    assert error.field == "declaration_id"  # type: ignore[attr-defined]


def test_a_claim_recorded_by_another_network_fails_verification_naming_it(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    claim = NewEvent(ExternalIdClaimed(scheme="grf", value="GRF-1", pledge_id=pledge_id))
    envelope = seal(
        claim,
        event_id="00000000-0000-4000-8000-0000000000ff",
        stream_id=claim_stream("grf", "GRF-1"),
        stream_version=1,
        recorded_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC),
        recorded_by=METROPOLIS.key_id,
    )
    services.store.append([envelope])
    services.log.integrate()

    services.log.sign(wait=False, force=True)
    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)
    result = verify_bundle(tmp_path / "bundle")

    assert result.failure is not None
    assert "key metropolis-key of network metropolis" in result.failure.problem
    assert "extid.claimed" in result.failure.problem


def test_a_reports_silent_pledges_carry_their_external_ids(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    pledge_id = submit_pledge(services)
    add_id(services, pledge_id, "grf", "GRF-1")

    report = build_report(services.store, services.log, as_of=date(2027, 6, 1), freshness_months=12)

    [silent] = report.silent_pledges
    assert silent.external_ids == ("grf:GRF-1",)
    assert "grf:GRF-1" in render_csv(report)


def test_two_racing_claims_of_one_id_store_only_the_first(services: Services) -> None:
    register_basics(services)
    register_reference(services, ())
    first = submit_pledge(services)
    second = submit_pledge(services)
    one = services.ledger.new_batch()
    other = services.ledger.new_batch()
    one.execute("add_external_id", UCLG, {"scheme": "grf", "value": "GRF-7"}, target=first)
    other.execute("add_external_id", UCLG, {"scheme": "grf", "value": "GRF-7"}, target=second)

    services.ledger.commit(one)
    before = event_count(services)
    with pytest.raises(ConcurrencyConflict):
        services.ledger.commit(other)

    assert event_count(services) == before  # not even the second pledge's own event
    assert page(services, second).external_ids == ()
    with read_snapshot(services.engine) as connection:
        found = list_pledges(connection, external_id=("grf", "GRF-7"))
    assert [p.pledge_id for p in found.items] == [first]


@pytest.mark.parametrize(
    ("name", "target", "body"),
    [
        ("correct_city", "ma-marrakech", {"country": "TN", "reason": "Call +212 6 12 34 56 78"}),
        ("correct_network", "uclg", {"name": {"fr": "CGLU"}, "reason": "Ask x@example.org"}),
        (
            "withdraw_signature",
            "marrakech-2018",
            {
                "city_id": "ma-marrakech",
                "withdrawn_on": "2025-01-15",
                "reason": "Mail x@example.org",
            },
        ),
    ],
)
def test_a_registry_reason_holding_personal_data_is_refused(
    services: Services, name: str, target: str, body: dict[str, Any]
) -> None:
    register_basics(services)
    register_reference(services, ())
    sign(services)

    error = refused(services, PersonalDataRefused, name, ADMIN, body, target=target)

    assert error.field == "reason"  # type: ignore[attr-defined]
