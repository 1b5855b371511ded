"""Value types: slugs, country codes, decimal strings, dates, text, digests and URLs."""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from domain.errors import InvalidInput
from domain.events import Observation, invalid_input_from
from domain.registry import RegisterCity
from domain.values import (
    ISO_3166_ALPHA2,
    CountryCode,
    DecimalString,
    IsoDate,
    Language,
    LocalizedText,
    LocalizedTitle,
    OptionalLocalizedText,
    Reason,
    Sha256Hex,
    ShortText,
    Slug,
    Text,
    Url,
)

SLUG: TypeAdapter[str] = TypeAdapter(Slug)
COUNTRY: TypeAdapter[str] = TypeAdapter(CountryCode)
DECIMAL: TypeAdapter[str] = TypeAdapter(DecimalString)
ISO_DATE: TypeAdapter[date] = TypeAdapter(IsoDate)
TEXT: TypeAdapter[str] = TypeAdapter(Text)
SHORT_TEXT: TypeAdapter[str] = TypeAdapter(ShortText)
REASON: TypeAdapter[str] = TypeAdapter(Reason)
TITLE: TypeAdapter[dict[Language, str]] = TypeAdapter(LocalizedTitle)
LOCALIZED_TEXT: TypeAdapter[dict[Language, str]] = TypeAdapter(LocalizedText)
OPTIONAL_TEXT: TypeAdapter[dict[Language, str]] = TypeAdapter(OptionalLocalizedText)
SHA256: TypeAdapter[str] = TypeAdapter(Sha256Hex)
URL: TypeAdapter[str] = TypeAdapter(Url)

DECOMPOSED_E_ACUTE = "e\u0301"  # "e" + combining acute accent: NFD
COMPOSED_E_ACUTE = "\u00e9"  # "é": NFC


# --- slugs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["rabat", "sao-paulo", "a1", "x" * 64, "2030-agenda"])
def test_slug_accepts_lowercase_letters_digits_and_inner_hyphens(value: str) -> None:
    assert SLUG.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Rabat",
        "-rabat",
        "rabat-",
        "sao_paulo",
        "sao paulo",
        "são-paulo",
        " rabat",
        "x" * 65,
    ],
)
def test_slug_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValidationError):
        SLUG.validate_python(value)


def test_one_character_slug_is_refused_as_its_error_message_promises() -> None:
    with pytest.raises(ValidationError, match="2 to 64 characters"):
        SLUG.validate_python("a")


def test_invalid_slug_is_reported_against_its_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterCity.model_validate({"id": "Rabat", "name": {"en": "Rabat"}, "country": "MA"})
    error = invalid_input_from(caught.value)
    assert isinstance(error, InvalidInput)
    assert error.field == "id"


# --- country codes --------------------------------------------------------------------------------


def test_country_code_list_holds_the_249_officially_assigned_codes() -> None:
    assert len(ISO_3166_ALPHA2) == 249
    assert {"MA", "CA", "PE", "DE"} <= ISO_3166_ALPHA2


@pytest.mark.parametrize("value", ["MA", "FR", "ZW"])
def test_country_accepts_iso_3166_alpha2_codes(value: str) -> None:
    assert COUNTRY.validate_python(value) == value


@pytest.mark.parametrize("value", ["ma", "MAR", "UK", "XK", "EU", "", "M"])
def test_country_refuses_codes_that_are_not_officially_assigned_alpha2(value: str) -> None:
    with pytest.raises(ValidationError):
        COUNTRY.validate_python(value)


def test_invalid_country_is_reported_against_the_country_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterCity.model_validate({"id": "rabat", "name": {"en": "Rabat"}, "country": "ma"})
    error = invalid_input_from(caught.value)
    assert error.field == "country"
    assert "ISO 3166-1 alpha-2" in error.message
    assert not error.message.startswith("Value error")


# --- decimal strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["0", "1200", "-3.25", "12.5", "0.000000000001", "999999999999999999", "1.50"]
)
def test_decimal_string_accepts_plain_decimal_notation(value: str) -> None:
    assert DECIMAL.validate_python(value) == value


@pytest.mark.parametrize("value", [12.5, 1200.0, float("nan")])
def test_decimal_string_refuses_floats(value: float) -> None:
    with pytest.raises(ValidationError, match="never floats"):
        DECIMAL.validate_python(value)


@pytest.mark.parametrize("value", [1200, True, Decimal("12.5"), None])
def test_decimal_string_refuses_every_non_string(value: object) -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python(value)


def test_decimal_string_refuses_exponent_notation() -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python("1e3")


def test_decimal_string_refuses_leading_zeros() -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python("01")


@pytest.mark.parametrize(
    "value",
    ["", "+1", " 1", "1 ", "1.", ".5", "1,5", "NaN", "Infinity", "0x10", "1_000", "--1"],
)
def test_decimal_string_refuses_other_spellings(value: str) -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python(value)


def test_decimal_string_refuses_more_than_twelve_fraction_digits() -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python("0.0000000000001")


def test_decimal_string_refuses_more_than_eighteen_integer_digits() -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python("1" + "0" * 18)


def test_decimal_strings_sum_exactly() -> None:
    assert Decimal(DECIMAL.validate_python("0.1")) + Decimal("0.2") == Decimal("0.3")


@given(
    integer=st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1),
    fraction=st.one_of(st.none(), st.from_regex(r"\A[0-9]{1,12}\Z")),
)
def test_every_plain_decimal_keeps_exactly_the_reported_digits(
    integer: int, fraction: str | None
) -> None:
    text = str(integer) if fraction is None else f"{integer}.{fraction}"
    assert DECIMAL.validate_python(text) == text
    assert format(Decimal(text), "f") == text


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_no_float_is_ever_a_decimal_string(value: float) -> None:
    with pytest.raises(ValidationError):
        DECIMAL.validate_python(value)


# --- dates ----------------------------------------------------------------------------------------


def test_iso_date_accepts_yyyy_mm_dd() -> None:
    assert ISO_DATE.validate_python("2024-02-29") == date(2024, 2, 29)


def test_iso_date_accepts_a_date_object() -> None:
    assert ISO_DATE.validate_python(date(2018, 12, 8)) == date(2018, 12, 8)


def test_iso_date_refuses_a_day_that_does_not_exist() -> None:
    with pytest.raises(ValidationError):
        ISO_DATE.validate_python("2023-02-29")


@pytest.mark.parametrize(
    "value", ["2024-1-5", "20240105", "05/01/2024", "2024-01-05T00:00:00", "", 20240105, 1.7e9]
)
def test_iso_date_refuses_other_forms(value: object) -> None:
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        ISO_DATE.validate_python(value)


def test_iso_date_serialises_as_iso_string() -> None:
    assert ISO_DATE.dump_python(date(2018, 12, 8), mode="json") == "2018-12-08"


# --- text -----------------------------------------------------------------------------------------


def test_text_is_normalised_to_nfc() -> None:
    text = TEXT.validate_python(f"Caf{DECOMPOSED_E_ACUTE}")
    assert text == f"Caf{COMPOSED_E_ACUTE}"
    assert unicodedata.is_normalized("NFC", text)


def test_text_is_stripped() -> None:
    assert TEXT.validate_python("  padded \n") == "padded"


def test_text_keeps_inner_newlines_and_tabs() -> None:
    assert TEXT.validate_python("line one\n\tline two") == "line one\n\tline two"


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
def test_text_refuses_control_characters(control: str) -> None:
    with pytest.raises(ValidationError, match="control characters"):
        TEXT.validate_python(f"bad{control}text")


def test_text_may_be_empty() -> None:
    assert TEXT.validate_python("") == ""


def test_text_refuses_more_than_5000_characters() -> None:
    with pytest.raises(ValidationError):
        TEXT.validate_python("x" * 5001)


@pytest.mark.parametrize("adapter", [SHORT_TEXT, REASON], ids=["short_text", "reason"])
@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_required_text_refuses_blank(adapter: TypeAdapter[str], value: str) -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        adapter.validate_python(value)


def test_short_text_refuses_more_than_500_characters() -> None:
    with pytest.raises(ValidationError):
        SHORT_TEXT.validate_python("x" * 501)


def test_reason_refuses_more_than_2000_characters() -> None:
    with pytest.raises(ValidationError):
        REASON.validate_python("x" * 2001)


# --- localized text -------------------------------------------------------------------------------


def test_localized_title_accepts_one_language() -> None:
    assert TITLE.validate_python({"fr": "Logement d'abord"}) == {"fr": "Logement d'abord"}


def test_localized_title_is_normalised_to_nfc() -> None:
    title = TITLE.validate_python(
        {"fr": f"Accueil des r{DECOMPOSED_E_ACUTE}fugi{DECOMPOSED_E_ACUTE}s"}
    )
    assert title == {"fr": f"Accueil des r{COMPOSED_E_ACUTE}fugi{COMPOSED_E_ACUTE}s"}


@pytest.mark.parametrize("adapter", [TITLE, LOCALIZED_TEXT], ids=["title", "text"])
@pytest.mark.parametrize("value", [{}, {"en": ""}, {"en": "   ", "fr": ""}])
def test_localized_text_needs_a_text_in_one_language(
    adapter: TypeAdapter[dict[Language, str]], value: dict[str, str]
) -> None:
    with pytest.raises(ValidationError, match="at least one of en, fr, es"):
        adapter.validate_python(value)


@pytest.mark.parametrize("key", ["de", "EN", "en-GB", ""])
def test_localized_text_refuses_an_unknown_language_key(key: str) -> None:
    with pytest.raises(ValidationError):
        TITLE.validate_python({"en": "Housing", key: "Wohnen"})


def test_localized_text_drops_blank_languages() -> None:
    assert TITLE.validate_python({"en": "Housing", "fr": "  "}) == {"en": "Housing"}


def test_localized_text_orders_languages_en_fr_es() -> None:
    title = TITLE.validate_python({"es": "Vivienda", "en": "Housing", "fr": "Logement"})
    assert list(title) == ["en", "fr", "es"]


def test_localized_title_refuses_more_than_300_characters() -> None:
    with pytest.raises(ValidationError):
        TITLE.validate_python({"en": "x" * 301})


def test_optional_localized_text_may_be_empty() -> None:
    assert OPTIONAL_TEXT.validate_python({}) == {}
    assert OPTIONAL_TEXT.validate_python({"en": " "}) == {}


def test_localized_text_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisterCity.model_validate({"id": "rabat", "name": {}, "country": "MA"})
    assert invalid_input_from(caught.value).field == "name"


# --- digests and links ----------------------------------------------------------------------------


def test_sha256_accepts_64_lowercase_hex_digits() -> None:
    assert SHA256.validate_python("0f" * 32) == "0f" * 32


@pytest.mark.parametrize("value", ["0F" * 32, "0f" * 31, "0f" * 32 + "0", "g" * 64, ""])
def test_sha256_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValidationError, match="SHA-256"):
        SHA256.validate_python(value)


@pytest.mark.parametrize(
    "value", ["https://example.org/report.pdf", "http://example.org", "HTTPS://EXAMPLE.ORG/a?b=c"]
)
def test_url_accepts_http_and_https(value: str) -> None:
    assert URL.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "ftp://example.org/report.pdf",
        "javascript:alert(1)",
        "example.org/report.pdf",
        "https://exa mple.org",
        "https://",
        "https://" + "x" * 2000,
    ],
)
def test_url_refuses_anything_else(value: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        URL.validate_python(value)


def test_negative_zero_is_refused_so_zero_has_one_spelling() -> None:
    for value in ("-0", "-0.0", "-0.000"):
        with pytest.raises(ValidationError, match="without a sign"):
            Observation.model_validate(
                {"indicator_id": "people", "value": value, "date": "2025-01-01"}
            )


def test_negative_fraction_is_a_decimal_string() -> None:
    point = Observation.model_validate(
        {"indicator_id": "people", "value": "-0.5", "date": "2025-01-01"}
    )
    assert point.value == "-0.5"


# --- a trailing newline is not the end of a value ------------------------------------------------
# Python's "$" also matches just before a final "\n": every pattern anchors on "\Z" instead.


@pytest.mark.parametrize(
    ("adapter", "value"),
    [
        (SLUG, "rabat\n"),
        (DECIMAL, "12\n"),
        (ISO_DATE, "2024-01-01\n"),
        (SHA256, "a" * 64 + "\n"),
        (URL, "https://example.org/report\n"),
    ],
)
def test_a_value_with_a_trailing_newline_is_refused(
    adapter: TypeAdapter[object], value: str
) -> None:
    with pytest.raises(ValidationError):
        adapter.validate_python(value)
