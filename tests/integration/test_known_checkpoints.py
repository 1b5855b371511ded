"""An auditor holds the log to what it signed before (SQLite and PostgreSQL).

A hostile operator drops the last events with their leaves, subtrees and checkpoints, and may
append other events in their place; the log signs again and exports a bundle that holds
together. Only a checkpoint the auditor kept from an earlier verification can tell.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update

from api.bootstrap import Services
from ledger.bundle import export_bundle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.database import (
    log_checkpoints,
    log_leaves,
    log_position,
    log_subtrees,
    subtree_position,
)
from ledger.merkle import EMPTY_ROOT
from ledger.note import generate_signer
from ledger.verify import VerificationResult, verify_bundle
from tests.integration.synthetic_log import synthetic_envelope, synthetic_envelopes

STREAMS = 5


def append(services: Services, first: int, count: int) -> None:
    services.store.append(synthetic_envelopes(first, count, streams=STREAMS))


def truncate_log(services: Services, size: int, *, drop_checkpoints: bool = True) -> None:
    """Drop every event, leaf, subtree and checkpoint beyond ``size``, as an operator could."""
    table = services.store.events_table
    column = "rowid" if services.settings.backend == "sqlite" else "notification_id"
    with services.engine.begin() as connection:
        last = connection.execute(
            select(log_leaves.c.notification_id).where(log_leaves.c.leaf_index == size - 1)
        ).scalar_one()
        connection.execute(text(f"DELETE FROM {table} WHERE {column} > :last"), {"last": last})
        connection.execute(delete(log_leaves).where(log_leaves.c.leaf_index >= size))
        nodes = connection.execute(select(log_subtrees.c.node)).scalars().all()
        beyond = [
            node
            for node in nodes
            if (subtree_position(node)[1] + 1) << subtree_position(node)[0] > size
        ]
        connection.execute(delete(log_subtrees).where(log_subtrees.c.node.in_(beyond)))
        if drop_checkpoints:
            connection.execute(delete(log_checkpoints).where(log_checkpoints.c.tree_size > size))
        connection.execute(update(log_position).values(notification_id=last, tree_size=size))


def keep(services: Services, directory: Path) -> Path:
    """The checkpoint an auditor keeps after verifying: the latest, as a note file."""
    signed = services.log.sign(force=True)
    path = directory / f"known-{signed.size}"
    path.write_text(signed.note)
    return path


def verify(services: Services, directory: Path, *known: Path) -> VerificationResult:
    export_bundle(services.log, directory, vkey=services.log.signer.vkey)
    return verify_bundle(
        directory,
        trusted_vkey=services.log.signer.vkey,
        known_checkpoints=[(str(path), path.read_bytes()) for path in known],
    )


@pytest.fixture
def truncated(services: Services, tmp_path: Path) -> tuple[Services, Path]:
    """A log that signed 12 entries, then lost its last 4 and signed 8 again."""
    append(services, 0, 6)
    services.log.sign(force=True)
    append(services, 6, 6)
    known = keep(services, tmp_path)
    truncate_log(services, 8)
    services.log.sign(force=True)
    return services, known


def test_truncated_log_exports_a_bundle_that_verifies_on_its_own(
    truncated: tuple[Services, Path], tmp_path: Path
) -> None:
    services, _ = truncated

    assert verify(services, tmp_path / "bundle").ok


def test_truncated_log_fails_against_the_checkpoint_the_auditor_kept(
    truncated: tuple[Services, Path], tmp_path: Path
) -> None:
    services, known = truncated

    result = verify(services, tmp_path / "bundle", known)

    assert result.failure is not None
    assert result.failure.where == str(known)
    assert "truncated" in result.failure.problem


def test_log_whose_head_was_replaced_fails_against_the_checkpoint_the_auditor_kept(
    truncated: tuple[Services, Path], tmp_path: Path
) -> None:
    services, known = truncated
    # Well-formed events continuing the streams where the truncated log leaves them.
    services.store.append(
        [
            synthetic_envelope(1000 + n, streams=STREAMS, stream=n, version=version)
            for n, version in enumerate((3, 3, 3, 2))
        ]
    )
    services.log.sign(force=True)

    result = verify(services, tmp_path / "bundle", known)

    assert result.failure is not None
    assert result.failure.where == str(known)
    assert "contradicts" in result.failure.problem


def test_grown_log_verifies_against_every_checkpoint_the_auditor_kept(
    services: Services, tmp_path: Path
) -> None:
    append(services, 0, 3)
    first = keep(services, tmp_path)
    append(services, 3, 6)
    second = keep(services, tmp_path)
    append(services, 9, 4)
    services.log.sign(force=True)

    result = verify(services, tmp_path / "bundle", first, second)

    assert result.ok, result.failure
    assert result.known_checkpoints == [3, 9]


def test_known_checkpoint_at_the_bundle_size_verifies(services: Services, tmp_path: Path) -> None:
    append(services, 0, 7)
    known = keep(services, tmp_path)

    assert verify(services, tmp_path / "bundle", known).ok


def test_known_checkpoint_signed_by_another_key_is_named(
    services: Services, tmp_path: Path
) -> None:
    append(services, 0, 7)
    signed = services.log.sign(force=True)
    impostor = generate_signer(services.log.origin)
    path = tmp_path / "impostor"
    path.write_bytes(sign_checkpoint(Checkpoint(services.log.origin, 7, signed.root), impostor))

    result = verify(services, tmp_path / "bundle", path)

    assert result.failure is not None
    assert result.failure.where == str(path)
    assert "trusted key" in result.failure.problem


def test_known_checkpoint_of_the_empty_tree_with_a_root_is_refused(
    services: Services, tmp_path: Path
) -> None:
    append(services, 0, 2)
    services.log.sign(force=True)
    path = tmp_path / "empty"
    path.write_bytes(
        sign_checkpoint(Checkpoint(services.log.origin, 0, b"\x01" * 32), services.log.signer)
    )

    result = verify(services, tmp_path / "bundle", path)

    assert result.failure is not None
    assert result.failure.where == str(path)


def test_known_checkpoint_of_the_empty_tree_verifies(services: Services, tmp_path: Path) -> None:
    append(services, 0, 2)
    services.log.sign(force=True)
    path = tmp_path / "empty"
    path.write_bytes(
        sign_checkpoint(Checkpoint(services.log.origin, 0, EMPTY_ROOT), services.log.signer)
    )

    assert verify(services, tmp_path / "bundle", path).ok


def test_signed_checkpoint_left_beyond_a_truncated_tree_is_named_and_not_used(
    services: Services,
) -> None:
    append(services, 0, 6)
    services.log.sign(force=True)
    append(services, 6, 6)
    services.log.sign(force=True)
    truncate_log(services, 8, drop_checkpoints=False)

    rejected = services.log.rejected_checkpoints()
    latest = services.log.latest_checkpoint()

    assert [(r.size, "beyond the log's 8 entries" in r.reason) for r in rejected] == [(12, True)]
    assert latest is not None
    assert latest.size == 6
