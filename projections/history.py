"""The roll-ups' history: what each day changed, and snapshots, so a roll-up as of a day is a read.

A roll-up as of day D is the sum of every pledge's contribution after the events recorded by the
end of D (``projections.as_of``). The history keeps that sum in two kinds of rows, per dimension:

- **changes**: the difference one batch of events made to the roll-up sums (``RollupCells``, the
  same difference the live roll-up tables take in), on the day the batch's events were recorded.
  Batches never straddle a day (the runner cuts them there). When a day ends (the first batch of
  a later day arrives), its rows are merged into one row per dimension;
- **snapshots**: every sum of a dimension as of the end of a day, taken when that day ends and
  the changes since the previous snapshot weigh at least half of it (``SNAPSHOT_RATIO``). So a
  query reads at most one snapshot and changes weighing about half of it, and the snapshots
  together weigh at most about twice the changes.

A roll-up as of D = the latest snapshot of its dimension on or before D + the changes after it
up to D. The rows are JSON (orjson) documents of the sums, keyed by the group's key, deflated
(zlib, fastest level).

The history has its own tracking row (``HISTORY``): it holds exactly the events of the log up to
that notification. It is written in the views' own batch transactions, and only when it stands
where the views stood before the batch (in lockstep); a store whose history is behind (written
before the history existed, or loaded in bulk) gets it from ``build_history``, a fold of the log
in log order. A query whose day is not covered (an event recorded by then is not in the history
yet) answers None, and the caller folds the log instead.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    Engine,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)

from ledger.store import EventStore
from projections.counters import DIMENSIONS, IndicatorTotals, Key, RollupCells
from projections.envelopes import read_envelope, recorded_on
from projections.projector import Notified
from projections.state import without_cycle_collection
from projections.tables import (
    ensure_position,
    insert_rows,
    position_metadata,
    projection_position,
)

HISTORY = "as_of/2"
"""The history's tracking row in ``projection_position`` (``/2``: rows kept per part, below; a
store whose history was written before has no such row, so its as-of queries fold the log until
``build_history`` writes the history again)."""

CITY_PARTS = 64
"""The city dimension's rows are kept in this many parts (by a CRC-32 of the city's key): one
city's roll-up as of a day reads its part, not every city's sums (a million events name about
115,000 cities). The other dimensions have a few hundred groups at most: one part each."""

SNAPSHOT_RATIO = 0.5
"""A dimension is snapshotted when the changes since its last snapshot weigh this much of it."""

UNCOVERED_LIMIT = 1000
"""At most this many events past the history are read to see whether a day is covered."""

history_metadata = MetaData()
history_changes = Table(
    "projection_history_changes",
    history_metadata,
    Column("dimension", String(16), nullable=False),
    Column("day", Date, nullable=False),
    Column("batch", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("cells", LargeBinary, nullable=False),
    PrimaryKeyConstraint("dimension", "day", "batch", name="pk_history_changes"),
)
"""What a batch (``batch``: its last notification id; 0 once a day's rows are merged) changed in
a dimension's sums, on the day its events were recorded."""
history_snapshots = Table(
    "projection_history_snapshots",
    history_metadata,
    Column("dimension", String(16), nullable=False),
    Column("day", Date, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("cells", LargeBinary, nullable=False),
    PrimaryKeyConstraint("dimension", "day", name="pk_history_snapshots"),
)
"""Every sum of a dimension as of the end of ``day``."""

MERGED = 0


def part_of(dimension: str, key: str) -> str:
    """The part whose rows hold a group's sums (the rows' ``dimension`` column)."""
    if dimension != "city":
        return dimension
    return f"city.{zlib.crc32(key.encode()) % CITY_PARTS:02d}"


def parts_of(dimension: str) -> tuple[str, ...]:
    if dimension != "city":
        return (dimension,)
    return tuple(f"city.{n:02d}" for n in range(CITY_PARTS))


PARTS = tuple(part for dimension in DIMENSIONS for part in parts_of(dimension))


def dimension_of(part: str) -> str:
    return part.partition(".")[0]


def create_history_tables(connection: Connection) -> None:
    position_metadata.create_all(connection, checkfirst=True)
    history_metadata.create_all(connection, checkfirst=True)
    ensure_position(connection, HISTORY)


# --- the sums as documents ---------------------------------------------------------------------


def _pack(groups: dict[str, list[Any]]) -> bytes:
    # JSON repeats its names and dates: zlib's fastest level stores about a sixth of it, and
    # inflating costs little beside parsing.
    return zlib.compress(orjson.dumps(groups), 1)


EMPTY = _pack({})


def split_cells(cells: RollupCells, name: Callable[[str, str], str]) -> dict[str, RollupCells]:
    """The sums split by ``name(dimension, key)`` of each group, in one pass."""
    parts: dict[str, RollupCells] = {}
    for group, counters in cells.counters.items():
        parts.setdefault(name(*group), RollupCells()).counters[group] = counters
    for group, entries in cells.freshness.items():
        parts.setdefault(name(*group), RollupCells()).freshness[group] = entries
    for group, indicators in cells.indicators.items():
        parts.setdefault(name(*group), RollupCells()).indicators[group] = indicators
    return parts


def by_dimension(cells: RollupCells) -> dict[str, RollupCells]:
    """The sums split by dimension."""
    return split_cells(cells, lambda dimension, _: dimension)


def _group_document(
    counters: dict[str, int] | None,
    freshness: dict[tuple[str, date], int] | None,
    indicators: dict[tuple[str, str], IndicatorTotals] | None,
) -> list[Any]:
    """One group's sums as ``encode_cells`` lays them out."""
    return [
        counters or {},
        # orjson writes a date as its ISO text: [kind, "YYYY-MM-DD", n]
        [(*entry, n) for entry, n in freshness.items()] if freshness else [],
        [
            [
                indicator_id,
                measure,
                t.pledges,
                t.reported,
                t.met_target,
                str(t.baseline),
                str(t.latest),
                str(t.target),
            ]
            for (indicator_id, measure), t in indicators.items()
        ]
        if indicators
        else [],
    ]


def by_part(cells: RollupCells) -> dict[str, RollupCells]:
    """The sums split by the part that keeps them (``part_of``)."""
    return split_cells(cells, part_of)


def encode_cells(cells: RollupCells, dimension: str) -> bytes | None:
    """A dimension's sums as JSON: {key: [counters, [[kind, day, n]...], [[indicator,
    measure, pledges, reported, met_target, baseline, latest, target]...]]} (None: empty)."""
    keys = dict.fromkeys(k for d, k in cells.counters if d == dimension)
    keys.update(dict.fromkeys(k for d, k in cells.freshness if d == dimension))
    keys.update(dict.fromkeys(k for d, k in cells.indicators if d == dimension))
    if not keys:
        return None
    groups: dict[str, list[Any]] = {}
    for key in keys:
        group = (dimension, key)
        groups[key] = _group_document(
            cells.counters.get(group), cells.freshness.get(group), cells.indicators.get(group)
        )
    return _pack(groups)


class RunningSums:
    """Every sum of one dimension, kept as its days' changes are added (``merge``), with each
    group's encoded document kept until the group changes: a snapshot (``document``) encodes
    only the groups changed since the last one. It decodes to the sums ``encode_cells`` gives."""

    def __init__(self, dimension: str) -> None:
        self.dimension = dimension
        self.cells = RollupCells()
        self.encoded: dict[str, bytes] = {}
        self.changed: set[str] = set()

    def merge(self, change: RollupCells) -> None:
        """Add ``change`` (of this dimension only: ``by_dimension``)."""
        merge_cells(self.cells, change)
        for groups in (change.counters, change.freshness, change.indicators):
            self.changed.update(key for _, key in groups)

    def document(self) -> bytes:
        cells = self.cells
        for key in self.changed:
            group = (self.dimension, key)
            counters = cells.counters.get(group)
            freshness = cells.freshness.get(group)
            indicators = cells.indicators.get(group)
            if counters is None and freshness is None and indicators is None:
                self.encoded.pop(key, None)
            else:
                self.encoded[key] = (
                    orjson.dumps(key)
                    + b":"
                    + orjson.dumps(_group_document(counters, freshness, indicators))
                )
        self.changed.clear()
        return zlib.compress(b"{" + b",".join(self.encoded.values()) + b"}", 1)


DAY_MARK = "all"
"""The dimension whose change rows mark every day and batch, empty or not (``EMPTY``): its latest
day is the day the history last took in, which a batch compares its own day with."""


def change_document(cells: RollupCells, part: str) -> bytes | None:
    """A change row's document (``cells``: of this part only): ``encode_cells``, and ``{}``
    rather than none for ``DAY_MARK``."""
    document = encode_cells(cells, dimension_of(part))
    return EMPTY if document is None and part == DAY_MARK else document


def add_encoded(
    cells: RollupCells, dimension: str, document: bytes, keys: Sequence[str] | None = None
) -> None:
    """Add the sums of an ``encode_cells`` document (of ``keys`` only, if given) to ``cells``,
    dropping what sums to zero, as ``RollupCells.add`` does."""
    groups: dict[str, list[Any]] = orjson.loads(zlib.decompress(document))
    wanted = groups.items() if keys is None else ((k, groups[k]) for k in keys if k in groups)
    for key, (counters, freshness, indicators) in wanted:
        group: Key = (dimension, key)
        if counters:
            mine = cells.counters.setdefault(group, {})
            for name, n in counters.items():
                value = mine.get(name, 0) + n
                if value:
                    mine[name] = value
                else:
                    del mine[name]
            if not mine:
                del cells.counters[group]
        if freshness:
            dates = cells.freshness.setdefault(group, {})
            for kind, day, n in freshness:
                entry = (kind, date.fromisoformat(day))
                value = dates.get(entry, 0) + n
                if value:
                    dates[entry] = value
                else:
                    del dates[entry]
            if not dates:
                del cells.freshness[group]
        if indicators:
            sums = cells.indicators.setdefault(group, {})
            for indicator_id, measure, pledges, reported, met, base, latest, target in indicators:
                measured = (indicator_id, measure)
                summed = sums.get(measured, IndicatorTotals()).plus(
                    IndicatorTotals(
                        pledges, reported, met, Decimal(base), Decimal(latest), Decimal(target)
                    )
                )
                if summed.is_zero:
                    sums.pop(measured, None)
                else:
                    sums[measured] = summed
            if not sums:
                del cells.indicators[group]


def merge_cells(cells: RollupCells, change: RollupCells) -> None:
    """Add ``change`` (differences: negative figures too) to ``cells``, dropping zeros."""
    for group, counters in change.counters.items():
        mine = cells.counters.setdefault(group, {})
        for name, n in counters.items():
            value = mine.get(name, 0) + n
            if value:
                mine[name] = value
            else:
                mine.pop(name, None)
        if not mine:
            del cells.counters[group]
    for group, entries in change.freshness.items():
        dates = cells.freshness.setdefault(group, {})
        for entry, n in entries.items():
            value = dates.get(entry, 0) + n
            if value:
                dates[entry] = value
            else:
                dates.pop(entry, None)
        if not dates:
            del cells.freshness[group]
    for group, indicators in change.indicators.items():
        sums = cells.indicators.setdefault(group, {})
        for measured, totals in indicators.items():
            known = sums.get(measured)  # absent: the (frozen) change's totals are the sum
            summed = totals if known is None else known.plus(totals)
            if summed.is_zero:
                sums.pop(measured, None)
            else:
                sums[measured] = summed
        if not sums:
            del cells.indicators[group]


# --- where the history stands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryPosition:
    notification_id: int
    events: int


def history_position(connection: Connection) -> HistoryPosition | None:
    """Where the history stands (None: this store has no history tables yet)."""
    if not connection.dialect.has_table(connection, history_changes.name):
        return None  # a store from before the history, opened only to read
    table = projection_position
    row = connection.execute(
        select(table.c.notification_id, table.c.events).where(table.c.name == HISTORY)
    ).one_or_none()
    if row is None or row.notification_id < 0:  # none, or being built
        return None
    return HistoryPosition(row.notification_id, row.events)


def _save_history_position(connection: Connection, position: HistoryPosition) -> None:
    connection.execute(
        projection_position.update()
        .where(projection_position.c.name == HISTORY)
        .values(notification_id=position.notification_id, events=position.events)
    )


# --- writing: in the views' batch transactions ------------------------------------------------


def one_day(notified: Sequence[Notified]) -> Sequence[Notified]:
    """The leading events of ``notified`` recorded on the day of the first: a batch's share."""
    if not notified:
        return notified
    day = notified[0].envelope.recorded_at[:10]
    for index, item in enumerate(notified):
        if item.envelope.recorded_at[:10] != day:
            return notified[:index]
    return notified


def record_batch(
    connection: Connection,
    notified: Sequence[Notified],
    change: Callable[[], RollupCells],
    *,
    after: int,
) -> None:
    """Add one batch (events of one day, after notification ``after``) to the history, if the
    history stands at ``after`` (in lockstep with the views); ``change`` gives the difference
    the batch made to the roll-up sums."""
    if not notified:
        return
    position = history_position(connection)
    if position is None or position.notification_id != after:
        return
    day = recorded_on(notified[0].envelope)
    last = notified[-1].notification_id
    _close_days_before(connection, day)
    rows = []
    parts = by_part(change())
    for part in (DAY_MARK, *parts.keys() - {DAY_MARK}):
        document = change_document(parts.get(part, RollupCells()), part)
        if document is not None:
            rows.append((part, day.isoformat(), last, len(document), document))
    insert_rows(connection, history_changes, ("dimension", "day", "batch", "size", "cells"), rows)
    _save_history_position(connection, HistoryPosition(last, position.events + len(notified)))


def _close_days_before(connection: Connection, day: date) -> None:
    """Before the first batch of ``day`` is added: merge the rows of the last day that had
    changes, if it is earlier, and snapshot what has grown; if ``day`` is earlier (a clock that
    went back), drop the snapshots it makes wrong."""
    changes = history_changes
    latest = connection.execute(
        select(func.max(changes.c.day)).where(changes.c.dimension == DAY_MARK)
    ).scalar()
    if latest is None or latest == day:
        return
    if latest > day:
        connection.execute(delete(history_snapshots).where(history_snapshots.c.day >= day))
        return
    changes = history_changes
    touched = connection.execute(  # the key's first column names every part: an index read
        select(changes.c.dimension)
        .where(changes.c.dimension.in_(PARTS), changes.c.day == latest)
        .distinct()
    ).scalars()
    for part in sorted(touched):  # only the parts that changed that day can have grown
        _merge_day(connection, part, latest)
        _snapshot_if_grown(connection, part, latest)


def _merge_day(connection: Connection, part: str, day: date) -> None:
    changes = history_changes
    where = (changes.c.dimension == part, changes.c.day == day)
    rows = connection.execute(select(changes.c.batch, changes.c.cells).where(*where)).all()
    if len(rows) < 2:
        return
    cells = RollupCells()
    for _, document in rows:
        add_encoded(cells, dimension_of(part), document)
    connection.execute(delete(changes).where(*where))
    document = change_document(cells, part)
    if document is not None:
        insert_rows(
            connection,
            changes,
            ("dimension", "day", "batch", "size", "cells"),
            [(part, day.isoformat(), MERGED, len(document), document)],
        )


def _snapshot_if_grown(connection: Connection, part: str, day: date) -> None:
    snapshots, changes = history_snapshots, history_changes
    last = connection.execute(
        select(snapshots.c.day, snapshots.c.size)
        .where(snapshots.c.dimension == part, snapshots.c.day <= day)
        .order_by(snapshots.c.day.desc())
        .limit(1)
    ).one_or_none()
    since: list[ColumnElement[bool]] = [changes.c.dimension == part, changes.c.day <= day]
    if last is not None:
        since.append(changes.c.day > last.day)
    grown = connection.execute(select(func.sum(changes.c.size)).where(*since)).scalar() or 0
    if grown < SNAPSHOT_RATIO * (last.size if last is not None else 0) or not grown:
        return
    dimension = dimension_of(part)
    cells = RollupCells()
    _add_part_as_of(connection, cells, part, day, None)
    document = encode_cells(cells, dimension) or EMPTY
    connection.execute(
        insert(snapshots).values(dimension=part, day=day, size=len(document), cells=document)
    )


# --- reading -----------------------------------------------------------------------------------


def cells_as_of(
    connection: Connection, dimension: str, day: date, keys: Sequence[str] | None = None
) -> RollupCells:
    """The sums of a dimension (of ``keys`` only, if given) as of the end of ``day``, from the
    history alone (see ``covered`` for whether the history holds every event up to then)."""
    cells = RollupCells()
    if keys is None:
        for part in parts_of(dimension):
            _add_part_as_of(connection, cells, part, day, None)
        return cells
    wanted: dict[str, list[str]] = {}
    for key in keys:
        wanted.setdefault(part_of(dimension, key), []).append(key)
    for part, part_keys in wanted.items():
        _add_part_as_of(connection, cells, part, day, part_keys)
    return cells


def _add_part_as_of(
    connection: Connection,
    cells: RollupCells,
    part: str,
    day: date,
    keys: Sequence[str] | None,
) -> None:
    """Add one part's sums as of the end of ``day``: its latest snapshot by then, and the
    changes after it."""
    snapshots, changes = history_snapshots, history_changes
    dimension = dimension_of(part)
    base = connection.execute(
        select(snapshots.c.day, snapshots.c.cells)
        .where(snapshots.c.dimension == part, snapshots.c.day <= day)
        .order_by(snapshots.c.day.desc())
        .limit(1)
    ).one_or_none()
    since: list[ColumnElement[bool]] = [changes.c.dimension == part, changes.c.day <= day]
    if base is not None:
        add_encoded(cells, dimension, base.cells, keys)
        since.append(changes.c.day > base.day)
    for (document,) in connection.execute(select(changes.c.cells).where(*since)):
        add_encoded(cells, dimension, document, keys)


def covered(connection: Connection, store: EventStore, day: date) -> bool:
    """Whether the history holds every event recorded by the end of ``day``: it has tables,
    and no event past its position (of at most ``UNCOVERED_LIMIT`` read) was recorded by then."""
    position = history_position(connection)
    if position is None:
        return False
    later = store.notifications_on(
        connection, after=position.notification_id, limit=UNCOVERED_LIMIT + 1
    )
    if len(later) > UNCOVERED_LIMIT:
        return False
    cut = day.isoformat()
    return all(read_envelope(n.raw).recorded_at[:10] > cut for n in later)


# --- building the history from the log ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryResult:
    events: int
    notification_id: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _DayWriter:
    """Folds envelopes in log order, a day at a time, into change rows and snapshots (the
    running sums are kept, so a snapshot costs no read). The fold is the compact one of the
    verifier's roll-ups replay (``DailyChanges``): it keeps of each pledge only what the
    roll-ups need."""

    def __init__(self, connection: Connection) -> None:
        from projections.rollups_replay import DailyChanges  # it imports the as-of queries

        self.connection = connection
        self.changes = DailyChanges()
        self.totals = {part: RunningSums(dimension_of(part)) for part in PARTS}
        self.day: str | None = None
        self.latest: str | None = None
        self.rows: list[tuple[Any, ...]] = []
        self.grown = dict.fromkeys(PARTS, 0)
        self.snapshot_size: dict[str, int] = {}
        self.events = 0
        self.last = 0
        self.written: set[str] = set()
        """Days that have merged change rows: a day that comes back (a clock that went back)
        gets rows keyed by its last event, as the runner's batches are."""

    def add(self, notification_id: int, raw: bytes) -> None:
        envelope = read_envelope(raw)
        day = envelope.recorded_at[:10]
        if day != self.day:
            self.end_day()
            if self.latest is not None and day < self.latest:
                self.flush()  # a clock that went back: drop the snapshots it makes wrong
                self.connection.execute(
                    delete(history_snapshots).where(
                        history_snapshots.c.day >= date.fromisoformat(day)
                    )
                )
            self.day = day
        self.changes.apply(envelope)
        self.events += 1
        self.last = notification_id

    def end_day(self, *, snapshot: bool = True) -> None:
        if self.day is None:
            return
        parts = by_part(self.changes.take_change())
        in_order = self.latest is None or self.day >= self.latest
        self.latest = self.day if in_order else self.latest
        batch = self.last if self.day in self.written else MERGED
        self.written.add(self.day)
        for name in (DAY_MARK, *sorted(parts.keys() - {DAY_MARK})):
            part = parts.get(name)
            running = self.totals[name]
            if part is not None:
                running.merge(part)
            change = change_document(part or RollupCells(), name)
            if change is None:
                continue
            self.rows.append((name, self.day, batch, len(change), change))
            self.grown[name] += len(change)
            last_size = self.snapshot_size.get(name, 0)
            grown = self.grown[name] >= SNAPSHOT_RATIO * last_size
            if snapshot and in_order and grown:
                document = running.document()
                self.flush()
                insert_rows(
                    self.connection,
                    history_snapshots,
                    ("dimension", "day", "size", "cells"),
                    [(name, self.day, len(document), document)],
                )
                self.snapshot_size[name] = len(document)
                self.grown[name] = 0
        if len(self.rows) >= 500:
            self.flush()
        self.day = None

    def flush(self) -> None:
        insert_rows(
            self.connection,
            history_changes,
            ("dimension", "day", "batch", "size", "cells"),
            self.rows,
        )
        self.rows = []


BUILDING = -1
"""The history's position while ``build_history`` writes it: in lockstep with nothing."""


@without_cycle_collection()
def build_history(
    engine: Engine,
    store: EventStore,
    *,
    progress: Callable[[int], None] | None = None,
    page_size: int = 5000,
) -> HistoryResult:
    """Write the whole history from the log (a fold in log order, in memory), replacing any.

    It folds up to where the views stood when it began, writing as it goes (the batches of the
    views leave the history alone meanwhile), then, in one transaction that holds the views'
    tracking row (so no batch runs), takes in what the views took in since and puts the
    history in lockstep with them: from then on each batch of the views adds to it. It takes
    the rebuild's lock: two builds, or a build beside a rebuild, would write the same rows.
    """
    from projections.rebuild import only_one_rebuild

    with only_one_rebuild(engine, store.settings):
        return _build_history(engine, store, progress, page_size)


def _build_history(
    engine: Engine, store: EventStore, progress: Callable[[int], None] | None, page_size: int
) -> HistoryResult:
    from projections.runner import VIEWS, claim_position, read_position

    started = time.perf_counter()
    with engine.begin() as connection:
        create_history_tables(connection)
        _save_history_position(connection, HistoryPosition(BUILDING, 0))
        connection.execute(delete(history_changes))
        connection.execute(delete(history_snapshots))
    start = read_position(engine, VIEWS).notification_id
    # The log is read on a connection of its own: each page of events is read once. Neither
    # connection takes ``bulk_loading``'s large page cache: the history's rows are appended in
    # key order and never read back while it is built, and a quarter of a gigabyte of cached
    # pages was half of the build's peak memory (548 MB at 430k events, 75 MB before it).
    with engine.connect() as reader, engine.connect() as connection:
        writer = _DayWriter(connection)
        for page in _pages(store, 0, page_size, reader, stop=start):
            reader.rollback()
            for notification_id, raw in page:
                writer.add(notification_id, raw)
            connection.commit()  # a page at a time: the writers are not held up meanwhile
            if progress is not None:
                progress(writer.events)
        writer.flush()
        connection.commit()
    with engine.begin() as connection:
        views = claim_position(connection, VIEWS)
        writer.connection = connection
        for page in _pages(store, writer.last, page_size, connection, stop=views.notification_id):
            for notification_id, raw in page:
                writer.add(notification_id, raw)
        # The last day may not be over: its changes are written, but it is not snapshotted.
        writer.end_day(snapshot=False)
        writer.flush()
        _save_history_position(connection, HistoryPosition(writer.last, writer.events))
    return HistoryResult(writer.events, writer.last, time.perf_counter() - started)


def _pages(
    store: EventStore, after: int, size: int, connection: Connection, stop: int | None = None
) -> Iterator[Iterable[tuple[int, bytes]]]:
    while True:
        page = store.notifications_on(connection, after=after, limit=size, stop=stop)
        if not page:
            return
        yield [(n.notification_id, n.raw) for n in page]
        after = page[-1].notification_id
