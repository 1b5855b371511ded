"""Tampering with the live event store (SQLite and PostgreSQL) after the log signed it.

Someone with database access rewrites or deletes a stored event with plain SQL. The log keeps
the leaf hashes it signed, an export copies what the store holds now, and the verifier names
the entry that no longer matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text, update

from api.bootstrap import Services, bootstrap
from api.demo import demo_clock, load_demo
from ledger.bundle import export_bundle
from ledger.clock import SeededIds
from ledger.database import log_leaves
from ledger.log import LogRewritten
from ledger.settings import LedgerSettings
from ledger.verify import Finding, verify_bundle
from ledger.write_path import WriteMode

_MICROSECOND_DIGIT = re.compile(rb'"recorded_at":"[0-9T:.-]+([0-9])Z"')


@pytest.fixture
def demo(settings: LedgerSettings) -> Iterator[Services]:
    with bootstrap(
        settings, clock=demo_clock(), ids=SeededIds(5), write_mode=WriteMode.BULK_LOAD
    ) as services:
        load_demo(services, pledges=30, seed=5, today=date(2025, 6, 1))
        yield services


def stored_entries(services: Services) -> list[tuple[int, bytes]]:
    """(notification id, envelope) of every logged event, in leaf order."""
    size = services.log.tree_size()
    return [
        (leaf.notification_id, raw)
        for leaf, raw in zip(services.log.leaves(0, size), services.log.entries(size), strict=True)
    ]


def event_id(raw: bytes) -> str:
    value = orjson.loads(raw)["event_id"]
    assert isinstance(value, str)
    return value


def id_column(services: Services) -> str:
    return "rowid" if services.settings.backend == "sqlite" else "notification_id"


def rewrite_row(services: Services, notification_id: int, state: bytes) -> None:
    table, column = services.store.events_table, id_column(services)
    with services.engine.begin() as connection:
        updated = connection.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :id"),
            {"state": state, "id": notification_id},
        )
        assert updated.rowcount == 1


def delete_row(services: Services, notification_id: int) -> None:
    table, column = services.store.events_table, id_column(services)
    with services.engine.begin() as connection:
        deleted = connection.execute(
            text(f"DELETE FROM {table} WHERE {column} = :id"), {"id": notification_id}
        )
        assert deleted.rowcount == 1


def export_and_verify(services: Services, directory: Path) -> Finding | None:
    export_bundle(services.log, directory, vkey=services.log.signer.vkey)
    return verify_bundle(directory, trusted_vkey=services.log.signer.vkey).failure


def with_changed_digit(raw: bytes) -> bytes:
    match = _MICROSECOND_DIGIT.search(raw)
    assert match is not None
    at = match.start(1)
    return raw[:at] + str((int(raw[at : at + 1]) + 1) % 10).encode() + raw[at + 1 :]


def test_untouched_store_exports_a_bundle_that_verifies(demo: Services, tmp_path: Path) -> None:
    assert export_and_verify(demo, tmp_path / "bundle") is None


def test_row_rewritten_with_sql_is_named_by_leaf_index_and_event_id(
    demo: Services, tmp_path: Path
) -> None:
    entries = stored_entries(demo)
    index = len(entries) // 2
    notification_id, raw = entries[index]
    rewrite_row(demo, notification_id, with_changed_digit(raw))

    finding = export_and_verify(demo, tmp_path / "bundle")

    assert finding is not None
    assert finding.where == f"entry {index} (event {event_id(raw)})"


def test_row_rewritten_into_non_canonical_json_is_named_by_leaf_index(
    demo: Services, tmp_path: Path
) -> None:
    entries = stored_entries(demo)
    index = 7
    notification_id, raw = entries[index]
    rewrite_row(demo, notification_id, raw.replace(b",", b", ", 1))

    finding = export_and_verify(demo, tmp_path / "bundle")

    assert finding is not None
    assert finding.where == f"entry {index}"
    assert "not a canonical envelope" in finding.problem


def test_row_deleted_with_sql_is_named_at_its_leaf_index(demo: Services, tmp_path: Path) -> None:
    entries = stored_entries(demo)
    streams = [orjson.loads(raw)["stream_id"] for _, raw in entries]
    # An event that ends its stream, so only the signed log (not the stream versions) knows.
    index = next(
        n for n in range(len(entries) // 3, len(entries) - 1) if streams[n] not in streams[n + 1 :]
    )
    delete_row(demo, entries[index][0])

    finding = export_and_verify(demo, tmp_path / "bundle")

    assert finding is not None
    assert finding.where == f"entry {index} (event {event_id(entries[index + 1][1])})"
    assert f"holds this entry at leaf {index + 1}" in finding.problem
    assert "missing (deleted)" in finding.problem


def test_row_deleted_with_sql_is_named_by_the_audit_with_the_event_expected_there(
    demo: Services,
) -> None:
    entries = stored_entries(demo)
    index = len(entries) // 2
    delete_row(demo, entries[index][0])

    with pytest.raises(LogRewritten) as raised:
        demo.log.audit()

    assert raised.value.field == f"leaf {index} (event {event_id(entries[index][1])})"


def test_leaf_hash_forged_with_sql_is_named_by_leaf_and_event_in_the_bundle(
    demo: Services, tmp_path: Path
) -> None:
    entries = stored_entries(demo)
    with demo.engine.begin() as connection:
        connection.execute(
            update(log_leaves).where(log_leaves.c.leaf_index == 41).values(leaf_hash=b"\x66" * 32)
        )

    finding = export_and_verify(demo, tmp_path / "bundle")

    assert finding is not None
    assert finding.where.startswith("tile/0/000")  # the demo's one leaf tile, full or partial
    assert f"leaf 41 (event {event_id(entries[41][1])})" in finding.problem


def test_last_row_deleted_with_sql_is_named_as_missing(demo: Services, tmp_path: Path) -> None:
    entries = stored_entries(demo)
    delete_row(demo, entries[-1][0])

    finding = export_and_verify(demo, tmp_path / "bundle")

    assert finding is not None
    assert finding.where == f"entry {len(entries) - 1}"
    assert "missing" in finding.problem
