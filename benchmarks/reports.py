"""Benchmark of the accountability report: what the hand-over content adds to the fold.

A report as of a day folds the log up to that day (the floor: ``fold_log`` alone, measured in
the same run), then derives the report from the folded state: roll-ups, quality flags of every
pledge, per-network flag counts, the list of pledges with their names; then writes it in a
format. For each size it loads the deterministic demo into a fresh SQLite store and prints the
median of ``--repeat`` runs of each step and its ratio to the floor.

Usage::

    .venv/bin/python -m benchmarks.reports [--pledges 2000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
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
from projections.reports import report_from_state
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
        del folded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", default="2000,10000")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    print(machine())
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as scratch:
        for pledges in (int(n) for n in arguments.pledges.split(",")):
            measure(pledges, arguments.repeat, Path(scratch))
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
