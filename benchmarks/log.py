"""Benchmark of the transparency log: integration, proofs, and offline verification.

For each size N it builds a fresh store of N synthetic canonical envelopes (sealed from real
domain payloads, appended straight through ``EventStore.append`` in big batches), then measures:

- integration: ``TransparencyLog.integrate()`` over all N events, in events/s;
- proofs: median and p99 latency of ``inclusion_proof(i, N)`` and ``consistency_proof(m, N)``
  over random ``i`` / ``m`` (target: median <= 1 ms at 1M leaves);
- verify: ``verify_bundle`` on an exported bundle, one core, in events/s (target >= 100k/s),
  next to the limit measured in the same run on the same bytes without ledger code (SHA-256 of
  each leaf plus ``orjson.loads`` of each line), and the ratio verify / limit.

Usage::

    .venv/bin/python -m benchmarks.log [--sizes 100000,1000000] [--database-url URL]
                                       [--queries 1000] [--profile]

Without ``--database-url`` each size gets its own temporary SQLite file. With a PostgreSQL URL
each size gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
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
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson
from sqlalchemy import create_engine, text

from api.bootstrap import Services, bootstrap
from benchmarks.machine import machine
from ledger.bundle import export_bundle
from ledger.envelope import Envelope
from ledger.settings import LedgerSettings
from ledger.verify import verify_bundle
from tests.integration.synthetic_log import synthetic_envelope

T = TypeVar("T")


STREAMS = 1000
APPEND_BATCH = 10_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def envelope(number: int) -> Envelope:
    return synthetic_envelope(number, streams=STREAMS)


@contextmanager
def fresh_settings(database_url: str | None, scratch: Path, size: int) -> Iterator[LedgerSettings]:
    if database_url is None or database_url.startswith("sqlite"):
        # A given SQLite URL names where the files go: one new file per size, removed after.
        given = LedgerSettings(database_url=database_url).sqlite_path if database_url else None
        path = (
            Path(given).with_name(f"{Path(given).stem}-{size}.db") if given else scratch / "log.db"
        )
        if path.exists():
            raise SystemExit(f"{path} exists: the benchmark needs a fresh database")
        try:
            yield LedgerSettings(
                database_url=f"sqlite:///{path}",
                signing_key_file=scratch / "bench.key",
                log_origin="bench.pledge-ledger/log",
                checkpoint_interval_seconds=0,
            )
        finally:
            for leftover in path.parent.glob(f"{path.name}*"):
                leftover.unlink()
        return
    schema = f"bench_{size}_{uuid.uuid4().hex[:8]}"
    try:
        yield LedgerSettings(
            database_url=database_url,
            database_schema=schema,
            signing_key_file=scratch / "bench.key",
            log_origin="bench.pledge-ledger/log",
            checkpoint_interval_seconds=0,
        )
    finally:
        engine = create_engine(LedgerSettings(database_url=database_url).sqlalchemy_url())
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def profiled(enabled: bool, label: str, action: Callable[[], T]) -> T:
    if not enabled:
        return action()
    profile = cProfile.Profile()
    value = profile.runcall(action)
    print(f"\n--- profile: {label} (top 15 by cumulative time) ---")
    pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(15)
    return value


def fill(services: Services, size: int) -> float:
    """Append ``size`` envelopes in batches; answer the seconds spent (sealing included)."""
    started = time.perf_counter()
    for first in range(0, size, APPEND_BATCH):
        batch = [envelope(n) for n in range(first, min(size, first + APPEND_BATCH))]
        services.store.append(batch)
    return time.perf_counter() - started


def latencies(queries: list[tuple[int, int]], proof: Callable[[int, int], list[bytes]]) -> str:
    samples = []
    for a, b in queries:
        started = time.perf_counter()
        proof(a, b)
        samples.append(time.perf_counter() - started)
    samples.sort()
    median = statistics.median(samples) * 1000
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000
    return f"median {median:.3f} ms, p99 {p99:.3f} ms"


def limit_rate(entries: Path) -> tuple[int, float]:
    """SHA-256 of every leaf plus orjson.loads of every line: the floor for any verifier."""
    started = time.perf_counter()
    sha256 = hashlib.sha256
    loads = orjson.loads
    count = 0
    with open(entries, "rb") as handle:
        for line in handle:
            raw = line[:-1]
            sha256(b"\x00" + raw).digest()
            loads(raw)
            count += 1
    return count, time.perf_counter() - started


def run(size: int, database_url: str | None, queries: int, profile: bool, seed: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="pledge-ledger-bench-"))
    try:
        with (
            fresh_settings(database_url, scratch, size) as settings,
            bootstrap(settings) as services,
        ):
            print(f"\n== N = {size:,} events ({services.settings.backend}) ==")
            seconds = fill(services, size)
            print(f"store:      appended {size:,} sealed envelopes in {seconds:.1f} s")

            integrated, seconds = timed(
                lambda: profiled(profile, "integrate", services.log.integrate)
            )
            assert integrated == size, (integrated, size)
            print(f"integrate:  {size / seconds:,.0f} events/s ({seconds:.1f} s)")

            rng = random.Random(seed)
            inclusion = [(rng.randrange(size), size) for _ in range(queries)]
            consistency = [(rng.randrange(1, size), size) for _ in range(queries)]
            log = services.log
            profiled(
                profile, "inclusion proofs", lambda: latencies(inclusion[:50], log.inclusion_proof)
            )
            print(f"inclusion:  {latencies(inclusion, log.inclusion_proof)}  ({queries} queries)")
            print(
                f"consistency:{latencies(consistency, log.consistency_proof)}  ({queries} queries)"
            )

            bundle = scratch / "bundle"
            summary, seconds = timed(
                lambda: export_bundle(services.log, bundle, vkey=services.log.signer.vkey)
            )
            print(f"export:     {summary.entries / seconds:,.0f} events/s ({seconds:.1f} s)")

        entries = bundle / "entries.jsonl"
        average = entries.stat().st_size / size
        result, verify_seconds = timed(
            lambda: profiled(profile, "verify", lambda: verify_bundle(bundle))
        )
        assert result.ok, result.failure
        counted, limit_seconds = limit_rate(entries)
        assert counted == size
        verify_rate, limit = size / verify_seconds, size / limit_seconds
        print(
            f"verify:     {verify_rate:,.0f} events/s ({verify_seconds:.1f} s, one core, "
            f"{average:.0f} bytes per entry)"
        )
        print(
            f"limit:      {limit:,.0f} events/s (SHA-256 + orjson.loads per line, no ledger code)"
        )
        print(f"ratio:      verify / limit = {verify_rate / limit:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--queries", type=int, default=1000, help="proof queries per kind")
    parser.add_argument("--seed", type=int, default=2018, help="seed of the random queries")
    parser.add_argument("--profile", action="store_true", help="print cProfile summaries")
    args = parser.parse_args()
    sizes = [int(part.replace("_", "")) for part in args.sizes.split(",") if part.strip()]
    print(f"machine:    {machine()}")
    program = f"-m {__spec__.name}" if __spec__ is not None else sys.argv[0]
    print(f"command:    {Path(sys.executable).name} {program} {' '.join(sys.argv[1:])}")
    for size in sizes:
        run(size, args.database_url, args.queries, args.profile, args.seed)


if __name__ == "__main__":
    main()
