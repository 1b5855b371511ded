"""Clocks and id factories: the only sources of time and new ids, passed in, never global.

Production uses the server clock; the demo and the tests drive a ``SteppingClock`` so that a data
set spread over years is recorded with the dates it pretends to have.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SteppingClock:
    """A clock that stands still until moved, and never goes backwards."""

    def __init__(self, start: datetime, step: timedelta = timedelta(0)) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._step = step
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            current = self._now
            self._now = current + self._step
            return current

    def set(self, moment: datetime) -> None:
        with self._lock:
            moment = moment.astimezone(UTC)
            if moment < self._now:
                raise ValueError("the clock never goes backwards")
            self._now = moment


IdFactory = Callable[[], str]


def random_ids() -> str:
    return str(uuid.uuid4())


class SeededIds:
    """Deterministic UUIDs (version 4 layout) for reproducible demo data and tests."""

    def __init__(self, seed: int) -> None:
        import random

        self._random = random.Random(seed)  # noqa: S311 - ids, not secrets
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._random.getrandbits(128), version=4))


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a Z: one spelling, so canonical bytes are stable."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # The same text as the strftime above (every event is sealed with one), at a fraction of
    # its cost: isoformat writes four-digit years and always six digits of microseconds here.
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


__all__ = [
    "Clock",
    "IdFactory",
    "SeededIds",
    "SteppingClock",
    "SystemClock",
    "format_timestamp",
    "parse_timestamp",
    "random_ids",
    "timedelta",
]
