"""``If-None-Match`` matching and the list cursor, without a server."""

from __future__ import annotations

import pytest

from api.caching import entity_tag, matches
from api.errors import ApiError
from api.routes.reads import decode_cursor, encode_cursor

TAG = entity_tag(b"body")


def test_an_entity_tag_is_the_quoted_sha256_of_the_body() -> None:
    assert TAG == '"230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5"'


@pytest.mark.parametrize("header", [TAG, f"W/{TAG}", f'"other", {TAG}', "*"])
def test_if_none_match_names_the_tag(header: str) -> None:
    assert matches(header, TAG)


@pytest.mark.parametrize("header", ["", '"other"', TAG[:-2] + '"'])
def test_if_none_match_without_the_tag_does_not_match(header: str) -> None:
    assert not matches(header, TAG)


def test_a_cursor_decodes_to_the_pledge_id_it_was_made_from() -> None:
    pledge_id = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
    assert decode_cursor(encode_cursor(pledge_id)) == pledge_id


def test_a_cursor_with_padding_is_not_the_canonical_spelling_and_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(encode_cursor("abc") + "=")
    assert refused.value.field == "cursor"
