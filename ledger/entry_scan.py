"""Reading, proving and hashing ``entries.jsonl`` on every core, one chunk of lines at a time.

The verifier's per-entry work (parse, prove the bytes canonical, check the envelope's shape,
hash the leaf, decode the payloads it replays) needs no other entry, so it runs in worker
processes over byte ranges of the file, each cut just after a newline. A chunk's result is what
the in-order checks need and nothing more: the leaf hashes, 64 bits of each event id, and per
entry its stream, version, type, author and the small facts the authority and roll-ups replays
read. The main process takes chunks back in file order, a few at a time, so memory holds a
handful of chunks whatever the file's size. A chunk stops at its first bad line and says which
(by its index within the chunk); the earliest chunk's failure is the file's first.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError
from domain.events import Payload, parse_payload
from ledger.authority import AuthorityFacts, authority_facts, reads_payload
from ledger.canonical import parse_canonical
from ledger.envelope import check_envelope
from ledger.errors import CorruptEvent
from ledger.merkle import LEAF_PREFIX

ENTRY_LIMIT = 64 * 1024 * 1024
"""Bytes of one line of ``entries.jsonl``. The domain bounds every field but not an envelope as
a whole; its largest is a pledge with 50 indicators of 51 points, each with a 5,000-character
comment: about 12.8 million characters, at most 4 bytes each in UTF-8 (some 52 MB)."""

CHUNK_BYTES = 4 * 1024 * 1024
"""Bytes of ``entries.jsonl`` per task: a few thousand entries, big enough that handing a chunk
to a worker and its result back costs little beside the work, small enough that a few in
flight per worker stay within a few dozen megabytes."""

IN_FLIGHT_PER_WORKER = 2
"""Chunks handed out per worker ahead of the one the main process waits for."""

REPLAY_ERRORS = (DomainError, ValueError, LookupError, TypeError, ArithmeticError)
"""What a roll-ups replay raises on entries it cannot fold: a failure of the bundle, not a
crash (a forged bundle's own key can sign anything)."""

Extract = Callable[[str, str, str, Payload, str], Any]
"""The roll-ups replay's ``extract(event_type, stream_id, recorded_at, payload, event_id)``."""

Record = tuple[str, str, int, str, str, AuthorityFacts | str | None, Any]
"""Per entry: event id, stream id, stream version, type, recorded_by, the authority replay's
facts (or the problem decoding them), the roll-ups replay's facts."""


@dataclass(slots=True)
class ChunkScan:
    """What one chunk of lines gives the in-order checks."""

    lines: int
    """Lines checked (up to the failing one, excluded)."""
    hashes: bytes
    """The leaf hash of each checked line, 32 bytes each."""
    id_prefixes: bytes
    """The first 64 bits of each checked line's event id, as ``array('Q')`` bytes."""
    records: list[Record]
    failure: tuple[int, str] | None = None
    """The first line that is not a canonical envelope: its index in the chunk, the problem."""
    replay_failure: tuple[int, str] | None = None
    """The first line the roll-ups replay cannot decode: its index in the chunk, the problem."""
    last_recorded_at: str | None = None


def chunk_bounds(
    descriptor: int, size: int, chunk_bytes: int = CHUNK_BYTES
) -> list[tuple[int, int]]:
    """Byte ranges covering the file, each ending just after a newline (the last at the end).

    A range never ends inside a line, unless no newline follows within ``ENTRY_LIMIT`` bytes:
    that line is too long anyway, and the chunk holding its start says so.
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < size:
        end = min(size, start + chunk_bytes)
        if end < size:
            end = _after_next_newline(descriptor, end, size)
        bounds.append((start, end))
        start = end
    return bounds


def _after_next_newline(descriptor: int, position: int, size: int) -> int:
    searched = 0
    while position < size and searched <= ENTRY_LIMIT:
        block = os.pread(descriptor, min(64 * 1024, size - position), position)
        if not block:
            return size
        found = block.find(b"\n")
        if found >= 0:
            return position + found + 1
        position += len(block)
        searched += len(block)
    return min(position, size)


def _event_id_prefix(event_id: str) -> int:
    """The first 64 bits of a lowercase UUID (its first 16 hex digits)."""
    return int(event_id[:8] + event_id[9:13] + event_id[14:18], 16)


def scan_chunk(descriptor: int, start: int, end: int, extract: Extract | None) -> ChunkScan:
    """Check and hash the lines of ``[start, end)``; ``extract`` also decodes every payload."""
    data = os.pread(descriptor, end - start, start)
    lines = data.split(b"\n")
    tail = lines.pop()  # empty when the chunk ends with a newline
    del data
    hashes = bytearray()
    prefixes = array("Q")
    records: list[Record] = []
    failure: tuple[int, str] | None = None
    replay_failure: tuple[int, str] | None = None
    last_recorded_at: str | None = None
    sha256 = hashlib.sha256
    intern = sys.intern
    for local, raw in enumerate(lines):
        if len(raw) > ENTRY_LIMIT:
            failure = (local, f"is longer than the {ENTRY_LIMIT:,}-byte limit of an entry")
            break
        try:
            body = parse_canonical(raw)
            check_envelope(body)
        except CorruptEvent as error:
            failure = (local, f"not a canonical envelope: {error}")
            break
        hashes += sha256(LEAF_PREFIX + raw).digest()
        prefixes.append(_event_id_prefix(body["event_id"]))
        event_type: str = intern(body["type"])
        stream_id: str = body["stream_id"]
        recorded_at: str = body["recorded_at"]
        authority: AuthorityFacts | str | None = None
        facts: Any = None
        reads = reads_payload(event_type)
        wanted = extract is not None and replay_failure is None
        if reads or wanted:
            try:
                payload = parse_payload(event_type, body["schema_version"], body["payload"])
            except DomainError as error:
                if reads:
                    authority = f"its payload does not decode: {error}"
                if wanted:
                    replay_failure = (local, str(error))
            else:
                if reads:
                    authority = authority_facts(event_type, payload)
                if wanted:
                    assert extract is not None
                    try:
                        facts = extract(
                            event_type, stream_id, recorded_at, payload, body["event_id"]
                        )
                    except (
                        DomainError,
                        ValueError,
                        LookupError,
                        TypeError,
                        ArithmeticError,
                    ) as error:
                        replay_failure = (local, str(error))
        records.append(
            (
                body["event_id"],
                stream_id,
                body["stream_version"],
                event_type,
                intern(body["recorded_by"]),
                authority,
                facts,
            )
        )
        last_recorded_at = recorded_at
    else:
        if tail:
            local = len(lines)
            if len(tail) > ENTRY_LIMIT:
                failure = (local, f"is longer than the {ENTRY_LIMIT:,}-byte limit of an entry")
            else:
                failure = (local, "the last line has no newline: the file is cut")
    return ChunkScan(
        lines=len(records),
        hashes=bytes(hashes),
        id_prefixes=prefixes.tobytes(),
        records=records,
        failure=failure,
        replay_failure=replay_failure,
        last_recorded_at=last_recorded_at,
    )


# --- the worker processes ---------------------------------------------------------------------

_worker: tuple[int, Extract | None] | None = None


def _start_worker(descriptor: int, extract: Extract | None) -> None:
    global _worker
    _worker = (descriptor, extract)


def _scan_in_worker(start: int, end: int) -> ChunkScan:
    assert _worker is not None
    descriptor, extract = _worker
    return scan_chunk(descriptor, start, end, extract)


def duplicate_prefixes(id_prefixes: bytes) -> list[list[int]]:
    """Groups of entry indices whose event ids share their first 64 bits (each group in order),
    found bucket by bucket so that no more than a 256th of the ids is sorted at once."""
    values = array("Q")
    values.frombytes(id_prefixes)
    buckets: list[array[int]] = [array("Q") for _ in range(256)]
    for index, value in enumerate(values):
        buckets[value >> 56].append(index)
    groups: list[list[int]] = []
    for bucket in buckets:
        ordered = sorted(bucket, key=values.__getitem__)
        for position in range(1, len(ordered)):
            if values[ordered[position]] == values[ordered[position - 1]]:
                if position == 1 or values[ordered[position - 1]] != values[ordered[position - 2]]:
                    groups.append([ordered[position - 1]])
                groups[-1].append(ordered[position])
    return groups


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class EntryScanner:
    """Chunks of ``entries.jsonl`` scanned in order, by ``workers`` processes (1: in this one).

    The processes are forked once the file is open, so that they read it through the same
    descriptor (nothing is opened again by name), and are ended when the scanner closes.
    """

    def __init__(
        self,
        descriptor: int,
        extract: Extract | None,
        *,
        workers: int,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self.descriptor = descriptor
        self.extract = extract
        size = os.fstat(descriptor).st_size
        self.bounds = chunk_bounds(descriptor, size, chunk_bytes)
        self.workers = max(1, min(workers, len(self.bounds)))
        self._pool: Any = None
        if self.workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self._pool = context.Pool(
                self.workers, initializer=_start_worker, initargs=(descriptor, extract)
            )
        else:
            self.workers = 1

    def __enter__(self) -> EntryScanner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def chunks(self) -> Iterator[ChunkScan]:
        """Every chunk's scan, in file order."""
        if self._pool is None:
            for start, end in self.bounds:
                yield scan_chunk(self.descriptor, start, end, self.extract)
            return
        pending: deque[Any] = deque()
        waiting = iter(self.bounds)
        ahead = self.workers * (1 + IN_FLIGHT_PER_WORKER)
        for start, end in waiting:
            pending.append(self._pool.apply_async(_scan_in_worker, (start, end)))
            if len(pending) >= ahead:
                break
        while pending:
            result: ChunkScan = pending.popleft().get()
            following = next(waiting, None)
            if following is not None:
                pending.append(self._pool.apply_async(_scan_in_worker, following))
            yield result

    def duplicates(self, id_prefixes: bytes) -> list[list[int]]:
        """``duplicate_prefixes``, in a worker when there are some."""
        if self._pool is None:
            return duplicate_prefixes(id_prefixes)
        found: list[list[int]] = self._pool.apply(duplicate_prefixes, (id_prefixes,))
        return found
