"""Rebuilding every view from the log, aside, then swapping it in: safe while the server runs.

1. A fresh set of tables is created under suffixed names (leftovers of an interrupted rebuild
   are dropped first).
2. The log is scanned once, in pages, up to the position the store had when the rebuild began:
   every envelope is folded into an in-memory ``ViewState``, and each view is written in bulk
   from the final state (no lock is held during the scan).
3. One transaction takes the live runner's tracking row (so no catch-up runs meanwhile), brings
   the new set up to the store's current position with the ordinary batch path, renames the live
   set away and the new set in, and moves the tracking position to where the new set stands.
   Readers see the old views or the new ones, never a mix.
4. The old set is dropped.

With ``workers`` > 1 (on systems that can fork), step 2 runs in that many processes: each
reads, from the database, only the registry's events and its share of the pledges' (by a hash
of the stream id: a pledge's events all go to one worker, in order; every worker folds the
registry, which pledges need for their cities' countries), writes its pledges, and hands its
roll-up sums back to be added up and written once. Call it from a process of its own (the
command line), not from inside a threaded server.

The scan reads the events table with one SQL statement a page (``EventStore.scan``) and parses
each envelope without re-proving it canonical (``read_envelope``): the bytes are the ledger's
own, and the transparency log and the verifier check them independently.
"""

from __future__ import annotations

import fcntl
import gc
import multiprocessing
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from typing import Any, Literal, cast

from sqlalchemy import Engine

from ledger.errors import LedgerError
from ledger.settings import LedgerSettings
from ledger.store import EventStore, StreamSplit
from projections.counters import RollupCells
from projections.envelopes import read_envelope
from projections.pledges import PledgeProjector
from projections.projector import Projector
from projections.registry import RegistryProjector
from projections.rollups import RollupProjector
from projections.runner import (
    VIEWS,
    Position,
    apply_batch,
    claim_position,
    default_projectors,
    notified_page,
    save_position,
)
from projections.sealed import decode_sealed
from projections.state import PLEDGE_PREFIX, ViewState
from projections.tables import (
    AFTER_REBUILD_SUFFIX,
    REBUILD_SUFFIX,
    ViewTables,
    bulk_loading,
    create_view_tables,
    define_view_tables,
    drop_view_tables,
    ensure_position,
    live_tables,
    rename_view_tables,
)

Phase = Literal["scan", "write", "swap", "cleanup", "done"]


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    """Where a rebuild is: ``events`` folded so far, of about ``total`` (the store's size)."""

    phase: Phase
    events: int
    total: int


class RebuildFailed(LedgerError):
    """A rebuild worker failed; the live views were left as they were."""

    code = "rebuild_failed"


@dataclass(frozen=True, slots=True)
class RebuildResult:
    events: int
    notification_id: int
    seconds: float
    """From the start until the new views were live."""
    cleanup_seconds: float
    """Dropping the old views afterwards."""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def _only_rebuild(engine: Engine, settings: LedgerSettings) -> Iterator[None]:
    """Refuse to run beside another rebuild of the same views (they share the aside tables).

    A PostgreSQL advisory lock or a lock file beside the SQLite database: both are released
    by the operating system if the process dies.
    """
    busy = RebuildFailed("another rebuild of these views is running")
    if settings.backend == "postgresql":
        key = zlib.crc32(f"pledge-ledger rebuild {settings.database_schema or ''}".encode())
        with engine.connect() as connection:
            locked = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
            connection.commit()  # the lock belongs to the session: no transaction left open
            if not locked:
                raise busy
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                connection.commit()
        return
    with open(f"{settings.sqlite_path}.rebuild.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise busy from error
        yield


def rebuild(
    engine: Engine,
    store: EventStore,
    *,
    progress: Callable[[RebuildProgress], None] | None = None,
    projectors: Sequence[Projector] | None = None,
    page_size: int = 5000,
    name: str = VIEWS,
    workers: int = 1,
) -> RebuildResult:
    """Rebuild every view from the log and swap the result in; see the module doc."""
    with _only_rebuild(engine, store.settings):
        return _rebuild(engine, store, progress, projectors, page_size, name, workers)


def _rebuild(
    engine: Engine,
    store: EventStore,
    progress: Callable[[RebuildProgress], None] | None,
    projectors: Sequence[Projector] | None,
    page_size: int,
    name: str,
    workers: int,
) -> RebuildResult:
    started = time.perf_counter()
    if workers > 1 and projectors is not None:
        raise ValueError("a rebuild in several processes writes the default views only")
    parallel = workers > 1 and "fork" in multiprocessing.get_all_start_methods()
    projectors = tuple(projectors) if projectors is not None else default_projectors()
    report = progress or (lambda _: None)
    live = live_tables()
    aside = define_view_tables(REBUILD_SUFFIX)
    retired = define_view_tables(AFTER_REBUILD_SUFFIX)
    with engine.begin() as connection:
        drop_view_tables(connection, aside)
        drop_view_tables(connection, retired)
        create_view_tables(connection, aside)
        create_view_tables(connection, live)
        ensure_position(connection, name)

    head = store.max_notification_id()
    # The fold allocates millions of small objects and frees none of them until the end: the
    # cyclic garbage collector would walk the growing heap again and again, for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        if parallel:
            position = _build_aside_in_processes(
                engine, store, aside, head, page_size, report, workers
            )
        else:
            position = _build_aside(engine, store, projectors, aside, head, page_size, report)
    finally:
        if collecting:
            gc.enable()

    report(RebuildProgress("swap", position.events, head))
    with engine.begin() as connection:
        claim_position(connection, name)
        while True:
            page = notified_page(store, position.notification_id, page_size)
            if not page:
                break
            apply_batch(connection, aside, projectors, page)
            position = Position(page[-1].notification_id, position.events + len(page))
        rename_view_tables(connection, live, retired)
        rename_view_tables(connection, aside, live)
        save_position(connection, name, position)
    live_after = time.perf_counter() - started
    report(RebuildProgress("cleanup", position.events, max(head, position.events)))
    with engine.begin() as connection:
        drop_view_tables(connection, retired)
    report(RebuildProgress("done", position.events, max(head, position.events)))
    cleanup = time.perf_counter() - started - live_after
    return RebuildResult(position.events, position.notification_id, live_after, cleanup)


def _build_aside(
    engine: Engine,
    store: EventStore,
    projectors: Sequence[Projector],
    aside: ViewTables,
    head: int,
    page_size: int,
    report: Callable[[RebuildProgress], None],
) -> Position:
    """Fold the log up to ``head`` and write every view into the ``aside`` tables."""
    state = ViewState(decode=decode_sealed)
    position = Position(0, 0)
    report(RebuildProgress("scan", 0, head))
    for rows in _pages(engine, store, head, page_size):
        apply = state.apply
        for _, _, raw in rows:
            apply(read_envelope(raw))
        state.take_changes()
        position = Position(rows[-1][0], position.events + len(rows))
        report(RebuildProgress("scan", position.events, head))
    report(RebuildProgress("write", position.events, head))
    with engine.begin() as connection, bulk_loading(connection):
        for projector in projectors:
            projector.load(connection, aside, state)
    return position


def _pages(
    engine: Engine,
    store: EventStore,
    head: int,
    page_size: int,
    split: StreamSplit | None = None,
) -> Iterator[list[tuple[int, str, bytes]]]:
    """The stored envelopes up to ``head`` (or one split's share of them), a page at a time,
    each page read in a short transaction of its own."""
    after = 0
    with engine.connect() as reader:
        while after < head:
            rows = store.scan(reader, after=after, stop=head, limit=page_size, split=split)
            reader.rollback()
            if not rows:
                return
            yield rows
            after = rows[-1][0]


def _build_aside_in_processes(
    engine: Engine,
    store: EventStore,
    aside: ViewTables,
    head: int,
    page_size: int,
    report: Callable[[RebuildProgress], None],
    workers: int,
) -> Position:
    """``_build_aside`` with the pledges shared out among forked worker processes."""
    context = multiprocessing.get_context("fork")
    scanned = context.Array("q", workers, lock=False)
    writing = context.Lock()
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    processes = [
        context.Process(
            target=_fold_share,
            args=(engine, store, aside, head, page_size, index, workers),
            kwargs={"scanned": scanned, "writing": writing, "results": sender},
            name=f"pledge-ledger rebuild {index + 1}/{workers}",
            daemon=True,
        )
        for index, (_, sender) in enumerate(pipes)
    ]
    report(RebuildProgress("scan", 0, head))
    for process in processes:
        process.start()
    for _, sender in pipes:
        sender.close()
    pending: dict[Pipe, int] = {receiver: index for index, (receiver, _) in enumerate(pipes)}
    shares: dict[int, _Share] = {}
    try:
        while pending:
            for ready in wait(list(pending), timeout=0.25):
                receiver = cast(Pipe, ready)
                index = pending.pop(receiver)
                try:
                    message = receiver.recv()
                except EOFError:
                    message = RebuildFailed(f"rebuild worker {index + 1} died")
                if isinstance(message, BaseException):
                    raise RebuildFailed(f"rebuild worker {index + 1} failed: {message}")
                shares[index] = cast(_Share, message)
            report(RebuildProgress("scan", min(scanned), head))
    finally:
        for process in processes:
            if process.is_alive() and len(shares) < workers:
                process.terminate()
            process.join()
    events = shares[0].registry_events + sum(share.pledge_events for share in shares.values())
    report(RebuildProgress("write", events, head))
    cells = shares[0].cells
    for index in range(1, workers):
        cells.merge(shares[index].cells)
    with engine.begin() as connection, bulk_loading(connection):
        RollupProjector.load_cells(connection, aside, cells)
    return Position(head, events)


@dataclass(frozen=True, slots=True)
class _Share:
    """What a worker hands back: how many pledge and registry events it folded, and its
    pledges' roll-up sums."""

    pledge_events: int
    registry_events: int
    cells: RollupCells


def _fold_share(
    engine: Engine,
    store: EventStore,
    aside: ViewTables,
    head: int,
    page_size: int,
    index: int,
    workers: int,
    *,
    scanned: Any,
    writing: Any,
    results: Pipe,
) -> None:
    """In a forked worker: fold the registry and this worker's share of the pledges (read
    alone, filtered by the database), write them, and send back a ``_Share``."""
    try:
        engine.dispose(close=False)  # the parent's connections are not this process's
        gc.disable()
        state = ViewState(decode=decode_sealed)
        apply = state.apply
        events = registry = 0
        split = StreamSplit(PLEDGE_PREFIX, index, workers)
        for rows in _pages(engine, store, head, page_size, split):
            for _, stream_id, raw in rows:
                apply(read_envelope(raw))
                if not stream_id.startswith(PLEDGE_PREFIX):
                    registry += 1
            state.take_changes()
            events += len(rows)
            scanned[index] = rows[-1][0]
        scanned[index] = head
        cells = state.rollup_cells()
        rows_out = PledgeProjector.rows(state)
        with writing, engine.begin() as connection, bulk_loading(connection):
            if index == 0:  # the registry is written once
                RegistryProjector().load(connection, aside, state)
            PledgeProjector.write(connection, aside, rows_out)
        results.send(_Share(events - registry, registry, cells))
    except BaseException:
        results.send(RebuildFailed(traceback.format_exc()))
    finally:
        results.close()
