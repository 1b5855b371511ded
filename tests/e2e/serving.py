"""Real ``pledge-ledger serve`` processes for tests: started on a free port, ready, stopped.

API keys are issued as an operator would, with ``pledge-ledger keys issue --json`` on the store
(an admin key before each server starts; the tests issue network keys once their network is
registered); ``KEYS`` keeps their tokens by name.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from ledger.settings import LedgerSettings

KEYS: dict[str, str] = {}
"""The tests' bearer tokens by name, issued with ``pledge-ledger keys issue`` (``issue_key``)."""
READY_WITHIN_SECONDS = 60.0


def bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name]}"}


def issue_key(settings: LedgerSettings, name: str, *options: str) -> None:
    """Issue a key with the command line, as an operator would, and keep its token as ``name``."""
    done = subprocess.run(
        [_executable(), "keys", "issue", *options, "--json"],
        env=server_environment(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    KEYS[name] = orjson.loads(done.stdout)["secret"]


def free_port() -> int:
    # uvicorn's command line cannot report the port it bound for port 0: take a free one here.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(settings: LedgerSettings) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEDGER_") or name == "LEDGER_TEST_POSTGRES_URL"
    }
    env.update(
        {
            "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_SIGNING_KEY_FILE": str(settings.key_file),
            "LEDGER_LOG_ORIGIN": settings.log_origin,
            "LEDGER_CHECKPOINT_INTERVAL_SECONDS": str(settings.checkpoint_interval_seconds),
        }
    )
    if settings.database_schema:
        env["LEDGER_DATABASE_SCHEMA"] = settings.database_schema
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def terminate(self) -> bool:
        """SIGTERM, as a supervisor stops it; answers whether it stopped cleanly (uvicorn lets
        the signal end the process once it has shut down gracefully)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60) in (0, -signal.SIGTERM)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _executable() -> str:
    beside = Path(sys.executable).with_name("pledge-ledger")
    found = str(beside) if beside.exists() else shutil.which("pledge-ledger")
    assert found, "the pledge-ledger console script is not installed"
    return found


def wait_until_ready(server: Server) -> None:
    """Poll /readyz until it answers 200 (bounded): the process needs time to start."""
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited early:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling a starting process, not synchronising threads
    raise AssertionError(
        f"the server was not ready in {READY_WITHIN_SECONDS} s:\n{server.output()}"
    )


@contextmanager
def running_server(
    settings: LedgerSettings, directory: Path, name: str = "a", *options: str
) -> Iterator[Server]:
    issue_key(settings, "admin", "--role", "admin")
    port = free_port()
    log = directory / f"server-{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [_executable(), "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            env=server_environment(settings),
            cwd=directory,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
