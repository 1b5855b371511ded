"""``decode_sealed`` gives exactly what validation gives, on every payload the ledger can seal."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain import events as ev
from domain.errors import InvalidInput
from domain.values import LANGUAGES
from ledger.envelope import Envelope, open_envelope, seal
from projections.sealed import decode_sealed, sealed_decoder

GOLDEN = Path(__file__).parents[1] / "golden" / "envelopes.jsonl"


def shape(value: Any) -> Any:
    """A value's structure with every type, key order and set field: equal shapes are the same
    objects for every purpose (``==`` on dicts and models ignores key order)."""
    if isinstance(value, BaseModel):
        fields = [(name, shape(v)) for name, v in value.__dict__.items()]
        return (type(value).__name__, fields, sorted(value.model_fields_set))
    if isinstance(value, dict):
        return ("dict", [(k, shape(v)) for k, v in value.items()])
    if isinstance(value, tuple | list):
        return (type(value).__name__, [shape(v) for v in value])
    return (type(value).__name__, value)


def sealed(payload: ev.Payload) -> Envelope:
    """The envelope as the store gives it back: sealed, stored as bytes, read again."""
    new_event = ev.NewEvent(payload)
    envelope = seal(
        new_event,
        event_id="00000000-0000-4000-8000-000000000001",
        stream_id=new_event.type.split(".", 1)[0] + ":s-1",
        stream_version=1,
        recorded_at=datetime(2026, 3, 1, tzinfo=UTC),
        recorded_by="test-key",
    )
    return open_envelope(envelope.raw)


def assert_same_decoding(envelope: Envelope) -> None:
    validated = envelope.decode_payload()
    trusted = decode_sealed(envelope)
    assert trusted == validated
    assert shape(trusted) == shape(validated)
    assert trusted.model_dump(mode="json") == validated.model_dump(mode="json")


def test_every_golden_envelope_decodes_as_validation_decodes_it() -> None:
    lines = GOLDEN.read_bytes().splitlines()
    assert {open_envelope(raw).type for raw in lines} == set(ev.EVENT_SPECS)
    for raw in lines:
        assert_same_decoding(open_envelope(raw))


# --- generated payloads ---------------------------------------------------------------------

TEXT = st.lists(
    st.sampled_from(["a", "Z", " ", "\n", "\t", "é", "e\u0301", "ß", "ℌ", "😀", "-"]), max_size=12
).map("".join)
DAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
DECIMAL = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False).map(
        lambda d: format(d, "f")
    ),
)
SLUG = st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,8}[a-z0-9]\Z")


def localized(required: bool) -> st.SearchStrategy[dict[str, str]]:
    languages = st.lists(st.sampled_from(LANGUAGES), unique=True, min_size=int(required))
    return languages.flatmap(
        lambda keys: st.fixed_dictionaries({k: TEXT.map(lambda t: t + "x") for k in keys})
    )


POINT = st.fixed_dictionaries(
    {"date": DAY.map(date.isoformat)}, optional={"value": DECIMAL, "comment": TEXT}
)
INDICATOR = st.fixed_dictionaries(
    {
        "id": SLUG,
        "title": localized(True),
        "measure": st.sampled_from(["unit", "percentage", "qualitative"]),
    },
    optional={
        "ascending": st.booleans(),
        "baseline": st.none() | POINT,
        "targets": st.lists(POINT, max_size=3),
    },
)
CONTENT = st.fixed_dictionaries(
    {
        "cities": st.lists(SLUG, min_size=1, max_size=3),
        "title": localized(True),
        "description": localized(True),
        "starts_on": DAY.map(date.isoformat),
        "ends_on": DAY.map(date.isoformat),
    },
    optional={
        "gcm_objectives": st.lists(st.integers(1, 23), max_size=3),
        "gcr_areas": st.lists(SLUG, max_size=2),
        "sdg_targets": st.lists(st.sampled_from(["10", "10.7", "11.c"]), max_size=2),
        "priority_areas": st.lists(SLUG, max_size=2),
        "indicators": st.lists(INDICATOR, max_size=3),
    },
)
OBSERVATION = st.fixed_dictionaries(
    {"indicator_id": SLUG, "date": DAY.map(date.isoformat)},
    optional={"value": st.none() | DECIMAL, "comment": TEXT},
)
PAYLOADS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "pledge.submitted": st.fixed_dictionaries(
        {"pledge_id": st.uuids().map(str), "network_id": SLUG, "content": CONTENT}
    ),
    "pledge.amended": st.fixed_dictionaries(
        {
            "changes": st.fixed_dictionaries(
                {},
                optional={
                    "title": localized(True),
                    "cities": st.lists(SLUG, min_size=1, max_size=2),
                    "indicators": st.lists(INDICATOR, max_size=2),
                    "starts_on": DAY.map(date.isoformat),
                },
            ),
            "reason": TEXT.map(lambda t: t + "r"),
            "material": st.booleans(),
        }
    ),
    "pledge.progress_reported": st.fixed_dictionaries(
        {
            "period": st.fixed_dictionaries(
                {"start": DAY.map(date.isoformat), "end": DAY.map(date.isoformat)}
            ),
            "stage": st.sampled_from(ev.STAGES),
        },
        optional={
            "observations": st.lists(OBSERVATION, max_size=4),
            "narrative": localized(False),
            "evidence": st.lists(
                st.fixed_dictionaries(
                    {
                        "url": SLUG.map(lambda s: f"https://example.org/{s}"),
                        "sha256": st.from_regex(r"\A[0-9a-f]{64}\Z"),
                    },
                    optional={"title": TEXT},
                ),
                max_size=2,
            ),
            "support_needed": TEXT,
        },
    ),
    "pledge.match_offered": st.fixed_dictionaries(
        {
            "match_id": st.uuids().map(str),
            "kind": st.just("funder"),
            "offered_by": st.sampled_from(["host", "supporter"]),
            "funder": TEXT.map(lambda t: t + "f"),
        },
        optional={
            "amount": DECIMAL,
            "currency": st.sampled_from(["EUR", "MAD", "USD"]),
            "note": TEXT,
            "supporting_pledge_id": st.none(),
        },
    ),
    "pledge.match_accepted": st.fixed_dictionaries(
        {"match_id": st.uuids().map(str)}, optional={"note": TEXT}
    ),
    "pledge.match_ended": st.fixed_dictionaries(
        {"match_id": st.uuids().map(str), "reason": TEXT.map(lambda t: t + "r")}
    ),
    "pledge.observation_corrected": st.fixed_dictionaries(
        {
            "progress_event_id": st.uuids().map(str),
            "indicator_id": SLUG,
            "date": DAY.map(date.isoformat),
            "reason": TEXT.map(lambda t: t + "r"),
        },
        optional={
            "previous_value": st.none() | DECIMAL,
            "value": st.none() | DECIMAL,
            "comment": TEXT,
        },
    ),
    "pledge.validated": st.fixed_dictionaries(
        {"criteria": st.lists(st.sampled_from(["specific", "measurable"]), min_size=1)},
        optional={"note": TEXT},
    ),
    "pledge.matched": st.fixed_dictionaries(
        {"kind": st.just("funder"), "funder": TEXT.map(lambda t: t + "f")},
        optional={"note": TEXT},
    ),
    "city.registered": st.fixed_dictionaries(
        {"city_id": SLUG, "name": localized(True), "country": st.sampled_from(["MA", "FR"])}
    ),
}


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_generated_payloads_decode_as_validation_decodes_them(data: st.DataObject) -> None:
    event_type = data.draw(st.sampled_from(sorted(PAYLOADS)))
    raw = data.draw(PAYLOADS[event_type])
    try:
        payload = ev.EVENT_SPECS[event_type].payload.model_validate(raw)
    except ValidationError:
        assume(False)
        raise
    assert_same_decoding(sealed(payload))


# --- payloads stored before a field existed --------------------------------------------------


def test_an_absent_field_with_a_default_gets_the_default_as_validation_gives_it() -> None:
    envelope = sealed(
        ev.ProgressReported(
            period=ev.Period(start=date(2026, 1, 1), end=date(2026, 2, 1)),
            stage="planning",
            observations=(ev.Observation(indicator_id="served", value="3", date=date(2026, 1, 5)),),
        )
    )
    payload = dict(envelope.payload)
    del payload["narrative"], payload["evidence"]
    payload["observations"] = [
        {k: v for k, v in o.items() if k != "comment"} for o in payload["observations"]
    ]
    older = Envelope(**{**_fields(envelope), "payload": payload})
    assert_same_decoding(older)
    assert decode_sealed(older).model_fields_set == {"period", "stage", "observations"}


def test_an_absent_required_field_is_refused() -> None:
    envelope = sealed(ev.PledgeWithdrawn(reason="merged into another pledge"))
    with pytest.raises(InvalidInput, match="reason"):
        decode_sealed(Envelope(**{**_fields(envelope), "payload": {}}))


def test_an_unknown_event_type_is_refused_as_validation_refuses_it() -> None:
    envelope = sealed(ev.PledgeWithdrawn(reason="merged into another pledge"))
    with pytest.raises(InvalidInput, match="unknown event type"):
        decode_sealed(Envelope(**{**_fields(envelope), "type": "pledge.vanished"}))


def _fields(envelope: Envelope) -> dict[str, Any]:
    return {name: getattr(envelope, name) for name in Envelope.__dataclass_fields__}


def test_stored_bytes_are_not_touched_by_decoding() -> None:
    envelope = sealed(
        ev.CityRegistered(city_id="ma-rabat", name={"fr": "Rabat", "en": "Rabat"}, country="MA")
    )
    before = orjson.dumps(envelope.payload)
    decoded = decode_sealed(envelope)
    assert isinstance(decoded, ev.CityRegistered)
    assert list(decoded.name) == ["en", "fr"]  # the language order validation gives
    assert orjson.dumps(envelope.payload) == before


@settings(max_examples=60, deadline=None)
@given(raw=CONTENT)
def test_stored_content_decodes_as_validation_decodes_it(raw: dict[str, Any]) -> None:
    # The pledges table keeps each pledge's content as a validated model's JSON dump.
    try:
        content = ev.PledgeContent.model_validate(raw)
    except ValidationError:
        assume(False)
        raise
    stored = orjson.loads(orjson.dumps(content.model_dump(mode="json")))
    decoded = sealed_decoder(ev.PledgeContent)(stored)
    assert shape(decoded) == shape(ev.PledgeContent.model_validate(stored))


def test_complete_frozen_models_share_one_set_of_set_fields_and_copies_do_not_touch_it() -> None:
    """Decoded payloads of one model share their ``model_fields_set`` (216 bytes an instance
    otherwise); a copy with an update gets a set of its own, so no other instance changes."""

    def report(served: str) -> ev.ProgressReported:
        payload = decode_sealed(
            sealed(
                ev.ProgressReported(
                    period=ev.Period(start=date(2026, 1, 1), end=date(2026, 2, 1)),
                    stage="planning",
                    observations=(
                        ev.Observation(indicator_id="served", value=served, date=date(2026, 1, 5)),
                    ),
                )
            )
        )
        assert isinstance(payload, ev.ProgressReported)
        return payload

    first, second = report("3"), report("4")  # both without `support_needed`
    every = set(ev.ProgressReported.model_fields) - {"support_needed"}
    assert first.model_fields_set is second.model_fields_set
    assert first.model_fields_set == every
    assert first.period.model_fields_set is second.period.model_fields_set

    copied = first.model_copy(update={"narrative": {"en": "More"}})
    assert copied.model_fields_set == every
    assert copied.model_fields_set is not first.model_fields_set
    assert second.model_fields_set == every
    with pytest.raises(ValidationError):
        first.stage = "completed"  # type: ignore[misc]
    assert second.model_fields_set == every
