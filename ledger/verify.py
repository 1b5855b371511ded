"""The offline verifier: trust nothing in a bundle but the public key.

It recomputes every leaf from the entries, the root at every checkpoint's size (so all
checkpoints are checked against one history, hence against each other), every signature, every
hash tile, and (through a replay function supplied by the read side) the published roll-ups; and
it replays the API keys' history to check that every event was recorded by a key allowed to
record it at that point of the log (``ledger.authority``).
It stops at the first thing that fails and names it: the entry (leaf index, event id), the
checkpoint file, the tile or the roll-up. When the entries disagree with a signed root, the
hash tiles, once authenticated against that root, tell which entry no longer matches.

Every file is read as a regular file of the bundle: nothing is reached through a symbolic link
(not the file, nor ``checkpoints/`` or a folder under ``tile/``), FIFOs and devices are refused
without being read, and each file is read up to the limit of its format (``entries.jsonl`` line
by line), so a hostile bundle cannot make the verifier block or read until memory runs out.

A bundle is only checked against itself: a log that dropped its last entries (with their
checkpoints) and signed again still gives a bundle that holds together. Checkpoints the auditor
kept from earlier verifications (``known_checkpoints``) close that gap: each must be signed by
the trusted key, and the bundle's latest tree must be proven consistent with it.
"""

from __future__ import annotations

import errno
import gc
import hashlib
import json
import os
import re
import stat
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from domain.events import Payload
from ledger.authority import AuthorityReplay
from ledger.bundle import CHECKPOINT, CHECKPOINTS, ENTRIES, KEY, ROLLUPS
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.entry_scan import (
    CHUNK_BYTES,
    ENTRY_LIMIT,
    REPLAY_ERRORS,
    ChunkScan,
    EntryScanner,
    usable_cores,
)
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    MerkleError,
    inclusion_proof,
    verify_inclusion,
)
from ledger.note import NoteError, Verifier
from ledger.tiles import (
    TILE_FOLDER,
    TILE_HEIGHT,
    TILE_WIDTH,
    TileReader,
    first_mismatching_leaf,
    parse_tile_path,
    tile_path,
)

__all__ = [
    "ENTRY_LIMIT",
    "KEY_LIMIT",
    "NOTE_LIMIT",
    "ROLLUPS_LIMIT",
    "TILE_LIMIT",
    "Finding",
    "Replay",
    "ReplayFold",
    "VerificationResult",
    "first_difference",
    "verify_bundle",
]

KEY_LIMIT = 4 * 1024
"""Bytes of ``key.vkey``: one verifier key (name, hash and 32-byte key) is under 200."""
NOTE_LIMIT = 64 * 1024
"""Bytes of a checkpoint note: its body and up to ``MAX_SIGNATURES`` (100) signature lines."""
TILE_LIMIT = TILE_WIDTH * HASH_SIZE
"""Bytes of a hash tile: 256 hashes."""
ROLLUPS_LIMIT = 4 * 1024 * 1024 * 1024
"""Bytes of ``rollups.json`` copied from a server (written to disk as it arrives). The verifier
itself has no limit: it reads the file in order against the replay's bytes and stops at the
first difference, holding a block of it at a time (the 1M-event demo's is 87 MB)."""
FRESHNESS_MONTHS = range(1, 121)
"""The freshness windows a roll-ups document may declare (those the ledger's settings accept)."""

_MISSING = object()


class ReplayFold(Protocol):
    """The roll-ups replay's state, fed every entry's extracted facts in leaf order."""

    def add(self, facts: Any) -> None: ...

    def finish(self, tree_size: int, last_recorded_at: str | None) -> Mapping[str, Any]:
        """The roll-ups document the entries give (freshness judged on the last one's day).

        The fold is spent: it lets go of each pledge's state as it sums it, and the document's
        ``rollups`` is a mapping that makes each dimension's list when it is read and keeps
        none, so that no more than one dimension is held beside the published document.
        """
        ...


class Replay(Protocol):
    """Recomputes the roll-ups document from the entries, supplied by the read side.

    ``extract`` runs in the verifier's worker processes, once per entry, on its payload as the
    domain's model decodes it (anything it raises fails the replay); ``fold`` starts the state
    the main process feeds in leaf order, for a freshness window in months.
    """

    def extract(
        self,
        event_type: str,
        stream_id: str,
        recorded_at: str,
        payload: Payload,
        event_id: str,
    ) -> Any: ...

    def fold(self, freshness_months: int) -> ReplayFold: ...


@dataclass(frozen=True, slots=True)
class Finding:
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


@dataclass
class VerificationResult:
    entries: int = 0
    tree_size: int = 0
    checkpoints: list[int] = field(default_factory=list)
    key: str = ""
    key_trusted: bool = False
    tiles: int = 0
    known_checkpoints: list[int] = field(default_factory=list)
    rollups_checked: bool = False
    authority_checked: bool = False
    failure: Finding | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


class _Failed(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.finding = Finding(where, problem)


def _entry(index: int, event_id: str | None = None) -> str:
    return f"entry {index}" + (f" (event {event_id})" if event_id else "")


# --- reading the bundle's files ---------------------------------------------------------------
# Each file is opened component by component from the bundle directory, never following a
# symbolic link (O_NOFOLLOW on every step), and non-blocking so that a FIFO cannot stall the
# open; fstat then refuses anything that is not a regular file before a byte is read.

_NO_LINK = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_step(name: str, step: str, parent: int, *, folder: bool) -> int:
    flags = _NO_LINK | (os.O_DIRECTORY if folder else os.O_NONBLOCK)
    try:
        descriptor = os.open(step, flags, dir_fd=parent)
    except FileNotFoundError as error:
        raise _Failed(name, "missing") from error
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            if stat.S_ISLNK(os.stat(step, dir_fd=parent, follow_symlinks=False).st_mode):
                raise _Failed(name, "is a symbolic link, not a file of the bundle") from error
            raise _Failed(name, "is not a folder" if folder else "is a folder") from error
        raise _Failed(name, f"cannot be read: {error.strerror or error}") from error
    mode = os.fstat(descriptor).st_mode
    if not folder and not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _Failed(name, f"is not a regular file but {_kind(mode)}")
    return descriptor


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a socket" if stat.S_ISSOCK(mode) else "a special file"


@contextmanager
def _opened(directory: Path, name: str, *, folder: bool = False) -> Iterator[int]:
    """A descriptor of the bundle's file (or folder) ``name``, a '/'-separated relative path."""
    try:
        current = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise _Failed(str(directory), f"cannot be read: {error.strerror or error}") from error
    try:
        steps = name.split("/")
        for index, step in enumerate(steps):
            last = index == len(steps) - 1
            reached = "/".join(steps[: index + 1])
            inner = _open_step(reached, step, current, folder=folder or not last)
            os.close(current)
            current = inner
        yield current
    finally:
        os.close(current)


def _is_present(directory: Path, name: str) -> bool:
    """Whether the bundle has an entry called ``name`` (a link counts: reading it then fails)."""
    try:
        os.stat(directory / name, follow_symlinks=False)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise _Failed(name, f"cannot be read: {error.strerror or error}") from error
    return True


def _read_file(directory: Path, name: str, limit: int, what: str) -> bytes:
    """The whole file, refused unread if it is larger than ``limit`` bytes (``what`` it is)."""
    with _opened(directory, name) as descriptor:
        if os.fstat(descriptor).st_size > limit:
            raise _Failed(name, f"is larger than the {limit:,}-byte limit of {what}")
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise _Failed(name, f"is larger than the {limit:,}-byte limit of {what}")
    return data


def _files_under(directory: Path, folder: str) -> list[str]:
    """The regular files under the bundle's ``folder`` (relative paths), walked without
    following links; none if it is absent. A link or a special file in it is a failure."""
    if not _is_present(directory, folder):
        return []
    found: list[str] = []
    with _opened(directory, folder, folder=True) as top:
        pending = [(folder, os.dup(top))]
        try:
            while pending:
                here, descriptor = pending.pop()
                try:
                    with os.scandir(descriptor) as entries:
                        listed = sorted((entry.name, entry) for entry in entries)
                    for entry_name, entry in listed:
                        path = f"{here}/{entry_name}"
                        if entry.is_symlink():
                            raise _Failed(path, "is a symbolic link, not a file of the bundle")
                        if entry.is_dir(follow_symlinks=False):
                            inner = _open_step(path, entry_name, descriptor, folder=True)
                            pending.append((path, inner))
                        elif entry.is_file(follow_symlinks=False):
                            found.append(path)
                        else:
                            kind = _kind(entry.stat(follow_symlinks=False).st_mode)
                            raise _Failed(path, f"is not a regular file but {kind}")
                finally:
                    os.close(descriptor)
        finally:
            for _, descriptor in pending:
                os.close(descriptor)
    return found


def _load_key(directory: Path, trusted_vkey: str | None, result: VerificationResult) -> Verifier:
    bundle_key: str | None = None
    if _is_present(directory, KEY):
        key_bytes = _read_file(directory, KEY, KEY_LIMIT, "a verifier key")
        bundle_key = key_bytes.decode("utf-8", "replace").strip()
    if trusted_vkey is None and bundle_key is None:
        raise _Failed(KEY, "missing, and no --trust-key was given")
    chosen = trusted_vkey.strip() if trusted_vkey is not None else str(bundle_key)
    try:
        verifier = Verifier.from_vkey(chosen)
    except NoteError as error:
        raise _Failed("--trust-key" if trusted_vkey else KEY, str(error)) from error
    if trusted_vkey is not None and bundle_key is not None and bundle_key != chosen:
        raise _Failed(KEY, "the bundle's key is not the trusted key")
    result.key = chosen
    result.key_trusted = trusted_vkey is not None
    return verifier


def _load_checkpoints(
    directory: Path, verifier: Verifier
) -> tuple[Checkpoint, dict[int, tuple[str, Checkpoint]]]:
    files = [CHECKPOINT]
    files += sorted(_files_under(directory, CHECKPOINTS), key=lambda name: (len(name), name))
    by_size: dict[int, tuple[str, Checkpoint]] = {}
    origin: str | None = None
    latest: Checkpoint | None = None
    for name in files:
        note = _read_file(directory, name, NOTE_LIMIT, "a checkpoint note")
        try:
            checkpoint = open_checkpoint(note, verifier, expected_origin=origin)
        except NoteError as error:
            raise _Failed(name, str(error)) from error
        origin = checkpoint.origin
        if name == CHECKPOINT:
            latest = checkpoint
        elif name != f"{CHECKPOINTS}/{checkpoint.size}":
            raise _Failed(name, f"holds the checkpoint of size {checkpoint.size}")
        earlier = by_size.get(checkpoint.size)
        if earlier is not None and earlier[1].root != checkpoint.root:
            raise _Failed(
                name,
                f"signs a different root for size {checkpoint.size} than {earlier[0]}: "
                "the log showed two histories",
            )
        by_size.setdefault(checkpoint.size, (name, checkpoint))
    assert latest is not None
    largest = max(by_size)
    if latest.size != largest:
        raise _Failed(CHECKPOINT, f"is older (size {latest.size}) than {by_size[largest][0]}")
    return latest, by_size


def _iter_lines(directory: Path) -> Iterator[bytes]:
    """The lines of ``entries.jsonl``, each read up to ``ENTRY_LIMIT`` bytes and no further."""
    with _opened(directory, ENTRIES) as descriptor, os.fdopen(os.dup(descriptor), "rb") as handle:
        index = 0
        while line := handle.readline(ENTRY_LIMIT + 1):
            if not line.endswith(b"\n"):
                if len(line) > ENTRY_LIMIT:
                    raise _Failed(
                        _entry(index), f"is longer than the {ENTRY_LIMIT:,}-byte limit of an entry"
                    )
                raise _Failed(_entry(index), "the last line has no newline: the file is cut")
            yield line[:-1]
            index += 1


def verify_bundle(
    directory: Path,
    *,
    trusted_vkey: str | None = None,
    replay: Replay | None = None,
    progress: Callable[[int, int], None] | None = None,
    known_checkpoints: Sequence[tuple[str, bytes]] = (),
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> VerificationResult:
    """Check a bundle; the result's ``failure`` names the first thing that does not hold.

    With ``replay``, the bundle must carry a valid ``rollups.json``, which is replayed from the
    entries; without it the roll-ups are not looked at, and ``rollups_checked`` stays False.

    ``known_checkpoints`` are ``(name, signed note)`` pairs the auditor kept from earlier
    verifications; the bundle fails, naming the first one it contradicts, unless its latest tree
    extends every one of them.

    ``entries.jsonl`` is read once, in chunks, by ``workers`` processes (default: one per usable
    core; 1 checks it in this process); memory does not grow with the number of entries beyond
    8 bytes per entry and the replays' state per pledge, key and city.
    """
    result = VerificationResult()
    collecting = gc.isenabled()
    gc.disable()  # the replays keep many small objects and none in a cycle
    try:
        _verify(
            directory,
            trusted_vkey,
            replay,
            progress,
            known_checkpoints,
            result,
            usable_cores() if workers is None else workers,
            chunk_bytes,
        )
    except _Failed as failed:
        result.failure = failed.finding
    finally:
        if collecting:
            gc.enable()
    return result


@dataclass(slots=True)
class _InOrder:
    """What the checks that need the entries in leaf order found, and their state."""

    disorder: _Failed | None = None
    disorder_index: int | None = None
    unauthorised: _Failed | None = None
    replay_failure: str | None = None
    last_recorded_at: str | None = None
    versions: dict[str, int] = field(default_factory=dict)
    authority: AuthorityReplay = field(default_factory=AuthorityReplay)


def _verify(
    directory: Path,
    trusted_vkey: str | None,
    replay: Replay | None,
    progress: Callable[[int, int], None] | None,
    known_checkpoints: Sequence[tuple[str, bytes]],
    result: VerificationResult,
    workers: int,
    chunk_bytes: int,
) -> None:
    if not directory.is_dir():
        raise _Failed(str(directory), "is not a bundle directory")
    verifier = _load_key(directory, trusted_vkey, result)
    latest, by_size = _load_checkpoints(directory, verifier)
    result.tree_size = latest.size
    known = [
        _open_known_checkpoint(name, note, verifier, latest) for name, note in known_checkpoints
    ]
    # What rollups.json says is needed before the entries are read (its freshness window), but
    # what is wrong with it is reported in its turn, after every check of the log.
    rollups: int | _Failed | None = None
    if replay is not None:
        try:
            rollups = _read_rollups(directory, latest.size)
        except _Failed as failed:
            rollups = failed
    fold = replay.fold(rollups) if replay is not None and isinstance(rollups, int) else None
    tiles = _TileCheck(directory, latest.size)
    wanted_roots = {size for size in by_size if size <= latest.size}
    wanted_roots |= {
        k.size for _, k in known if isinstance(k, Checkpoint) and 0 < k.size <= latest.size
    }
    tree = _StreamingTree(wanted_roots, tiles)
    state = _InOrder()
    prefixes = array("Q")
    with (
        _opened(directory, ENTRIES) as descriptor,
        EntryScanner(
            descriptor,
            replay.extract if replay is not None and fold is not None else None,
            workers=workers,
            chunk_bytes=chunk_bytes,
        ) as scanner,
    ):
        for chunk in scanner.chunks():
            base = tree.size
            tree.push_all(chunk.hashes)
            prefixes.frombytes(chunk.id_prefixes)
            _check_in_order(chunk, base, state, fold)
            if chunk.failure is not None:
                local, problem = chunk.failure
                raise _Failed(_entry(base + local), problem)
            if progress is not None:
                progress(tree.size, latest.size)
        count = result.entries = tree.size
        if count != latest.size or tree.roots.get(latest.size) != latest.root:
            _locate(directory, latest, _leaf_hashes(directory))
        duplicates = scanner.duplicates(prefixes.tobytes()) if count else []
    del prefixes
    duplicate = _first_duplicate(directory, duplicates)
    if duplicate is not None and (
        state.disorder_index is None or duplicate[0] <= state.disorder_index
    ):
        raise _Failed(_entry(duplicate[0], duplicate[1]), "this event id appears twice")
    if state.disorder is not None:
        raise state.disorder
    for size in sorted(by_size):
        name, checkpoint = by_size[size]
        if tree.roots.get(size) != checkpoint.root:
            raise _Failed(
                name,
                f"its signed root is not the root of the first {size} entries, which the "
                f"latest checkpoint confirms: it is not consistent with the log",
            )
        result.checkpoints.append(size)
    if state.unauthorised is not None:
        raise state.unauthorised
    result.authority_checked = True
    for opened in known:
        result.known_checkpoints.append(_check_known_checkpoint(opened, latest, tree.roots))
    result.tiles = tiles.finish(tree)
    if replay is not None:
        if isinstance(rollups, _Failed):
            raise rollups
        assert fold is not None
        if state.replay_failure is not None:
            raise _Failed(ROLLUPS, f"the entries cannot be replayed: {state.replay_failure}")
        state.versions.clear()  # what the log's checks needed, before the roll-ups' sums
        state.authority = AuthorityReplay()
        try:
            recomputed = fold.finish(latest.size, state.last_recorded_at)
        except REPLAY_ERRORS as error:
            raise _Failed(ROLLUPS, f"the entries cannot be replayed: {error}") from error
        del fold
        try:
            difference = _compare_rollups(directory, recomputed)
        except REPLAY_ERRORS as error:
            raise _Failed(ROLLUPS, f"the entries cannot be replayed: {error}") from error
        if difference is not None:
            raise _Failed(ROLLUPS, f"differs from the replay of the entries at {difference}")
        result.rollups_checked = True


def _check_in_order(chunk: ChunkScan, base: int, state: _InOrder, fold: ReplayFold | None) -> None:
    """Stream versions, writers' authority and the roll-ups fold, entry by entry in leaf order.

    A deleted or moved entry also breaks stream versions further on; the signed root names the
    first position that differs, so such findings wait until the root is checked. Likewise an
    event recorded without authority, and an entry the roll-ups cannot replay.
    """
    versions = state.versions
    authority = state.authority
    replay_stop = len(chunk.records)
    if fold is not None and state.replay_failure is None and chunk.replay_failure is not None:
        replay_stop = chunk.replay_failure[0]
    for local, (
        event_id,
        stream_id,
        version,
        event_type,
        recorded_by,
        facts,
        replayed,
    ) in enumerate(chunk.records):
        index = base + local
        if state.disorder is None:
            expected = versions.get(stream_id, 0) + 1
            if version != expected:
                state.disorder_index = index
                state.disorder = _Failed(
                    _entry(index, event_id),
                    f"{stream_id} version {version} follows version "
                    f"{expected - 1}: an event is missing, repeated or out of order",
                )
            versions[stream_id] = expected
        if state.unauthorised is None:
            problem = authority.check_facts(index, event_type, recorded_by, stream_id, facts)
            if problem is not None:
                state.unauthorised = _Failed(_entry(index, event_id), problem)
        if fold is not None and state.replay_failure is None:
            if local >= replay_stop:
                assert chunk.replay_failure is not None
                state.replay_failure = chunk.replay_failure[1]
            else:
                try:
                    fold.add(replayed)
                except REPLAY_ERRORS as error:
                    state.replay_failure = str(error)
    if chunk.last_recorded_at is not None:
        state.last_recorded_at = chunk.last_recorded_at


def _open_known_checkpoint(
    name: str, note: bytes, verifier: Verifier, latest: Checkpoint
) -> tuple[str, Checkpoint | _Failed]:
    """A checkpoint the auditor kept, opened with the trusted key (or why it cannot be)."""
    try:
        return name, open_checkpoint(note, verifier, expected_origin=latest.origin)
    except NoteError as error:
        failed = _Failed(
            name, f"is not a checkpoint of this log signed by the trusted key: {error}"
        )
        return name, failed


def _check_known_checkpoint(
    opened: tuple[str, Checkpoint | _Failed], latest: Checkpoint, roots: Mapping[int, bytes]
) -> int:
    """Prove the bundle's latest tree (already checked against its entries) extends a kept one.

    Answers the known checkpoint's size. A known checkpoint larger than the bundle's latest
    means the log lost entries it once signed (or the bundle is older than what the auditor
    saw); a same-or-smaller one whose root the entries do not give means history was rewritten.
    With every entry in hand, the first ``size`` entries giving the kept root is exactly what a
    consistency proof from it to the latest root would prove.
    """
    name, known = opened
    if isinstance(known, _Failed):
        raise known
    if known.size > latest.size:
        raise _Failed(
            name,
            f"the log signed {known.size} entries then, but its latest checkpoint signs only "
            f"{latest.size}: the log was truncated (or this bundle is older than that checkpoint)",
        )
    if known.size == 0:
        if known.root != EMPTY_ROOT:
            raise _Failed(name, "signs a non-empty root for the empty tree")
        return 0
    if roots.get(known.size) != known.root:
        raise _Failed(
            name,
            f"the log contradicts it: its first {known.size} entries no longer give the root "
            f"signed then, so the log's history was rewritten since (the root of the first "
            f"{known.size} entries is not the one signed then)",
        )
    return known.size


def _read_tile(directory: Path) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        if not _is_present(directory, path):
            return None
        return _read_file(directory, path, TILE_LIMIT, "a hash tile")

    return read


def _locate(directory: Path, latest: Checkpoint, leaf_hashes: list[bytes]) -> None:
    """The entries disagree with the latest signed root: use the tiles to say where."""
    try:
        index = first_mismatching_leaf(latest.size, latest.root, leaf_hashes, _read_tile(directory))
    except MerkleError as error:
        raise _Failed(
            CHECKPOINT,
            f"the {len(leaf_hashes)} entries do not give the signed root of size {latest.size}, "
            f"and the tiles cannot say where ({error})",
        ) from error
    if index is None:
        raise _Failed(
            _entry(latest.size),
            f"the bundle has {len(leaf_hashes)} entries, more than the {latest.size} the "
            "latest checkpoint signs",
        )
    if index >= len(leaf_hashes):
        raise _Failed(
            _entry(index),
            f"missing: the bundle has {len(leaf_hashes)} entries but the checkpoint signs "
            f"{latest.size} (the log was truncated or entries were deleted)",
        )
    event_id = _event_id_at(directory, index)
    reader = TileReader(latest.size, _read_tile(directory))
    signed_at = _signed_position(latest, reader, leaf_hashes[index], index)
    if signed_at is not None and signed_at > index:
        shift = signed_at - index
        following = index + 1
        shifted = following == len(leaf_hashes) or (
            following + shift < latest.size
            and _is_signed_leaf(latest, reader, leaf_hashes[following], following + shift)
        )
        if shifted:
            raise _Failed(
                _entry(index, event_id),
                f"the signed log holds this entry at leaf {signed_at}, and the next one "
                f"{shift} on too: the {shift} entr{'y' if shift == 1 else 'ies'} the log "
                f"signed from leaf {index} on {'is' if shift == 1 else 'are'} missing (deleted)",
            )
    if signed_at is not None:
        raise _Failed(
            _entry(index, event_id),
            f"the signed log holds this entry at leaf {signed_at}, not at leaf {index}: "
            "entries were inserted, deleted or moved",
        )
    raise _Failed(
        _entry(index, event_id),
        f"its hash differs from the one the signed log holds for leaf {index} "
        "(changed, inserted, or moved)",
    )


_NEARBY = 16
"""How far from a misplaced entry to look for where the signed log holds it."""


def _is_signed_leaf(latest: Checkpoint, reader: TileReader, leaf: bytes, position: int) -> bool:
    """Whether the signed tree holds ``leaf`` at ``position``, proven by an inclusion proof."""
    try:
        proof = inclusion_proof(position, latest.size, reader.get_subtree)
        verify_inclusion(leaf, position, latest.size, proof, latest.root)
    except MerkleError:
        return False
    return True


def _signed_position(latest: Checkpoint, reader: TileReader, leaf: bytes, index: int) -> int | None:
    """The leaf near ``index`` (not ``index`` itself) at which the signed tree holds ``leaf``."""
    nearby = range(max(0, index - _NEARBY), min(latest.size, index + _NEARBY + 1))
    for position in sorted(nearby, key=lambda p: (abs(p - index), p)):
        if position != index and _is_signed_leaf(latest, reader, leaf, position):
            return position
    return None


def _event_id_at(directory: Path, wanted: int) -> str | None:
    for index, raw in enumerate(_iter_lines(directory)):
        if index == wanted:
            try:
                value = orjson.loads(raw).get("event_id")
            except (orjson.JSONDecodeError, AttributeError):
                return None
            return value if isinstance(value, str) else None
    return None


def _event_ids_at(directory: Path, wanted: set[int]) -> dict[int, str | None]:
    """The event ids of the entries at ``wanted`` indices (one more pass: findings only)."""
    found: dict[int, str | None] = {}
    last = max(wanted, default=-1)
    for index, raw in enumerate(_iter_lines(directory)):
        if index > last:
            break
        if index in wanted:
            try:
                value = orjson.loads(raw).get("event_id")
            except (orjson.JSONDecodeError, AttributeError):
                value = None
            found[index] = value if isinstance(value, str) else None
    return found


def _leaf_hashes(directory: Path) -> list[bytes]:
    """Every entry's leaf hash, to say where the entries leave the signed tree (findings only:
    a bundle that verifies never holds them all)."""
    sha256 = hashlib.sha256
    return [sha256(LEAF_PREFIX + raw).digest() for raw in _iter_lines(directory)]


def _first_duplicate(directory: Path, groups: list[list[int]]) -> tuple[int, str] | None:
    """The first entry whose event id an earlier entry has, among entries whose ids share
    their first 64 bits (``groups``, from the scan): its index and event id."""
    if not groups:
        return None
    event_ids = _event_ids_at(directory, {index for group in groups for index in group})
    first: tuple[int, str] | None = None
    for group in groups:
        seen: set[str] = set()
        for index in group:
            event_id = event_ids.get(index)
            if event_id is None:
                continue
            if event_id in seen:
                if first is None or index < first[0]:
                    first = (index, event_id)
                break
            seen.add(event_id)
    return first


class _StreamingTree:
    """The Merkle tree of the entries as their leaf hashes stream by, in O(log n) memory.

    It keeps the right edge (one hash per set bit of the size, as ``CompactRange``), records the
    root at each size in ``wanted`` (the checkpoints'), and hands every completed hash of a
    tile level (Merkle levels 8, 16, …) and every leaf hash to the tile check.
    """

    def __init__(self, wanted: set[int], tiles: _TileCheck) -> None:
        self.size = 0
        self.edge: list[bytes] = []
        self.wanted = wanted
        self.roots: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in wanted else {}
        self.tiles = tiles

    def push_all(self, leaf_hashes: bytes) -> None:
        self.tiles.add(0, leaf_hashes)
        sha256 = hashlib.sha256
        edge = self.edge
        pop = edge.pop
        push = edge.append
        wanted = self.wanted
        size = self.size
        add_tile_hash = self.tiles.add
        for offset in range(0, len(leaf_hashes), HASH_SIZE):
            value = leaf_hashes[offset : offset + HASH_SIZE]
            bits = size
            level = 0
            while bits & 1:
                value = sha256(NODE_PREFIX + pop() + value).digest()
                bits >>= 1
                level += 1
                if not level % TILE_HEIGHT:
                    add_tile_hash(level // TILE_HEIGHT, value)
            push(value)
            size += 1
            if size in wanted:
                self.roots[size] = self.root()
        self.size = size

    def root(self) -> bytes:
        if not self.edge:
            return EMPTY_ROOT
        value = self.edge[-1]
        for left in reversed(self.edge[:-1]):
            value = hashlib.sha256(NODE_PREFIX + left + value).digest()
        return value


class _TileCheck:
    """Every tile a mirror would serve must equal the one recomputed from the entries.

    Full tiles are compared as the tree completes them; the right-edge partial tiles, the tiles
    the bundle lacks and those it has too many are settled by ``finish``. Findings keep the
    order of a walk over the tiles (level by level, full tiles then the partial one), and are
    reported after every check of the log itself.
    """

    def __init__(self, directory: Path, size: int) -> None:
        self.directory = directory
        self.size = size
        self.listing_failure: _Failed | None = None
        self.present: set[str] = set()
        try:
            for relative in _files_under(directory, TILE_FOLDER):
                try:
                    parse_tile_path(relative)
                except MerkleError as error:
                    raise _Failed(relative, f"is not a tile path: {error}") from error
                self.present.add(relative)
        except _Failed as failed:
            self.listing_failure = failed
        self.rows: list[bytearray] = []
        self.full: list[int] = []
        self.expected: set[str] = set()
        self.failures: dict[int, _Failed | tuple[str, bytes, bytes]] = {}

    def add(self, level: int, hashes: bytes) -> None:
        """Hashes of a tile level completed in order (level 0: leaf hashes)."""
        while len(self.rows) <= level:
            self.rows.append(bytearray())
            self.full.append(0)
        row = self.rows[level]
        row += hashes
        while len(row) >= TILE_LIMIT:
            self._compare(level, self.full[level], bytes(row[:TILE_LIMIT]))
            self.full[level] += 1
            del row[:TILE_LIMIT]

    def _compare(self, level: int, index: int, content: bytes) -> None:
        width = len(content) // HASH_SIZE
        if width == TILE_WIDTH and (index + 1) << (TILE_HEIGHT * (level + 1)) > self.size:
            return  # entries beyond the signed tree: the root check names them
        path = tile_path(level, index, width)
        self.expected.add(path)
        if self.listing_failure is not None or level in self.failures:
            return
        if path not in self.present:
            self.failures[level] = _Failed(path, "missing")
            return
        try:
            published = _read_file(self.directory, path, TILE_LIMIT, "a hash tile")
        except _Failed as failed:
            self.failures[level] = failed
            return
        if published != content:
            self.failures[level] = (path, published, content)

    def finish(self, tree: _StreamingTree) -> int:
        """Settle the partial tiles, then raise the first finding; answer the tiles checked."""
        if self.listing_failure is not None:
            raise self.listing_failure
        level = 0
        while tree.size >> (TILE_HEIGHT * level):
            row = self.rows[level] if level < len(self.rows) else bytearray()
            if row:
                self._compare(level, self.full[level], bytes(row))
            level += 1
        if self.failures:
            failure = self.failures[min(self.failures)]
            if isinstance(failure, _Failed):
                raise failure
            path, published, content = failure
            raise _Failed(path, _tile_difference(self.directory, path, published, content))
        extra = sorted(self.present - self.expected)
        if extra:
            raise _Failed(extra[0], "is not a tile of this tree")
        return len(self.expected)


def _tile_difference(directory: Path, tile: str, published: bytes, expected: bytes) -> str:
    """Say which hash of a tile is wrong; for a leaf tile, which leaf and event."""
    parsed = parse_tile_path(tile)
    offsets = range(0, min(len(published), len(expected)), HASH_SIZE)
    first = next(
        (o for o in offsets if published[o : o + HASH_SIZE] != expected[o : o + HASH_SIZE]), None
    )
    if first is None:
        return (
            f"does not match the entries: it has {len(published)} bytes, expected {len(expected)}"
        )
    position = parsed.tile_index * TILE_WIDTH + first // HASH_SIZE
    if parsed.level == 0:
        leaf = f"leaf {position}"
        event_id = _event_id_at(directory, position)
        if event_id is not None:
            leaf += f" (event {event_id})"
        return (
            f"does not match the entries: its hash for {leaf} differs from the hash of that "
            "entry, which the signed root confirms (the log's stored leaf hash was changed)"
        )
    return (
        f"does not match the entries: its hash {first // HASH_SIZE} (the level "
        f"{parsed.level * TILE_HEIGHT} subtree {position}) differs from the one recomputed "
        "from them"
    )


def _read_rollups(directory: Path, size: int) -> int:
    """The published roll-ups' freshness window, and their shape checked as far as it can be
    before the entries are replayed: the canonical document's head and its tree size at the
    end. The rest is compared, streamed, once the replay is done (``_compare_rollups``)."""
    if not _is_present(directory, ROLLUPS):
        raise _Failed(ROLLUPS, "missing, so the published roll-ups cannot be checked")
    with _opened(directory, ROLLUPS) as descriptor:
        length = os.fstat(descriptor).st_size
        head = _ROLLUPS_HEAD.match(os.pread(descriptor, _ROLLUPS_HEAD_BYTES, 0))
        tail = _ROLLUPS_TAIL.search(
            os.pread(descriptor, _ROLLUPS_TAIL_BYTES, max(0, length - _ROLLUPS_TAIL_BYTES))
        )
    if head is None:
        raise _Failed(ROLLUPS, f"is not a roll-ups document in canonical JSON: {_ROLLUPS_SHAPE}")
    months = _canonical_int(head["months"])
    if months is None or months not in FRESHNESS_MONTHS:
        raise _Failed(
            ROLLUPS,
            f"freshness_months must be a whole number of months from {FRESHNESS_MONTHS[0]} to "
            f"{FRESHNESS_MONTHS[-1]}, not {head['months'].decode('utf-8', 'replace')}",
        )
    if tail is None:
        raise _Failed(ROLLUPS, f"is not a roll-ups document in canonical JSON: {_ROLLUPS_SHAPE}")
    if _canonical_int(tail["size"]) != size:
        raise _Failed(
            ROLLUPS,
            f"tree_size must be the latest checkpoint's size {size}, "
            f"not {tail['size'].decode('utf-8', 'replace')}",
        )
    return months


_ROLLUPS_SHAPE = (
    'it must begin {"as_of":…,"format":…,"freshness_months":…,"rollups":{ and end '
    '},"tree_size":…} (RFC 8785, as the ledger writes it)'
)
_ROLLUPS_HEAD_BYTES = 512
_ROLLUPS_HEAD = re.compile(
    rb'\{"as_of":(?:null|"[^"\\]{0,64}"),"format":"[^"\\]{0,128}",'
    rb'"freshness_months":(?P<months>[^,]{0,32}),"rollups":\{'
)
_ROLLUPS_TAIL_BYTES = 64
_ROLLUPS_TAIL = re.compile(rb'\},"tree_size":(?P<size>[^,:{}"]{0,32})\}\Z')


def _canonical_int(text: bytes) -> int | None:
    """The whole number a canonical JSON number spells (no sign, fraction or leading zero)."""
    if text == b"0" or (text[:1] in b"123456789" and text.isdigit() and len(text) <= 16):
        return int(text)
    return None


class _Published:
    """``rollups.json`` read in order, a block at a time, to compare with expected bytes."""

    BLOCK = 1 << 20

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.offset = 0
        self._buffer = b""
        self._start = 0

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes (fewer at the end of the file)."""
        end = self.offset + count
        if end > self._start + len(self._buffer):
            self._start = self.offset
            self._buffer = os.pread(self.descriptor, max(count, self.BLOCK), self.offset)
        taken = self._buffer[self.offset - self._start : end - self._start]
        self.offset += len(taken)
        return taken

    def value_at(self, offset: int) -> Any:
        """The JSON value that starts at ``offset``, parsed (ValueError if there is none)."""
        window = _ROLLUPS_VALUE_WINDOW
        while True:
            data = os.pread(self.descriptor, window, offset)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as error:
                if error.start < len(data) - 4:  # not a code point cut by the window's end
                    raise ValueError("not UTF-8") from error
                text = data[: error.start].decode("utf-8")
            try:
                return json.JSONDecoder().raw_decode(text)[0]
            except RecursionError as error:
                raise ValueError("nested too deeply") from error
            except json.JSONDecodeError:
                if len(data) < window or window >= _ROLLUPS_VALUE_LIMIT:
                    raise
                window *= 8


_ROLLUPS_VALUE_WINDOW = 64 * 1024
_ROLLUPS_VALUE_LIMIT = 64 * 1024 * 1024
"""Bytes of one published roll-up read to name a difference in it (one group's roll-up holds at
most a few hundred KiB: its counters and one total per indicator)."""


def _pieces(document: Mapping[str, Any]) -> Iterator[tuple[bytes, str, str, Any]]:
    """The canonical bytes of a roll-ups document, a piece at a time: ``(bytes, role, path,
    value)``. Under ``rollups`` every dimension's roll-ups come one by one (they may be made as
    they are read); everything else is one piece per value. Roles: ``syntax``, ``key`` (a name
    and what opens its value), ``value``, ``more`` (the comma before roll-up ``value``) and
    ``end`` (the bracket after ``value`` roll-ups)."""
    yield b"{", "syntax", "$", None
    for index, key in enumerate(sorted(document)):
        if index:
            yield b",", "syntax", "$", None
        value = document[key]
        path = f"$.{key}"
        if key != "rollups" or not isinstance(value, Mapping):
            yield canonical_bytes(key) + b":", "key", path, key
            yield canonical_bytes(value), "value", path, value
            continue
        yield canonical_bytes(key) + b":{", "key", path, key
        for number, dimension in enumerate(sorted(value)):
            if number:
                yield b",", "syntax", path, None
            listed = value[dimension]
            inner = f"{path}.{dimension}"
            yield canonical_bytes(dimension) + b":[", "key", inner, dimension
            total = len(listed)
            for count, rollup in enumerate(listed):
                if count:
                    yield b",", "more", inner, (count, total)
                yield canonical_bytes(rollup), "value", f"{inner}[{count}]", rollup
            yield b"]", "end", inner, total
        yield b"}", "syntax", path, None
    yield b"}", "syntax", "$", None


def _compare_rollups(directory: Path, recomputed: Mapping[str, Any]) -> str | None:
    """Where the published ``rollups.json`` first differs from the canonical bytes of the
    recomputed document, or None. Read in order and never held whole: at a million events the
    document is some 90 MB, five times that once parsed."""
    with _opened(directory, ROLLUPS) as descriptor:
        published = _Published(descriptor)
        for expected, role, path, value in _pieces(recomputed):
            at = published.offset
            found = published.take(len(expected))
            if found != expected:
                return _difference(published, at, found, role, path, value)
        at = published.offset
        if published.take(1):
            return f"$ (bytes follow the end of the document, from byte {at:,})"
    return None


def _difference(
    published: _Published, at: int, found: bytes, role: str, path: str, value: Any
) -> str:
    """What the bytes at ``at`` show in place of the expected piece."""
    if role == "more" and found[:1] == b"]":
        return f"{path} (length {value[0]} != {value[1]})"
    if role == "end" and found[:1] == b",":
        return f"{path} (length more than {value} != {value})"
    if role == "key":
        name = re.match(rb'"([^"\\]{0,64})":', found)
        if name is None or name[1].decode("utf-8", "replace") != value:
            return f"{path} (missing, or not in its canonical place at byte {at:,})"
        return f"{path} (not the canonical JSON of a roll-ups document at byte {at:,})"
    if role == "value":
        try:
            shown = published.value_at(at)
        except ValueError as error:
            return f"{path} (not JSON at byte {at:,}: {error})"
        return first_difference(shown, value, path) or f"{path} (not in canonical form)"
    return f"{path} (not the canonical JSON of a roll-ups document at byte {at:,})"


def _shown(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: its repr, cut short."""
    text = "missing" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_difference(published: Any, recomputed: Any, path: str = "$") -> str | None:
    """The first JSON path where two documents differ, or None (``recomputed``'s objects and
    arrays may be any mapping and sequence, such as ones that make their items as they are
    read)."""
    if isinstance(published, dict) and isinstance(recomputed, Mapping):
        for key in sorted(set(published) | set(recomputed)):
            if key not in published or key not in recomputed:
                return f"{path}.{key}"
            found = first_difference(published[key], recomputed[key], f"{path}.{key}")
            if found is not None:
                return found
        return None
    if (
        isinstance(published, list)
        and isinstance(recomputed, Sequence)
        and not isinstance(recomputed, (str, bytes))
    ):
        if len(published) != len(recomputed):
            return f"{path} (length {len(published)} != {len(recomputed)})"
        for n, (a, b) in enumerate(zip(published, recomputed, strict=True)):
            found = first_difference(a, b, f"{path}[{n}]")
            if found is not None:
                return found
        return None
    if published == recomputed:
        return None
    return f"{path} ({_shown(published)} != {_shown(recomputed)})"
