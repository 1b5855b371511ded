"""Benchmark of two-way matching and errata on figures (ADR 0015), each beside its floor.

- fold: ``projections.as_of.fold_log`` of pledge streams whose last events are a match's offer,
  acceptance and ending and an observation's correction, in events/s, beside the same number of
  pledge streams whose last events are progress reports instead (the floor: the busiest event
  the fold already had);
- decision: deciding (not committing) one correction of a figure on a pledge with R progress
  reports, which reads the pledge's stream to find the observation, beside deciding one more
  progress report on the same pledge (the floor), median microseconds, for each R.

Usage::

    .venv/bin/python -m benchmarks.matching [--pledges 2000] [--reports 4,40,400] [--times 300]

Each run uses a temporary SQLite store in the append-only write mode (nothing but the append).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from api.bootstrap import bootstrap
from domain.events import (
    MatchAccepted,
    MatchEnded,
    MatchOffered,
    NewEvent,
    Observation,
    ObservationCorrected,
    Payload,
    Period,
    PledgeContent,
    PledgeSubmitted,
    ProgressReported,
)
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.clock import SteppingClock
from ledger.envelope import Envelope, seal
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from projections.as_of import fold_log

from .machine import machine

NETWORK = Principal("bench-network-key", "network", "bench-network")
RECORDED_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
INDICATOR = {
    "id": "people-served",
    "title": {"en": "People served"},
    "measure": "unit",
    "baseline": {"value": "0", "date": "2020-01-01"},
    "targets": [{"value": "5000", "date": "2028-12-31"}],
}
CONTENT: dict[str, Any] = {
    "cities": ["bench-city"],
    "title": {"en": "Benchmark pledge"},
    "description": {"en": "A pledge to measure the fold."},
    "gcm_objectives": [15],
    "starts_on": "2020-01-01",
    "ends_on": "2028-12-31",
    "indicators": [INDICATOR],
}


def report(n: int) -> ProgressReported:
    end = date(2020, 1, 1) + timedelta(days=4 * (n + 1))
    return ProgressReported(
        period=Period(start=end - timedelta(days=3), end=end),
        stage="in_progress",
        observations=(Observation(indicator_id="people-served", value=str(10 * n), date=end),),
    )


def streams(pledges: int, matching: bool) -> list[Envelope]:
    """Each pledge: submitted, four reports, then four more events: a match's offer,
    acceptance and ending and a correction (``matching``), or four more reports (the floor)."""
    envelopes: list[Envelope] = []
    content = PledgeContent.model_validate(CONTENT)
    for p in range(pledges):
        pledge_id = f"00000000-0000-4000-8000-{p:012d}"
        payloads: list[Payload] = [
            PledgeSubmitted(pledge_id=pledge_id, network_id="bench-network", content=content)
        ]
        payloads += [report(n) for n in range(4)]
        if matching:
            match_id = f"{pledge_id}-m"
            payloads += [
                MatchOffered(match_id=match_id, kind="funder", offered_by="host", funder="Fund"),
                MatchAccepted(match_id=match_id),
                MatchEnded(match_id=match_id, reason="Spent"),
                ObservationCorrected(
                    progress_event_id=f"{pledge_id}-4",
                    indicator_id="people-served",
                    date=report(3).period.end,
                    previous_value="30",
                    value="31",
                    reason="Recount",
                ),
            ]
        else:
            payloads += [report(n) for n in range(4, 8)]
        for version, payload in enumerate(payloads, start=1):
            envelopes.append(
                seal(
                    NewEvent(payload, on_behalf_of=("bench-city",)),
                    event_id=f"{pledge_id}-{version}",
                    stream_id=f"pledge:{pledge_id}",
                    stream_version=version,
                    recorded_at=RECORDED_AT,
                    recorded_by=NETWORK.key_id,
                )
            )
    return envelopes


def fold_rate(envelopes: list[Envelope], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fold_log(envelopes)
        best = min(best, time.perf_counter() - started)
    return len(envelopes) / best


def median_us(action: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def decisions(reports: int, times: int) -> tuple[float, float]:
    """Median µs to decide a correction and, the floor, another progress report."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = LedgerSettings(
            database_url=f"sqlite:///{Path(scratch) / 'bench.db'}",
            signing_key_file=Path(scratch) / "bench.key",
        )
        clock = SteppingClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), step=timedelta(0))
        with bootstrap(settings, clock=clock, write_mode=WriteMode.APPEND_ONLY) as services:
            ledger = services.ledger
            with ledger.batch() as batch:
                batch.execute(
                    "register_network", OPERATOR, {"id": "bench-network", "name": {"en": "B"}}
                )
                batch.execute(
                    "register_city",
                    OPERATOR,
                    {"id": "bench-city", "name": {"en": "City"}, "country": "MA"},
                )
                batch.execute(
                    "join_network", OPERATOR, {"city_id": "bench-city"}, target="bench-network"
                )
                batch.execute(
                    "issue_key",
                    OPERATOR,
                    {"key_id": NETWORK.key_id, "role": "network", "network_id": "bench-network"},
                )
            body = {**CONTENT, "network_id": "bench-network"}
            pledge_id = ledger.write("submit_pledge", NETWORK, body).result.pledge_id
            assert pledge_id is not None
            first_report = ""
            for n in range(reports):
                written = ledger.write(
                    "report_progress", NETWORK, report(n).model_dump(mode="json"), target=pledge_id
                )
                first_report = first_report or written.result.events[0].event_id
            correction = {
                "progress_event_id": first_report,
                "indicator_id": "people-served",
                "date": report(0).period.end.isoformat(),
                "value": "7",
                "reason": "Recount",
            }
            another = report(reports).model_dump(mode="json")

            def decide(name: Any, command: dict[str, Any]) -> None:
                ledger.new_batch().execute(name, NETWORK, command, target=pledge_id)

            decide("correct_observation", correction)  # warm the stream cache
            corrected = median_us(lambda: decide("correct_observation", correction), times)
            reported = median_us(lambda: decide("report_progress", another), times)
            return corrected, reported


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--pledges", type=int, default=2000)
    parser.add_argument("--reports", default="4,40,400", help="comma-separated report counts")
    parser.add_argument("--times", type=int, default=300, help="samples per decision figure")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    floor = fold_rate(streams(args.pledges, matching=False))
    rate = fold_rate(streams(args.pledges, matching=True))
    print(
        f"fold, {args.pledges} pledges x 9 events: matching+correction streams {rate:,.0f} "
        f"events/s; floor (progress reports) {floor:,.0f} events/s; ratio {rate / floor:.2f}"
    )
    for reports in (int(r) for r in args.reports.split(",")):
        corrected, reported = decisions(reports, args.times)
        print(
            f"decide on a pledge with {reports} reports: correction {corrected:,.0f} us; floor "
            f"(another report) {reported:,.0f} us; ratio {corrected / reported:.1f}"
        )


if __name__ == "__main__":
    main()
