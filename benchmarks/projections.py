"""Benchmark of the read models: rebuild throughput and query latency.

For each size N it loads the deterministic demo (``api.demo.load_demo``, about 5.8 events per
pledge: submissions, validations, amendments, half-yearly progress reports, closures...) into a
fresh store, then measures:

- rebuild: ``projections.rebuild`` of every view from the whole log, in events/s, in one
  process and in one per core (target: >= 30,000 events/s on SQLite);
- pledge page: ``projections.pledge`` for random pledges, median and p99 (target: p99 <= 5 ms
  at 1M events);
- roll-ups: ``projections.rollup`` for random groups of every dimension and ``rollups`` of a
  whole dimension, median and p99 (target: any roll-up p99 <= 50 ms at 1M events);
- silent pledges of a network (first page of 50);
- as of a past day (ADR 0017): the catch-up after one append of the costliest events (a pledge
  submission or a progress report) without and with the roll-ups' history, the history written
  from the log (events/s, rows, bytes), one roll-up and every roll-up of a dimension as of
  random days from the history, a pledge as of a random day (a fold of its own stream), and,
  beside them, roll-ups and a report folded from the whole log (the oracle the history replaces).

Usage::

    .venv/bin/python -m benchmarks.projections [--events 100000,1000000] [--database-url URL]
                                               [--queries 1000] [--workers 1,2]
                                               [--store-cache DIR] [--profile]

Without ``--database-url`` each size gets its own temporary SQLite file; with a PostgreSQL URL,
its own schema, dropped afterwards. ``--store-cache DIR`` keeps the loaded SQLite stores in DIR
and reuses them on the next run (loading 1M demo events takes a few minutes).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, func, select, text, update

from api.bootstrap import Services, bootstrap
from api.demo import DEMO_START, demo_clock, load_demo, network_key
from api.demo_content import NETWORKS
from benchmarks.machine import machine
from ledger.clock import SeededIds, SteppingClock, random_ids
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from projections import (
    DIMENSIONS,
    ProjectionRunner,
    build_history,
    build_report,
    pledge,
    pledge_as_of,
    rebuild,
    rollup,
    rollup_as_of,
    rollups,
    rollups_as_of,
    silent_pledges,
)
from projections.envelopes import read_envelope, recorded_on
from projections.history import BUILDING, HISTORY, history_changes, history_snapshots
from projections.rebuild import RebuildResult
from projections.tables import live_tables, projection_position, read_snapshot

T = TypeVar("T")

EVENTS_PER_PLEDGE = 5.82
TODAY = date(2026, 3, 1)
MONTHS = 12


def settings_for(url: str, scratch: Path, schema: str | None = None) -> LedgerSettings:
    """A scratch key and origin, unless ``LEDGER_SIGNING_KEY_FILE`` and ``LEDGER_LOG_ORIGIN``
    name those of a store given with ``--database-url`` (its checkpoints are then trusted)."""
    return LedgerSettings(
        database_url=url,
        database_schema=schema,
        signing_key_file=Path(os.environ.get("LEDGER_SIGNING_KEY_FILE") or scratch / "bench.key"),
        log_origin=os.environ.get("LEDGER_LOG_ORIGIN") or "bench.pledge-ledger/log",
        checkpoint_interval_seconds=3600,
    )


@contextmanager
def fresh_settings(
    database_url: str | None, scratch: Path, size: int, cache: Path | None
) -> Iterator[LedgerSettings]:
    if database_url is None or database_url.startswith("sqlite"):
        if database_url is not None:
            yield settings_for(database_url, scratch)
            return
        path = scratch / f"projections-{size}.db"
        cached = cache / f"demo-{size}.db" if cache is not None else None
        if cached is not None and cached.exists():
            shutil.copy(cached, path)
        yield settings_for(f"sqlite:///{path}", scratch)
        if cached is not None and not cached.exists():
            cache.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            shutil.copy(path, cached)
        return
    schema = f"bench_{size}_{uuid.uuid4().hex[:8]}"
    try:
        yield settings_for(database_url, scratch, schema)
    finally:
        engine = create_engine(LedgerSettings(database_url=database_url).sqlalchemy_url())
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def profiled(enabled: bool, label: str, action: Callable[[], T]) -> T:
    if not enabled:
        return action()
    profile = cProfile.Profile()
    value = profile.runcall(action)
    print(f"\n--- profile: {label} (top 25 by cumulative time) ---")
    pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return value


def latency(samples: list[float]) -> str:
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"median {median:7.3f} ms, p99 {p99:7.3f} ms"


def measure(action: Callable[[], object], times: int) -> list[float]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return samples


def load(services: Services, size: int) -> None:
    if services.store.max_notification_id():
        print(f"store:      reusing {services.store.max_notification_id():,} cached events")
        services.ledger.ids = random_ids  # the seeded ids of the demo are spent
        return
    started = time.perf_counter()
    summary = load_demo(
        services, pledges=max(1, round(size / EVENTS_PER_PLEDGE)), seed=2018, today=TODAY
    )
    seconds = time.perf_counter() - started
    print(
        f"store:      loaded the demo, {summary.events:,} events of {summary.pledges:,} pledges "
        f"in {seconds:.0f} s"
    )
    services.ledger.ids = random_ids


def groups(services: Services) -> dict[str, list[str]]:
    table = live_tables().rollup_counters
    with services.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.dimension, table.c.key).where(table.c.name == "pledges")
        ).all()
    found: dict[str, list[str]] = {}
    for dimension, key in rows:
        found.setdefault(dimension, []).append(key)
    return found


def run(
    size: int,
    database_url: str | None,
    queries: int,
    workers: list[int],
    cache: Path | None,
    prof: bool,
) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pledge-ledger-bench-"))
    try:
        with (
            fresh_settings(database_url, scratch, size, cache) as settings,
            bootstrap(
                settings,
                clock=demo_clock(),
                ids=SeededIds(2018),
                write_mode=WriteMode.BULK_LOAD,
            ) as services,
        ):
            print(f"\n== about {size:,} events ({services.settings.backend}) ==")
            load(services, size)
            events = services.store.max_notification_id()

            for count in workers:

                def rebuild_views(count: int = count) -> RebuildResult:
                    return rebuild(services.engine, services.store, workers=count)

                result = profiled(prof, f"rebuild, {count} process(es)", rebuild_views)
                print(
                    f"rebuild:    {result.events_per_second:,.0f} events/s with {count} "
                    f"process{'es' if count > 1 else ''} ({result.events:,} events live after "
                    f"{result.seconds:.1f} s; old views dropped in {result.cleanup_seconds:.1f} s)"
                )

            rng = random.Random(2018)
            pledges_table = live_tables().pledges
            with services.engine.connect() as connection:
                pledge_ids = list(connection.execute(select(pledges_table.c.pledge_id)).scalars())
            sample = [rng.choice(pledge_ids) for _ in range(queries)]
            engine = services.engine

            def page() -> None:
                with engine.connect() as connection:
                    pledge(connection, sample.pop(), today=TODAY, freshness_months=MONTHS)

            print(f"pledge:     {latency(measure(page, queries))}  ({len(pledge_ids):,} pledges)")

            by_dimension = groups(services)
            all_samples: list[float] = []
            for dimension in DIMENSIONS:
                keys = by_dimension.get(dimension, [])
                if not keys:
                    continue

                def one(dimension: str = dimension, keys: list[str] = keys) -> None:
                    with read_snapshot(engine) as connection:
                        rollup(
                            connection,
                            dimension,
                            rng.choice(keys),
                            today=TODAY,
                            freshness_months=MONTHS,
                        )

                samples = measure(one, max(20, queries // len(DIMENSIONS)))
                all_samples += samples
                print(f"rollup:     {latency(samples)}  by {dimension} ({len(keys):,} keys)")
            print(f"rollup:     {latency(all_samples)}  any group")
            for dimension in ("gcm_objective", "network", "status", "country"):

                def listing(dimension: str = dimension) -> None:
                    with read_snapshot(engine) as connection:
                        rollups(connection, dimension, today=TODAY, freshness_months=MONTHS)

                samples = measure(listing, max(20, queries // 20))
                print(f"rollups:    {latency(samples)}  every {dimension}")
            networks = by_dimension.get("network", [])

            def silent() -> None:
                with engine.connect() as connection:
                    silent_pledges(
                        connection,
                        today=TODAY,
                        freshness_months=MONTHS,
                        network_id=rng.choice(networks),
                        limit=50,
                    )

            print(f"silent:     {latency(measure(silent, max(20, queries // 10)))}  (50 a page)")

            as_of_part(services, events, queries, rng, prof)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --- as of a past day (ADR 0017) ----------------------------------------------------------------


def history_size(services: Services) -> str:
    """Rows and stored bytes of the roll-ups' history."""
    parts = []
    with services.engine.connect() as connection:
        for table in (history_changes, history_snapshots):
            rows, size = connection.execute(
                select(func.count(), func.coalesce(func.sum(table.c.size), 0))
            ).one()
            parts.append(
                f"{table.name.removeprefix('projection_history_')} {rows:,} rows, "
                f"{size / 1e6:.1f} MB"
            )
    return "; ".join(parts)


def costly_appends(services: Services, runner: ProjectionRunner, count: int) -> list[float]:
    """Catch-up after each of ``count`` appends of the costliest events: a pledge submission
    (a new view, a dozen groups) and a progress report on it (a new anchor, readings)."""
    members = live_tables().members
    with services.engine.connect() as connection:
        network_id, city_id = connection.execute(
            select(members.c.network_id, members.c.city_id)
            .where(members.c.network_id == NETWORKS[0].id)
            .limit(1)
        ).one()
    principal = network_key(network_id)
    samples = []
    for n in range(count):
        body = {
            "network_id": network_id,
            "cities": [city_id],
            "title": {"en": f"Benchmark pledge {n}"},
            "description": {"en": "A pledge written by the projections benchmark."},
            "gcm_objectives": sorted({1 + n % 23, 16}),
            "gcr_areas": [],
            "sdg_targets": ["10.7"],
            "priority_areas": [],
            "starts_on": "2026-01-01",
            "ends_on": "2027-12-31",
            "indicators": [
                {
                    "id": "people-served",
                    "title": {"en": "People served"},
                    "measure": "unit",
                    "ascending": True,
                    "baseline": {"value": "0", "date": "2026-01-01"},
                    "targets": [{"value": "1000", "date": "2027-12-31"}],
                }
            ],
        }
        with services.ledger.batch() as batch:
            pledge_id = batch.execute("submit_pledge", principal, body).pledge_id
        started = time.perf_counter()
        runner.catch_up()
        samples.append(time.perf_counter() - started)
        report = {
            "period": {"start": "2026-01-01", "end": "2026-02-28"},
            "stage": "in_progress",
            "observations": [
                {"indicator_id": "people-served", "value": str(n), "date": "2026-02-28"}
            ],
        }
        with services.ledger.batch() as batch:
            batch.execute("report_progress", principal, report, target=pledge_id)
        started = time.perf_counter()
        runner.catch_up()
        samples.append(time.perf_counter() - started)
    return samples


def as_of_part(
    services: Services, events: int, queries: int, rng: random.Random, prof: bool
) -> None:
    """The write-side cost of the roll-ups' history and the as-of queries it serves, beside
    the fold of the log they replace (the oracle) and the live views (the floor)."""
    engine, store = services.engine, services.store
    # The appends are recorded the day after the store's last (a reused store, such as the
    # million-event demo's, may go past TODAY): an append on an earlier day takes the path of a
    # writer whose clock is behind, which is not what a catch-up costs day to day.
    last_day = TODAY
    if events:
        with engine.connect() as connection:
            (last,) = store.notifications_on(connection, after=events - 1, limit=1)
        last_day = max(TODAY, recorded_on(read_envelope(last.raw)))
    clock = services.ledger.clock
    if isinstance(clock, SteppingClock):
        clock.set(datetime.combine(last_day + timedelta(days=1), dtime(12), tzinfo=UTC))
    runner = ProjectionRunner(engine, store)
    appends = min(100, queries)
    with engine.begin() as connection:  # the history set aside: the views' batches alone
        connection.execute(
            update(projection_position)
            .where(projection_position.c.name == HISTORY)
            .values(notification_id=BUILDING)
        )
    print(
        f"catch-up:   {latency(costly_appends(services, runner, appends))}  "
        "after one append (submission or progress report), without the history"
    )
    result = profiled(prof, "history", lambda: build_history(engine, store))
    print(
        f"history:    {result.events_per_second:,.0f} events/s written from the log "
        f"({result.events:,} events in {result.seconds:.1f} s; {history_size(services)})"
    )
    print(
        f"catch-up:   {latency(costly_appends(services, runner, appends))}  "
        "after one append (submission or progress report), with the history"
    )

    first = DEMO_START
    span = (last_day - first).days
    days = [first + timedelta(days=rng.randrange(span)) for _ in range(queries)]
    by_dimension = groups(services)
    all_samples: list[float] = []
    for dimension in DIMENSIONS:
        keys = by_dimension.get(dimension, [])
        if not keys:
            continue

        def one(dimension: str = dimension, keys: list[str] = keys) -> None:
            rollup_as_of(
                store,
                dimension,
                rng.choice(keys),
                rng.choice(days),
                freshness_months=MONTHS,
                engine=engine,
            )

        samples = measure(one, max(20, queries // len(DIMENSIONS)))
        all_samples += samples
        print(f"as-of:      {latency(samples)}  one roll-up by {dimension} from the history")
    print(f"as-of:      {latency(all_samples)}  one roll-up of any group from the history")
    for dimension in ("gcm_objective", "network", "country", "city"):

        def listing(dimension: str = dimension) -> None:
            rollups_as_of(
                store, dimension, rng.choice(days), freshness_months=MONTHS, engine=engine
            )

        samples = measure(listing, max(20, queries // 20))
        print(f"as-of:      {latency(samples)}  every {dimension} from the history")
    pledge_ids = _pledge_ids(services)

    def page_as_of() -> None:
        pledge_as_of(store, rng.choice(pledge_ids), rng.choice(days), freshness_months=MONTHS)

    print(f"as-of:      {latency(measure(page_as_of, queries))}  one pledge (its own stream)")

    day = date(2024, 1, 1)
    started = time.perf_counter()
    profiled(
        prof,
        "as-of fold",
        lambda: rollups_as_of(store, "network", day, freshness_months=MONTHS),
    )
    seconds = time.perf_counter() - started
    print(
        f"as-of:      {seconds * 1000:,.0f} ms every network folded from the log, the oracle "
        f"({events / seconds:,.0f} events/s)"
    )
    started = time.perf_counter()
    build_report(store, services.log, as_of=day, freshness_months=MONTHS)
    print(f"report:     {time.perf_counter() - started:.1f} s as of {day} (a fold of the log)")


def _pledge_ids(services: Services) -> list[str]:
    table = live_tables().pledges
    with services.engine.connect() as connection:
        return list(connection.execute(select(table.c.pledge_id)).scalars())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", default="100000,1000000", help="comma-separated sizes")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--queries", type=int, default=1000, help="samples per latency figure")
    parser.add_argument(
        "--workers",
        default=f"1,{os.cpu_count() or 1}",
        help="comma-separated process counts to rebuild with (default: 1 and every core)",
    )
    parser.add_argument("--store-cache", type=Path, default=None, help="reuse loaded stores")
    parser.add_argument("--profile", action="store_true", help="print cProfile summaries")
    args = parser.parse_args()
    sizes = [int(part.replace("_", "")) for part in args.events.split(",") if part.strip()]
    workers = sorted({int(part) for part in args.workers.split(",") if part.strip()})
    print(f"machine:    {machine()}")
    print(f"command:    {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date:       {datetime.now(UTC).date().isoformat()}")
    for size in sizes:
        run(size, args.database_url, args.queries, workers, args.store_cache, args.profile)


if __name__ == "__main__":
    main()
