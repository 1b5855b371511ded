"""Audit bundles: everything an auditor needs to check the log offline, and nothing else.

Layout (CONTRACT.md)::

    entries.jsonl        one canonical envelope per line, in leaf order, byte for byte as hashed
    checkpoint           the latest signed checkpoint (covers every entry)
    checkpoints/<size>   earlier checkpoints kept by the server (the latest plus one per day)
    key.vkey             the verifier key
    tile/<L>/<N>[.p/<W>] the tree's hash tiles (C2SP tlog-tiles; ``ledger.tiles.TILE_FOLDER``)
    rollups.json         the published roll-ups with the tree size they were computed at
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from ledger.database import log_leaves, log_subtrees, subtree_key
from ledger.errors import LedgerError
from ledger.log import SignedCheckpoint, TransparencyLog
from ledger.tiles import TILE_HEIGHT, tiles_for_tree

ENTRIES = "entries.jsonl"
CHECKPOINT = "checkpoint"
CHECKPOINTS = "checkpoints"
KEY = "key.vkey"
ROLLUPS = "rollups.json"


class BundleError(LedgerError):
    """The bundle cannot be written (target not empty, I/O failure)."""

    code = "bundle_error"


@dataclass(frozen=True, slots=True)
class ExportSummary:
    directory: str
    entries: int
    tree_size: int
    checkpoints: int
    tiles: int
    rollups: bool


class _TileHashes:
    """The subtree hashes tiles are made of (Merkle levels 0, 8, 16, …), loaded in bulk."""

    def __init__(self, log: TransparencyLog, size: int) -> None:
        self.levels: dict[int, dict[int, bytes]] = {}
        with log.engine.connect() as connection:
            rows = connection.execute(
                select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash)
                .where(log_leaves.c.leaf_index < size)
                .order_by(log_leaves.c.leaf_index)
            )
            self.levels[0] = {int(r.leaf_index): bytes(r.leaf_hash) for r in rows}
            level = TILE_HEIGHT
            while size >> level:
                first = subtree_key(level, 0)
                rows = connection.execute(
                    select(log_subtrees.c.node, log_subtrees.c.hash).where(
                        log_subtrees.c.node >= first,
                        log_subtrees.c.node < first + (size >> level),
                    )
                )
                self.levels[level] = {int(r.node) - first: bytes(r.hash) for r in rows}
                level += TILE_HEIGHT

    def __call__(self, level: int, index: int) -> bytes:
        try:
            return self.levels[level][index]
        except KeyError as error:
            raise BundleError(f"the log has no hash for subtree ({level}, {index})") from error


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def export_bundle(
    log: TransparencyLog,
    directory: Path,
    *,
    vkey: str,
    rollups: Callable[[int], bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the audit bundle of the whole log into ``directory`` (new or empty).

    The bundle is written beside the target and renamed into place, so a reader never sees a
    half-written bundle. ``rollups(size)`` returns the roll-ups document computed at that size.
    """
    directory = directory.resolve()
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BundleError(f"{directory} exists and is not an empty directory")
    latest: SignedCheckpoint = log.sign(wait=True)
    size = latest.size
    staging = directory.with_name(f".{directory.name}.partial-{os.getpid()}")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        written = 0
        with open(staging / ENTRIES, "wb") as handle:
            for raw in log.entries(size):
                handle.write(raw)
                handle.write(b"\n")
                written += 1
                if progress is not None and written % 10_000 == 0:
                    progress(written, size)
        _write(staging / CHECKPOINT, latest.note.encode())
        kept = log.bundle_checkpoints()
        for checkpoint in kept:
            _write(staging / CHECKPOINTS / str(checkpoint.size), checkpoint.note.encode())
        _write(staging / KEY, (vkey + "\n").encode())
        tiles = 0
        for path, content in tiles_for_tree(size, _TileHashes(log, size)):
            _write(staging / path, content)
            tiles += 1
        if rollups is not None:
            _write(staging / ROLLUPS, rollups(size))
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if progress is not None:
        progress(size, size)
    return ExportSummary(
        directory=str(directory),
        entries=written,
        tree_size=size,
        checkpoints=len(kept),
        tiles=tiles,
        rollups=rollups is not None,
    )
