"""Real ``pledge-ledger serve`` processes for tests: started on a free port, ready, stopped.

API keys: until part B of issue 10 lands, the server knows the keys listed in
``LEDGER_PLACEHOLDER_API_KEYS`` (api/auth.py); ``KEYS`` are the tests' secrets. When the real
keys land, ``server_environment`` is the one place to change (issue them with
``pledge-ledger keys issue --json`` before starting the server).
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

from api.auth import PLACEHOLDER_KEYS_VARIABLE
from ledger.settings import LedgerSettings

KEYS = {
    "admin": "test-admin-secret-0f1e2d3c4b5a",
    "uclg": "test-uclg-secret-a5b4c3d2e1f0",
}
_PRINCIPALS = {
    KEYS["admin"]: {"key_id": "admin-1", "role": "admin"},
    KEYS["uclg"]: {"key_id": "uclg-key", "role": "network", "network_id": "uclg"},
}
READY_WITHIN_SECONDS = 60.0


def bearer(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name]}"}


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
            PLACEHOLDER_KEYS_VARIABLE: orjson.dumps(_PRINCIPALS).decode(),
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
def running_server(settings: LedgerSettings, directory: Path, name: str = "a") -> Iterator[Server]:
    port = free_port()
    log = directory / f"server-{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [_executable(), "serve", "--host", "127.0.0.1", "--port", str(port)],
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
