"""Canonical bytes: orjson with sorted keys equals RFC 8785 (JCS) on the envelope subset."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_SAFE_INTEGER,
    NotCanonical,
    canonical_bytes,
    canonical_model_bytes,
    check_canonical_subset,
    parse_canonical,
)
from tests.conftest import shipped_vector_file

ascii_keys = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=12)
nfc_text = st.text(max_size=40).map(lambda s: unicodedata.normalize("NFC", s))
safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
scalars = st.none() | st.booleans() | safe_ints | nfc_text
json_in_subset = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(ascii_keys, children, max_size=6)
    ),
    max_leaves=40,
)
envelopes = st.fixed_dictionaries(
    {
        "event_id": st.uuids().map(str),
        "stream_id": st.sampled_from(["pledge:1", "city:ma-rabat", "network:uclg"]),
        "stream_version": st.integers(min_value=1, max_value=MAX_SAFE_INTEGER),
        "type": st.sampled_from(["pledge.submitted", "city.registered"]),
        "schema_version": st.just(1),
        "recorded_at": st.just("2026-01-01T00:00:00.000000Z"),
        "recorded_by": ascii_keys,
        "on_behalf_of": st.lists(nfc_text, max_size=3),
        "occurred_on": st.none() | st.just("2026-01-01"),
        "payload": st.dictionaries(ascii_keys, json_in_subset, max_size=8),
    }
)


@settings(max_examples=400)
@given(envelopes)
def test_fast_encoder_bytes_equal_rfc8785_on_generated_envelopes(envelope: dict[str, Any]) -> None:
    assert canonical_bytes(envelope) == rfc8785.dumps(envelope)
    assert canonical_model_bytes(envelope) == rfc8785.dumps(envelope)


@settings(max_examples=300)
@given(json_in_subset)
def test_canonical_bytes_parse_back_to_the_same_value(value: Any) -> None:
    data = canonical_bytes(value)
    assert parse_canonical(data) == orjson.loads(data)
    assert canonical_bytes(parse_canonical(data)) == data


def _vector_cases() -> list[dict[str, Any]]:
    path = shipped_vector_file("rfc8785_jcs.json")
    cases: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["cases"]
    return cases


def test_rfc8785_vectors_inside_the_subset_give_the_expected_bytes() -> None:
    checked = 0
    for case in _vector_cases():
        value = json.loads(case["input"])
        expected = bytes.fromhex(case["expected_utf8_hex"])
        assert rfc8785.dumps(value) == expected, case["name"]  # the oracle agrees
        try:
            check_canonical_subset(value)
        except NotCanonical:
            continue
        assert canonical_bytes(value) == expected, case["name"]
        assert parse_canonical(expected) == value
        checked += 1
    assert checked >= 1


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_every_string_of_the_rfc8785_vectors_encodes_as_jcs_does() -> None:
    strings = [s for case in _vector_cases() for s in _strings(json.loads(case["input"]))]
    nfc = [s for s in strings if unicodedata.is_normalized("NFC", s)]
    assert len(nfc) >= 10
    for text in nfc:
        assert canonical_bytes({"s": text}) == rfc8785.dumps({"s": text}), repr(text)


def test_rfc8785_vectors_outside_the_subset_are_refused_not_encoded_differently() -> None:
    refused = 0
    for case in _vector_cases():
        value = json.loads(case["input"])
        try:
            check_canonical_subset(value)
        except NotCanonical:
            with pytest.raises(NotCanonical):
                canonical_bytes(value)
            refused += 1
    assert refused >= 20  # the number vectors: floats are decimal strings here


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": 1.5}, "float"),
        ({"a": [2**53]}, "outside"),
        ({"é": 1}, "ASCII"),
        ({"a": "e\u0301"}, "NFC"),
        ({"a": object()}, "not JSON"),
    ],
)
def test_values_outside_the_subset_are_refused_with_their_place(value: Any, reason: str) -> None:
    with pytest.raises(NotCanonical, match=reason):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "data",
    [
        b'{"b":1,"a":2}',  # keys out of order
        b'{"a": 1}',  # whitespace
        b'{"a":1.0}',  # float
        b'{"a":[1e3]}',  # float in exponent form
        b'{"a":9007199254740993}',  # beyond 2**53 - 1
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":1,"a":1}',  # duplicate key
        b'{"a":"e\xcc\x81"}',  # not NFC
        b"not json",
    ],
)
def test_parse_canonical_refuses_bytes_that_are_not_canonical(data: bytes) -> None:
    with pytest.raises(NotCanonical):
        parse_canonical(data)
