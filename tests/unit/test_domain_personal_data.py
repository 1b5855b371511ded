"""Pledge commands refuse contact data and identity document numbers in their free text.

Whatever a command writes is signed into the public log forever, so e-mail addresses,
telephone numbers, identity document numbers and IBANs are refused when the command is
built, with an error naming the field. Ordinary figures (dates, amounts, SDG targets,
percentages, links) must still pass: the false-positive corpus pins that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from domain.errors import InvalidInput, PersonalDataRefused
from domain.pledge import (
    AcceptMatch,
    AmendPledge,
    ClosePledge,
    CorrectObservation,
    DeclineMatch,
    EndMatch,
    MatchPledge,
    RecordErratum,
    ReportProgress,
    SubmitPledge,
    ValidatePledge,
    WithdrawPledge,
)
from domain.values import personal_data_in
from tests.unit.domain_builders import submit_data, unit_indicator

PERSONAL_DATA = {
    "e-mail address": "write to amina.diallo@example.org for details",
    "international telephone number": "call +212 6 12 34 56 78",
    "local telephone number": "call 06 12 34 56 78",
    "telephone number with area code": "call (555) 123-4567",
    "passport number": "passport no. 12AB34567",
    "identity card number": "carte d'identité : AB123456",
    "national identity number in digits": "DNI 12345678",
    "IBAN": "paid to FR76 3000 6000 0112 3456 7890 189",
}

NOT_PERSONAL_DATA = [
    "From 2026-01-01 to 2027-12-31.",
    "2024-01-01/2027-12-31",
    "01/01/2026",
    "Between 2024 and 2030, 5000 people.",
    "A budget of 1,200,000 MAD, then 1 200 000 dirhams and 12 500 000 €.",
    "Budget: 3 450 000 000 MAD; 1.200.000 in 2025.",
    "An increase of +12 500 000 € and +5% on 2023.",
    "SDG targets 10.7, 10.c and 11.1; also 10.7 11.1 16.9.",
    "45% of households, up from 40.5%.",
    "Cohorts of 2024 2025 2026.",
    "GCM objectives 15, 16 and 23; phase 1-2-3.",
    "Help with passport renewal for 5000 migrants.",
    "Passport services for 120000 people.",
    "Passports: 250000 issued in 2025.",
    "Certified ISO 9001:2015; the hotline 115 is free.",
    "See https://example.org/report-2024.pdf for the figures.",
    "The mayor's office and the municipal council of Rabat.",
]


def _submit(text: str) -> dict[str, Any]:
    return submit_data(description={"en": "A welcome centre.", "fr": text})


def _submit_title(text: str) -> dict[str, Any]:
    return submit_data(title={"en": text})


def _indicator_comment(text: str) -> dict[str, Any]:
    target = {"value": "100", "date": "2026-01-01", "comment": text}
    return submit_data(indicators=[unit_indicator(targets=[target])])


def _report(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "period": {"start": "2025-01-01", "end": "2025-12-31"},
        "stage": "in_progress",
    }
    return {**base, **fields}


def _correction(**fields: Any) -> dict[str, Any]:
    return {
        "progress_event_id": "e-1",
        "indicator_id": "x-y",
        "date": "2025-06-01",
        "value": "1",
        "reason": "Recount",
        **fields,
    }


# (command, raw input with ``text`` in one free-text field, that field's path)
FIELDS: list[tuple[type[BaseModel], Callable[[str], dict[str, Any]], str]] = [
    (SubmitPledge, _submit, "description.fr"),
    (SubmitPledge, _submit_title, "title.en"),
    (SubmitPledge, _indicator_comment, "indicators.0.targets.0.comment"),
    (
        AmendPledge,
        lambda t: {"changes": {"description": {"es": t}}, "reason": "update"},
        "changes.description.es",
    ),
    (AmendPledge, lambda t: {"changes": {"ends_on": "2028-12-31"}, "reason": t}, "reason"),
    (ValidatePledge, lambda t: {"decision": "changes_requested", "note": t}, "note"),
    (ReportProgress, lambda t: _report(narrative={"en": t}), "narrative.en"),
    (
        ReportProgress,
        lambda t: _report(
            observations=[{"indicator_id": "x-y", "value": "1", "date": "2025-06-01", "comment": t}]
        ),
        "observations.0.comment",
    ),
    (
        ReportProgress,
        lambda t: _report(
            evidence=[{"url": "https://example.org/a.pdf", "sha256": "0" * 64, "title": t}]
        ),
        "evidence.0.title",
    ),
    (MatchPledge, lambda t: {"kind": "funder", "funder": t}, "funder"),
    (MatchPledge, lambda t: {"kind": "funder", "funder": "A fund", "note": t}, "note"),
    (WithdrawPledge, lambda t: {"reason": t}, "reason"),
    (ClosePledge, lambda t: {"outcome": "fulfilled", "note": t}, "note"),
    (RecordErratum, lambda t: {"corrects_event_id": "e-1", "note": t}, "note"),
    (ReportProgress, lambda t: _report(support_needed=t), "support_needed"),
    (AcceptMatch, lambda t: {"match_id": "m-1", "note": t}, "note"),
    (DeclineMatch, lambda t: {"match_id": "m-1", "reason": t}, "reason"),
    (EndMatch, lambda t: {"match_id": "m-1", "reason": t}, "reason"),
    (CorrectObservation, lambda t: _correction(reason=t), "reason"),
    (CorrectObservation, lambda t: _correction(value=None, comment=t), "comment"),
]


@pytest.mark.parametrize("kind", PERSONAL_DATA)
@pytest.mark.parametrize(
    ("command", "raw", "field"), FIELDS, ids=[f"{c.__name__}.{f}" for c, _, f in FIELDS]
)
def test_personal_data_in_free_text_is_refused_naming_the_field(
    command: type[BaseModel], raw: Callable[[str], dict[str, Any]], field: str, kind: str
) -> None:
    with pytest.raises(PersonalDataRefused) as refused:
        command.model_validate(raw(PERSONAL_DATA[kind]))

    assert refused.value.field == field
    assert refused.value.code == "personal_data"
    assert isinstance(refused.value, InvalidInput)


@pytest.mark.parametrize(
    ("command", "raw", "field"), FIELDS, ids=[f"{c.__name__}.{f}" for c, _, f in FIELDS]
)
def test_the_same_fields_accept_ordinary_text(
    command: type[BaseModel], raw: Callable[[str], dict[str, Any]], field: str
) -> None:
    built = command.model_validate(raw("Figures for 2025: 1 200 000 MAD, SDG 10.7, 45%."))

    assert built is not None


@pytest.mark.parametrize("text", NOT_PERSONAL_DATA)
def test_ordinary_figures_and_words_are_not_taken_for_personal_data(text: str) -> None:
    assert personal_data_in(text) is None


@pytest.mark.parametrize("kind", PERSONAL_DATA)
def test_each_kind_of_personal_data_is_recognised(kind: str) -> None:
    assert personal_data_in(PERSONAL_DATA[kind]) is not None


def test_an_iban_with_a_wrong_checksum_is_not_taken_for_one() -> None:
    assert personal_data_in("reference FR76 3000 6000 0112 3456 7890 188") is None


def test_fields_that_are_not_free_text_are_not_checked() -> None:
    """Links are evidence, not prose: an e-mail-like URL path is the link's business."""
    command = ReportProgress.model_validate(
        _report(evidence=[{"url": "https://example.org/u/a@b.org", "sha256": "0" * 64}])
    )

    assert command.evidence[0].url.endswith("a@b.org")


def test_the_error_says_what_was_found_and_why_it_is_refused() -> None:
    with pytest.raises(PersonalDataRefused, match=r"e-mail address.*public log"):
        SubmitPledge.model_validate(_submit(PERSONAL_DATA["e-mail address"]))
