"""A pledge's fields are defined once: the content, the submission and the changes all follow.

``PledgeContent`` and ``SubmitPledge`` inherit ``PledgeFields``; ``PledgeChanges`` is written out
for type checkers, so these tests fail the moment a field is added to one and missed in another.
"""

from __future__ import annotations

import typing
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from domain.events import PledgeChanges, PledgeContent, PledgeFields
from domain.pledge import SubmitPledge

FIELD_NAMES = list(PledgeFields.model_fields)


def _field_type(model: type[BaseModel], name: str) -> Any:
    return typing.get_type_hints(model, include_extras=True)[name]


def _field_constraints(model: type[BaseModel], name: str) -> list[Any]:
    """The constraints given with ``Field(...)``, not those of the field's annotated type."""
    from_type = _field_type(model, name)
    alias_metadata: list[Any] = []
    if get_origin(from_type) is typing.Annotated:
        alias_metadata = list(get_args(from_type)[1:])
    return [m for m in model.model_fields[name].metadata if m not in alias_metadata]


def test_the_stored_content_has_exactly_the_pledge_fields() -> None:
    assert list(PledgeContent.model_fields) == FIELD_NAMES


def test_the_submission_has_the_pledge_fields_and_the_submitting_network() -> None:
    assert set(SubmitPledge.model_fields) == {*FIELD_NAMES, "network_id"}


def test_the_changes_name_every_pledge_field_in_order() -> None:
    assert list(PledgeChanges.model_fields) == FIELD_NAMES


@pytest.mark.parametrize("name", FIELD_NAMES)
def test_each_change_is_the_fields_type_made_optional(name: str) -> None:
    assert _field_type(PledgeChanges, name) == _field_type(PledgeFields, name) | None
    assert PledgeChanges.model_fields[name].default is None


@pytest.mark.parametrize("name", FIELD_NAMES)
def test_each_change_keeps_the_fields_constraints(name: str) -> None:
    assert _field_constraints(PledgeChanges, name) == _field_constraints(PledgeFields, name)
