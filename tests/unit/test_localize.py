"""The reader's language, else a translation, else the original marked with its language."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from domain.values import LANGUAGES, Language
from projections.localize import (
    LocalizedValue,
    localize,
    localize_pledge_text,
    translations_of,
)


@dataclass(frozen=True)
class T:
    field: str
    progress_event_id: str | None
    language: Language
    text: str


def test_the_original_in_the_readers_language_comes_first() -> None:
    found = localize({"en": "Welcome", "fr": "Bienvenue"}, "fr", {"fr": "Autre"})

    assert found == LocalizedValue("Bienvenue", "fr", True)


def test_a_translation_serves_a_reader_of_its_language() -> None:
    found = localize({"en": "Welcome"}, "es", {"es": "Bienvenida"})

    assert found == LocalizedValue("Bienvenida", "es", False)
    assert found.is_in("es")


def test_without_the_readers_language_the_original_is_given_marked() -> None:
    found = localize({"fr": "Bienvenue", "es": "Bienvenida"}, "en", {})

    assert found == LocalizedValue("Bienvenue", "fr", True)
    assert not found.is_in("en")


def test_an_empty_text_has_nothing_to_show() -> None:
    assert localize({}, "en") is None


def test_a_narrative_is_localized_from_its_own_reports_translations_only() -> None:
    translations = [
        T("narrative", "report-1", "fr", "Ouvert en mars."),
        T("narrative", "report-2", "fr", "Fermé en juin."),
        T("title", None, "fr", "Guichet"),
    ]

    found = localize_pledge_text({"en": "Opened."}, translations, "narrative", "fr", "report-1")

    assert found == LocalizedValue("Ouvert en mars.", "fr", False)
    assert translations_of(translations, "title") == {"fr": "Guichet"}


texts = st.dictionaries(st.sampled_from(LANGUAGES), st.text(min_size=1, max_size=5), max_size=3)


@given(original=texts, translations=texts, lang=st.sampled_from(LANGUAGES))
def test_the_answer_is_always_a_recorded_text_in_the_language_it_says(
    original: dict[Language, str], translations: dict[Language, str], lang: Language
) -> None:
    found = localize(original, lang, translations)

    if not original and lang not in translations:
        assert found is None
        return
    assert found is not None
    source = original if found.is_original else translations
    assert source[found.lang] == found.value
    # the reader's language whenever the ledger has it
    assert found.is_in(lang) == (lang in original or lang in translations)
