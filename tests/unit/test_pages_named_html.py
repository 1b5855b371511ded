"""The group pages' member lists render names in Python (``named_html``): the same bytes as
the template macro it replaces, escaped the same way."""

from __future__ import annotations

import pytest

from api.pages.i18n import LANGUAGE_NAMES, Messages, Shown
from api.pages.routes import Pages
from api.pages.views import Named, named_html
from domain.values import Language

NAMES = [
    Named("ma-rabat", Shown("Rabat", "fr", False), "/cities/ma-rabat"),
    Named("x", Shown('<script>alert("1")</script> & co', "en", True), "/cities/x?a=1&b=2"),
    Named("es-leon", Shown("León", "es", True), "/cities/es-leon"),
]


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
@pytest.mark.parametrize("item", NAMES, ids=lambda item: item.id)
def test_named_html_is_the_macro_byte_for_byte(lang: Language, item: Named) -> None:
    t = Messages(lang)
    macros = (
        Pages()
        .templates.get_template("_macros.html")
        .make_module({"t": t, "language_names": LANGUAGE_NAMES})
    )
    assert str(named_html(t, item)) == str(macros.named(item))  # type: ignore[attr-defined]
    assert "<script>" not in named_html(t, item)
