"""The HTTP API under load: receipted appends/s and read latency, beside a bare FastAPI ceiling.

What it does, in one run, per backend (SQLite always, PostgreSQL with ``--postgres-url``):

1. prepares a store holding about ``--events`` events (the demo, loaded by ``pledge-ledger
   demo``; ``--store-cache DIR`` keeps the SQLite one between runs and works on a copy);
2. issues an admin key (``pledge-ledger keys issue --role admin --json``) and starts the real
   server, ``pledge-ledger serve``, as its own process on loopback;
3. drives it with ``wrk`` (C, two threads: not the bottleneck; it is measured below): city
   registrations, each a distinct stream, so every request is a real receipted append
   (decide, seal, append, integrate into the log, catch up the read models, sign, prove);
4. drives ``benchmarks.bare_http`` the same way, served by the same uvicorn settings: FastAPI
   parsing and validating the same body into the same command model and answering 201, storing
   nothing. That is the ceiling any write endpoint on this machine stays under, and the ratio
   ledger / ceiling is printed;
5. measures public reads (a pledge's JSON, a list page, a roll-up, and each public page's
   HTML) without write load and while the write load runs, beside ``/healthz`` as the floor
   (``--reads-only``: without the write load). Each page's first visit (its render, before the
   server keeps it for the ledger's head) is timed apart, one client, before the wrk runs.

Every figure is printed with the machine and the command. Needs Debian's ``wrk``.

    python -m benchmarks.http --events 100000 --store-cache /tmp/bench-http
    python -m benchmarks.http --events 100000 --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import orjson
import psycopg
from psycopg import sql

from benchmarks.machine import machine

EVENTS_PER_DEMO_PLEDGE = 6  # the demo's mix: about 101,600 events for 17,000 pledges

WRITE_SCRIPT = r"""
local counter = 0
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  token = args[1]
  prefix = "bench-" .. args[2] .. "-" .. thread_id .. "-"
  statuses = {}
end
function request()
  counter = counter + 1
  local body = '{"id":"' .. prefix .. counter .. '","name":{"en":"Bench city ' .. counter ..
    '"},"country":"FR"}'
  return wrk.format("POST", "/api/v1/cities",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("STATUS %d %d\n", status, count))
  end
end
"""

READ_SCRIPT = r"""
local paths = {}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  for line in io.lines(args[1]) do
    table.insert(paths, line)
  end
  index = 0
  statuses = {}
end
function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      io.write(string.format("STATUS %d %d\n", status, count))
    end
  end
end
"""


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    rate: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def line(self) -> str:
        others = {s: n for s, n in self.statuses.items() if not 200 <= s < 300}
        extra = f", non-2xx {others}" if others else ""
        return (
            f"{self.rate:8.0f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
            f"  ({self.ok} ok{extra})"
        )


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> Load:
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, flags=re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        raise SystemExit(f"wrk printed no latency distribution:\n{output}")
    statuses: dict[int, int] = {}
    for status, count in re.findall(r"^STATUS (\d+) (\d+)$", output, flags=re.MULTILINE):
        statuses[int(status)] = statuses.get(int(status), 0) + int(count)
    return Load(rate, _milliseconds(percentiles["50"]), _milliseconds(percentiles["99"]), statuses)


def wrk(
    url: str,
    script: Path,
    *args: str,
    seconds: int,
    connections: int,
    threads: int = 2,
) -> subprocess.Popen[str]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *args,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(process: subprocess.Popen[str]) -> Load:
    output, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"wrk failed: {output}")
    return parse_wrk(output)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("pledge-ledger")), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"pledge-ledger {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run a server process until the block ends; answer its base URL once it is ready."""
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise SystemExit(
                    f"the server exited: {server.stderr.read() if server.stderr else ''}"
                )
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not become ready within 120 s")
            time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def halfway(submitted_at: str) -> str:
    """The day half-way between a pledge's submission and today."""
    first = date.fromisoformat(submitted_at[:10])
    return (first + (date.today() - first) / 2).isoformat()


def read_paths(base: str, folder: Path) -> dict[str, Path]:
    """Files of GET paths for wrk: pledge pages, list pages, roll-ups."""
    listed = httpx.get(f"{base}/api/v1/pledges", params={"limit": 200}, timeout=30).json()
    items = listed.get("items") or listed.get("pledges") or []
    pledge_ids = [item["pledge_id"] for item in items]
    if not pledge_ids:
        raise SystemExit("the store lists no pledges to read")
    networks = sorted({item["network_id"] for item in items})
    cities = sorted({city for item in items for city in item["cities"]})
    past = "2024-06-30"
    kinds = {
        "floor: /healthz": ["/healthz"],
        "pledge JSON": [f"/api/v1/pledges/{p}" for p in pledge_ids],
        "list page": [f"/api/v1/pledges?limit=50&network={n}" for n in networks]
        + ["/api/v1/pledges?limit=50"],
        "roll-up": [
            f"/api/v1/rollups?by={by}"
            for by in ("gcm_objective", "gcr_area", "network", "country", "status")
        ]
        + [f"/api/v1/networks/{n}/rollup" for n in networks],
        # The public pages (HTML, English; the language changes only the catalogue used).
        "home page": ["/"],
        "pledge list page": ["/pledges", "/pledges?status=validated&sort=updated"]
        + [f"/pledges?network={n}" for n in networks],
        "pledge page": [f"/pledges/{p}" for p in pledge_ids[:100]],
        "network page": [f"/networks/{n}" for n in networks],
        "city page": [f"/cities/{c}" for c in cities[:100]],
        "audit page": ["/audit"],
        "reports form": ["/reports"],
        # Each pledge as of a day half-way between its submission and today (a day it existed).
        "pledge page as of a day": [
            f"/pledges/{item['pledge_id']}?as_of={halfway(item['submitted_at'])}"
            for item in items[:100]
        ],
        # Built once from the log (a fold of every entry), then kept: a past day's report
        # cannot change. The first build is timed apart, in ``first_report``.
        "report page as of a day": [f"/reports?as_of={past}"],
    }
    files = {}
    for kind, paths in kinds.items():
        path = folder / f"{re.sub(r'[^a-z0-9]+', '-', kind)}.txt"
        path.write_text("\n".join(paths) + "\n")
        files[kind] = path
    return files


@dataclass
class Backend:
    name: str
    env: dict[str, str]


@contextmanager
def sqlite_backend(events: int, cache: Path | None, work: Path) -> Iterator[Backend]:
    database = work / "ledger.db"
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{database}",
        "LEDGER_SIGNING_KEY_FILE": str(work / "ledger.key"),
        "LEDGER_LOG_ORIGIN": "bench.pledge-ledger/log",
    }
    cached = cache / f"http-{events}" if cache else None
    if cached is not None and (cached / "ledger.db").is_file():
        for name in ("ledger.db", "ledger.key"):
            shutil.copy2(cached / name, work / name)
    else:
        print(f"loading the demo (about {events} events) into SQLite …", flush=True)
        cli(env, "demo", "--pledges", str(max(1, events // EVENTS_PER_DEMO_PLEDGE)), "--json")
        if cached is not None:
            cached.mkdir(parents=True, exist_ok=True)
            for name in ("ledger.db", "ledger.key"):
                shutil.copy2(work / name, cached / name)
    yield Backend("sqlite", env)


@contextmanager
def postgres_backend(url: str, events: int, work: Path) -> Iterator[Backend]:
    name = f"bench_http_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"{url.rsplit('/', 1)[0]}/{name}",
        "LEDGER_SIGNING_KEY_FILE": str(work / "pg.key"),
        "LEDGER_LOG_ORIGIN": "bench.pledge-ledger/log",
    }
    try:
        print(f"loading the demo (about {events} events) into PostgreSQL …", flush=True)
        cli(env, "demo", "--pledges", str(max(1, events // EVENTS_PER_DEMO_PLEDGE)), "--json")
        yield Backend("postgresql", env)
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def measure(backend: Backend, args: argparse.Namespace, scripts: Path) -> dict[str, Load]:
    key = orjson.loads(cli(backend.env, "keys", "issue", "--role", "admin", "--json"))
    token = key["secret"]
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("pledge-ledger")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.server_workers),
    ]
    results: dict[str, Load] = {}
    tag = uuid.uuid4().hex[:6]
    with serving(command, backend.env, port) as base:
        first_report(base)
        paths = read_paths(base, scripts)
        first_visits(base, paths)
        for kind, path in paths.items():
            results[f"{kind}, idle"] = finished(
                wrk(base, scripts / "read.lua", str(path), seconds=args.seconds, connections=8)
            )
        # One reader at a time: each answer's own time, without the queue eight readers
        # make in front of one server process.
        for kind, path in paths.items():
            results[f"{kind}, one reader"] = finished(
                wrk(
                    base,
                    scripts / "read.lua",
                    str(path),
                    seconds=args.seconds,
                    connections=1,
                    threads=1,
                )
            )
        if args.reads_only:
            return results
        writes = wrk(
            base,
            scripts / "write.lua",
            token,
            f"{tag}w",
            seconds=args.seconds,
            connections=args.connections,
        )
        results["receipted appends"] = finished(writes)
        for kind, path in paths.items():
            under_load = wrk(
                base,
                scripts / "write.lua",
                token,
                f"{tag}{kind[:2]}",
                seconds=args.seconds,
                connections=args.connections,
            )
            time.sleep(1)  # the write load is running before the reads start
            reads = wrk(
                base,
                scripts / "read.lua",
                str(path),
                seconds=max(1, args.seconds - 2),
                connections=4,
                threads=1,
            )
            results[f"{kind}, under write load"] = finished(reads)
            finished(under_load)
    return results


def first_report(base: str) -> None:
    """The report page as of a past day, the first time: it folds the whole log (what a
    report as of a date is, today); later requests get the kept report."""
    started = time.perf_counter()
    response = httpx.get(f"{base}/reports", params={"as_of": "2024-06-30"}, timeout=600)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    print(f"  report page as of 2024-06-30, first build: {elapsed * 1000:.0f} ms", flush=True)


PAGE_KINDS = ("page", "form")
"""The kinds of ``read_paths`` that are public pages (HTML): their first visits are timed."""


def first_visits(base: str, paths: dict[str, Path]) -> None:
    """Each page's first visit, one client, nothing else running: the render itself, before the
    server keeps it (a page is rendered once per ledger head, ADR 0019); the wrk runs that
    follow measure the kept pages, the runs under write load pages rendered again as the head
    moves with every write."""
    print("  first visit of each page (rendered, one client):", flush=True)
    with httpx.Client(base_url=base, timeout=600) as client:
        for kind, path in paths.items():
            if not any(word in kind for word in PAGE_KINDS) or "report page" in kind:
                continue
            took = []
            for address in path.read_text().split():
                started = time.perf_counter()
                response = client.get(address)
                took.append((time.perf_counter() - started) * 1000)
                if response.status_code not in (200, 404):
                    raise SystemExit(f"{address} answered {response.status_code}")
            took.sort()
            p50 = took[len(took) // 2]
            p99 = took[min(len(took) - 1, int(len(took) * 0.99))]
            print(
                f"    {kind:<28} {len(took):4d} pages  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                f"  max {took[-1]:7.2f} ms",
                flush=True,
            )


def measure_ceiling(args: argparse.Namespace, scripts: Path) -> Load:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.bare_http:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with serving(command, dict(os.environ), port) as base:
        return finished(
            wrk(
                base,
                scripts / "write.lua",
                "bare-token",
                "bare",
                seconds=args.seconds,
                connections=args.connections,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run's duration")
    parser.add_argument("--connections", type=int, default=64, help="concurrent write clients")
    parser.add_argument("--postgres-url", default=None, help="also measure on PostgreSQL")
    parser.add_argument("--store-cache", type=Path, default=None)
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="`pledge-ledger serve --workers N`: server processes on the one port",
    )
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="measure the reads and pages only (no write load, no write ceiling)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    print(f"machine: {machine()}")
    print(f"command: python -m benchmarks.http {' '.join(sys.argv[1:])}")
    with tempfile.TemporaryDirectory(prefix="bench-http-") as scratch:
        scripts = Path(scratch)
        (scripts / "write.lua").write_text(WRITE_SCRIPT)
        (scripts / "read.lua").write_text(READ_SCRIPT)
        ceiling = None if args.reads_only else measure_ceiling(args, scripts)
        if ceiling is not None:
            print(f"\nbare FastAPI, validate the body only:  {ceiling.line()}")
        backends = [("sqlite", None)] + (
            [("postgresql", args.postgres_url)] if args.postgres_url else []
        )
        for name, url in backends:
            work = Path(tempfile.mkdtemp(prefix=f"bench-http-{name}-"))
            try:
                context = (
                    sqlite_backend(args.events, args.store_cache, work)
                    if url is None
                    else postgres_backend(url, args.events, work)
                )
                with context as backend:
                    results = measure(backend, args, scripts)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            print(f"\n{name}, about {args.events} events, {args.connections} write clients:")
            floors = {
                "idle": results["floor: /healthz, idle"],
                "one reader": results["floor: /healthz, one reader"],
            }
            for label, load in results.items():
                setting = label.rsplit(", ", 1)[-1]
                share = (
                    f"  ({load.rate / floors[setting].rate:.2f} of the floor's rate)"
                    if setting in floors
                    else ""
                )
                print(f"  {label:<40} {load.line()}{share}")
            if ceiling is not None:
                appends = results["receipted appends"]
                print(
                    f"  ratio receipted appends / bare ceiling: {appends.rate / ceiling.rate:.2f}"
                )


if __name__ == "__main__":
    main()
