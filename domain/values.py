"""Value types shared by commands and events, with the input rules they enforce.

Numbers that people report (indicator values) are decimal strings, never floats: a float cannot
be canonicalised without loss, and an auditor must get back exactly the digits a city reported.
Free text is normalised to Unicode NFC so that canonical bytes do not depend on the client's
keyboard. Free text is also marked (``FREE_TEXT``) so that commands can refuse personal data in
it (``refuse_personal_data``): whatever a command writes lands forever in the signed public log.
"""

from __future__ import annotations

import functools
import re
import types
import typing
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, PlainSerializer

from domain.errors import PersonalDataRefused

Language = Literal["en", "fr", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "fr", "es")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}[a-z0-9]\Z")
_DECIMAL = re.compile(r"^-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,12})?\Z")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}\Z")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*\Z", re.IGNORECASE)
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,98}[A-Za-z0-9])?\Z")
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


# ISO 4217 alpha-3 currency codes (Debian iso-codes 4.15, plus XCG and ZWG of 2024-2025), without
# the codes that name no money a funder could pledge: precious metals (XAU XAG XPD XPT), bond
# units (XBA XBB XBC XBD), the testing code XTS and "no currency" XXX.
ISO_4217_ALPHA3 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD
    JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU
    MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY
    TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XDR XOF XPF XSU XUA
    YER ZAR ZMW ZWG ZWL
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


def _currency(value: str) -> str:
    if value not in ISO_4217_ALPHA3:
        raise ValueError(f"{value!r} is not an ISO 4217 alpha-3 currency code (e.g. 'EUR')")
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


def _external_id(value: str) -> str:
    if not _EXTERNAL_ID.match(value):
        raise ValueError(
            "must be 1 to 100 letters, digits, dots, slashes or hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


def _sha256(value: str) -> str:
    if not _SHA256_HEX.match(value):
        raise ValueError("must be a SHA-256 digest in 64 lowercase hex digits")
    return value


def _url(value: str) -> str:
    if not _URL.match(value) or len(value) > 2000:
        raise ValueError("must be an http(s) URL")
    return value


class FreeTextMarker:
    """Marks a string type as free text, written by people (see ``refuse_personal_data``)."""

    def __repr__(self) -> str:
        return "FREE_TEXT"


FREE_TEXT = FreeTextMarker()

Slug = Annotated[str, AfterValidator(check_slug)]
CountryCode = Annotated[str, AfterValidator(_country)]
CurrencyCode = Annotated[str, AfterValidator(_currency)]
DecimalString = Annotated[str, BeforeValidator(_decimal_string)]
IsoDate = Annotated[
    date, BeforeValidator(_iso_date), PlainSerializer(lambda d: d.isoformat(), return_type=str)
]
Text = Annotated[str, AfterValidator(_text), Field(max_length=5000), FREE_TEXT]
ShortText = Annotated[str, AfterValidator(_non_empty_text), Field(max_length=500), FREE_TEXT]
Reason = Annotated[str, AfterValidator(_non_empty_text), Field(max_length=2000), FREE_TEXT]
LocalizedTitle = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=300), FREE_TEXT]],
    AfterValidator(_localized),
]
LocalizedText = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=10000), FREE_TEXT]],
    AfterValidator(_localized),
]
NameChanges = dict[
    Language, Annotated[str, AfterValidator(_text), Field(max_length=300), FREE_TEXT]
]
"""Names to set per language in a registry correction; an empty text removes that language."""
OptionalLocalizedText = Annotated[
    dict[Language, Annotated[str, AfterValidator(_text), Field(max_length=10000), FREE_TEXT]],
    AfterValidator(lambda v: {k: v[k] for k in LANGUAGES if v.get(k)}),
]
TranslationText = Annotated[
    str, AfterValidator(_non_empty_text), Field(max_length=10000), FREE_TEXT
]
ExternalIdScheme = Slug
"""``grf`` (a Global Refugee Forum pledge id), ``gcm`` (a GCM pledging platform id), or the id
of the pledge's own network (that network's reference): see ``domain.external_ids``."""
ExternalIdValue = Annotated[str, AfterValidator(_external_id)]
Sha256Hex = Annotated[str, AfterValidator(_sha256)]
Url = Annotated[str, AfterValidator(_url)]


# --- personal data in free text ----------------------------------------------------------------
#
# Only what a pattern can tell is checked: e-mail addresses, telephone numbers, identity
# document numbers and IBANs. Names of people cannot be told from names of places, programmes
# or organisations, so they are not checked; the README says they must never be written.

# Starts only where a run of address characters starts, and every part is bounded: free text
# is up to 10,000 characters, and an unanchored pattern would retry it from every position.
_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.[^\W\d_]{2,24}"
)
# Digits in groups joined by one separator each, optionally after "+" (or "(0)" and such).
_DIGIT_RUN = re.compile(r"(?<![\w+.,/-])(\+\s?)?\(?\d+\)?(?:[ .\-/]\(?\d+\)?)*(?![\w])")
_DIGIT_GROUP = re.compile(r"\d+")
_RUN_SEPARATOR = re.compile(r"\)?([ .\-/])\(?")
_IDENTITY_DOCUMENT = re.compile(
    r"\b(?:passports?|passeports?|pasaportes?|id card|identity card|national id(?:entity)?"
    r"(?: card| number)?|carte d.identit[ée]|carte nationale d.identit[ée]|c[ée]dula|cni|cin"
    r"|dni|nie|social security(?: number)?|s[ée]curit[ée] sociale|ssn)"
    # then only what introduces the number: "no.", "n°", "number:", "#"
    r"[\s:#°.,-]*(?:(?:no|nr|n|nº|num|number|numéro|número|numero)\b\.?[\s:#°.,-]*)?"
    # a number with letters (12AB34567, X1234567) or of 8 digits or more: a count such as
    # "passports: 250000" is not one
    r"(?=[a-z]{0,3}\d)(?:(?=[a-z0-9]*[a-z])[a-z0-9]{6,12}|\d{8,12})\b",
    re.IGNORECASE,
)
_ANY_DIGIT = re.compile(r"\d")
_IBAN = re.compile(r"\b([A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30})\b")


def _is_thousands_grouped(groups: list[str], separators: set[str]) -> bool:
    """1 200 000, 12.500.000: a number written with a thousands separator."""
    return (
        len(separators) == 1
        and 1 <= len(groups[0]) <= 3
        and all(len(group) == 3 for group in groups[1:])
    )


def _looks_like_phone_number(run: str) -> bool:
    if len(run) < 8:
        return False  # fewer than the 8 digits the shortest number below needs
    groups = _DIGIT_GROUP.findall(run)
    digits = sum(len(group) for group in groups)
    # "(555) 123-4567": the parenthesised area code may stand apart from the rest's separator
    after_area_code = run.split(")", 1)[1] if run.startswith("(") and ")" in run else run
    separators = set(_RUN_SEPARATOR.findall(after_area_code.lstrip(" ")))
    if run.startswith("+"):
        # +212 6 12 34 56 78; but "+12 500 000" is an increase, written with thousands.
        return 8 <= digits <= 15 and not (digits <= 9 and _is_thousands_grouped(groups, separators))
    # 06 12 34 56 78, 555-123-4567; not dates (8 digits), years in a list, SDG targets
    # (mixed separators) or amounts written in thousands.
    return (
        len(groups) >= 3
        and 9 <= digits <= 15
        and len(separators) == 1
        and not _is_thousands_grouped(groups, separators)
        and not all(len(group) == 4 for group in groups)
    )


def _has_iban_checksum(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _is_iban(candidate: str) -> bool:
    """An IBAN with a valid ISO 13616 checksum, perhaps followed by words in capitals."""
    groups = candidate.split(" ")
    for end in range(len(groups), 0, -1):
        compact = "".join(groups[:end])
        if 15 <= len(compact) <= 34 and _has_iban_checksum(compact):
            return True
    return False


def personal_data_in(text: str) -> str | None:
    """What kind of personal data ``text`` seems to hold, or None."""
    if "@" not in text and _ANY_DIGIT.search(text) is None:
        return None  # every pattern below needs an "@" or a digit
    if _EMAIL.search(text):
        return "an e-mail address"
    if any(_looks_like_phone_number(m.group(0)) for m in _DIGIT_RUN.finditer(text)):
        return "a telephone number"
    if _IDENTITY_DOCUMENT.search(text):
        return "an identity document number"
    if any(_is_iban(m.group(1)) for m in _IBAN.finditer(text)):
        return "a bank account number (IBAN)"
    return None


def _refuse_in_text(text: str, field: str) -> None:
    found = personal_data_in(text)
    if found is not None:
        raise PersonalDataRefused(
            f"looks like {found}; the public log is permanent and must not hold contact "
            "data or identity document numbers of anyone",
            field=field,
        )


TextCheck = typing.Callable[[Any, str], None]
"""Checks one value (of a known annotation) for personal data; the string is its field path."""

_SCALARS = (str, int, float, bool, bytes, date, type(None))


def _check_nested_model(value: Any, field: str) -> None:
    if isinstance(value, BaseModel):
        refuse_personal_data(value, prefix=field)


def _compiled_check(annotation: Any) -> TextCheck | None:
    """The check ``annotation``'s values need, worked out once per model field (None: none).

    Walking the type hints for every value was most of a command's validation cost in bulk
    loads (benchmarks/RESULTS.md); the walk now runs once per model type, and what it finds is
    the same: free text is checked, nested models are walked, everything else is skipped.
    """
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        inner = _compiled_check(base)
        if not any(item is FREE_TEXT for item in metadata):
            return inner

        def free_text(value: Any, field: str) -> None:
            if isinstance(value, str):
                _refuse_in_text(value, field)
            elif inner is not None:
                inner(value, field)

        return free_text
    if origin is typing.Union or origin is types.UnionType:
        options = [c for c in (_compiled_check(o) for o in get_args(annotation)) if c is not None]
        if not options:
            return None

        def any_option(value: Any, field: str) -> None:
            for check in options:
                check(value, field)

        return any_option
    if origin is dict:
        item_check = _compiled_check(get_args(annotation)[1])
        if item_check is None:
            return None

        def each_value(value: Any, field: str) -> None:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if item is not None:
                        item_check(item, f"{field}.{key}")

        return each_value
    if origin in (tuple, list):
        element_check = _compiled_check(get_args(annotation)[0])
        if element_check is None:
            return None

        def each_item(value: Any, field: str) -> None:
            if isinstance(value, tuple | list):
                for n, item in enumerate(value):
                    if item is not None:
                        element_check(item, f"{field}.{n}")

        return each_item
    if origin is Literal or annotation in _SCALARS:
        return None
    return _check_nested_model


@functools.cache
def _model_checks(model: type[BaseModel]) -> tuple[tuple[str, TextCheck], ...]:
    """The fields of ``model`` that may hold free text (at any depth), with their checks."""
    hints = typing.get_type_hints(model, include_extras=True)
    checks = ((name, _compiled_check(hints[name])) for name in model.model_fields)
    return tuple((name, check) for name, check in checks if check is not None)


def refuse_personal_data(model: BaseModel, *, prefix: str = "") -> None:
    """Refuse ``model`` if any of its free-text fields, at any depth, holds personal data.

    Raises ``PersonalDataRefused`` naming the field's path (``description.fr``,
    ``observations.0.comment``).
    """
    for name, check in _model_checks(type(model)):
        value = getattr(model, name)
        if value is not None:
            check(value, f"{prefix}.{name}" if prefix else name)
