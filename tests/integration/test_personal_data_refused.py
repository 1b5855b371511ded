"""A command carrying personal data is refused by the ledger and leaves the log untouched."""

from __future__ import annotations

import pytest

from api.bootstrap import Services
from domain.errors import PersonalDataRefused
from tests.integration.ledger_scenario import (
    UCLG,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)


def test_a_pledge_whose_description_holds_an_email_address_is_not_stored(
    services: Services,
) -> None:
    register_basics(services)
    before = event_count(services)

    with pytest.raises(PersonalDataRefused) as refused, services.ledger.batch() as batch:
        batch.execute(
            "submit_pledge",
            UCLG,
            pledge_body(description={"en": "Contact amina.diallo@example.org."}),
        )

    assert refused.value.field == "description.en"
    assert event_count(services) == before


def test_a_progress_report_whose_narrative_holds_a_phone_number_is_not_stored(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    before = event_count(services)
    report = {
        "period": {"start": "2026-01-01", "end": "2026-02-28"},
        "stage": "in_progress",
        "narrative": {"fr": "Appelez le +212 6 12 34 56 78."},
    }

    with pytest.raises(PersonalDataRefused) as refused, services.ledger.batch() as batch:
        batch.execute("report_progress", UCLG, report, target=pledge_id)

    assert refused.value.field == "narrative.fr"
    assert event_count(services) == before
