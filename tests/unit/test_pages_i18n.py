"""The pages' message catalogue and language choice: every key in every language, every key a
template names present, placeholders alike across languages, and the choice rules."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.pages.i18n import (
    CATALOGUE,
    Messages,
    UnknownLanguage,
    accepted_language,
    choose_language,
    shown,
)
from domain.events import EVENT_SPECS
from domain.pledge import STATUSES
from domain.values import LANGUAGES

PAGES = Path(__file__).resolve().parents[2] / "api" / "pages"
NAMED_KEY = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
DETAIL_KEY = re.compile(r"""(?:Detail|_localized_detail)\(\s*["']([a-z_.]+)["']""")

# Keys the templates build from data ("status." ~ value): every value they can be built from.
BUILT_KEYS = {
    *(f"status.{s}" for s in STATUSES),
    *(f"stage.{s}" for s in ("not_started", "planning", "in_progress", "on_hold", "completed")),
    *(f"outcome.{o}" for o in ("fulfilled", "partially_fulfilled", "not_fulfilled")),
    *(f"type.{t}" for t in EVENT_SPECS),
    *(f"pledge.{kind}" for kind in ("baseline", "target", "actual")),
    *(f"group.{kind}" for kind in ("network", "city")),
    *(f"list.sort.{s}" for s in ("id", "updated", "submitted")),
}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_exists_in_every_language_with_the_same_placeholders() -> None:
    english = CATALOGUE["en"]
    for language in LANGUAGES:
        assert set(CATALOGUE[language]) == set(english), language
        for key, text in CATALOGUE[language].items():
            assert text.strip(), (language, key)
            assert placeholders(text) == placeholders(english[key]), (language, key)


def test_every_key_a_template_or_view_names_is_in_the_catalogue() -> None:
    named: set[str] = set(BUILT_KEYS)
    sources = [*PAGES.glob("templates/*.html"), PAGES / "views.py", PAGES / "routes.py"]
    for path in sources:
        source = path.read_text()
        named |= {k for k in NAMED_KEY.findall(source) if not k.endswith(".")}
        named |= set(DETAIL_KEY.findall(source))
    assert named - set(CATALOGUE["en"]) == set()


def test_french_and_spanish_are_translations_not_copies() -> None:
    same_fr = [k for k, v in CATALOGUE["fr"].items() if v == CATALOGUE["en"][k]]
    same_es = [k for k, v in CATALOGUE["es"].items() if v == CATALOGUE["en"][k]]
    # Names that are the same in every language (the product's name, "API", "Audit", …).
    assert len(same_fr) < 15, same_fr
    assert len(same_es) < 15, same_es


def test_a_message_fills_its_fields() -> None:
    assert Messages("fr")("pledge.state_as_of", day="2026-03-01") == "État à la fin du 2026-03-01"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.8", "fr"),
        ("de-DE, es;q=0.8, fr;q=0.5", "es"),
        ("en;q=0.1, fr;q=0.9", "fr"),
        ("fr;q=0, es;q=0.2", "es"),
        ("de, ja", None),
        ("", None),
        ("fr;q=abc", None),
    ],
)
def test_accept_language_picks_the_highest_weighted_known_language(
    header: str, expected: str | None
) -> None:
    assert accepted_language(header) == expected


def test_the_query_beats_the_cookie_which_beats_the_header() -> None:
    assert choose_language("es", "fr", "en") == "es"
    assert choose_language(None, "fr", "es") == "fr"
    assert choose_language(None, "xx", "es") == "es"  # a cookie that is no language is ignored
    assert choose_language(None, None, None) == "en"
    with pytest.raises(UnknownLanguage):
        choose_language("de", None, None)


@given(st.text(max_size=200))
def test_any_accept_language_header_yields_a_language_or_none(header: str) -> None:
    assert accepted_language(header) in (None, *LANGUAGES)
    assert choose_language(None, None, header) in LANGUAGES


def test_a_text_is_shown_in_the_readers_language_else_marked_as_the_original() -> None:
    assert shown({"en": "Centre", "fr": "Centre d'accueil"}, "fr").fallback is False
    fallback = shown({"fr": "Centre d'accueil"}, "es")
    assert (fallback.text, fallback.language, fallback.fallback) == ("Centre d'accueil", "fr", True)
    english_first = shown({"fr": "Centre", "en": "Center"}, "es")
    assert english_first.language == "en"
