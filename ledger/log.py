"""The transparency log: integrator, checkpoints, proofs and receipts over the event store.

A single integrator reads the event store's notification log in order and gives every envelope
the next gapless leaf index (notification ids may have gaps; leaf indices never do). In one
transaction per batch it stores the leaf hashes, every perfect subtree hash the batch completed,
and its position, so that a crash loses or repeats nothing and proofs cost O(log n) reads.
Only one integrator works at a time: a PostgreSQL advisory lock, or a file lock beside the
SQLite file.

Checkpoints are C2SP tlog-checkpoints in C2SP signed notes (Ed25519). The log never signs two
different roots for one size (the size is the checkpoints table's key, and a mismatch is an
alarm, not an update), and signs at most one checkpoint per configured interval: under load a
writer waits for the next one, as Rekor v2 does.

Whoever can write the database can edit these tables (ADR 0009), so the log trusts no stored row
it has not checked. A checkpoint row is used only after its note verifies with the log's own key,
its body equals the row, its size is within the tree and its root is the tree's root at that size
(:meth:`TransparencyLog.checkpoints`); a row that fails is named and ignored. Signing is anchored
in the latest such checkpoint: the stored right edge of its tree must fold to its signed root,
every leaf after it is hashed again from the stored event, every subtree row completed since is
recomputed and compared, and the new root is proven consistent with the anchor before it is
signed. An integrator that resumes (a new process, or after another one integrated) rebuilds
its right edge the same way, from the anchor and leaves hashed again, never from stored hashes
alone; within a process it extends the edge it computed itself. Any mismatch is a
:class:`LogRewritten` alarm naming the row, and nothing is integrated or signed.
:meth:`TransparencyLog.audit` checks every stored leaf, subtree and checkpoint row.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.selectable import ScalarSelect

from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.clock import Clock, format_timestamp, parse_timestamp
from ledger.database import (
    log_checkpoints,
    log_leaves,
    log_position,
    log_subtrees,
    subtree_key,
    subtree_position,
)
from ledger.errors import LedgerError
from ledger.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    CompactRange,
    GetSubtree,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    root_from_subtrees,
    verify_consistency,
)
from ledger.note import NoteError, Signer
from ledger.store import EventStore

T = TypeVar("T")

_POSITION = "integrator"
_PAGE = 5000

logger = logging.getLogger(__name__)


class LogError(LedgerError):
    """The log cannot answer (unknown event, size beyond the tree) or found itself inconsistent."""

    code = "log_error"


class LogRewritten(LogError):
    """The store no longer matches what the log already signed: someone rewrote history.

    ``field`` names the row at fault where one is known: ``leaf 41 (event <id>)``, a
    ``subtree (level 1, index 20)`` row, or the events table.
    """

    code = "log_rewritten"


class ForgedCheckpoint(LogError):
    """A stored checkpoint row the log did not sign, or that does not belong to this tree."""

    code = "forged_checkpoint"


@dataclass(frozen=True, slots=True)
class RejectedCheckpoint:
    """A checkpoint row that failed verification: named, never used, served or exported."""

    size: int
    reason: str

    def __str__(self) -> str:
        return f"checkpoint row of size {self.size}: {self.reason}"


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    size: int
    root: bytes
    signed_at: str
    note: str


@dataclass(frozen=True, slots=True)
class LeafRecord:
    leaf_index: int
    notification_id: int
    event_id: str
    stream_id: str
    stream_version: int
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an event is in the log: its leaf, a signed tree containing it, the path."""

    event_id: str
    stream_id: str
    stream_version: int
    leaf_index: int
    leaf_hash: bytes
    checkpoint: str
    tree_size: int
    inclusion_proof: tuple[bytes, ...]


class _RecordingSubtrees:
    """Learns which subtrees a proof needs (the proof's shape does not depend on hashes)."""

    def __init__(self) -> None:
        self.wanted: list[tuple[int, int]] = []

    def __call__(self, level: int, index: int) -> bytes:
        self.wanted.append((level, index))
        return EMPTY_ROOT


def head_columns() -> tuple[ScalarSelect[Any], ScalarSelect[Any]]:
    """The log's size and the size of its largest stored checkpoint row, as two scalar
    subqueries a caller can select beside others in one statement."""
    return (
        select(log_position.c.tree_size).where(log_position.c.name == _POSITION).scalar_subquery(),
        select(func.max(log_checkpoints.c.tree_size)).scalar_subquery(),
    )


class TransparencyLog:
    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        *,
        signer: Signer,
        origin: str,
        clock: Clock,
        checkpoint_interval: float = 1.0,
        lock_path: Path | None = None,
        schema: str | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.signer = signer
        self.origin = origin
        self.clock = clock
        self.checkpoint_interval = checkpoint_interval
        self._lock_path = lock_path
        self._lock_key = f"pledge-ledger integrator {schema or 'public'}"
        self._thread_lock = threading.Lock()
        self._signing_lock = threading.Lock()
        self._compact: CompactRange | None = None
        # The signed checkpoint (None: the empty tree) that ``_compact`` extends: the anchor it
        # was proven against when this process resumed, or the last checkpoint it signed itself.
        self._edge_anchor: SignedCheckpoint | None = None
        # The tree only grows: a size at or below one seen committed needs no query to check.
        self._known_size = 0
        # Checkpoint rows this process verified (signature, size, root), by their whole content:
        # a row edited since is a different value and is verified again.
        self._verified: set[SignedCheckpoint] = set()

    # --- integration ------------------------------------------------------------------------------

    @contextmanager
    def _exclusive(self) -> Iterator[Connection]:
        """A transaction that holds the one-integrator lock until after it commits."""
        with self._thread_lock, self._file_lock(), self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": self._lock_key},
                )
            yield connection

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self._lock_path is None or self.engine.dialect.name == "postgresql":
            yield
            return
        fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def integrate(self, *, batch_size: int = 5000) -> int:
        """Give every stored envelope not yet in the log its leaf; answer the tree size."""
        while True:
            with self._exclusive() as connection:
                row = connection.execute(
                    select(log_position.c.notification_id, log_position.c.tree_size).where(
                        log_position.c.name == _POSITION
                    )
                ).first()
                position, size = (row.notification_id, row.tree_size) if row else (0, 0)
                page = self.store.notifications_on(connection, after=position, limit=batch_size)
                if not page:
                    return int(size)
                compact = self._compact
                anchor = self._edge_anchor
                if compact is None or compact.size != size:
                    # Resume from the last signed tree, not from stored hashes nobody checked.
                    anchor = self._anchor_on(connection, size)
                    compact = _anchored_edge(connection, self.store, anchor)
                    _extend_checked(connection, self.store, compact, size, set())
                leaves = []
                subtrees = []
                for stored in page:
                    leaf = hashlib.sha256(LEAF_PREFIX + stored.raw).digest()
                    index = compact.size
                    for level, idx, value in compact.append(leaf)[1:]:
                        subtrees.append({"node": subtree_key(level, idx), "hash": value})
                    leaves.append(
                        {
                            "leaf_index": index,
                            "notification_id": stored.notification_id,
                            "event_id": _event_id(stored.raw),
                            "stream_id": stored.stream_id,
                            "stream_version": stored.stream_version,
                            "leaf_hash": leaf,
                        }
                    )
                _refuse_repeated_event_ids(connection, leaves)
                connection.execute(insert(log_leaves), leaves)
                if subtrees:
                    connection.execute(insert(log_subtrees), subtrees)
                values = {"notification_id": page[-1].notification_id, "tree_size": compact.size}
                if row is None:
                    connection.execute(insert(log_position).values(name=_POSITION, **values))
                else:
                    connection.execute(
                        update(log_position).where(log_position.c.name == _POSITION).values(values)
                    )
            # Only trust the in-memory edge once its rows are committed.
            self._compact = compact
            self._edge_anchor = anchor
            self._known_size = max(self._known_size, compact.size)

    def _anchor_on(self, connection: Connection, size: int) -> SignedCheckpoint | None:
        """The largest checkpoint row within ``size`` that this log signed, read on ``connection``.

        Only its signature and body are checked here: its root is what the caller checks the
        stored tree against.
        """
        below = size + 1
        while True:
            rows = connection.execute(
                select(log_checkpoints)
                .where(log_checkpoints.c.tree_size < below)
                .order_by(log_checkpoints.c.tree_size.desc())
                .limit(16)
            ).all()
            if not rows:
                return None
            for row in rows:
                checkpoint = SignedCheckpoint(
                    int(row.tree_size), bytes(row.root_hash), row.signed_at, row.note
                )
                if checkpoint in self._verified or self._signed_by_this_log(checkpoint):
                    return checkpoint
            below = int(rows[-1].tree_size)

    def _signed_by_this_log(self, checkpoint: SignedCheckpoint) -> bool:
        try:
            body = open_checkpoint(
                checkpoint.note.encode(), self.signer.verifier, expected_origin=self.origin
            )
        except (NoteError, UnicodeError):
            return False
        return body.size == checkpoint.size and body.root == checkpoint.root

    def head(self) -> tuple[int, int]:
        """The tree size and the size of the largest stored checkpoint row, in one read: what
        changes when the log grows or signs (a cache of anything shown from the log keys on it;
        the row is not verified here, whoever shows a checkpoint verifies it)."""
        with self.engine.connect() as connection:
            size, signed = connection.execute(select(*head_columns())).one()
        self._known_size = max(self._known_size, int(size or 0))
        return int(size or 0), int(signed or 0)

    def tree_size(self) -> int:
        with self.engine.connect() as connection:
            size = int(
                connection.execute(
                    select(log_position.c.tree_size).where(log_position.c.name == _POSITION)
                ).scalar()
                or 0
            )
        self._known_size = max(self._known_size, size)
        return size

    def integrated_position(self) -> int:
        """The store's notification id up to which every event has its leaf (0: none yet)."""
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(log_position.c.notification_id).where(log_position.c.name == _POSITION)
                ).scalar()
                or 0
            )

    def _fetch_subtrees(
        self, connection: Connection, wanted: list[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        leaves = [idx for level, idx in wanted if level == 0]
        inner = [(level, idx) for level, idx in wanted if level > 0]
        if leaves:
            rows = connection.execute(
                select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash).where(
                    log_leaves.c.leaf_index.in_(leaves)
                )
            )
            found.update({(0, int(r.leaf_index)): bytes(r.leaf_hash) for r in rows})
        if inner:
            rows = connection.execute(
                select(log_subtrees.c.node, log_subtrees.c.hash).where(
                    log_subtrees.c.node.in_([subtree_key(lv, ix) for lv, ix in inner])
                )
            )
            found.update({subtree_position(int(r.node)): bytes(r.hash) for r in rows})
        missing = [key for key in wanted if key not in found]
        if missing:
            raise LogError(f"the log has no stored hash for subtree(s) {missing[:3]}")
        return found

    def _with_subtrees(self, compute: Callable[[GetSubtree], T]) -> T:
        """Run a proof computation with all its subtree hashes fetched in two queries."""
        recorder = _RecordingSubtrees()
        compute(recorder)
        with self.engine.connect() as connection:
            found = self._fetch_subtrees(connection, recorder.wanted)
        return compute(lambda level, index: found[(level, index)])

    def _check_size(self, size: int) -> None:
        if 0 <= size <= self._known_size:
            return
        current = self.tree_size()
        if not 0 <= size <= current:
            raise LogError(f"tree size {size} is beyond the log's {current} entries", field="size")

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return self._with_subtrees(lambda get: root_from_subtrees(size, get))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if not 0 <= index < size:
            raise LogError(f"leaf index {index} is not below tree size {size}", field="index")
        return self._with_subtrees(lambda get: inclusion_proof(index, size, get))

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        self._check_size(size2)
        if not 0 < size1 <= size2:
            raise LogError(f"no consistency proof from {size1} to {size2}", field="from")
        return self._with_subtrees(lambda get: consistency_proof(size1, size2, get))

    def leaf(self, event_id: str) -> LeafRecord:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(log_leaves).where(log_leaves.c.event_id == event_id)
            ).first()
        if row is None:
            raise LogError(f"event {event_id} is not in the log (yet)", field="event_id")
        return LeafRecord(
            int(row.leaf_index),
            int(row.notification_id),
            row.event_id,
            row.stream_id,
            int(row.stream_version),
            bytes(row.leaf_hash),
        )

    def leaves(self, start: int, end: int) -> list[LeafRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(log_leaves)
                .where(log_leaves.c.leaf_index >= start, log_leaves.c.leaf_index < end)
                .order_by(log_leaves.c.leaf_index)
            )
            return [
                LeafRecord(
                    int(r.leaf_index),
                    int(r.notification_id),
                    r.event_id,
                    r.stream_id,
                    int(r.stream_version),
                    bytes(r.leaf_hash),
                )
                for r in rows
            ]

    def entries(self, size: int) -> Iterator[bytes]:
        """The stored envelopes covered by the first ``size`` leaves, in notification order.

        This is a plain copy of what the event store holds now: if someone deleted, inserted or
        edited rows after they were logged, the copy shows it and the verifier names it.
        """
        if size <= 0:
            return
        last = self.leaves(size - 1, size)
        if not last:
            raise LogError(f"the log has fewer than {size} leaves", field="size")
        stop = last[0].notification_id
        for stored in self.store.iter_notifications(after=0, batch=5000):
            if stored.notification_id > stop:
                return
            yield stored.raw

    def entry_range(self, start: int, end: int) -> list[bytes]:
        """The stored envelopes of leaves ``start`` to ``end - 1``, as ``entries`` reads them.

        Like ``entries``, a plain copy of what the store holds between the two leaves'
        notifications, so a row deleted or edited after it was logged shows in the copy.
        """
        if not 0 <= start < end:
            raise LogError(f"no entries from {start} to {end}", field="start")
        if end > self._known_size and end > self.tree_size():
            raise LogError(f"end {end} is beyond the log's {self._known_size} entries", field="end")
        bounds = self.leaves(start, start + 1) + self.leaves(end - 1, end)
        if len(bounds) != 2:
            raise LogError(f"the log has fewer than {end} leaves", field="end")
        first, last = bounds[0].notification_id, bounds[1].notification_id
        return [
            stored.raw
            for stored in self.store.notifications(
                after=first - 1, limit=last - first + 1, stop=last
            )
        ]

    def tile_hashes(self, merkle_level: int, first: int, count: int) -> list[bytes]:
        """The hashes of ``count`` consecutive perfect subtrees of ``merkle_level`` (0: the
        leaves; else a multiple of 8, the levels the log stores), from index ``first``."""
        with self.engine.connect() as connection:
            if merkle_level == 0:
                rows = connection.execute(
                    select(log_leaves.c.leaf_index, log_leaves.c.leaf_hash)
                    .where(
                        log_leaves.c.leaf_index >= first, log_leaves.c.leaf_index < first + count
                    )
                    .order_by(log_leaves.c.leaf_index)
                ).all()
            else:
                low = subtree_key(merkle_level, first)
                rows = connection.execute(
                    select(log_subtrees.c.node, log_subtrees.c.hash)
                    .where(log_subtrees.c.node >= low, log_subtrees.c.node < low + count)
                    .order_by(log_subtrees.c.node)
                ).all()
        if len(rows) != count:
            raise LogError(
                f"the log has {len(rows)} of the {count} hashes of level {merkle_level} "
                f"from index {first}"
            )
        return [bytes(row[1]) for row in rows]

    # --- checkpoints ------------------------------------------------------------------------------

    def _checked_checkpoint(
        self, size: int, root: bytes, signed_at: str, note: str, tree_size: int
    ) -> SignedCheckpoint | RejectedCheckpoint:
        """The row as a checkpoint if the log signed it for this tree; else why not.

        A row whose note is the log's own valid signature but whose root the stored tree no
        longer gives is not a forged checkpoint but a rewritten tree: :class:`LogRewritten`.
        """
        signed = SignedCheckpoint(size, root, signed_at, note)
        if signed in self._verified and size <= tree_size:
            return signed
        try:
            body = open_checkpoint(note.encode(), self.signer.verifier, expected_origin=self.origin)
        except (NoteError, UnicodeError) as error:
            return RejectedCheckpoint(size, f"its note is not signed by this log's key ({error})")
        if body.size != size or body.root != root:
            return RejectedCheckpoint(
                size, f"its signed note is for size {body.size} with another root than the row's"
            )
        if size > tree_size:
            return RejectedCheckpoint(size, f"it is beyond the log's {tree_size} entries")
        if size and self.root(size) != root:
            with self.engine.connect() as connection:
                _audit_tree(connection, self.store, size)
            raise LogRewritten(
                f"the stored tree no longer gives the root the log signed for size {size}"
            )
        self._verified.add(signed)
        return signed

    def _checked_rows(
        self, rows: list[Row[Any]], tree_size: int
    ) -> Iterator[SignedCheckpoint | RejectedCheckpoint]:
        for row in rows:
            checked = self._checked_checkpoint(
                int(row.tree_size), bytes(row.root_hash), row.signed_at, row.note, tree_size
            )
            if isinstance(checked, RejectedCheckpoint):
                logger.warning("ignoring a %s", checked)
            yield checked

    def _checkpoint_rows(self) -> tuple[list[SignedCheckpoint], list[RejectedCheckpoint]]:
        with self.engine.connect() as connection:
            rows = list(
                connection.execute(select(log_checkpoints).order_by(log_checkpoints.c.tree_size))
            )
        valid: list[SignedCheckpoint] = []
        rejected: list[RejectedCheckpoint] = []
        for checked in self._checked_rows(rows, self.tree_size()):
            if isinstance(checked, RejectedCheckpoint):
                rejected.append(checked)
            else:
                valid.append(checked)
        return valid, rejected

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The largest stored checkpoint that verifies (forged rows are skipped and logged)."""
        return self._first_verified(descending=True, beyond=None)

    def checkpoint_covering(self, size: int) -> SignedCheckpoint | None:
        """The smallest stored checkpoint that verifies and whose tree holds ``size`` entries."""
        if size <= 0:
            return None
        return self._first_verified(descending=False, beyond=size - 1)

    def _first_verified(self, *, descending: bool, beyond: int | None) -> SignedCheckpoint | None:
        return next(self._verified_checkpoints(descending=descending, beyond=beyond), None)

    def _verified_checkpoints(
        self, *, descending: bool, beyond: int | None
    ) -> Iterator[SignedCheckpoint]:
        """The stored checkpoints that verify, by size from ``beyond`` (exclusive) up or down,
        read 16 rows at a time: a forged row is passed over (and logged), never used."""
        tree_size = self.tree_size()
        size = log_checkpoints.c.tree_size
        while True:
            query = select(log_checkpoints).order_by(size.desc() if descending else size).limit(16)
            if beyond is not None:
                query = query.where(size < beyond if descending else size > beyond)
            with self.engine.connect() as connection:
                rows = list(connection.execute(query))
            if not rows:
                return
            for checked in self._checked_rows(rows, tree_size):
                if isinstance(checked, SignedCheckpoint):
                    yield checked
            beyond = int(rows[-1].tree_size)

    def checkpoints(self) -> list[SignedCheckpoint]:
        """Every stored checkpoint that verifies, smallest first."""
        return self._checkpoint_rows()[0]

    def rejected_checkpoints(self) -> list[RejectedCheckpoint]:
        """Stored checkpoint rows that fail verification: evidence of tampering, never used."""
        return self._checkpoint_rows()[1]

    def audit(self) -> int:
        """Check every stored row the log relies on; answer the tree size checked.

        Every leaf row is hashed again from its stored event, every subtree row recomputed from
        the leaves, and every checkpoint row verified. Raises :class:`LogRewritten` naming the
        first leaf or subtree row that does not hold, :class:`ForgedCheckpoint` naming the first
        checkpoint row that does not verify.
        """
        size = self.tree_size()
        with self.engine.connect() as connection:
            _audit_tree(connection, self.store, size)
        rejected = self.rejected_checkpoints()
        if rejected:
            raise ForgedCheckpoint(
                rejected[0].reason, field=f"checkpoint row of size {rejected[0].size}"
            )
        return size

    def sign(
        self, *, wait: bool = True, force: bool = False, own_edge: bool = False
    ) -> SignedCheckpoint:
        """Integrate, then sign a checkpoint of the whole tree (batched: see module docstring).

        ``wait``: if the last checkpoint is younger than the interval, wait for the next slot
        (a writer waiting for its receipt); ``force`` signs at once (the ``checkpoint`` command).
        The root signed is proven consistent with the latest verified checkpoint from hashes
        this call recomputed: a stored row that disagrees raises :class:`LogRewritten`. If
        another process signed a larger tree meanwhile, that checkpoint is the answer.

        ``own_edge`` (a bulk load's commits, ADR 0018): when the latest checkpoint is the one
        this process's in-memory edge extends and that edge covers the whole tree, sign the
        edge's root. The edge holds only hashes this process computed from the stored events it
        read while integrating them, on top of that checkpoint, so the root is consistent with
        it by construction; reading and hashing those events a second time is left out. Stored
        rows edited since are still caught by every later signature without ``own_edge``, by
        ``audit`` and by ``verify``. Otherwise it signs as without ``own_edge``.
        """
        with self._signing_lock:
            size = self.integrate()
            latest = self.latest_checkpoint()
            if latest is not None and latest.size >= size:
                return latest
            if latest is not None and not force and self.checkpoint_interval > 0:
                age = (self.clock.now() - parse_timestamp(latest.signed_at)).total_seconds()
                if age < self.checkpoint_interval:
                    if not wait:
                        return latest
                    time.sleep(self.checkpoint_interval - age)
                    size = self.integrate()
            with self._thread_lock:
                edge = self._compact
                edge_root = edge.root() if edge is not None and edge.size == size else None
                extends_latest = self._edge_anchor == latest
            if own_edge and edge_root is not None and extends_latest:
                root = edge_root
            else:
                with self.engine.connect() as connection:
                    root = _proven_root(connection, self.store, latest, size)
            signed = self._store_checkpoint(size, root)
            with self._thread_lock:
                if signed.size == size and signed.root == edge_root and self._compact is edge:
                    self._edge_anchor = signed
            return signed

    def _store_checkpoint(self, size: int, root: bytes) -> SignedCheckpoint:
        signed_at = format_timestamp(self.clock.now())
        tree_size = self.tree_size()
        with self.engine.begin() as connection:
            existing = connection.execute(
                select(log_checkpoints).where(log_checkpoints.c.tree_size == size)
            ).first()
            if existing is not None:
                kept = self._checked_checkpoint(
                    size, bytes(existing.root_hash), existing.signed_at, existing.note, tree_size
                )
                if isinstance(kept, SignedCheckpoint):
                    if kept.root != root:
                        raise LogRewritten(
                            f"the log already signed a different root for size {size}: "
                            "refusing to sign a second history"
                        )
                    return kept
                # The log never signed this row, so replacing it signs no second root.
                logger.warning("replacing a %s", kept)
                connection.execute(
                    delete(log_checkpoints).where(log_checkpoints.c.tree_size == size)
                )
            beyond = connection.execute(
                select(log_checkpoints).where(log_checkpoints.c.tree_size > size)
            ).all()
            for row in sorted(beyond, key=lambda r: int(r.tree_size)):
                checked = self._checked_checkpoint(
                    int(row.tree_size), bytes(row.root_hash), row.signed_at, row.note, tree_size
                )
                if isinstance(checked, SignedCheckpoint):
                    # Another process signed a larger tree since this one read the latest: it
                    # includes every leaf of this one, and signing a smaller tree after it
                    # would make the checkpoint sequence go backwards.
                    return checked
            note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer).decode()
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(log_checkpoints).values(
                            tree_size=size, root_hash=root, signed_at=signed_at, note=note
                        )
                    )
            except IntegrityError:
                # Another process signed this size first: same root, or an alarm.
                existing = connection.execute(
                    select(
                        log_checkpoints.c.root_hash,
                        log_checkpoints.c.note,
                        log_checkpoints.c.signed_at,
                    ).where(log_checkpoints.c.tree_size == size)
                ).one()
                if bytes(existing.root_hash) != root:
                    raise LogRewritten(
                        f"the log already signed a different root for size {size}: refusing to "
                        "sign a second history"
                    ) from None
                return SignedCheckpoint(size, root, existing.signed_at, existing.note)
        signed = SignedCheckpoint(size, root, signed_at, note)
        self._verified.add(signed)
        return signed

    def receipt(self, event_id: str, *, wait: bool = True) -> Receipt:
        """The event's leaf, the first signed checkpoint that includes it, and the inclusion
        proof: asked again later (an idempotent retry), it is the same receipt."""
        (receipt,) = self.receipts([event_id], wait=wait)
        return receipt

    def receipts(self, event_ids: Sequence[str], *, wait: bool = True) -> list[Receipt]:
        """``receipt`` for many events at once (a group commit's): one query for their leaves,
        one walk of the verified checkpoints (signing one if none covers them yet), and one
        fetch of every subtree hash their proofs need."""
        if not event_ids:
            return []
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(log_leaves).where(log_leaves.c.event_id.in_(set(event_ids)))
            ).all()
        records = {
            row.event_id: LeafRecord(
                int(row.leaf_index),
                int(row.notification_id),
                row.event_id,
                row.stream_id,
                int(row.stream_version),
                bytes(row.leaf_hash),
            )
            for row in rows
        }
        for event_id in event_ids:
            if event_id not in records:
                raise LogError(f"event {event_id} is not in the log (yet)", field="event_id")
        wanted = sorted({records[e].leaf_index for e in event_ids})
        covering = self._covering(wanted)
        if covering is None:
            self.sign(wait=wait)
            covering = self._covering(wanted)
            if covering is None:
                raise LogError(
                    f"event {event_ids[0]} is not yet covered by a signed checkpoint",
                    field="event_id",
                )
        pairs = [(records[e].leaf_index, covering[records[e].leaf_index].size) for e in event_ids]
        for _, size in pairs:
            self._check_size(size)
        proofs = self._with_subtrees(
            lambda get: [inclusion_proof(index, size, get) for index, size in pairs]
        )
        receipts = []
        for event_id, proof in zip(event_ids, proofs, strict=True):
            record = records[event_id]
            checkpoint = covering[record.leaf_index]
            receipts.append(
                Receipt(
                    event_id=record.event_id,
                    stream_id=record.stream_id,
                    stream_version=record.stream_version,
                    leaf_index=record.leaf_index,
                    leaf_hash=record.leaf_hash,
                    checkpoint=checkpoint.note,
                    tree_size=checkpoint.size,
                    inclusion_proof=tuple(proof),
                )
            )
        return receipts

    def _covering(self, leaf_indices: list[int]) -> dict[int, SignedCheckpoint] | None:
        """For each leaf (ascending), the smallest verified checkpoint holding it; None when the
        last one is not covered yet."""
        found: dict[int, SignedCheckpoint] = {}
        pending = iter(leaf_indices)
        leaf = next(pending)
        for checkpoint in self._verified_checkpoints(descending=False, beyond=leaf_indices[0]):
            while checkpoint.size > leaf:
                found[leaf] = checkpoint
                following = next(pending, None)
                if following is None:
                    return found
                leaf = following
        return None

    def bundle_checkpoints(self) -> list[SignedCheckpoint]:
        """The bounded set a bundle carries: the latest, plus the last one of each UTC day."""
        by_day: dict[str, SignedCheckpoint] = {}
        every = self.checkpoints()
        for checkpoint in every:
            by_day[checkpoint.signed_at[:10]] = checkpoint
        chosen = {c.size: c for c in by_day.values()}
        if every:
            chosen[every[-1].size] = every[-1]
        return [chosen[size] for size in sorted(chosen)]


class GetSubtreeFromDb:
    """``get_subtree`` over the log tables (one query per call: for resuming the integrator)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __call__(self, level: int, index: int) -> bytes:
        if level == 0:
            value = self.connection.execute(
                select(log_leaves.c.leaf_hash).where(log_leaves.c.leaf_index == index)
            ).scalar()
        else:
            value = self.connection.execute(
                select(log_subtrees.c.hash).where(log_subtrees.c.node == subtree_key(level, index))
            ).scalar()
        if value is None:
            raise LogError(f"the log has no stored hash for subtree ({level}, {index})")
        return bytes(value)


def _refuse_repeated_event_ids(connection: Connection, leaves: list[dict[str, object]]) -> None:
    """An event id the log already holds (or twice in one batch) is an alarm, not a leaf.

    Checked before inserting (not by catching the unique index's error): a savepoint would not
    protect the batch's transaction on SQLite's legacy driver mode.
    """
    ids = [str(leaf["event_id"]) for leaf in leaves]
    seen: set[str] = set()
    repeated: set[str] = set()
    for event_id in ids:
        (repeated if event_id in seen else seen).add(event_id)
    repeated.update(
        connection.execute(
            select(log_leaves.c.event_id).where(log_leaves.c.event_id.in_(ids))
        ).scalars()
    )
    if repeated:
        first = next(leaf for leaf in leaves if leaf["event_id"] in repeated)
        raise LogRewritten(
            f"the stored event at notification {first['notification_id']} repeats event id "
            f"{first['event_id']}, which the log already holds: it will not integrate it"
        )


def _event_id(raw: bytes) -> str:
    try:
        event_id = orjson.loads(raw)["event_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise LogError("a stored event is not an envelope with an event_id") from error
    if not isinstance(event_id, str):
        raise LogError("a stored event's event_id is not a string")
    return event_id


# --- checking stored rows against recomputed hashes --------------------------------------------


def _leaf_name(index: int, event_id: str) -> str:
    return f"leaf {index} (event {event_id})"


def _subtree_name(level: int, index: int) -> str:
    return f"subtree (level {level}, index {index})"


def _rehashed_leaves(
    connection: Connection, store: EventStore, start: int, end: int
) -> Iterator[tuple[int, bytes]]:
    """``(index, leaf hash)`` of leaves ``start..end-1``, hashed again from the stored events.

    Each leaf row must name the next stored event, and its hash must be that event's: an event
    deleted, inserted among logged ones or edited, or a leaf row edited, raises
    :class:`LogRewritten` naming the leaf index and the event the log expects there.
    """
    after = 0
    if start > 0:
        previous = connection.execute(
            select(log_leaves.c.notification_id).where(log_leaves.c.leaf_index == start - 1)
        ).scalar()
        if previous is None:
            raise LogRewritten("the log has no row for this leaf", field=f"leaf {start - 1}")
        after = int(previous)
    index = start
    while index < end:
        rows = connection.execute(
            select(log_leaves)
            .where(
                log_leaves.c.leaf_index >= index, log_leaves.c.leaf_index < min(end, index + _PAGE)
            )
            .order_by(log_leaves.c.leaf_index)
        ).all()
        stop = int(rows[-1].notification_id) if rows else after
        events = store.notifications_on(connection, after=after, stop=stop, limit=len(rows) + 1)
        if not rows:
            raise LogRewritten("the log has no row for this leaf", field=f"leaf {index}")
        for position, row in enumerate(rows):
            if int(row.leaf_index) != index:
                raise LogRewritten("the log has no row for this leaf", field=f"leaf {index}")
            expected = int(row.notification_id)
            found = events[position] if position < len(events) else None
            if found is None or found.notification_id > expected:
                raise LogRewritten(
                    f"the events table no longer holds the event logged here (notification "
                    f"{expected}): it was deleted",
                    field=_leaf_name(index, row.event_id),
                )
            if found.notification_id < expected:
                raise LogRewritten(
                    f"the events table holds another event (notification "
                    f"{found.notification_id}) before the event logged here (notification "
                    f"{expected}): it was inserted after the log took this leaf",
                    field=_leaf_name(index, row.event_id),
                )
            leaf = hashlib.sha256(LEAF_PREFIX + found.raw).digest()
            if leaf != bytes(row.leaf_hash):
                raise LogRewritten(
                    "the stored event's hash differs from the leaf hash the log holds for it "
                    "(the event or the leaf row was changed)",
                    field=_leaf_name(index, row.event_id),
                )
            yield index, leaf
            index += 1
        after = stop


def _compare_subtree_rows(connection: Connection, computed: list[tuple[int, int, bytes]]) -> None:
    """Every ``(level, index, hash)`` (level >= 1) must equal its stored row, in the given order."""
    for first in range(0, len(computed), _PAGE):
        page = computed[first : first + _PAGE]
        stored = {
            int(r.node): bytes(r.hash)
            for r in connection.execute(
                select(log_subtrees.c.node, log_subtrees.c.hash).where(
                    log_subtrees.c.node.in_([subtree_key(lv, ix) for lv, ix, _ in page])
                )
            )
        }
        for level, index, value in page:
            row = stored.get(subtree_key(level, index))
            if row is None:
                raise LogRewritten(
                    "the log has no stored hash for this subtree", field=_subtree_name(level, index)
                )
            if row != value:
                raise LogRewritten(
                    "the stored hash differs from the one recomputed from the logged events",
                    field=_subtree_name(level, index),
                )


def _audit_tree(connection: Connection, store: EventStore, size: int) -> None:
    """Recompute the first ``size`` leaves and every perfect subtree above them; compare all.

    In O(log n) memory: the leaves are hashed again page by page (a bad leaf row raises at
    once, in leaf order) and each subtree is compared as the leaves complete it. A bad subtree
    row is reported once every leaf has been checked, and of several, the one a walk level by
    level would meet first (the lowest level, then the lowest index).
    """
    compact = CompactRange()
    completed: list[tuple[int, int, bytes]] = []
    first: tuple[tuple[int, int], LogRewritten] | None = None

    def compare(rows: list[tuple[int, int, bytes]]) -> None:
        nonlocal first
        rows.sort()
        try:
            _compare_subtree_rows(connection, rows)
        except LogRewritten as error:
            level, index = _failing_subtree(connection, rows)
            if first is None or (level, index) < first[0]:
                first = ((level, index), error)

    for _, leaf in _rehashed_leaves(connection, store, 0, size):
        completed.extend(row for row in compact.append(leaf) if row[0])
        if len(completed) >= _PAGE:
            compare(completed)
            completed = []
    compare(completed)
    if first is not None:
        raise first[1]


def _failing_subtree(connection: Connection, rows: list[tuple[int, int, bytes]]) -> tuple[int, int]:
    """The first of ``rows`` (in order) whose stored hash is missing or differs."""
    for level, index, value in rows:
        try:
            _compare_subtree_rows(connection, [(level, index, value)])
        except LogRewritten:
            return level, index
    raise AssertionError("no subtree row differs")  # pragma: no cover - called on a mismatch


def _anchored_edge(
    connection: Connection, store: EventStore, anchor: SignedCheckpoint | None
) -> CompactRange:
    """The right edge of the anchor's tree from its stored rows, which must fold to its root.

    On a mismatch every stored row up to the anchor is checked against the stored events, to
    name the forged one; :class:`LogRewritten` either way.
    """
    if anchor is None or not anchor.size:
        return CompactRange()
    compact = CompactRange.from_subtrees(anchor.size, GetSubtreeFromDb(connection))
    if compact.root() != anchor.root:
        _audit_tree(connection, store, anchor.size)
        raise LogRewritten(
            f"the stored tree no longer gives the root the log signed for size {anchor.size}, "
            "though every stored row matches the stored events: events and rows were "
            "rewritten together"
        )
    return compact


def _extend_checked(
    connection: Connection,
    store: EventStore,
    compact: CompactRange,
    size: int,
    wanted: set[tuple[int, int]],
) -> dict[tuple[int, int], bytes]:
    """Extend ``compact`` to ``size`` leaves hashed again from the stored events.

    Every subtree the extension completes must equal its stored row (the one proofs are served
    from). Answers the hashes of the ``wanted`` subtrees completed on the way.
    """
    kept: dict[tuple[int, int], bytes] = {}
    completed: list[tuple[int, int, bytes]] = []
    for _, leaf in _rehashed_leaves(connection, store, compact.size, size):
        for level, index, value in compact.append(leaf):
            if (level, index) in wanted:
                kept[(level, index)] = value
            if level:
                completed.append((level, index, value))
        if len(completed) >= _PAGE:
            _compare_subtree_rows(connection, completed)
            completed = []
    _compare_subtree_rows(connection, completed)
    return kept


def _proven_root(
    connection: Connection, store: EventStore, anchor: SignedCheckpoint | None, size: int
) -> bytes:
    """The root of the first ``size`` leaves, from hashes checked against ``anchor``.

    The stored right edge of the anchor's tree must fold to its signed root; every later leaf is
    hashed again from its stored event; every subtree completed since is recomputed and must
    equal its stored row; and a consistency proof from the anchor to the new root, built from
    these hashes, must verify. Raises :class:`LogRewritten` naming the first row that does not
    hold.
    """
    compact = _anchored_edge(connection, store, anchor)
    start = compact.size
    wanted: set[tuple[int, int]] = set()
    if start:
        recorder = _RecordingSubtrees()
        consistency_proof(start, size, recorder)
        wanted = set(recorder.wanted)
    kept = {(lv, ix): value for lv, ix, value in compact.subtrees() if (lv, ix) in wanted}
    kept.update(_extend_checked(connection, store, compact, size, wanted))
    root = compact.root()
    if anchor is not None and start:
        try:
            proof = consistency_proof(start, size, lambda level, index: kept[(level, index)])
            verify_consistency(start, size, proof, anchor.root, root)
        except (KeyError, MerkleError) as error:
            raise LogRewritten(
                f"the tree of size {size} cannot be proven consistent with the checkpoint of "
                f"size {start}: refusing to sign ({error})"
            ) from error
    return root
