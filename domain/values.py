"""Value types shared by commands and events, with the input rules they enforce.

Numbers that people report (indicator values) are decimal strings, never floats: a float cannot
be canonicalised without loss, and an auditor must get back exactly the digits a city reported.
Free text is normalised to Unicode NFC so that canonical bytes do not depend on the client's
keyboard.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

Language = Literal["en", "fr", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "fr", "es")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]\Z")
_DECIMAL = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,12})?\Z")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*\Z", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# ISO 3166-1 alpha-2, officially assigned codes (249).
ISO_3166_ALPHA2 = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()  # noqa: SIM905
)


def check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(
            "must be 2 to 64 characters of lowercase letters, digits and inner hyphens"
        )
    return value


def _country(value: str) -> str:
    if value not in ISO_3166_ALPHA2:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'MA')")
    return value


def _decimal_string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError('numbers are decimal strings such as "1200" or "12.5", never floats')
    if not _DECIMAL.match(value):
        raise ValueError(f'{value!r} is not a decimal string such as "1200" or "-3.25"')
    if value.startswith("-") and not value.strip("-0."):
        raise ValueError("zero is written without a sign")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _text(value: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _non_empty_text(value: str) -> str:
    value = _text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


def _localized(value: dict[Language, str]) -> dict[Language, str]:
    cleaned = {lang: text for lang, text in value.items() if text}
    if not cleaned:
        raise ValueError("needs a text in at least one of en, fr, es")
    return {lang: cleaned[lang] for lang in LANGUAGES if lang in cleaned}


def _sha256(value: str) -> str:
    if not _SHA256_HEX.match(value):
        raise ValueError("must be a SHA-256 digest in 64 lowercase hex digits")
    return value


def _url(value: str) -> str:
    if not _URL.match(value) or len(value) > 2000:
        raise ValueError("must be an http(s) URL")
    return value


Slug = Annotated[str, AfterValidator(check_slug)]
CountryCode = Annotated[str, AfterValidator(_country)]
DecimalString = Annotated[str, BeforeValidator(_decimal_string)]
IsoDate = Annotated[
    date, BeforeValidator(_iso_date), PlainSerializer(lambda d: d.isoformat(), return_type=str)
]
Text = Annotated[str, AfterValidator(_text), Field(max_length=5000)]
ShortText = Annotated[str, AfterValidator(_non_empty_text), Field(max_length=500)]
Reason = Annotated[str, AfterValidator(_non_empty_text), Field(max_length=2000)]
LocalizedTitle = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=300)]],
    AfterValidator(_localized),
]
LocalizedText = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=10000)]],
    AfterValidator(_localized),
]
OptionalLocalizedText = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=10000)]],
    AfterValidator(lambda v: {k: v[k] for k in LANGUAGES if v.get(k)}),
]
Sha256Hex = Annotated[str, AfterValidator(_sha256)]
Url = Annotated[str, AfterValidator(_url)]


def decimal_value(text: str) -> Decimal:
    """The exact value of a decimal string (for comparisons and totals, never for storage)."""
    return Decimal(text)
