"""``pledge-ledger serve`` as a real process over HTTP: writes with receipts, a graceful stop
with writes in flight, and two servers on one PostgreSQL store."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.bootstrap import count_events, open_for_reading
from ledger.checkpoint import load_or_create_signer
from ledger.merkle import verify_consistency
from ledger.settings import LedgerSettings
from tests.e2e.http_writing import check_receipt
from tests.e2e.serving import Server, bearer, issue_key, running_server
from tests.integration.ledger_scenario import pledge_body

pytestmark = pytest.mark.slow

REGISTRY = (
    ("/api/v1/networks", {"id": "uclg", "name": {"en": "UCLG"}}),
    ("/api/v1/cities", {"id": "ma-marrakech", "name": {"en": "Marrakech"}, "country": "MA"}),
    ("/api/v1/networks/uclg/members", {"city_id": "ma-marrakech"}),
)


# Each server's start issues an admin key on the log; ``register`` issues one network key.
KEYS_ISSUED_BY_ONE_SERVER = 2


def register(server: Server, settings: LedgerSettings) -> None:
    """The registry over HTTP as admin, then a key for the uclg network's system."""
    for path, body in REGISTRY:
        response = httpx.post(f"{server.url}{path}", json=body, headers=bearer("admin"))
        assert response.status_code == 201, response.text
    issue_key(settings, "uclg", "--role", "network", "--network", "uclg")


def checked(settings: LedgerSettings, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    verifier = load_or_create_signer(settings.key_file, settings.log_origin).verifier
    check_receipt(body["receipt"], verifier, settings.log_origin)
    return body


def assert_fully_logged(settings: LedgerSettings) -> int:
    """Every stored event has its gapless leaf, the latest checkpoint covers them all, and each
    checkpoint is consistent with the one before: nothing is half-written. Answers the count."""
    with open_for_reading(settings) as reader:
        events = count_events(reader.engine, settings)
        size = reader.log.tree_size()
        assert size == events
        assert [leaf.leaf_index for leaf in reader.log.leaves(0, size)] == list(range(size))
        reader.log.audit()
        checkpoints = reader.log.checkpoints()
        assert checkpoints[-1].size == size
        for older, newer in itertools.pairwise(checkpoints):
            proof = reader.log.consistency_proof(older.size, newer.size)
            verify_consistency(older.size, newer.size, proof, older.root, newer.root)
        return events


def test_the_served_api_answers_a_write_with_a_receipt_and_documents_itself(
    settings: LedgerSettings, tmp_path: Path
) -> None:
    with running_server(settings, tmp_path) as server:
        register(server, settings)
        response = httpx.post(
            f"{server.url}/api/v1/pledges", json=pledge_body(), headers=bearer("uclg")
        )
        checked(settings, response)
        schema = httpx.get(f"{server.url}/openapi.json").json()
        docs = httpx.get(f"{server.url}/docs")
        assert server.terminate()
    assert "/api/v1/pledges" in schema["paths"]
    assert docs.status_code == 200


def test_a_write_without_a_known_key_is_refused_by_the_served_api(
    settings: LedgerSettings, tmp_path: Path
) -> None:
    with running_server(settings, tmp_path) as server:
        before = httpx.get(f"{server.url}/readyz").json()
        response = httpx.post(
            f"{server.url}/api/v1/networks",
            json={"id": "uclg", "name": {"en": "UCLG"}},
            headers={"authorization": "Bearer not-a-key"},
        )
        readiness = httpx.get(f"{server.url}/readyz").json()
    assert response.status_code == 401
    assert readiness["log_size"] == before["log_size"] == 1  # the admin key's issuance only


def test_sigterm_with_writes_in_flight_leaves_each_answered_or_absent_and_nothing_half_written(
    settings: LedgerSettings, tmp_path: Path
) -> None:
    answered: list[dict[str, Any]] = []
    failed: list[str] = []
    first_answer = threading.Event()
    lock = threading.Lock()

    def keep_writing(server: Server, client: int) -> None:
        for n in range(1000):
            key = f"client-{client}-{n}"
            try:
                response = httpx.post(
                    f"{server.url}/api/v1/pledges",
                    json=pledge_body(),
                    headers={**bearer("uclg"), "Idempotency-Key": key},
                    timeout=60,
                )
            except httpx.TransportError:
                with lock:
                    failed.append(key)
                return
            assert response.status_code in (201, 503), response.text
            if response.status_code == 503:  # shutting down: refused before anything stored
                return
            with lock:
                answered.append(response.json())
            first_answer.set()

    with running_server(settings, tmp_path) as server:
        register(server, settings)
        clients = [
            threading.Thread(target=keep_writing, args=(server, n), daemon=True) for n in range(6)
        ]
        for client in clients:
            client.start()
        assert first_answer.wait(timeout=60)
        assert server.terminate()
        for client in clients:
            client.join(timeout=60)

    events = assert_fully_logged(settings)
    verifier = load_or_create_signer(settings.key_file, settings.log_origin).verifier
    for body in answered:
        check_receipt(body["receipt"], verifier, settings.log_origin)
    pledges = events - len(REGISTRY) - KEYS_ISSUED_BY_ONE_SERVER
    assert len(answered) <= pledges <= len(answered) + len(failed)


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_store_keep_one_gapless_log_and_one_checkpoint_sequence(
    postgres_settings: LedgerSettings, tmp_path: Path
) -> None:
    settings = postgres_settings
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def write_through(server: Server, count: int) -> None:
        with httpx.Client(base_url=server.url, headers=bearer("uclg"), timeout=60) as client:
            for _ in range(count):
                response = client.post("/api/v1/pledges", json=pledge_body())
                body = checked(settings, response)
                with lock:
                    answers.append(body)

    with (
        running_server(settings, tmp_path, "a") as first,
        running_server(settings, tmp_path, "b") as second,
    ):
        register(first, settings)
        # Read-your-writes across servers: a pledge made through one is amended at once through
        # the other, at the version the first answered.
        made = checked(
            settings,
            httpx.post(f"{first.url}/api/v1/pledges", json=pledge_body(), headers=bearer("uclg")),
        )
        amended = checked(
            settings,
            httpx.post(
                f"{second.url}/api/v1/pledges/{made['pledge_id']}/amendments",
                json={"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"},
                headers={**bearer("uclg"), "If-Match": str(made["receipt"]["stream_version"])},
            ),
        )
        writers = [
            threading.Thread(target=write_through, args=(server, 15))
            for server in (first, second, first, second)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=300)
        assert first.terminate()
        assert second.terminate()

    assert amended["receipt"]["stream_version"] == 2
    assert len(answers) == 60
    events = assert_fully_logged(settings)
    assert events == len(REGISTRY) + 2 * KEYS_ISSUED_BY_ONE_SERVER - 1 + 2 + 60
    leaves = sorted(body["receipt"]["leaf_index"] for body in answers)
    assert len(set(leaves)) == 60


def worker_processes(server: Server) -> list[int]:
    """The server's worker processes: its children that serve (not multiprocessing's tracker)."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(child)
        for child in children
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_serve_with_two_workers_shares_one_port_and_one_gapless_log_on_sqlite(
    settings: LedgerSettings, tmp_path: Path
) -> None:
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def write(server: Server, count: int) -> None:
        with httpx.Client(base_url=server.url, headers=bearer("uclg"), timeout=60) as client:
            for _ in range(count):
                body = checked(settings, client.post("/api/v1/pledges", json=pledge_body()))
                with lock:
                    answers.append(body)

    with running_server(settings, tmp_path, "w", "--workers", "2") as server:
        assert len(worker_processes(server)) == 2
        register(server, settings)
        writers = [threading.Thread(target=write, args=(server, 10)) for _ in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=300)
        # Every worker reads what any of them wrote: the pages and the API agree on the count.
        listed = httpx.get(f"{server.url}/api/v1/pledges", params={"limit": 200}).json()
        page = httpx.get(f"{server.url}/pledges", params={"limit": 200}).text
        assert server.terminate()

    assert len(answers) == 40
    assert len(listed["items"]) == 40
    assert all(body["pledge_id"] in page for body in answers)
    events = assert_fully_logged(settings)
    assert events == len(REGISTRY) + KEYS_ISSUED_BY_ONE_SERVER + 40
    assert len({body["receipt"]["leaf_index"] for body in answers}) == 40
