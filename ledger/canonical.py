"""Canonical bytes: RFC 8785 (JCS) for the envelopes this ledger writes.

Envelopes keep to a subset of JSON on which JCS is simple: ASCII keys, integers within
±(2**53 - 1), no floats, NFC strings. On that subset, orjson with sorted keys writes exactly the
JCS bytes (a property test proves it against the ``rfc8785`` package), ~50× faster. Anything
outside the subset is refused rather than encoded differently.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson

from ledger.errors import CorruptEvent

MAX_SAFE_INTEGER = 2**53 - 1
_OPTIONS = orjson.OPT_SORT_KEYS


class NotCanonical(CorruptEvent):
    """A value outside the canonical subset, or bytes that are not its canonical encoding."""

    code = "not_canonical"


def _within_subset(item: Any) -> bool:
    """Fast check, no bookkeeping: the common case is that everything is fine."""
    kind = type(item)
    if kind is str:
        return bool(unicodedata.is_normalized("NFC", item))
    if kind is dict:
        for key, child in item.items():
            if type(key) is not str or not key.isascii() or not _within_subset(child):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_within_subset(child) for child in item)
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER)
    return item is None or kind is bool


def _first_violation(value: Any, path: str) -> str:
    """Where and why ``value`` leaves the subset (the slow path, for the error message)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not unicodedata.is_normalized("NFC", item):
                return f"string at {where} is not NFC-normalised"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return f"integer at {where} is outside ±(2**53 - 1)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not key.isascii():
                    return f"key {key!r} at {where} is not an ASCII string"
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{n}]") for n, child in enumerate(item))
        elif isinstance(item, float):
            return f"number at {where} is a float; numbers are decimal strings"
        else:
            return f"value at {where} of type {type(item).__name__} is not JSON"
    return f"value at {path} is not canonical"


def check_canonical_subset(value: Any, path: str = "$") -> None:
    """Refuse anything JCS and orjson could disagree on, naming where it is."""
    if not _within_subset(value):
        raise NotCanonical(_first_violation(value, path))


def canonical_bytes(value: Any) -> bytes:
    """The JCS bytes of ``value`` (which must lie in the canonical subset)."""
    check_canonical_subset(value)
    return orjson.dumps(value, option=_OPTIONS)


def canonical_model_bytes(value: Any) -> bytes:
    """JCS bytes of a structure built from this ledger's own models (the write path).

    The models admit no floats, and every integer in them is bounded by a rule (versions, GCM
    objective numbers), so only strings need checking, and only when the bytes are not pure
    ASCII (ASCII text is always NFC and its keys ASCII). ``tests`` prove that no payload model
    has a float field and that these bytes equal ``rfc8785.dumps``.
    """
    raw = orjson.dumps(value, option=_OPTIONS)
    if not raw.isascii():
        check_canonical_subset(value)
    return raw


def _floats_or_bad_text(value: Any, check_text: bool) -> str | None:
    """One iterative walk: a float anywhere, or (for non-ASCII bytes) a non-NFC string or a
    non-ASCII key. Iterative, because this runs once per entry when a bundle is verified."""
    normalized = unicodedata.is_normalized
    stack = [value]
    pop, push_all = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            if check_text:
                for key in item:
                    if not key.isascii():
                        return f"key {key!r} is not ASCII"
            push_all(item.values())
        elif kind is list:
            push_all(item)
        elif kind is float:
            return "a number is a float; numbers are decimal strings"
        elif kind is str and check_text and not normalized("NFC", item):
            return "a string is not NFC-normalised"
    return None


_NUMBER_WITH_FRACTION = re.compile(rb"(?:\A|[:,\[])-?[0-9]+[.eE]")
"""Where a float would stand in bytes orjson wrote: a number first or right after ``:``, ``,``
or ``[`` (canonical bytes have no spaces), with a fraction or an exponent. Every float matches;
a string holding such text matches too, and then the values are walked (the slow path)."""


def parse_canonical(data: bytes) -> Any:
    """Parse bytes that claim to be canonical, and prove it: re-encoding must give them back.

    Fast path for the verifier: one parse, one re-encode (strict 53-bit integers), and a walk
    over the values (for floats, and for the string checks when the bytes are not ASCII) only
    when the bytes are not ASCII or hold what could be a float.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise NotCanonical(f"not JSON: {error}") from error
    try:
        again = orjson.dumps(value, option=_OPTIONS | orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError as error:
        raise NotCanonical(f"outside the canonical subset: {error}") from error
    ascii_only = data.isascii()
    if not ascii_only or _NUMBER_WITH_FRACTION.search(data) is not None:
        problem = _floats_or_bad_text(value, check_text=not ascii_only)
        if problem is not None:
            raise NotCanonical(problem)
    if again != data:
        raise NotCanonical("bytes are valid JSON but not in canonical (RFC 8785) form")
    return value
