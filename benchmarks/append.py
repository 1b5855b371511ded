"""Write throughput, like with like: the ledger's real writes against bare eventsourcing writes.

Both sides write the same events (pledge submissions, then progress reports on each pledge) on
the same kind of store, and both pay what such a write really pays:

- ``receipted`` (one command per commit, as one HTTP write without the HTTP): the ledger
  validates the command, decides it in the domain, seals a canonical envelope, appends it,
  integrates it into the transparency log, catches the read models up, signs a checkpoint and
  builds the receipt with its inclusion proof. The bare side loads the aggregate through the
  application's repository (the ledger loads the stream through its cache), triggers the
  event and saves it, one transaction each.
- ``bulk`` (``--batch`` commands per commit, as the demo and imports load): the ledger appends
  each batch, integrates it, signs a checkpoint per commit and rebuilds the read models at the
  end; the bare side keeps its aggregates in memory (as the ledger's stream cache does) and
  saves each batch's events in one transaction.

The bare side is the floor, measured in the same run: the ratio bare/ledger (events/s) is what
the ledger's rules, canonical bytes, log, signatures and read models cost on top of the store.

    python -m benchmarks.append                      # SQLite, 5,000 events
    python -m benchmarks.append --events 20000 --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
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

from api.bootstrap import Services, bootstrap
from benchmarks.machine import machine
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.clock import SteppingClock
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode
from projections import rebuild

REPORTS_PER_PLEDGE = 4
ADMIN = Principal("bench-admin", "admin")
NETWORK = Principal("bench-network-key", "network", "bench-network")


def pledge_body() -> dict[str, Any]:
    return {
        "network_id": "bench-network",
        "cities": ["ma-marrakech"],
        "title": {"en": "One-stop welcome centre for newcomers"},
        "description": {"en": "Open a municipal welcome centre offering orientation."},
        "gcm_objectives": [3, 15],
        "sdg_targets": ["10.7"],
        "starts_on": "2026-01-01",
        "ends_on": "2028-12-31",
        "indicators": [
            {
                "id": "people-served",
                "title": {"en": "People served"},
                "measure": "unit",
                "baseline": {"value": "0", "date": "2026-01-01"},
                "targets": [{"value": "5000", "date": "2028-12-31"}],
            }
        ],
    }


def progress_body(n: int) -> dict[str, Any]:
    return {
        "period": {"start": "2026-01-01", "end": "2026-02-01"},
        "stage": "in_progress",
        "observations": [{"indicator_id": "people-served", "value": str(n), "date": "2026-02-01"}],
        "narrative": {"en": f"Report {n}."},
    }


def _issue(principal: Principal) -> dict[str, Any]:
    return {
        "key_id": principal.key_id,
        "role": principal.role,
        "network_id": principal.network_id,
        "label": "benchmark key",
    }


def register_network_and_city(services: Services) -> None:
    """What the writes below need: keys, a network, a member city."""
    with services.ledger.batch() as batch:
        batch.execute("issue_key", OPERATOR, _issue(ADMIN))
        batch.execute("register_network", ADMIN, {"id": "bench-network", "name": {"en": "Bench"}})
        batch.execute("issue_key", OPERATOR, _issue(NETWORK))
        city = {"id": "ma-marrakech", "name": {"en": "Marrakech"}, "country": "MA"}
        batch.execute("register_city", ADMIN, city)
        batch.execute("join_network", ADMIN, {"city_id": "ma-marrakech"}, target="bench-network")


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
    mode: str
    side: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def _commands(events: int) -> tuple[int, int]:
    pledges = max(1, events // (1 + REPORTS_PER_PLEDGE))
    return pledges, pledges * (1 + REPORTS_PER_PLEDGE)


def run_ledger(settings: LedgerSettings, events: int, backend: str, batch: int) -> Figure:
    clock = SteppingClock(datetime(2026, 3, 1, tzinfo=UTC), step=timedelta(milliseconds=1))
    mode = WriteMode.RECEIPTED if batch == 1 else WriteMode.BULK_LOAD
    pledges, written = _commands(events)
    with bootstrap(settings, clock=clock, write_mode=mode) as services:
        register_network_and_city(services)
        if mode is WriteMode.BULK_LOAD:
            rebuild(services.engine, services.store)
        ledger = services.ledger
        started = time.perf_counter()
        ids: list[str] = []
        if mode is WriteMode.RECEIPTED:
            for _ in range(pledges):
                done = ledger.write("submit_pledge", NETWORK, pledge_body())
                ids.append(done.result.pledge_id or "")
                assert done.receipts, "a receipted write answers a receipt"
            for n in range(REPORTS_PER_PLEDGE):
                for pledge_id in ids:
                    ledger.write("report_progress", NETWORK, progress_body(n), target=pledge_id)
        else:
            commands: list[tuple[str, dict[str, Any], int | None]] = [
                ("submit_pledge", pledge_body(), None) for _ in range(pledges)
            ]
            commands += [
                ("report_progress", progress_body(n), p)
                for n in range(REPORTS_PER_PLEDGE)
                for p in range(pledges)
            ]
            for first in range(0, len(commands), batch):
                with ledger.batch() as unit:
                    for _, body, pledge in commands[first : first + batch]:
                        if pledge is None:
                            result = unit.execute("submit_pledge", NETWORK, body)
                            ids.append(result.pledge_id or "")
                        else:
                            unit.execute("report_progress", NETWORK, body, target=ids[pledge])
            rebuild(services.engine, services.store, workers=max(1, os.cpu_count() or 1))
        seconds = time.perf_counter() - started
    return Figure(backend, mode.value, "ledger", written, seconds)


def run_bare(settings: LedgerSettings, events: int, backend: str, batch: int) -> Figure:
    env = settings.eventsourcing_env()
    env["ORIGINATOR_ID_TYPE"] = "uuid"
    app = BareApplication(env=env)
    pledges, written = _commands(events)
    started = time.perf_counter()
    if batch == 1:
        ids = []
        for _ in range(pledges):
            aggregate = BarePledge(pledge_body())
            app.save(aggregate)
            ids.append(aggregate.id)
        for n in range(REPORTS_PER_PLEDGE):
            for aggregate_id in ids:
                loaded: BarePledge = app.repository.get(aggregate_id)
                loaded.report(progress_body(n))
                app.save(loaded)
    else:
        aggregates = [BarePledge(pledge_body()) for _ in range(pledges)]
        pending: list[BarePledge] = []
        for n in range(-1, REPORTS_PER_PLEDGE):
            for aggregate in aggregates:
                if n >= 0:
                    aggregate.report(progress_body(n))
                pending.append(aggregate)
                if len(pending) == batch:
                    app.save(*pending)
                    pending = []
        if pending:
            app.save(*pending)
    seconds = time.perf_counter() - started
    app.close()
    return Figure(backend, "receipted" if batch == 1 else "bulk_load", "bare", written, seconds)


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
    parser.add_argument("--batch", type=int, default=1000, help="commands per bulk commit")
    parser.add_argument("--postgres-url", default=None, help="also measure on PostgreSQL")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"# write benchmark, {args.events} events per side and mode")
    print(f"# {machine()} · {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"# load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("# receipted: ledger = validate, decide, seal, append, integrate, catch up the read")
    print("#   models, sign, receipt; bare = load the aggregate by the repository, save (1 txn)")
    print(f"# bulk_load: {args.batch} commands a commit; ledger = append, integrate, sign a")
    print("#   checkpoint per commit, rebuild the read models at the end; bare = save a batch")
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    figures: list[tuple[Figure, Figure]] = []
    for backend in backends:
        for batch in (1, args.batch):
            with settings_pair(backend, args.postgres_url) as (ledger_settings, bare_settings):
                figures.append(
                    (
                        run_ledger(ledger_settings, args.events, backend, batch),
                        run_bare(bare_settings, args.events, backend, batch),
                    )
                )
    print(f"{'backend':<12}{'mode':<12}{'ledger ev/s':>13}{'bare ev/s':>12}{'bare/ledger':>13}")
    for ledger, bare in figures:
        ratio = bare.rate / ledger.rate
        print(
            f"{ledger.backend:<12}{ledger.mode:<12}{ledger.rate:>13,.0f}{bare.rate:>12,.0f}"
            f"{ratio:>13.2f}"
        )


@contextmanager
def settings_pair(
    backend: str, postgres_url: str | None
) -> Iterator[tuple[LedgerSettings, LedgerSettings]]:
    """Fresh stores for one measurement (each pair of runs starts empty)."""
    if backend == "sqlite":
        with sqlite_settings() as pair:
            yield pair
    else:
        assert postgres_url is not None
        with postgres_settings(postgres_url) as pair:
            yield pair


if __name__ == "__main__":
    main()
