"""The persisted event contract, pinned: every type string and its canonical envelope bytes.

Events are public and permanent: a change of a type string, a field name, a default or the
encoding would make old envelopes unreadable or unverifiable. If this test fails, the change
needs a new schema version and an upcaster, not a new golden file. (To add a new event type,
regenerate with ``UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff.)
"""

from __future__ import annotations

import os
import typing
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel

from domain import events as ev
from ledger.envelope import check_envelope, open_envelope, seal
from ledger.errors import CorruptEvent

GOLDEN = Path(__file__).with_name("envelopes.jsonl")
RECORDED_AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

INDICATOR = ev.Indicator(
    id="people-served",
    title={"en": "People served", "fr": "Personnes accompagnées"},
    measure="unit",
    baseline=ev.IndicatorPoint(value="0", date=date(2026, 1, 1)),
    targets=(ev.IndicatorPoint(value="5000", date=date(2028, 12, 31)),),
)
CONTENT = ev.PledgeContent(
    cities=("ma-marrakech",),
    title={"en": "One-stop welcome centre for newcomers"},
    description={"en": "Open a municipal welcome centre.", "fr": "Ouvrir un guichet d'accueil."},
    gcm_objectives=(15, 16),
    gcr_areas=("gcr-objective-2",),
    sdg_targets=("10.7",),
    priority_areas=("access-to-services",),
    starts_on=date(2026, 1, 1),
    ends_on=date(2028, 12, 31),
    indicators=(INDICATOR,),
)
PLEDGE = "3f0a1b2c-4d5e-4f60-8a7b-9c0d1e2f3a4b"

SAMPLES: list[tuple[str, ev.NewEvent]] = [
    (
        "network:uclg",
        ev.NewEvent(ev.NetworkRegistered(network_id="uclg", name={"en": "UCLG", "es": "CGLU"})),
    ),
    (
        "network:uclg",
        ev.NewEvent(
            ev.CityJoinedNetwork(network_id="uclg", city_id="ma-marrakech"), ("ma-marrakech",)
        ),
    ),
    (
        "network:uclg",
        ev.NewEvent(
            ev.CityLeftNetwork(network_id="uclg", city_id="ma-marrakech"), ("ma-marrakech",)
        ),
    ),
    (
        "city:ma-marrakech",
        ev.NewEvent(
            ev.CityRegistered(city_id="ma-marrakech", name={"en": "Marrakech"}, country="MA"),
            ("ma-marrakech",),
        ),
    ),
    (
        "declaration:marrakech-2018",
        ev.NewEvent(
            ev.DeclarationSigned(
                declaration_id="marrakech-2018", city_id="ma-marrakech", signed_on=date(2018, 12, 8)
            ),
            ("ma-marrakech",),
            date(2018, 12, 8),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.PledgeSubmitted(pledge_id=PLEDGE, network_id="uclg", content=CONTENT),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.PledgeAmended(
                changes=ev.PledgeChanges(ends_on=date(2029, 6, 30)),
                reason="Funding cycle moved",
                material=True,
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(ev.PledgeValidated(criteria=("specific", "measurable"), note="")),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(ev.PledgeChangesRequested(criteria=("measurable",), note="Add a target.")),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ProgressReported(
                period=ev.Period(start=date(2026, 1, 1), end=date(2026, 6, 30)),
                stage="in_progress",
                observations=(
                    ev.Observation(
                        indicator_id="people-served", value="1200", date=date(2026, 6, 30)
                    ),
                ),
                narrative={"en": "Centre opened in March.", "fr": "Ouvert en mars."},
                evidence=(ev.Evidence(url="https://example.org/r.pdf", sha256="ab" * 32),),
            ),
            ("ma-marrakech",),
            date(2026, 6, 30),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(ev.PledgeMatched(kind="funder", funder="Urban Fund", note="Co-funds year 2")),
    ),
    (f"pledge:{PLEDGE}", ev.NewEvent(ev.PledgeWithdrawn(reason="Lost its funding"))),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(ev.PledgeClosed(outcome="partially_fulfilled", note=""), (), date(2029, 7, 1)),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ErratumRecorded(
                corrects_event_id="00000000-0000-4000-8000-000000000001", note="Typo in the count"
            )
        ),
    ),
    (
        "apikey:k-3fa9c1d2",
        ev.NewEvent(
            ev.KeyIssued(
                key_id="k-3fa9c1d2", role="network", network_id="uclg", label="Intake system"
            )
        ),
    ),
    (
        "apikey:k-3fa9c1d2",
        ev.NewEvent(ev.KeyRevoked(key_id="k-3fa9c1d2", reason="The system was retired")),
    ),
    # Reference data on the log (ADR 0014), and the pledge fields added with it.
    (
        "declaration:marrakech-2018",
        ev.NewEvent(
            ev.DeclarationRegistered(
                declaration_id="marrakech-2018",
                title={"en": "Marrakech Mayors Declaration", "fr": "Déclaration de Marrakech"},
                adopted_on=date(2018, 12, 8),
            ),
            (),
            date(2018, 12, 8),
        ),
    ),
    (
        "area:housing",
        ev.NewEvent(
            ev.PriorityAreaRegistered(
                area_id="housing", title={"en": "Housing", "fr": "Logement", "es": "Vivienda"}
            )
        ),
    ),
    (
        "area:housing",
        ev.NewEvent(ev.PriorityAreaRetired(area_id="housing", reason="Merged into services")),
    ),
    (
        "call:imrf-2026",
        ev.NewEvent(
            ev.CallRegistered(
                call_id="imrf-2026",
                title={"en": "Call to action for the IMRF 2026"},
                opens_on=date(2025, 6, 1),
                closes_on=date(2026, 4, 30),
            )
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.PledgeSubmitted(
                pledge_id=PLEDGE,
                network_id="uclg",
                content=CONTENT.model_copy(
                    update={
                        "gcm_principles": ("people-centred", "whole-of-society"),
                        "nua_paragraphs": (28, 99),
                        "calls": ("imrf-2026",),
                    }
                ),
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.PledgeAmended(
                changes=ev.PledgeChanges(gcm_principles=("people-centred",), calls=()),
                reason="Answers no call any more",
                material=False,
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        "city:ma-marrakech",
        ev.NewEvent(
            ev.CityCorrected(
                city_id="ma-marrakech",
                name={"en": "Marrakech", "fr": "Marrakech", "es": "Marrakech"},
                country=None,
                reason="Names in French and Spanish",
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        "network:uclg",
        ev.NewEvent(
            ev.NetworkCorrected(
                network_id="uclg",
                name={"en": "UCLG", "fr": "CGLU", "es": "CGLU"},
                reason="French name",
            )
        ),
    ),
    (
        "declaration:marrakech-2018",
        ev.NewEvent(
            ev.SignatureWithdrawn(
                declaration_id="marrakech-2018",
                city_id="ma-marrakech",
                withdrawn_on=date(2026, 2, 1),
                reason="Recorded for the wrong city",
            ),
            ("ma-marrakech",),
            date(2026, 2, 1),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.PledgeTranslated(
                field="narrative",
                language="es",
                text="Centro abierto en marzo.",
                progress_event_id="00000000-0000-4000-8000-000000000010",
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(ev.ExternalIdAdded(scheme="grf", value="GRF-2023-00417"), ("ma-marrakech",)),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ExternalIdRemoved(scheme="grf", value="GRF-2023-00417", reason="Wrong pledge"),
            ("ma-marrakech",),
        ),
    ),
    (
        "extid:" + "5c" * 32,
        ev.NewEvent(
            ev.ExternalIdClaimed(scheme="grf", value="GRF-2023-00417", pledge_id=PLEDGE),
            ("ma-marrakech",),
        ),
    ),
    (
        "extid:" + "5c" * 32,
        ev.NewEvent(
            ev.ExternalIdReleased(scheme="grf", value="GRF-2023-00417", pledge_id=PLEDGE),
            ("ma-marrakech",),
        ),
    ),  # Two-way matching and errata on figures (ADR 0015): new types, appended so that every
    # earlier line keeps its bytes.
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchOffered(
                match_id="00000000-0000-4000-8000-000000000017",
                kind="funder",
                offered_by="supporter",
                funder="Urban Fund",
                amount="25000.00",
                currency="EUR",
                note="Year 2",
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchAccepted(match_id="00000000-0000-4000-8000-000000000017"), ("ma-marrakech",)
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchDeclined(
                match_id="00000000-0000-4000-8000-000000000017", reason="Covered by the city"
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchEnded(match_id="00000000-0000-4000-8000-000000000017", reason="Grant spent"),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ObservationCorrected(
                progress_event_id="00000000-0000-4000-8000-000000000010",
                indicator_id="people-served",
                date=date(2026, 6, 30),
                previous_value="1200",
                value="1150",
                reason="Fifty people were counted twice",
            ),
            ("ma-marrakech",),
        ),
    ),
    # A progress report that asks for support: the additive field is in its bytes only when set.
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ProgressReported(
                period=ev.Period(start=date(2026, 7, 1), end=date(2026, 12, 31)),
                stage="on_hold",
                support_needed="A partner to run the legal-aid desk",
            ),
            ("ma-marrakech",),
            date(2026, 12, 31),
        ),
    ),
    # Two-way matching and errata on figures (ADR 0015): new types, appended so that every
    # earlier line keeps its bytes.
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchOffered(
                match_id="00000000-0000-4000-8000-000000000017",
                kind="funder",
                offered_by="supporter",
                funder="Urban Fund",
                amount="25000.00",
                currency="EUR",
                note="Year 2",
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchAccepted(match_id="00000000-0000-4000-8000-000000000017"), ("ma-marrakech",)
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchDeclined(
                match_id="00000000-0000-4000-8000-000000000017", reason="Covered by the city"
            ),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.MatchEnded(match_id="00000000-0000-4000-8000-000000000017", reason="Grant spent"),
            ("ma-marrakech",),
        ),
    ),
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ObservationCorrected(
                progress_event_id="00000000-0000-4000-8000-000000000010",
                indicator_id="people-served",
                date=date(2026, 6, 30),
                previous_value="1200",
                value="1150",
                reason="Fifty people were counted twice",
            ),
            ("ma-marrakech",),
        ),
    ),
    # A progress report that asks for support: the additive field is in its bytes only when set.
    (
        f"pledge:{PLEDGE}",
        ev.NewEvent(
            ev.ProgressReported(
                period=ev.Period(start=date(2026, 7, 1), end=date(2026, 12, 31)),
                stage="on_hold",
                support_needed="A partner to run the legal-aid desk",
            ),
            ("ma-marrakech",),
            date(2026, 12, 31),
        ),
    ),
    (
        "report:" + "b" * 64,
        ev.NewEvent(
            ev.ReportPublished(
                report_sha256="a" * 64,
                output_sha256="b" * 64,
                format="md",
                as_of=date(2026, 6, 30),
                network_id="uclg",
                framework="gcr",
                lang="fr",
                freshness_months=12,
                tree_size=1234,
                checkpoint_tree_size=1240,
            )
        ),
    ),
]


def _golden_lines() -> list[bytes]:
    lines = []
    for n, (stream_id, new_event) in enumerate(SAMPLES, start=1):
        envelope = seal(
            new_event,
            event_id=f"00000000-0000-4000-8000-{n:012d}",
            stream_id=stream_id,
            stream_version=n,
            recorded_at=RECORDED_AT,
            recorded_by="golden-key",
        )
        lines.append(envelope.raw)
    return lines


def test_every_event_type_has_a_golden_sample() -> None:
    assert {new_event.type for _, new_event in SAMPLES} == set(ev.EVENT_SPECS)


def test_event_type_strings_are_pinned() -> None:
    assert sorted(ev.EVENT_SPECS) == [
        "apikey.issued",
        "apikey.revoked",
        "area.registered",
        "area.retired",
        "call.registered",
        "city.corrected",
        "city.registered",
        "declaration.registered",
        "declaration.signature_withdrawn",
        "declaration.signed",
        "extid.claimed",
        "extid.released",
        "network.city_joined",
        "network.city_left",
        "network.corrected",
        "network.registered",
        "pledge.amended",
        "pledge.changes_requested",
        "pledge.closed",
        "pledge.erratum_recorded",
        "pledge.external_id_added",
        "pledge.external_id_removed",
        "pledge.match_accepted",
        "pledge.match_declined",
        "pledge.match_ended",
        "pledge.match_offered",
        "pledge.matched",
        "pledge.observation_corrected",
        "pledge.progress_reported",
        "pledge.submitted",
        "pledge.translated",
        "pledge.validated",
        "pledge.withdrawn",
        "report.published",
    ]
    assert all(spec.schema_version == 1 for spec in ev.EVENT_SPECS.values())


def test_canonical_bytes_of_every_event_type_are_pinned() -> None:
    lines = _golden_lines()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_bytes(b"".join(line + b"\n" for line in lines))
    assert GOLDEN.read_bytes().splitlines() == lines


def test_a_progress_report_without_support_needed_keeps_its_first_bytes() -> None:
    # The field came after schema version 1 was pinned: when empty it is not written, so the
    # report sampled before it existed (line 10) still seals to the same bytes.
    line = GOLDEN.read_bytes().splitlines()[9]
    assert b"support_needed" not in line
    assert orjson.loads(line)["type"] == "pledge.progress_reported"
    assert open_envelope(line, check_payload=True).decode_payload() == SAMPLES[9][1].payload


def test_golden_envelopes_open_and_decode_back_to_their_payloads() -> None:
    for raw, (_, new_event) in zip(GOLDEN.read_bytes().splitlines(), SAMPLES, strict=True):
        envelope = open_envelope(raw, check_payload=True)
        assert envelope.type == new_event.type
        assert envelope.decode_payload() == new_event.payload


def _annotations(model: type[BaseModel]) -> list[object]:
    found: list[object] = []
    for info in model.model_fields.values():
        stack: list[object] = [info.annotation]
        while stack:
            item = stack.pop()
            found.append(item)
            stack.extend(typing.get_args(item))
            if isinstance(item, type) and issubclass(item, BaseModel) and item is not model:
                stack.extend(_annotations(item))
    return found


@pytest.mark.parametrize("spec", list(ev.EVENT_SPECS.values()), ids=lambda s: s.event_type)
def test_no_payload_model_admits_a_float(spec: ev.EventSpec) -> None:
    # The fast canonical encoder relies on this: numbers people report are decimal strings.
    assert float not in _annotations(spec.payload)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stream_id", "pledge:p-1\n"),
        ("event_id", "00000000-0000-4000-8000-000000000000\n"),
        ("recorded_at", "2026-01-01T00:00:00.000000Z\n"),
        ("occurred_on", "2026-01-01\n"),
    ],
)
def test_an_envelope_field_with_a_trailing_newline_is_refused(key: str, value: str) -> None:
    raw = GOLDEN.read_bytes().splitlines()[0]
    body = orjson.loads(raw)
    body[key] = value
    with pytest.raises(CorruptEvent):
        check_envelope(body)
