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
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ledger.authority import AuthorityReplay
from ledger.bundle import CHECKPOINT, CHECKPOINTS, ENTRIES, KEY, ROLLUPS
from ledger.canonical import parse_canonical
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.envelope import check_envelope
from ledger.errors import CorruptEvent
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    root_from_leaf_hashes,
    root_from_subtrees,
    verify_consistency,
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
    tiles_for_tree,
)

KEY_LIMIT = 4 * 1024
"""Bytes of ``key.vkey``: one verifier key (name, hash and 32-byte key) is under 200."""
NOTE_LIMIT = 64 * 1024
"""Bytes of a checkpoint note: its body and up to ``MAX_SIGNATURES`` (100) signature lines."""
TILE_LIMIT = TILE_WIDTH * HASH_SIZE
"""Bytes of a hash tile: 256 hashes."""
ENTRY_LIMIT = 64 * 1024 * 1024
"""Bytes of one line of ``entries.jsonl``. The domain bounds every field but not an envelope as
a whole; its largest is a pledge with 50 indicators of 51 points, each with a 5,000-character
comment: about 12.8 million characters, at most 4 bytes each in UTF-8 (some 52 MB)."""
ROLLUPS_LIMIT = 64 * 1024 * 1024
"""Bytes of ``rollups.json`` (a few KiB per city, network and taxonomy key)."""
ROLLUPS_DEPTH = 16
"""Nesting of ``rollups.json``: the document the ledger publishes is six levels deep."""
FRESHNESS_MONTHS = range(1, 121)
"""The freshness windows a roll-ups document may declare (those the ledger's settings accept)."""

_MISSING = object()

Replay = Callable[[Iterator[bytes], int, int], Any]
"""Recomputes the roll-ups document from the entries (in leaf order) at a tree size, with a
freshness window in months."""


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
) -> VerificationResult:
    """Check a bundle; the result's ``failure`` names the first thing that does not hold.

    With ``replay``, the bundle must carry a valid ``rollups.json``, which is replayed from the
    entries; without it the roll-ups are not looked at, and ``rollups_checked`` stays False.

    ``known_checkpoints`` are ``(name, signed note)`` pairs the auditor kept from earlier
    verifications; the bundle fails, naming the first one it contradicts, unless its latest tree
    extends every one of them.
    """
    result = VerificationResult()
    try:
        _verify(directory, trusted_vkey, replay, progress, known_checkpoints, result)
    except _Failed as failed:
        result.failure = failed.finding
    return result


def _verify(
    directory: Path,
    trusted_vkey: str | None,
    replay: Replay | None,
    progress: Callable[[int, int], None] | None,
    known_checkpoints: Sequence[tuple[str, bytes]],
    result: VerificationResult,
) -> None:
    if not directory.is_dir():
        raise _Failed(str(directory), "is not a bundle directory")
    verifier = _load_key(directory, trusted_vkey, result)
    latest, by_size = _load_checkpoints(directory, verifier)
    result.tree_size = latest.size

    leaf_hashes: list[bytes] = []
    versions: dict[str, int] = {}
    seen: set[str] = set()
    sha256 = hashlib.sha256
    # A deleted or moved entry also breaks stream versions further on; the signed root names
    # the first position that differs, so such findings wait until the root is checked.
    disorder: _Failed | None = None
    # Likewise an event recorded without authority: reported once the entries are proven.
    authority = AuthorityReplay()
    unauthorised: _Failed | None = None
    for index, raw in enumerate(_iter_lines(directory)):
        try:
            body = parse_canonical(raw)
            check_envelope(body)
        except CorruptEvent as error:
            raise _Failed(_entry(index), f"not a canonical envelope: {error}") from error
        if disorder is None:
            event_id: str = body["event_id"]
            stream_id: str = body["stream_id"]
            expected = versions.get(stream_id, 0) + 1
            if event_id in seen:
                disorder = _Failed(_entry(index, event_id), "this event id appears twice")
            elif body["stream_version"] != expected:
                disorder = _Failed(
                    _entry(index, event_id),
                    f"{stream_id} version {body['stream_version']} follows version "
                    f"{expected - 1}: an event is missing, repeated or out of order",
                )
            seen.add(event_id)
            versions[stream_id] = expected
        if unauthorised is None:
            problem = authority.check(index, body)
            if problem is not None:
                unauthorised = _Failed(_entry(index, body["event_id"]), problem)
        leaf_hashes.append(sha256(LEAF_PREFIX + raw).digest())
        if progress is not None and not (index + 1) % 10_000:
            progress(index + 1, latest.size)
    count = result.entries = len(leaf_hashes)
    if progress is not None:
        progress(count, latest.size)
    # One pass of hashing: the tile levels (0, 8, 16, ...) give every root and every tile.
    levels = _TileLevels(leaf_hashes)
    roots = {size: root_from_subtrees(size, levels) for size in by_size if size <= count}

    if count != latest.size or roots.get(latest.size) != latest.root:
        _locate(directory, latest, leaf_hashes)
    if disorder is not None:
        raise disorder
    for size in sorted(by_size):
        name, checkpoint = by_size[size]
        if roots.get(size) != checkpoint.root:
            raise _Failed(
                name,
                f"its signed root is not the root of the first {size} entries, which the "
                f"latest checkpoint confirms: it is not consistent with the log",
            )
        result.checkpoints.append(size)
    if unauthorised is not None:
        raise unauthorised
    result.authority_checked = True
    for name, note in known_checkpoints:
        result.known_checkpoints.append(
            _check_known_checkpoint(name, note, verifier, latest, levels)
        )
    result.tiles = _check_tiles(directory, latest.size, levels)
    if replay is not None:
        _check_rollups(directory, latest.size, replay)
        result.rollups_checked = True


def _check_known_checkpoint(
    name: str, note: bytes, verifier: Verifier, latest: Checkpoint, levels: _TileLevels
) -> int:
    """Prove the bundle's latest tree (already checked against its entries) extends ``note``.

    Answers the known checkpoint's size. A known checkpoint larger than the bundle's latest
    means the log lost entries it once signed (or the bundle is older than what the auditor
    saw); a same-or-smaller one whose root the entries do not give means history was rewritten.
    """
    try:
        known = open_checkpoint(note, verifier, expected_origin=latest.origin)
    except NoteError as error:
        raise _Failed(
            name, f"is not a checkpoint of this log signed by the trusted key: {error}"
        ) from error
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
    try:
        proof = consistency_proof(known.size, latest.size, levels)
        verify_consistency(known.size, latest.size, proof, known.root, latest.root)
    except MerkleError as error:
        raise _Failed(
            name,
            f"the log contradicts it: its first {known.size} entries no longer give the root "
            f"signed then, so the log's history was rewritten since ({error})",
        ) from error
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


class _TileLevels:
    """The hashes tiles hold (Merkle levels 0, 8, 16, …), computed from the leaves directly."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.levels: dict[int, list[bytes]] = {0: leaf_hashes}
        below = leaf_hashes
        level = 0
        while len(below) >= TILE_WIDTH:
            level += TILE_HEIGHT
            below = [
                root_from_leaf_hashes(below[start : start + TILE_WIDTH])
                for start in range(0, len(below) - TILE_WIDTH + 1, TILE_WIDTH)
            ]
            self.levels[level] = below

    def __call__(self, level: int, index: int) -> bytes:
        stored = self.levels.get(level)
        if stored is not None:
            return stored[index]
        base = level - level % TILE_HEIGHT
        width = 1 << (level - base)
        return root_from_leaf_hashes(self.levels[base][index * width : (index + 1) * width])


def _check_tiles(directory: Path, size: int, levels: _TileLevels) -> int:
    """Every tile a mirror would serve must equal the one recomputed from the entries."""
    expected = dict(tiles_for_tree(size, levels))
    present: set[str] = set()
    for relative in _files_under(directory, TILE_FOLDER):
        try:
            parse_tile_path(relative)
        except MerkleError as error:
            raise _Failed(relative, f"is not a tile path: {error}") from error
        present.add(relative)
    for tile, content in expected.items():
        if tile not in present:
            raise _Failed(tile, "missing")
        published = _read_file(directory, tile, TILE_LIMIT, "a hash tile")
        if published != content:
            raise _Failed(tile, _tile_difference(directory, tile, published, content))
    extra = sorted(present - set(expected))
    if extra:
        raise _Failed(extra[0], "is not a tile of this tree")
    return len(expected)


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


def _check_rollups(directory: Path, size: int, replay: Replay) -> None:
    if not _is_present(directory, ROLLUPS):
        raise _Failed(ROLLUPS, "missing, so the published roll-ups cannot be checked")
    data = _read_file(directory, ROLLUPS, ROLLUPS_LIMIT, "a roll-ups document")
    try:
        published = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise _Failed(ROLLUPS, f"is not JSON: {error}") from error
    if not isinstance(published, dict):
        raise _Failed(ROLLUPS, "is not a JSON object")
    if _deeper_than(published, ROLLUPS_DEPTH):
        raise _Failed(ROLLUPS, f"is nested deeper than {ROLLUPS_DEPTH} levels")
    months = published.get("freshness_months", _MISSING)
    if type(months) is not int or months not in FRESHNESS_MONTHS:
        raise _Failed(
            ROLLUPS,
            f"freshness_months must be a whole number of months from {FRESHNESS_MONTHS[0]} to "
            f"{FRESHNESS_MONTHS[-1]}, not {_shown(months)}",
        )
    tree_size = published.get("tree_size", _MISSING)
    if type(tree_size) is not int or tree_size != size:
        raise _Failed(
            ROLLUPS,
            f"tree_size must be the latest checkpoint's size {size}, not {_shown(tree_size)}",
        )
    try:
        recomputed = replay(_iter_lines(directory), size, months)
    except (ValueError, LookupError, TypeError, ArithmeticError) as error:
        # The entries verified against the signed root, but a forged bundle's own key can sign
        # anything: entries the read side cannot fold are a failure, not a crash.
        raise _Failed(ROLLUPS, f"the entries cannot be replayed: {error}") from error
    difference = first_difference(published, recomputed)
    if difference is not None:
        raise _Failed(ROLLUPS, f"differs from the replay of the entries at {difference}")


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether ``document`` nests lists and objects more than ``limit`` levels (no recursion:
    orjson parses any depth, and Python's recursion would fail on it)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in children)
    return False


def _shown(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: its repr, cut short."""
    text = "missing" if value is _MISSING else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_difference(published: Any, recomputed: Any, path: str = "$") -> str | None:
    """The first JSON path where two documents differ, or None."""
    if isinstance(published, dict) and isinstance(recomputed, dict):
        for key in sorted(set(published) | set(recomputed)):
            if key not in published or key not in recomputed:
                return f"{path}.{key}"
            found = first_difference(published[key], recomputed[key], f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(published, list) and isinstance(recomputed, list):
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
