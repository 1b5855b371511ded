"""Rebuilding every view from the log, aside, then swapping it in: safe while the server runs.

1. A fresh set of tables is created under suffixed names (leftovers of an interrupted rebuild
   are dropped first).
2. The log is read up to the position the store had when the rebuild began and folded into the
   new set. The default views are folded stream by stream (see "the default views, stream by
   stream" below and ADR 0007): the registry first, then each pledge, whose row, tags and roll-up
   contribution are written as soon as its stream ends. No lock is held meanwhile. A custom set
   of projectors gets the whole log folded in log order, in memory, and writes from that state.
3. One transaction takes the live runner's tracking row (so no catch-up runs meanwhile), brings
   the new set up to the store's current position with the ordinary batch path, renames the live
   set away and the new set in, and moves the tracking position to where the new set stands.
   Readers see the old views or the new ones, never a mix.
4. The old set is dropped.

With ``workers`` > 1 (on systems that can fork), the pledge streams are cut into that many runs
of about as many events each, at stream boundaries, and each run is folded by a forked process
that inherits the registry; the workers write their pledges in chunks, one at a time, and hand
their roll-up sums back to be added up and written once. Call it from a process of its own (the
command line), not from inside a threaded server. The workers die with the rebuilding process,
however it ends (see ``_die_with_parent``): none is left to hang holding the rebuild lock.

The scan reads the events table with one SQL statement a page (``EventStore.scan_streams``),
parses each envelope without re-proving it canonical (``read_envelope``) and decodes its
payload without validating it again (``decode_sealed``): the bytes are the ledger's own, and
the transparency log and the verifier check them independently.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.connection import wait
from operator import itemgetter
from typing import Any, Literal, cast

from sqlalchemy import Engine

from ledger.database import store_lock
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from projections.counters import Key, RollupCells, RollupTally, contribution
from projections.envelopes import read_envelope
from projections.errors import InvalidQuery, RebuildFailed
from projections.pledge_fold import PledgeView
from projections.pledges import (
    TAG_DIMENSIONS,
    PledgeProjector,
    PledgeRows,
    external_id_tags,
    filter_only_tags,
    matching_tags,
    pledge_row,
    tag_rows,
)
from projections.projector import Projector
from projections.registry import RegistryProjector
from projections.rollups import RollupProjector
from projections.runner import (
    VIEWS,
    Position,
    apply_day_batch,
    claim_position,
    default_projectors,
    notified_page,
    save_position,
)
from projections.sealed import decode_sealed
from projections.state import PLEDGE_PREFIX, ViewState, without_cycle_collection
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
def only_one_rebuild(engine: Engine, settings: LedgerSettings) -> Iterator[None]:
    """Refuse to run beside another rebuild of the same views (they share the aside tables).

    A PostgreSQL advisory lock or a lock file beside the SQLite database: both are released
    by the operating system when the process dies, which needs no stale-lock recovery of our
    own. Forked workers inherit the lock's file descriptor or database connection, and so hold
    it too until they exit: they die with the rebuilding process (``_die_with_parent``).
    """
    with store_lock(engine, settings, "rebuild") as held:
        if not held:
            raise RebuildFailed(
                "another rebuild of these views is running (one killed a moment ago may hold it "
                "for a few seconds more on PostgreSQL: try again)"
            )
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
    with only_one_rebuild(engine, store.settings):
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
        raise InvalidQuery(
            "a rebuild in several processes writes the default views only", field="workers"
        )
    parallel = workers > 1 and "fork" in multiprocessing.get_all_start_methods()
    custom = projectors is not None
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
    with without_cycle_collection():
        if custom:
            position = _build_aside(engine, store, projectors, aside, head, page_size, report)
        else:
            position = _stream_aside(
                engine, store, aside, head, page_size, report, workers if parallel else 1
            )

    report(RebuildProgress("swap", position.events, head))
    with engine.begin() as connection:
        live_position = claim_position(connection, name)
        while True:
            # Cut at the live views' position: the roll-ups' history stands there with them
            # (if in lockstep) and takes in only the events after it, a day at a time.
            stop = live_position.notification_id
            page = notified_page(
                store,
                position.notification_id,
                page_size,
                stop=stop if position.notification_id < stop else None,
                connection=connection,
            )
            if not page:
                break
            applied = apply_day_batch(
                connection,
                aside,
                projectors,
                page,
                after=position.notification_id,
                history=name == VIEWS,
            )
            position = Position(applied[-1].notification_id, position.events + len(applied))
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
    """Any set of projectors: fold the whole log up to ``head`` in log order, in memory, and
    have each projector write its view from the complete state."""
    state = ViewState(decode=decode_sealed)
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


# --- the default views, stream by stream ---------------------------------------------------------
#
# Every view is a fold of each stream on its own: a pledge's view needs only its own events and
# the country of each of its cities, which the registry's streams give (a pledge names only
# registered cities; a corrected country counts for every pledge naming the city from the
# correction on, so after the whole log, each pledge counts under its cities' final countries,
# which is what the registry folded first gives). So the default views are rebuilt in
# stream order, on the events table's primary key: the registry first (its streams sort before
# "pledge:"), then each pledge from its first event to its last, after which its row, its tags
# and its roll-up contribution are taken at once and its view is let go. Nothing but the
# registry and the sums stays in memory, each pledge's objects are touched while they are in the
# processor's caches, and the pledge streams can be cut into runs for several processes.


def _stream_pages(
    engine: Engine,
    store: EventStore,
    head: int,
    page_size: int,
    start: str,
    below: str | None,
) -> Iterator[list[tuple[str, int, bytes]]]:
    """The envelopes of the streams from ``start`` to ``below`` (up to ``head``), a page at a
    time, each page read in a short transaction of its own."""
    after = (start, 0)
    with engine.connect() as reader:
        while True:
            rows = store.scan_streams(reader, head=head, after=after, below=below, limit=page_size)
            reader.rollback()
            if not rows:
                return
            yield rows
            after = (rows[-1][0], rows[-1][1])


class _PledgeOutput:
    """Completed pledge views, turned into pledge and tag rows (written every ``chunk``
    pledges, each time in a transaction of its own, under ``lock``) and roll-up sums."""

    def __init__(
        self, engine: Engine, aside: ViewTables, lock: AbstractContextManager[Any], chunk: int
    ) -> None:
        self.engine = engine
        self.aside = aside
        self.lock = lock
        self.chunk = chunk
        self.tally = RollupTally()
        self.pledges: list[tuple[Any, ...]] = []
        self.tagged: dict[Key, list[str]] = {}

    def add(self, view: PledgeView) -> None:
        part = contribution(view)
        self.tally.add(part)
        self.pledges.append(pledge_row(view))
        for key in part.keys:  # each group once; the tags are some of them
            if key[0] in TAG_DIMENSIONS:
                self.tagged.setdefault(key, []).append(view.pledge_id)
        for key in filter_only_tags(view):
            self.tagged.setdefault(key, []).append(view.pledge_id)
        if view.external_ids:
            for key in external_id_tags(view):
                self.tagged.setdefault(key, []).append(view.pledge_id)
        for key in matching_tags(view):
            self.tagged.setdefault(key, []).append(view.pledge_id)
        if len(self.pledges) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.pledges:
            return
        # Pledges arrive in stream order, which is not always the pledges' key order.
        rows = PledgeRows(sorted(self.pledges, key=itemgetter(-1)), tag_rows(self.tagged))
        self.pledges, self.tagged = [], {}
        with self.lock, self.engine.begin() as connection, bulk_loading(connection):
            PledgeProjector.write(connection, self.aside, rows)


def _fold_pledges(
    engine: Engine,
    store: EventStore,
    state: ViewState,
    head: int,
    page_size: int,
    start: str,
    below: str | None,
    output: _PledgeOutput,
    folded: Callable[[int], None],
) -> int:
    """Fold the pledge streams from ``start`` to ``below`` one after the other into ``state``
    (which holds the registry), handing each completed view to ``output``; answer how many
    events were folded (``folded`` hears the count after every page)."""
    events = 0
    current: str | None = None
    pledges = state.pledges
    apply = state.apply
    for rows in _stream_pages(engine, store, head, page_size, start, below):
        for stream_id, _, raw in rows:
            if stream_id != current:
                if current is not None:
                    output.add(pledges.pop(current[len(PLEDGE_PREFIX) :]))
                current = stream_id
            apply(read_envelope(raw))
        state.take_changes()
        events += len(rows)
        folded(events)
    if current is not None:
        output.add(pledges.pop(current[len(PLEDGE_PREFIX) :]))
    output.flush()
    return events


# The first stream id after every pledge stream (``;`` follows ``:``): the pledge runs end here,
# and the streams after it (``report:``) are folded with the registry's.
PLEDGE_END = PLEDGE_PREFIX[:-1] + chr(ord(PLEDGE_PREFIX[-1]) + 1)


def _fold_registry(
    engine: Engine, store: EventStore, aside: ViewTables, head: int, page_size: int
) -> tuple[ViewState, int]:
    """Fold every stream but the pledges' (the registry, the keys, the report publications),
    write the registry's views, and answer the state and event count."""
    state = ViewState(decode=decode_sealed)
    events = 0
    for start, below in (("", PLEDGE_PREFIX), (PLEDGE_END, None)):
        for rows in _stream_pages(engine, store, head, page_size, start, below):
            for _, _, raw in rows:
                state.apply(read_envelope(raw))
            state.take_changes()
            events += len(rows)
    with engine.begin() as connection, bulk_loading(connection):
        RegistryProjector().load(connection, aside, state)
    return state, events


def _stream_aside(
    engine: Engine,
    store: EventStore,
    aside: ViewTables,
    head: int,
    page_size: int,
    report: Callable[[RebuildProgress], None],
    workers: int,
    chunk: int = 10_000,
) -> Position:
    """The default views, rebuilt stream by stream (see above), the pledge streams cut into
    ``workers`` runs of about equal size, each folded by a forked process of its own."""
    report(RebuildProgress("scan", 0, head))
    state, registry_events = _fold_registry(engine, store, aside, head, page_size)
    report(RebuildProgress("scan", registry_events, head))
    if workers == 1:

        def folded(events: int) -> None:
            report(RebuildProgress("scan", registry_events + events, head))

        output = _PledgeOutput(engine, aside, nullcontext(), chunk)
        events = _fold_pledges(
            engine, store, state, head, page_size, PLEDGE_PREFIX, PLEDGE_END, output, folded
        )
        cells = output.tally.cells()
    else:
        events, cells = _fold_in_processes(
            engine, store, state, aside, head, page_size, report, workers, chunk, registry_events
        )
    total = registry_events + events
    report(RebuildProgress("write", total, head))
    with engine.begin() as connection, bulk_loading(connection):
        RollupProjector.load_cells(connection, aside, cells)
    return Position(head, total)


def _fold_in_processes(
    engine: Engine,
    store: EventStore,
    state: ViewState,
    aside: ViewTables,
    head: int,
    page_size: int,
    report: Callable[[RebuildProgress], None],
    workers: int,
    chunk: int,
    registry_events: int,
) -> tuple[int, RollupCells]:
    """``_fold_pledges`` over ``workers`` runs of pledge streams in forked processes (which
    inherit the registry's state); answer the events folded and the summed roll-ups."""
    with engine.connect() as connection:
        bounds = store.stream_bounds(connection, head=head, start=PLEDGE_PREFIX, parts=workers)
    context = multiprocessing.get_context("fork")
    parent = os.getpid()
    folded = context.Array("q", workers, lock=False)
    writing = context.Lock()
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    cuts = [min(bound, PLEDGE_END) for bound in bounds] + [PLEDGE_END]
    runs = [(cuts[index], cuts[index + 1]) for index in range(workers)]
    processes = [
        context.Process(
            target=_fold_run,
            args=(engine, store, state, aside, head, page_size, chunk, start, below),
            kwargs={
                "folded": folded,
                "index": index,
                "writing": writing,
                "results": sender,
                "parent": parent,
                "inherited": [end for pipe in pipes for end in pipe if end is not sender],
            },
            name=f"pledge-ledger rebuild {index + 1}/{workers}",
            daemon=True,
        )
        for index, ((start, below), (_, sender)) in enumerate(zip(runs, pipes, strict=True))
    ]
    for process in processes:
        process.start()
    for _, sender in pipes:
        sender.close()
    pending: dict[Pipe, int] = {receiver: index for index, (receiver, _) in enumerate(pipes)}
    shares: dict[int, tuple[int, RollupCells]] = {}
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
                shares[index] = cast(tuple[int, RollupCells], message)
            report(RebuildProgress("scan", registry_events + sum(folded), head))
    finally:
        for process in processes:
            if process.is_alive() and len(shares) < workers:
                process.terminate()
            process.join()
    events, cells = shares[0]
    for index in range(1, workers):
        events += shares[index][0]
        cells.merge(shares[index][1])
    return events, cells


def _fold_run(
    engine: Engine,
    store: EventStore,
    state: ViewState,
    aside: ViewTables,
    head: int,
    page_size: int,
    chunk: int,
    start: str,
    below: str | None,
    *,
    folded: Any,
    index: int,
    writing: Any,
    results: Pipe,
    parent: int,
    inherited: Sequence[Pipe],
) -> None:
    """In a forked worker: fold one run of pledge streams, write its pledges, and send back
    the number of events folded and the run's roll-up sums."""
    try:
        _die_with_parent(parent)
        for end in inherited:
            # The other workers' pipe ends: held here, they would keep a dead worker's pipe
            # from reaching end-of-file in the parent.
            end.close()
        engine.dispose(close=False)  # the parent's connections are not this process's
        gc.disable()

        def progress(events: int) -> None:
            if os.getppid() != parent:  # where no parent-death signal exists: page by page
                os._exit(1)
            folded[index] = events

        output = _PledgeOutput(engine, aside, writing, chunk)
        events = _fold_pledges(
            engine, store, state, head, page_size, start, below, output, progress
        )
        results.send((events, output.tally.cells()))
    except BaseException:
        results.send(RebuildFailed(traceback.format_exc()))
    finally:
        results.close()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent(parent: int) -> None:
    """In a forked worker: be killed when the process that forked it dies.

    A worker that outlived its parent would fold for nothing, or hang on a full pipe, and keep
    the rebuild lock it inherited. On Linux the kernel sends SIGKILL when the parent dies;
    elsewhere the worker checks between pages. A parent that died before the signal was asked
    for is seen here, by the worker having been handed to another parent already.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent:
        os._exit(1)
