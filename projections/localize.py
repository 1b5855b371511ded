"""Text in the reader's language: the original where it is in that language, else a recorded
translation, else the original in its own language, marked as such.

The one rule every page and report applies to a pledge's title, description and progress
narratives (and to the registry's names, which have no translations apart from their names):
a reader asking for French gets French if the ledger has it, and otherwise the original with the
language it is written in, so a page can say "(in English)" beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from domain.values import LANGUAGES, Language


@dataclass(frozen=True, slots=True)
class LocalizedValue:
    value: str
    lang: Language
    """The language ``value`` is written in."""
    is_original: bool
    """True: the author's own text; False: a recorded translation of it."""

    def is_in(self, lang: Language) -> bool:
        """Whether this is the reader's language (if not, a page marks it with ``lang``)."""
        return self.lang == lang


class TranslationLike(Protocol):
    """A recorded translation as the fold (``Translation``) and the page (``TranslationOut``)
    both hold it."""

    @property
    def field(self) -> str: ...

    @property
    def progress_event_id(self) -> str | None: ...

    @property
    def language(self) -> Language: ...

    @property
    def text(self) -> str: ...


def localize(
    original: Mapping[Language, str],
    lang: Language,
    translations: Mapping[Language, str] | None = None,
) -> LocalizedValue | None:
    """``original`` (the text as its author wrote it, in one or more languages) for a reader
    of ``lang``: the original in ``lang``, else the translation into ``lang``, else the original
    in the first of en, fr, es it has. None: there is no text at all (an empty narrative)."""
    text = original.get(lang)
    if text:
        return LocalizedValue(text, lang, True)
    translated = (translations or {}).get(lang)
    if translated:
        return LocalizedValue(translated, lang, False)
    for fallback in LANGUAGES:
        text = original.get(fallback)
        if text:
            return LocalizedValue(text, fallback, True)
    return None


def translations_of(
    translations: Iterable[TranslationLike], field: str, progress_event_id: str | None = None
) -> dict[Language, str]:
    """The translations of one text of a pledge, by language (``field``: ``title``,
    ``description``, or ``narrative`` with the report's ``progress_event_id``)."""
    return {
        t.language: t.text
        for t in translations
        if t.field == field and t.progress_event_id == progress_event_id
    }


def localize_pledge_text(
    original: Mapping[Language, str],
    translations: Iterable[TranslationLike],
    field: str,
    lang: Language,
    progress_event_id: str | None = None,
) -> LocalizedValue | None:
    """``localize`` for one text of a pledge, given all of the pledge's translations (a
    ``PledgeOut``'s or a ``PledgeView``'s)."""
    return localize(original, lang, translations_of(translations, field, progress_event_id))
