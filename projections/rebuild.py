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
scans the whole log but folds only its share of the pledges (by a hash of the stream id; every
worker folds the registry, which pledges need for their cities' countries), writes its pledges,
and hands its roll-up sums back to be added up and written once. Call it from a process of its
own (the command line), not from inside a threaded server.
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
from ledger.store import EventStore
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
                engine, store.settings, aside, head, page_size, report, workers
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
    state = ViewState()
    position = Position(0, 0)
    report(RebuildProgress("scan", 0, head))
    while True:
        page = notified_page(store, position.notification_id, page_size, stop=head)
        if not page:
            break
        state.apply_all(n.envelope for n in page)
        state.take_changes()
        position = Position(page[-1].notification_id, position.events + len(page))
        report(RebuildProgress("scan", position.events, head))
    report(RebuildProgress("write", position.events, head))
    with engine.begin() as connection, bulk_loading(connection):
        for projector in projectors:
            projector.load(connection, aside, state)
    return position


def _build_aside_in_processes(
    engine: Engine,
    settings: LedgerSettings,
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
            args=(engine, settings, aside, head, page_size, index, workers),
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
    shares: dict[int, tuple[Position, RollupCells]] = {}
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
                shares[index] = cast(tuple[Position, RollupCells], message)
            report(RebuildProgress("scan", min(scanned), head))
    finally:
        for process in processes:
            if process.is_alive() and len(shares) < workers:
                process.terminate()
            process.join()
    report(RebuildProgress("write", shares[0][0].events, head))
    cells = shares[0][1]
    for index in range(1, workers):
        cells.merge(shares[index][1])
    with engine.begin() as connection, bulk_loading(connection):
        RollupProjector.load_cells(connection, aside, cells)
    return shares[0][0]


def _fold_share(
    engine: Engine,
    settings: LedgerSettings,
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
    """In a forked worker: fold the registry and this worker's share of the pledges, write
    them, and send back the position reached and the share's roll-up sums."""
    try:
        engine.dispose(close=False)  # the parent's connections are not this process's
        gc.disable()
        with writing:  # opening a store creates its tables if missing: not concurrently
            store = EventStore(settings)
        try:
            state = ViewState()
            position = Position(0, 0)
            while True:
                page = store.notifications(
                    after=position.notification_id, limit=page_size, stop=head
                )
                if not page:
                    break
                for stored in page:
                    stream_id = stored.stream_id
                    if (
                        stream_id.startswith(PLEDGE_PREFIX)
                        and zlib.crc32(stream_id.encode()) % workers != index
                    ):
                        continue
                    state.apply(read_envelope(stored.raw))
                state.take_changes()
                position = Position(page[-1].notification_id, position.events + len(page))
                scanned[index] = position.events
            cells = state.rollup_cells()
            rows = PledgeProjector.rows(state)
            with writing, engine.begin() as connection, bulk_loading(connection):
                if index == 0:  # the registry is written once
                    RegistryProjector().load(connection, aside, state)
                PledgeProjector.write(connection, aside, rows)
            results.send((position, cells))
        finally:
            store.close()
    except BaseException:
        results.send(RebuildFailed(traceback.format_exc()))
    finally:
        results.close()
