"""The packed set of a stream's event ids behaves as a frozenset of strings (ADR 0018)."""

from __future__ import annotations

import sys
import uuid

from hypothesis import given
from hypothesis import strategies as st

from ledger.stream_cache import NO_EVENTS, EventIds

UUIDS = st.uuids().map(str)
IDS = st.one_of(
    UUIDS,
    UUIDS.map(str.upper),  # not an envelope's form: kept as it is, never confused
    st.text(max_size=40),
)


@given(st.lists(st.lists(IDS, max_size=12), max_size=6), st.lists(IDS, max_size=12))
def test_behaves_as_a_frozenset_of_strings(batches: list[list[str]], probes: list[str]) -> None:
    ids = NO_EVENTS
    expected: frozenset[str] = frozenset()
    for batch in batches:
        ids = ids.adding(batch)
        expected |= set(batch)
    assert ids == expected
    assert expected == ids
    assert len(ids) == len(expected)
    assert sorted(ids) == sorted(expected)
    assert hash(ids) == hash(expected)
    for probe in [*probes, *expected]:
        assert (probe in ids) is (probe in expected)


def test_adding_leaves_the_original_as_it_was() -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    before = EventIds([first])
    after = before.adding([second, first])
    assert set(before) == {first}
    assert set(after) == {first, second}
    assert len(after) == 2


def test_a_match_across_two_ids_is_not_an_id() -> None:
    """The 16 bytes at an unaligned offset of two packed ids are not an id of the set."""
    a = uuid.UUID(int=0x00112233445566778899AABBCCDDEEFF)
    b = uuid.UUID(int=0x102132435465768798A9BACBDCEDFE0F)
    ids = EventIds([str(a), str(b)])
    across = uuid.UUID(bytes=(a.bytes + b.bytes)[8:24])
    assert str(across) not in ids
    assert str(a) in ids
    assert str(b) in ids


def test_not_a_string_is_not_in_it() -> None:
    event_id = uuid.uuid4()
    ids = EventIds([str(event_id)])
    assert event_id not in ids
    assert event_id.bytes not in ids


def test_packed_ids_are_a_fraction_of_a_frozenset() -> None:
    """The point of packing: seven ids, as a pledge has, in about a tenth of the memory."""
    texts = [str(uuid.uuid4()) for _ in range(7)]
    as_set = frozenset(texts)
    packed = EventIds(texts)
    set_size = sys.getsizeof(as_set) + sum(sys.getsizeof(t) for t in texts)
    packed_size = sys.getsizeof(packed) + sys.getsizeof(packed._packed)
    assert packed_size * 5 < set_size
