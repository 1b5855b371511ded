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
import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection, wait
from typing import Any

from domain.errors import DomainError
from domain.events import Payload, parse_payload
from ledger.authority import AuthorityFacts, authority_facts, reads_payload
from ledger.canonical import parse_canonical
from ledger.envelope import check_envelope
from ledger.errors import CorruptEvent, LedgerError
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


class ScanFailed(LedgerError):
    """A worker process of the scan died or could not run (not a finding about the entries)."""

    code = "scan_failed"


class _Descriptor:
    """The open ``entries.jsonl`` handed to a worker: inherited as it is by a forked worker,
    sent over the fork server's socket (``SCM_RIGHTS``) to one started from it. Either way the
    worker reads the file the main process opened, never a path that may have changed since."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    def __reduce__(self) -> tuple[Any, ...]:
        return (_received_descriptor, (reduction.DupFd(self.descriptor),))


def _received_descriptor(duplicate: Any) -> _Descriptor:
    return _Descriptor(duplicate.detach())


def _serve(connection: Connection, file: _Descriptor, extract: Extract | None) -> None:
    """A worker's loop: one task at a time from its pipe, each answered in order.

    The pipe is the worker's only tie to the main process: when that process dies or closes
    the pipe, ``recv`` ends and so does the worker.
    """
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        try:
            if task[0] == "scan":
                result: Any = scan_chunk(file.descriptor, task[1], task[2], extract)
            else:
                result = duplicate_prefixes(task[1])
        except BaseException as error:  # sent back and raised in the main process
            connection.send(("error", f"{type(error).__name__}: {error}"))
            continue
        connection.send(("ok", result))


def start_method() -> str | None:
    """How worker processes start here: ``fork`` while this process runs one thread only,
    otherwise from a fork server (forking a process whose other threads may hold a lock, in C
    or in Python, can leave the child waiting on it forever); ``None`` where neither exists.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    if "forkserver" in methods:
        return "forkserver"
    return None


class _Workers:
    """Processes each serving one pipe; tasks go round-robin and come back in the order sent.

    Unlike ``multiprocessing.Pool`` there is no helper thread in the main process, and a worker
    that dies (killed, out of memory) is seen at once, as a ``ScanFailed``, instead of leaving
    its task unanswered forever.
    """

    def __init__(self, method: str, count: int, descriptor: int, extract: Extract | None) -> None:
        context: Any = multiprocessing.get_context(method)
        if method == "forkserver":
            modules = [__name__]
            owner = getattr(extract, "__module__", None)
            if isinstance(owner, str):
                modules.append(owner)
            context.set_forkserver_preload(modules)
        self.method = method
        self._processes: list[Any] = []
        self._connections: list[Connection] = []
        self._pending: list[int] = []
        try:
            for _ in range(count):
                mine, theirs = context.Pipe(duplex=True)
                process = context.Process(
                    target=_serve,
                    args=(theirs, _Descriptor(descriptor), extract),
                    name="pledge-ledger-scan",
                    daemon=True,
                )
                process.start()
                theirs.close()
                self._processes.append(process)
                self._connections.append(mine)
                self._pending.append(0)
        except BaseException:
            self.close()
            raise

    def send(self, worker: int, task: tuple[Any, ...]) -> None:
        try:
            self._connections[worker].send(task)
        except OSError as error:
            raise self._lost(worker, error) from None
        self._pending[worker] += 1

    def receive(self, worker: int) -> Any:
        """The answer to the oldest task sent to ``worker`` and not received yet."""
        connection = self._connections[worker]
        if connection not in wait([connection, self._processes[worker].sentinel]):
            raise self._lost(worker, None)
        try:
            status, value = connection.recv()
        except (EOFError, OSError) as error:
            raise self._lost(worker, error) from None
        self._pending[worker] -= 1
        if status == "error":
            raise ScanFailed(f"a worker process failed: {value}")
        return value

    def drain(self, worker: int) -> None:
        """Receive and drop the answers still owed by ``worker`` (a scan left unfinished)."""
        while self._pending[worker]:
            self.receive(worker)

    def _lost(self, worker: int, error: BaseException | None) -> ScanFailed:
        process = self._processes[worker]
        process.join(timeout=1)
        code = process.exitcode
        how = (
            f"was killed by signal {-code}"
            if code is not None and code < 0
            else f"exited with status {code}"
            if code is not None
            else f"stopped answering ({error})"
        )
        return ScanFailed(
            f"a worker process reading the entries {how}; nothing was concluded about the "
            "bundle (run again, or with --workers 1)"
        )

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():  # pragma: no cover - ignored SIGTERM
                process.kill()
                process.join()
        self._processes.clear()
        self._connections.clear()
        self._pending.clear()


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

    The processes start once the file is open and read it through the same open file (nothing
    is opened again by name); they are ended when the scanner closes. Chunk ``i`` goes to worker
    ``i mod workers``, so each worker's answers come back in the order the chunks are read.
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
        self._pool: _Workers | None = None
        method = start_method() if self.workers > 1 else None
        if method is not None:
            self._pool = _Workers(method, self.workers, descriptor, extract)
        else:
            self.workers = 1

    @property
    def method(self) -> str | None:
        """How the workers were started (``None``: no workers, all in this process)."""
        return None if self._pool is None else self._pool.method

    def __enter__(self) -> EntryScanner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def chunks(self) -> Iterator[ChunkScan]:
        """Every chunk's scan, in file order."""
        pool = self._pool
        if pool is None:
            for start, end in self.bounds:
                yield scan_chunk(self.descriptor, start, end, self.extract)
            return
        count = len(self.bounds)
        ahead = min(count, self.workers * (1 + IN_FLIGHT_PER_WORKER))
        for index in range(ahead):
            pool.send(index % self.workers, ("scan", *self.bounds[index]))
        for index in range(count):
            result: ChunkScan = pool.receive(index % self.workers)
            following = index + ahead
            if following < count:
                pool.send(following % self.workers, ("scan", *self.bounds[following]))
            yield result

    def duplicates(self, id_prefixes: bytes) -> list[list[int]]:
        """``duplicate_prefixes``, in a worker when there are some."""
        if self._pool is None:
            return duplicate_prefixes(id_prefixes)
        self._pool.drain(0)
        self._pool.send(0, ("duplicates", id_prefixes))
        found: list[list[int]] = self._pool.receive(0)
        return found
