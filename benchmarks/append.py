"""Append throughput: pledge events through the ledger vs a bare eventsourcing aggregate.

Both sides write the same number of events, one command per transaction, on the same kind of
store: the ledger parses and validates each command, decides it in the domain, seals a canonical
envelope and appends it; the bare side triggers an event on an eventsourcing ``Aggregate``
(loaded through the application's repository) and saves it. The ratio bare/ledger (events/s)
is the ledger's overhead; the target is at most 1.5.

    python -m benchmarks.append                      # SQLite, 5,000 events
    python -m benchmarks.append --events 20000 --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.utils import Environment, EnvType
from psycopg import sql

from api.bootstrap import bootstrap
from benchmarks.machine import machine
from ledger.clock import SteppingClock
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from tests.integration.ledger_scenario import UCLG, pledge_body, register_basics

REPORTS_PER_PLEDGE = 4


def progress_body(n: int) -> dict[str, Any]:
    return {
        "period": {"start": "2026-01-01", "end": "2026-02-01"},
        "stage": "in_progress",
        "observations": [{"indicator_id": "people-served", "value": str(n), "date": "2026-02-01"}],
        "narrative": {"en": f"Report {n}."},
    }


class BarePledge(Aggregate):
    @event("Submitted")
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.reports = 0

    @event("ProgressReported")
    def report(self, body: dict[str, Any]) -> None:
        self.reports += 1


class BareApplication(Application[uuid.UUID]):
    name = "Bare"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        return Environment(name, dict(env or {}))


@dataclass
class Figure:
    backend: str
    side: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def run_ledger(settings: LedgerSettings, events: int, backend: str) -> Figure:
    clock = SteppingClock(datetime(2026, 3, 1, tzinfo=UTC), step=timedelta(milliseconds=1))
    # Measure the append path alone: no log, no read models.
    with bootstrap(settings, clock=clock, write_mode=WriteMode.APPEND_ONLY) as services:
        register_basics(services)
        pledges = events // (1 + REPORTS_PER_PLEDGE)
        started = time.perf_counter()
        ids = []
        for _ in range(pledges):
            with services.ledger.batch() as batch:
                ids.append(batch.execute("submit_pledge", UCLG, pledge_body()).pledge_id or "")
        written = pledges
        for n in range(REPORTS_PER_PLEDGE):
            for pledge_id in ids:
                with services.ledger.batch() as batch:
                    batch.execute("report_progress", UCLG, progress_body(n), target=pledge_id)
                written += 1
        seconds = time.perf_counter() - started
    return Figure(backend, "ledger", written, seconds)


def run_bare(settings: LedgerSettings, events: int, backend: str) -> Figure:
    env = settings.eventsourcing_env()
    env["ORIGINATOR_ID_TYPE"] = "uuid"
    app = BareApplication(env=env)
    pledges = events // (1 + REPORTS_PER_PLEDGE)
    started = time.perf_counter()
    ids = []
    for _ in range(pledges):
        aggregate = BarePledge(pledge_body())
        app.save(aggregate)
        ids.append(aggregate.id)
    written = pledges
    for n in range(REPORTS_PER_PLEDGE):
        for aggregate_id in ids:
            aggregate = app.repository.get(aggregate_id)
            aggregate.report(progress_body(n))
            app.save(aggregate)
            written += 1
    seconds = time.perf_counter() - started
    app.close()
    return Figure(backend, "bare eventsourcing", written, seconds)


@contextmanager
def sqlite_settings() -> Iterator[tuple[LedgerSettings, LedgerSettings]]:
    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)
        yield (
            LedgerSettings(
                database_url=f"sqlite:///{base / 'ledger.db'}", signing_key_file=base / "key"
            ),
            LedgerSettings(
                database_url=f"sqlite:///{base / 'bare.db'}", signing_key_file=base / "key"
            ),
        )


@contextmanager
def postgres_settings(url: str) -> Iterator[tuple[LedgerSettings, LedgerSettings]]:
    schemas = [f"bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with tempfile.TemporaryDirectory() as directory:
        try:
            with psycopg.connect(url, autocommit=True) as connection:
                for schema in schemas:
                    connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            yield tuple(  # type: ignore[misc]
                LedgerSettings(
                    database_url=url,
                    database_schema=schema,
                    signing_key_file=Path(directory) / "key",
                )
                for schema in schemas
            )
        finally:
            with psycopg.connect(url, autocommit=True) as connection:
                for schema in schemas:
                    connection.execute(
                        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--postgres-url", default=None, help="also measure on PostgreSQL")
    args = parser.parse_args()
    print(f"# append benchmark, {args.events} events per side, one command per transaction")
    print(f"# {machine()} · {datetime.now(UTC).isoformat(timespec='seconds')}")
    figures: list[tuple[Figure, Figure]] = []
    with sqlite_settings() as (ledger_settings, bare_settings):
        figures.append(
            (
                run_ledger(ledger_settings, args.events, "sqlite"),
                run_bare(bare_settings, args.events, "sqlite"),
            )
        )
    if args.postgres_url:
        with postgres_settings(args.postgres_url) as (ledger_settings, bare_settings):
            figures.append(
                (
                    run_ledger(ledger_settings, args.events, "postgresql"),
                    run_bare(bare_settings, args.events, "postgresql"),
                )
            )
    print(f"{'backend':<12}{'ledger ev/s':>14}{'bare ev/s':>14}{'overhead':>10}  target")
    for ledger, bare in figures:
        ratio = bare.rate / ledger.rate
        verdict = "ok" if ratio <= 1.5 else "MISSED"
        print(
            f"{ledger.backend:<12}{ledger.rate:>14,.0f}{bare.rate:>14,.0f}{ratio:>10.2f}  "
            f"<= 1.50 {verdict}"
        )


if __name__ == "__main__":
    main()
