"""Benchmark of the accountability report: what the hand-over content adds to the fold.

A report as of a day folds the log up to that day (the floor: ``fold_log`` alone, measured in
the same run), then derives the report from the folded state: roll-ups, quality flags of every
pledge, per-network flag counts, the list of pledges with their names; then writes it in a
format. For each size it loads the deterministic demo into a fresh SQLite store and prints the
median of ``--repeat`` runs of each step and its ratio to the floor.

Then, each in a process of its own (forked, so each pays the same and its peak memory is its
own: the growth of its resident set over what it started with), the whole report three ways:

- floor: ``fold_log`` alone, every view of the log as of the day and nothing more;
- every view: ``fold_log`` then ``report_from_state`` (the auditors' path, and ``build_report``'s
  before it let go of views);
- ``build_report``: the same fold, then each view summed into the report and let go.

Usage::

    .venv/bin/python -m benchmarks.reports [--pledges 2000,10000] [--repeat 3]
    .venv/bin/python -m benchmarks.reports --database-url sqlite:////path/ledger.db \
        --signing-key-file /path/ledger.key --as-of 2026-06-01   # an existing store: ways only
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

from api.bootstrap import bootstrap
from api.demo import demo_clock, load_demo
from api.report_formats import REPORT_FORMATS, render_report
from benchmarks.machine import machine
from ledger.clock import SeededIds
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from projections.as_of import fold_log, store_envelopes
from projections.models import CheckpointCitationOut
from projections.reports import build_report, report_from_state
from projections.sealed import decode_sealed
from projections.state import without_cycle_collection

T = TypeVar("T")
TODAY = date(2026, 3, 1)
AS_OF = date(2026, 2, 28)
MONTHS = 12


def timed(step: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The median seconds of ``repeat`` runs of ``step``, and its last answer."""
    seconds = []
    answer: T | None = None
    for _ in range(repeat):
        started = time.perf_counter()
        answer = step()
        seconds.append(time.perf_counter() - started)
    assert answer is not None
    return statistics.median(seconds), answer


@without_cycle_collection()
def measure(pledges: int, repeat: int, scratch: Path) -> None:
    settings = LedgerSettings(
        database_url=f"sqlite:///{scratch / f'reports-{pledges}.db'}",
        signing_key_file=scratch / f"reports-{pledges}.key",
        log_origin="bench.pledge-ledger/log",
    )
    with bootstrap(
        settings, clock=demo_clock(), ids=SeededIds(2018), write_mode=WriteMode.BULK_LOAD
    ) as services:
        summary = load_demo(services, pledges=pledges, seed=2018, today=TODAY)
        store = services.store
        print(f"\n== {summary.pledges:,} pledges, {summary.events:,} events (SQLite) ==")

        def fold() -> object:
            return fold_log(store_envelopes(store), AS_OF, decode=decode_sealed)

        floor, folded = timed(fold, repeat)
        state = fold_log(store_envelopes(store), AS_OF, decode=decode_sealed)
        print(f"floor  fold of the log to {AS_OF}:          {floor * 1000:8.1f} ms")

        def derive() -> object:
            return report_from_state(
                state.state, tree_size=state.tree_size, as_of=AS_OF, freshness_months=MONTHS
            )

        seconds, _ = timed(derive, repeat)
        print(
            f"report from the folded state (flags, names): {seconds * 1000:8.1f} ms"
            f"  ({seconds / floor:.2f} x floor)"
        )
        built = report_from_state(
            state.state, tree_size=state.tree_size, as_of=AS_OF, freshness_months=MONTHS
        )
        for report_format in REPORT_FORMATS:
            seconds, text = timed(partial(render_report, built, report_format), repeat)
            print(
                f"write {report_format:<4} ({len(text.encode()) / 1024:7.0f} KiB):"
                f"               {seconds * 1000:8.1f} ms  ({seconds / floor:.2f} x floor)"
            )
        del folded, built
    compare_ways(settings, AS_OF)


def _resident_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _way(settings: LedgerSettings, as_of: date, way: str, answers: Connection) -> None:
    """Run one way in this (forked) process; send back its seconds, memory growth and digest."""
    start_kb = _resident_kb("VmRSS:")
    with bootstrap(settings) as services:
        started = time.perf_counter()
        with without_cycle_collection():
            if way == "build_report":
                report = build_report(
                    services.store, services.log, as_of=as_of, freshness_months=MONTHS
                )
                digest = report.sha256
            else:
                folded = fold_log(store_envelopes(services.store), as_of, decode=decode_sealed)
                digest = f"{len(folded.state.pledges):,} views"
                if way == "every view":  # citing the checkpoint build_report cites
                    covering = services.log.checkpoint_covering(folded.tree_size)
                    digest = report_from_state(
                        folded.state,
                        tree_size=folded.tree_size,
                        as_of=as_of,
                        freshness_months=MONTHS,
                        checkpoint=None
                        if covering is None
                        else CheckpointCitationOut(tree_size=covering.size, note=covering.note),
                    ).sha256
        seconds = time.perf_counter() - started
    answers.send((seconds, (_resident_kb("VmHWM:") - start_kb) / 1024, digest))


def compare_ways(settings: LedgerSettings, as_of: date) -> None:
    """The report three ways, each in a forked process of its own, one after the other."""
    print(f"\n-- the whole report as of {as_of}, each way in a process of its own --")
    context = multiprocessing.get_context("fork")  # this benchmark runs no thread
    results = {}
    for way in ("floor", "every view", "build_report"):
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_way, args=(settings, as_of, way, send))
        child.start()
        send.close()
        results[way] = receive.recv()
        child.join()
    floor = results["floor"][0]
    for way, (seconds, grown_mb, digest) in results.items():
        print(
            f"{way:<13} {seconds:8.1f} s  ({seconds / floor:.2f} x floor)  "
            f"memory +{grown_mb:,.0f} MB  ({digest[:16]})"
        )
    same = results["every view"][2] == results["build_report"][2]
    print(f"same report (sha256) both ways: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", default="2000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="an existing store: only the ways are compared")
    parser.add_argument("--signing-key-file", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    arguments = parser.parse_args()
    print(machine())
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    if arguments.database_url:
        settings = LedgerSettings(
            database_url=arguments.database_url,
            signing_key_file=arguments.signing_key_file,
            log_origin="pledge-ledger.local/log",
        )
        compare_ways(settings, arguments.as_of)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            for pledges in (int(n) for n in arguments.pledges.split(",")):
                measure(pledges, arguments.repeat, Path(scratch))
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
