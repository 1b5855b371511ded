"""Switching a SQLite file to WAL waits for the file when it is locked, up to the lock timeout
(processes starting together on a fresh file failed now and then: tests/integration/
test_startup_race.py)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from ledger.database import _wal


class Cursor:
    """Answers "database is locked" ``locked`` times, then switches."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked = locked
        self.error = error
        self.calls = 0

    def execute(self, statement: str) -> None:
        assert statement == "PRAGMA journal_mode=WAL"
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.error)


def test_a_locked_file_is_switched_once_it_is_free() -> None:
    cursor = Cursor(locked=3)
    _wal(cursor, timeout=5)  # type: ignore[arg-type]
    assert cursor.calls == 4


def test_a_file_locked_past_the_timeout_is_an_error() -> None:
    cursor = Cursor(locked=10**6)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _wal(cursor, timeout=0.2)  # type: ignore[arg-type]
    assert 0.2 <= time.monotonic() - started < 2


def test_any_other_error_is_not_tried_again() -> None:
    cursor = Cursor(locked=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _wal(cursor, timeout=5)  # type: ignore[arg-type]
    assert cursor.calls == 1
