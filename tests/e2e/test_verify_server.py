"""``pledge-ledger verify http://host:port`` against real servers over loopback: an honest
ledger verifies; one that serves a changed entry fails naming the entry; a server that is not
there, is not a ledger, or answers too much is refused in one line."""

from __future__ import annotations

import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from typer.testing import CliRunner, Result

from api.app import create_app
from api.bootstrap import Services
from api.cli import app as cli_app
from ledger.note import generate_signer
from ledger.verify import KEY_LIMIT
from tests.integration.ledger_scenario import register_basics, submit_pledge

TAMPERED_ENTRY = 3


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port until the test ends.

    The socket listens before the server starts, so a client may connect at once: the
    connection waits in the backlog until uvicorn accepts it.
    """
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        listening.close()


@pytest.fixture
def ledger_url(services: Services) -> Iterator[str]:
    register_basics(services)
    submit_pledge(services)
    with serving(create_app(services=services)) as url:
        yield url


def verify(*args: str) -> Result:
    return CliRunner().invoke(cli_app, ["verify", *args])


def verified(url: str, *args: str) -> dict[str, Any]:
    result = verify(url, "--json", *args)
    report: dict[str, Any] = orjson.loads(result.stdout)
    assert (result.exit_code == 0) == report["ok"]
    return report


def test_a_running_server_verifies_like_a_bundle(services: Services, ledger_url: str) -> None:
    report = verified(ledger_url, "--trust-key", services.log.signer.vkey)

    assert report["ok"], report["failure"]
    assert report["entries"] == report["tree_size"] == services.log.tree_size()
    assert (report["key_trusted"], report["rollups_checked"]) == (True, True)
    assert report["tiles"] >= 1


def test_a_server_signing_with_another_key_fails_against_the_trusted_key(
    ledger_url: str,
) -> None:
    other = generate_signer("test.pledge-ledger/log").vkey

    report = verified(ledger_url, "--trust-key", other)

    assert not report["ok"]
    assert report["failure"]["where"] == "key.vkey"


def test_a_server_serving_a_changed_entry_fails_naming_that_entry(services: Services) -> None:
    register_basics(services)
    submit_pledge(services)
    tampering = create_app(services=services)

    @tampering.middleware("http")
    async def change_one_entry(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if request.url.path != "/api/v1/log/entries":
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
        lines = body.split(b"\n")
        lines[TAMPERED_ENTRY] = lines[TAMPERED_ENTRY].replace(b"admin-1", b"admin-9")
        return Response(b"\n".join(lines), media_type="application/x-ndjson")

    with serving(tampering) as url:
        report = verified(url, "--trust-key", services.log.signer.vkey)

    assert not report["ok"]
    assert report["failure"]["where"].startswith(f"entry {TAMPERED_ENTRY} (event ")


def test_no_server_at_the_address_is_one_line_naming_the_refusal() -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()

    result = verify(f"http://127.0.0.1:{port}")

    assert result.exit_code == 1
    assert "connection refused" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_server_that_is_not_a_ledger_is_refused_in_one_line() -> None:
    with serving(FastAPI()) as url:
        result = verify(url)

    assert result.exit_code == 1
    assert "HTTP 404" in result.stderr
    assert "Pledge Ledger server" in result.stderr


def test_an_answer_over_its_size_limit_is_refused_unread() -> None:
    flooding = FastAPI()

    @flooding.get("/api/v1/log/key")
    def huge_key() -> PlainTextResponse:
        return PlainTextResponse("k" * (KEY_LIMIT + 1))

    with serving(flooding) as url:
        result = verify(url)

    assert result.exit_code == 1
    assert "more than a verifier key can hold" in result.stderr


def test_roll_ups_over_their_download_cap_are_refused(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The copy goes to disk as it arrives; a server's roll-ups still have a cap (4 GiB), here
    # made smaller than the document this ledger serves.
    monkeypatch.setattr("api.remote_log.ROLLUPS_LIMIT", 1000)

    result = verify(ledger_url)

    assert result.exit_code == 1
    assert "more than a roll-ups document can hold (1,000)" in result.stderr


@pytest.mark.parametrize("address", ["http://", "https://host:1/?x=1"])
def test_a_malformed_server_address_is_refused_naming_the_source(address: str) -> None:
    result = verify(address)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: source: ")
