"""Cached stream states share pydantic's per-model sets of set fields, and nothing can tell.

``ledger.stream_cache.share_field_sets`` replaces each frozen model's ``__pydantic_fields_set__``
with one set per distinct content (a third of a cached pledge state's memory). What pydantic
does with that set (``model_dump(exclude_unset=True)``, ``model_fields_set``, ``model_copy``)
must give what it gave before, and no model's copy or change may reach another's.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import BaseModel

from domain.pledge import PledgeState
from ledger.store import EventStore
from ledger.stream_cache import EventIds, StreamCache, StreamSnapshot, share_field_sets
from tests.unit.domain_builders import amended, submitted, unit_indicator, validated


def models_under(value: Any) -> list[BaseModel]:
    found: list[BaseModel] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseModel):
            found.append(item)
            pending.extend(item.__dict__.values())
        elif isinstance(item, (tuple, list)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return found


def dumps(state: PledgeState) -> tuple[Any, ...]:
    content = state.content
    return (
        content.model_dump(mode="json"),
        content.model_dump(mode="json", exclude_unset=True),
        [sorted(m.model_fields_set) for m in models_under(content)],
    )


def a_state(kind: str) -> PledgeState:
    state = submitted()
    if kind == "validated":
        state = validated(state)
    if kind == "amended":
        state = amended(validated(state), indicators=[unit_indicator(id="homes-found")])
    return state


@pytest.mark.parametrize("kind", ["submitted", "validated", "amended"])
def test_sharing_changes_nothing_pydantic_shows(kind: str) -> None:
    state = a_state(kind)
    before = dumps(state)
    assert len(models_under(state.content)) > 3

    share_field_sets(state)

    assert dumps(state) == before


def test_two_pledges_share_their_sets_and_a_copy_changes_neither() -> None:
    first, second = submitted(), submitted(pledge_id="p2")
    assert first.content.__pydantic_fields_set__ is not second.content.__pydantic_fields_set__

    share_field_sets(first)
    share_field_sets(second)

    shared = first.content.__pydantic_fields_set__
    assert second.content.__pydantic_fields_set__ is shared
    before = set(shared)
    copy = first.content.model_copy(update={"title": {"en": "Another title"}})
    assert copy.__pydantic_fields_set__ is not shared
    assert shared == before
    assert second.content.model_dump(exclude_unset=True) == first.content.model_dump(
        exclude_unset=True
    )


def test_a_model_that_is_not_frozen_keeps_its_own_set() -> None:
    class Loose(BaseModel):
        name: str = "x"

    loose = Loose(name="y")
    own = loose.__pydantic_fields_set__

    share_field_sets((loose,))

    assert loose.__pydantic_fields_set__ is own
    loose.name = "z"
    assert Loose().model_fields_set == set()


def test_the_stream_cache_shares_what_it_keeps() -> None:
    cache = StreamCache(cast(EventStore, None))
    first, second = submitted(), submitted(pledge_id="p2")

    cache.put(StreamSnapshot("pledge:p1", 1, first, EventIds(["e1"])))
    cache.put(StreamSnapshot("pledge:p2", 1, second, EventIds(["e2"])))

    assert first.content.__pydantic_fields_set__ is second.content.__pydantic_fields_set__
