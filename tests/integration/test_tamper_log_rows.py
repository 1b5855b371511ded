"""A hostile operator edits the log's own tables with SQL (SQLite and PostgreSQL).

The log must not sign from a stored hash it has not checked (a forged subtree or leaf row stops
signing with an alarm naming the row), must not use a checkpoint row it did not sign, and its
live audit must name every stored row that no longer matches the stored events.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from api.bootstrap import Services, bootstrap
from ledger.bundle import CHECKPOINTS, export_bundle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.database import log_checkpoints, log_leaves, log_subtrees, subtree_key
from ledger.log import ForgedCheckpoint, LogRewritten
from ledger.merkle import InMemoryTree
from ledger.note import generate_signer
from ledger.settings import LedgerSettings
from ledger.verify import verify_bundle
from tests.integration.synthetic_log import synthetic_envelopes

STREAMS = 5
FORGED = b"\x66" * 32


def append(services: Services, first: int, count: int) -> None:
    services.store.append(synthetic_envelopes(first, count, streams=STREAMS))


def forge_subtree(services: Services, level: int, index: int) -> None:
    with services.engine.begin() as connection:
        changed = connection.execute(
            update(log_subtrees)
            .where(log_subtrees.c.node == subtree_key(level, index))
            .values(hash=FORGED)
        )
        assert changed.rowcount == 1


def forge_leaf(services: Services, index: int) -> None:
    with services.engine.begin() as connection:
        changed = connection.execute(
            update(log_leaves).where(log_leaves.c.leaf_index == index).values(leaf_hash=FORGED)
        )
        assert changed.rowcount == 1


def checkpoint_sizes(services: Services) -> list[int]:
    with services.engine.connect() as connection:
        return [
            int(size)
            for size in connection.execute(
                select(log_checkpoints.c.tree_size).order_by(log_checkpoints.c.tree_size)
            ).scalars()
        ]


def insert_checkpoint_row(services: Services, size: int, note: str, root: bytes = FORGED) -> None:
    with services.engine.begin() as connection:
        connection.execute(
            insert(log_checkpoints).values(
                tree_size=size, root_hash=root, signed_at="2026-03-01T09:00:00.000000Z", note=note
            )
        )


def true_root(services: Services, size: int) -> bytes:
    stored = list(services.store.iter_notifications())[:size]
    return InMemoryTree(hashlib.sha256(b"\x00" + s.raw).digest() for s in stored).root()


def event_id_of_leaf(services: Services, index: int) -> str:
    (leaf,) = services.log.leaves(index, index + 1)
    return leaf.event_id


# --- item 1: forged subtree and leaf rows -------------------------------------------------------


def test_forged_level_one_row_on_the_right_edge_stops_signing_naming_the_row(
    services: Services,
) -> None:
    append(services, 0, 6)
    services.log.sign(force=True)  # size 6: right edge (2, 0) and (1, 2)
    forge_subtree(services, 1, 2)
    append(services, 6, 1)

    with pytest.raises(LogRewritten) as raised:
        services.log.sign(force=True)

    assert raised.value.field == "subtree (level 1, index 2)"
    assert checkpoint_sizes(services) == [6]


def test_forged_frontier_row_at_level_ten_stops_signing_naming_the_row(
    services: Services,
) -> None:
    append(services, 0, 1100)
    services.log.sign(force=True)
    forge_subtree(services, 10, 0)
    append(services, 1100, 1)

    with pytest.raises(LogRewritten) as raised:
        services.log.sign(force=True)

    assert raised.value.field == "subtree (level 10, index 0)"
    assert checkpoint_sizes(services) == [1100]


def test_forged_row_integrated_but_not_yet_signed_stops_signing_naming_the_row(
    services: Services,
) -> None:
    append(services, 0, 4)
    services.log.sign(force=True)
    append(services, 4, 4)
    services.log.integrate()
    forge_subtree(services, 1, 2)

    with pytest.raises(LogRewritten) as raised:
        services.log.sign(force=True)

    assert raised.value.field == "subtree (level 1, index 2)"
    assert checkpoint_sizes(services) == [4]


def test_forged_leaf_row_not_yet_signed_stops_signing_naming_leaf_and_event(
    services: Services,
) -> None:
    append(services, 0, 4)
    services.log.sign(force=True)
    append(services, 4, 3)
    services.log.integrate()
    forge_leaf(services, 5)

    with pytest.raises(LogRewritten) as raised:
        services.log.sign(force=True)

    assert raised.value.field == f"leaf 5 (event {event_id_of_leaf(services, 5)})"
    assert checkpoint_sizes(services) == [4]


def test_restarted_integrator_refuses_to_extend_from_a_forged_frontier_row(
    services: Services, settings: LedgerSettings
) -> None:
    append(services, 0, 6)
    services.log.sign(force=True)
    forge_subtree(services, 1, 2)
    append(services, 6, 2)

    with bootstrap(settings) as restarted, pytest.raises(LogRewritten) as raised:
        restarted.log.integrate()

    assert raised.value.field == "subtree (level 1, index 2)"
    assert services.log.tree_size() == 6


def test_signing_after_the_forged_row_is_restored_signs_the_true_root(
    services: Services,
) -> None:
    append(services, 0, 6)
    services.log.sign(force=True)
    with services.engine.connect() as connection:
        genuine = connection.execute(
            select(log_subtrees.c.hash).where(log_subtrees.c.node == subtree_key(1, 2))
        ).scalar_one()
    forge_subtree(services, 1, 2)
    append(services, 6, 1)
    with pytest.raises(LogRewritten):
        services.log.sign(force=True)
    with services.engine.begin() as connection:
        connection.execute(
            update(log_subtrees)
            .where(log_subtrees.c.node == subtree_key(1, 2))
            .values(hash=genuine)
        )

    signed = services.log.sign(force=True)

    assert (signed.size, signed.root) == (7, true_root(services, 7))


def test_audit_names_a_forged_subtree_row_off_the_right_edge(services: Services) -> None:
    append(services, 0, 8)
    services.log.sign(force=True)
    forge_subtree(services, 1, 1)

    with pytest.raises(LogRewritten) as raised:
        services.log.audit()

    assert raised.value.field == "subtree (level 1, index 1)"


def test_audit_names_a_missing_subtree_row(services: Services) -> None:
    append(services, 0, 8)
    services.log.sign(force=True)
    with services.engine.begin() as connection:
        connection.execute(delete(log_subtrees).where(log_subtrees.c.node == subtree_key(2, 1)))

    with pytest.raises(LogRewritten) as raised:
        services.log.audit()

    assert raised.value.field == "subtree (level 2, index 1)"
    assert "no stored hash" in raised.value.message


def test_audit_names_a_forged_leaf_row_by_index_and_event(services: Services) -> None:
    append(services, 0, 8)
    services.log.sign(force=True)
    forge_leaf(services, 3)

    with pytest.raises(LogRewritten) as raised:
        services.log.audit()

    assert raised.value.field == f"leaf 3 (event {event_id_of_leaf(services, 3)})"


def test_audit_of_an_untouched_log_passes(services: Services) -> None:
    append(services, 0, 300)
    services.log.sign(force=True)

    assert services.log.audit() == 300


# --- item 6: deleted and inserted events named by leaf and expected event ----------------------


def events_column(services: Services) -> str:
    return "rowid" if services.settings.backend == "sqlite" else "notification_id"


def test_audit_names_a_deleted_event_by_its_leaf_and_the_event_expected_there(
    services: Services,
) -> None:
    append(services, 0, 8)
    services.log.sign(force=True)
    (leaf,) = services.log.leaves(4, 5)
    table = services.store.events_table
    with services.engine.begin() as connection:
        connection.execute(
            text(f"DELETE FROM {table} WHERE {events_column(services)} = :id"),
            {"id": leaf.notification_id},
        )

    with pytest.raises(LogRewritten) as raised:
        services.log.audit()

    assert raised.value.field == f"leaf 4 (event {leaf.event_id})"
    assert "deleted" in raised.value.message


def test_audit_names_an_edited_event_by_its_leaf_and_event(services: Services) -> None:
    append(services, 0, 8)
    services.log.sign(force=True)
    (leaf,) = services.log.leaves(2, 3)
    table = services.store.events_table
    with services.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET state = :state WHERE {events_column(services)} = :id"),
            {"state": b'{"event_id":"x"}', "id": leaf.notification_id},
        )

    with pytest.raises(LogRewritten) as raised:
        services.log.audit()

    assert raised.value.field == f"leaf 2 (event {leaf.event_id})"


# --- item 2: forged checkpoint rows -------------------------------------------------------------

GARBAGE_NOTE = "test.pledge-ledger/log\n999999999\nAAAA\n\n— garbage\n"


def test_forged_checkpoint_beyond_the_tree_is_not_served_as_the_latest(
    services: Services,
) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    insert_checkpoint_row(services, 999_999_999, GARBAGE_NOTE)

    latest = services.log.latest_checkpoint()

    assert latest is not None
    assert latest.size == 5


def test_latest_checkpoint_is_found_below_many_forged_rows(services: Services) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    for size in range(100, 140):
        insert_checkpoint_row(services, size, GARBAGE_NOTE)

    latest = services.log.latest_checkpoint()

    assert latest is not None
    assert latest.size == 5


def test_forged_checkpoint_beyond_the_tree_does_not_stall_signing(services: Services) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    insert_checkpoint_row(services, 999_999_999, GARBAGE_NOTE)
    append(services, 5, 3)

    signed = services.log.sign(force=True)

    assert (signed.size, signed.root) == (8, true_root(services, 8))


def test_forged_checkpoint_is_named_by_the_audit(services: Services) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    insert_checkpoint_row(services, 999_999_999, GARBAGE_NOTE)

    with pytest.raises(ForgedCheckpoint) as raised:
        services.log.audit()

    assert raised.value.field == "checkpoint row of size 999999999"


def test_checkpoint_signed_by_another_key_is_rejected_naming_its_size(
    services: Services,
) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    append(services, 5, 2)
    services.log.integrate()
    impostor = generate_signer("test.pledge-ledger/log")
    root = true_root(services, 7)
    note = sign_checkpoint(Checkpoint("test.pledge-ledger/log", 7, root), impostor).decode()
    insert_checkpoint_row(services, 7, note, root)

    rejected = services.log.rejected_checkpoints()

    assert [r.size for r in rejected] == [7]
    assert "not signed by this log's key" in rejected[0].reason
    assert services.log.latest_checkpoint() == services.log.checkpoints()[-1]
    assert services.log.checkpoints()[-1].size == 5


def test_genuine_note_copied_to_another_size_is_rejected(services: Services) -> None:
    append(services, 0, 5)
    genuine = services.log.sign(force=True)
    append(services, 5, 2)
    services.log.integrate()
    insert_checkpoint_row(services, 7, genuine.note, genuine.root)

    (rejected,) = services.log.rejected_checkpoints()

    assert rejected.size == 7
    assert "for size 5" in rejected.reason


def test_forged_checkpoint_at_a_size_the_tree_reaches_is_replaced_by_a_signed_one(
    services: Services,
) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    insert_checkpoint_row(services, 8, GARBAGE_NOTE)
    append(services, 5, 3)

    signed = services.log.sign(force=True)

    assert (signed.size, signed.root) == (8, true_root(services, 8))
    assert services.log.rejected_checkpoints() == []
    assert [c.size for c in services.log.checkpoints()] == [5, 8]


def test_forged_checkpoint_is_never_exported(services: Services, tmp_path: Path) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    insert_checkpoint_row(services, 3, GARBAGE_NOTE)
    insert_checkpoint_row(services, 999_999_999, GARBAGE_NOTE)

    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)

    assert sorted(p.name for p in (tmp_path / "bundle" / CHECKPOINTS).iterdir()) == ["5"]
    assert verify_bundle(tmp_path / "bundle", trusted_vkey=services.log.signer.vkey).ok


def test_checkpoint_row_with_its_root_column_edited_is_rejected(services: Services) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    with services.engine.begin() as connection:
        connection.execute(update(log_checkpoints).values(root_hash=FORGED))

    (rejected,) = services.log.rejected_checkpoints()

    assert rejected.size == 5
    with services.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(log_checkpoints)).scalar() == 1


def test_a_receipt_never_carries_a_forged_checkpoint_row(services: Services) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    append(services, 5, 3)
    signed = services.log.sign(force=True)
    event_id = event_id_of_leaf(services, 5)
    with services.engine.begin() as connection:  # a smaller row that would cover leaf 5
        connection.execute(delete(log_checkpoints).where(log_checkpoints.c.tree_size == 8))
    insert_checkpoint_row(services, 6, GARBAGE_NOTE)
    insert_checkpoint_row(services, 8, signed.note, signed.root)  # the genuine row back

    receipt = services.log.receipt(event_id)

    assert receipt.checkpoint == signed.note
    assert receipt.tree_size == 8


def test_the_smallest_covering_checkpoint_is_found_above_many_forged_rows(
    services: Services,
) -> None:
    append(services, 0, 5)
    services.log.sign(force=True)
    for size in range(1, 5):
        insert_checkpoint_row(services, size, GARBAGE_NOTE)

    covering = services.log.checkpoint_covering(1)

    assert covering is not None
    assert covering.size == 5
