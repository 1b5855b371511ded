"""Benchmark of issue 11's new writes (ADR 0020), each beside a floor measured in the same run.

On a fresh SQLite store with one city named by ``--pledges`` pledges, through the real write
path (decide, append, integrate, catch up the views, sign, receipt), one command per commit:

- a translation, beside a non-material amendment of the description (the floor: one event on a
  pledge stream, the same path);
- an external id, which appends two events (the pledge's and its claim stream's), beside the same
  floor;
- a correction of the city's country, which recounts every pledge naming the city in the views,
  beside a correction of its name only (the floor: one registry row).

Usage::

    .venv/bin/python -m benchmarks.translations [--pledges 2000] [--writes 200]

Prints the figures, the ratios to their floors, the machine and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.bootstrap import Services, bootstrap
from benchmarks.machine import machine
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.clock import SeededIds
from ledger.commands import Batch
from ledger.settings import LedgerSettings

ADMIN = Principal("bench-admin", "admin")
NETWORK = Principal("bench-network", "network", "bench-net")


def _pledge(n: int) -> dict[str, Any]:
    return {
        "network_id": "bench-net",
        "cities": ["bench-city"],
        "title": {"en": f"Welcome centre {n}"},
        "description": {"en": "Orientation, language classes and legal aid."},
        "gcm_objectives": [15, 16],
        "starts_on": "2026-01-01",
        "ends_on": "2028-12-31",
    }


def _issue(batch: Batch, principal: Principal) -> None:
    body = {
        "key_id": principal.key_id,
        "role": principal.role,
        "network_id": principal.network_id,
        "label": "benchmark",
    }
    batch.execute("issue_key", OPERATOR, body)


def _setup(services: Services, pledges: int) -> list[str]:
    with services.ledger.batch() as batch:
        _issue(batch, ADMIN)
        batch.execute("register_network", ADMIN, {"id": "bench-net", "name": {"en": "Bench"}})
        batch.execute(
            "register_city",
            ADMIN,
            {"id": "bench-city", "name": {"en": "Bench City"}, "country": "MA"},
        )
        batch.execute("join_network", ADMIN, {"city_id": "bench-city"}, target="bench-net")
        _issue(batch, NETWORK)
    ids: list[str] = []
    for start in range(0, pledges, 500):
        with services.ledger.batch() as batch:
            for n in range(start, min(pledges, start + 500)):
                result = batch.execute("submit_pledge", NETWORK, _pledge(n))
                assert result.pledge_id is not None
                ids.append(result.pledge_id)
    return ids


def _timed(writes: int, write: Callable[[int], None]) -> list[float]:
    seconds = []
    for n in range(writes):
        started = time.perf_counter()
        write(n)
        seconds.append(time.perf_counter() - started)
    return seconds


def _line(name: str, seconds: list[float], floor: list[float] | None = None) -> str:
    median = statistics.median(seconds) * 1000
    text = f"{name:<44} median {median:7.2f} ms   {len(seconds) / sum(seconds):8.1f} writes/s"
    if floor is not None:
        text += f"   ratio to floor {statistics.median(seconds) / statistics.median(floor):.2f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pledges", type=int, default=2000, help="pledges naming the city")
    parser.add_argument("--writes", type=int, default=200, help="writes per figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = LedgerSettings(database_url=f"sqlite:///{Path(folder) / 'bench.db'}")
        with bootstrap(settings, ids=SeededIds(5)) as services:
            pledge_ids = _setup(services, args.pledges)
            write = services.ledger.write
            count = min(args.writes, len(pledge_ids))

            def amend(n: int) -> None:
                changes = {"description": {"en": f"Orientation and legal aid, take {n}."}}
                body = {"changes": changes, "reason": "Wording"}
                write("amend_pledge", NETWORK, body, target=pledge_ids[n])

            def translate(n: int) -> None:
                body = {"field": "title", "language": "fr", "text": f"Centre d'accueil {n}"}
                write("translate_pledge", NETWORK, body, target=pledge_ids[n])

            def add_id(n: int) -> None:
                body = {"scheme": "grf", "value": f"GRF-{n}"}
                write("add_external_id", NETWORK, body, target=pledge_ids[n])

            def rename(n: int) -> None:
                body = {"name": {"fr": f"Ville {n}"}, "reason": "French name"}
                write("correct_city", ADMIN, body, target="bench-city")

            def move(n: int) -> None:
                body = {"country": ("TN", "MA")[n % 2], "reason": "Wrong country"}
                write("correct_city", ADMIN, body, target="bench-city")

            floor = _timed(count, amend)
            translated = _timed(count, translate)
            claimed = _timed(count, add_id)
            renamed = _timed(max(count // 10, 5), rename)
            moved = _timed(max(count // 10, 5), move)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {machine()}")
    print(f"load average (1, 5, 15 min) at the end: {load}")
    print(f"store: SQLite, {args.pledges} pledges naming one city, one command per commit")
    print(_line("floor: non-material amendment", floor))
    print(_line("translation", translated, floor))
    print(_line("external id (pledge + claim stream)", claimed, floor))
    print(_line("floor: city name correction", renamed))
    print(_line(f"country correction (recounts {args.pledges} pledges)", moved, renamed))


if __name__ == "__main__":
    main()
