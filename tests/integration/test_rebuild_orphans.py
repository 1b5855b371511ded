"""A rebuild killed mid-way leaves no worker behind, and the next rebuild runs, on both backends.

The attack: a rebuild in another process forks its workers; while they fold (held there, each
having written its pid to the parent's stdout), the rebuilding process is killed with SIGKILL,
which runs no clean-up of its own. Its workers must die with it: a surviving worker would hang
for ever and keep the rebuild lock (the lock file's descriptor, or the PostgreSQL session,
that it inherited), so that every later rebuild is refused.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from api.bootstrap import Services
from projections import RebuildFailed, RebuildResult, rebuild
from projections.rebuild import _die_with_parent
from projections.runner import read_position
from tests.integration.ledger_scenario import event_count, register_basics, submit_pledge

WORKERS = 2

REBUILD_WITH_HELD_WORKERS = """
import importlib, os, signal, sys
from api.bootstrap import bootstrap
from ledger.settings import LedgerSettings
module = importlib.import_module("projections.rebuild")  # the package exports the function

def held_fold(*args, **kwargs):
    # A worker still at work when its parent dies: it says so, then waits for ever.
    os.write(1, f"{os.getpid()}\\n".encode())
    signal.pause()

module._fold_pledges = held_fold
with bootstrap(LedgerSettings.model_validate_json(sys.argv[1])) as services:
    module.rebuild(services.engine, services.store, workers=int(sys.argv[2]))
"""


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, waiting to be reaped, holds nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for_exit(pids: list[int], seconds: float = 30.0) -> list[int]:
    """Poll ``/proc`` until every pid is gone or ``seconds`` have passed; answer the survivors."""
    deadline = time.monotonic() + seconds
    survivors = [pid for pid in pids if is_running(pid)]
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = [pid for pid in survivors if is_running(pid)]
    return survivors


def rebuild_once_the_lock_is_free(services: Services, seconds: float = 30.0) -> RebuildResult:
    """Rebuild, retrying while the lock is still held, for a bounded time.

    The kernel frees a dead process's file lock at once. PostgreSQL frees a dead client's
    advisory lock when its backend notices the connection closed, which under load can take a
    moment. Orphaned workers would hold it for ever: then this gives up and the test fails.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            return rebuild(services.engine, services.store, workers=WORKERS)
        except RebuildFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_killing_a_rebuild_kills_its_workers_and_frees_the_rebuild_lock(
    services: Services,
) -> None:
    register_basics(services)
    for _ in range(4):
        submit_pledge(services)
    rebuilding = subprocess.Popen(
        [
            sys.executable,
            "-c",
            REBUILD_WITH_HELD_WORKERS,
            services.settings.model_dump_json(),
            str(WORKERS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert rebuilding.stdout is not None
    workers: list[int] = []
    try:
        for _ in range(WORKERS):
            line = rebuilding.stdout.readline()
            assert line, rebuilding.stderr.read().decode() if rebuilding.stderr else ""
            workers.append(int(line))
    finally:
        os.kill(rebuilding.pid, signal.SIGKILL)
        rebuilding.wait()
        rebuilding.stdout.close()
        if rebuilding.stderr is not None:
            rebuilding.stderr.close()
    survivors = wait_for_exit(workers)
    for pid in survivors:  # leave nothing behind, then fail
        os.kill(pid, signal.SIGKILL)

    assert survivors == []
    result = rebuild_once_the_lock_is_free(services)
    assert result.events == event_count(services)
    assert read_position(services.engine).events == event_count(services)


def test_a_worker_whose_parent_died_before_it_could_ask_to_die_with_it_exits() -> None:
    # The parent-death signal is asked for after the fork: a parent already gone by then is
    # seen by the worker's parent no longer being the process that forked it.
    context = multiprocessing.get_context("fork")
    worker = context.Process(target=_die_with_parent, args=(os.getpid() + 1_000_000,))
    worker.start()
    worker.join()

    assert worker.exitcode == 1
