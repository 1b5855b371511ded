"""The live audit trail over HTTP: what the server serves verifies with ``ledger.merkle`` and
the log's key, equals what an exported bundle holds, and is refused when asked badly."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select, update

from api.app import create_app
from api.bootstrap import Services
from api.problems import PROBLEM_JSON
from api.routes import audit
from domain.keys import OPERATOR
from ledger.bundle import ENTRIES, export_bundle
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.database import log_checkpoints
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.note import Verifier
from ledger.tiles import TILE_WIDTH
from tests.integration.ledger_scenario import register_basics, submit_pledge

# What ``register_basics`` records: four keys, two networks, two cities, two memberships.
BASICS = 10


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def problem_field(response: Response) -> tuple[int, str | None]:
    assert response.headers["content-type"] == PROBLEM_JSON
    return response.status_code, response.json().get("field")


def register_cities(services: Services, count: int) -> None:
    with services.ledger.batch() as batch:
        for n in range(count):
            batch.execute(
                "register_city",
                OPERATOR,  # no key issued: the entries are only the cities
                {"id": f"xx-city-{n}", "name": {"en": f"City {n}"}, "country": "FR"},
            )


def signed(client: TestClient) -> Checkpoint:
    vkey = client.get("/api/v1/log/key").text.strip()
    note = client.get("/api/v1/log/checkpoint").content
    return open_checkpoint(note, Verifier.from_vkey(vkey), expected_origin=None)


def entries(client: TestClient, start: int, end: int) -> list[bytes]:
    response = client.get("/api/v1/log/entries", params={"start": start, "end": end})
    assert response.status_code == 200, response.text
    body: bytes = response.content
    assert body.endswith(b"\n")
    return body.split(b"\n")[:-1]


def hashes(proof: list[str]) -> list[bytes]:
    return [base64.b64decode(h) for h in proof]


# --- checkpoint and key --------------------------------------------------------------------------


def test_the_checkpoint_is_the_signed_note_of_the_whole_log(
    services: Services, client: TestClient
) -> None:
    register_basics(services)

    response = client.get("/api/v1/log/checkpoint")
    checkpoint = signed(client)

    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["cache-control"] == "no-cache"
    assert checkpoint.size == services.log.tree_size() == BASICS
    assert client.get("/checkpoint").content == response.content


def test_a_checkpoint_the_key_does_not_verify_is_never_served(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    client.get("/api/v1/log/checkpoint")
    with services.engine.begin() as connection:
        note = connection.execute(select(log_checkpoints.c.note)).scalars().all()[-1]
        forged = note.replace(f"\n{BASICS}\n", f"\n{BASICS - 1}\n")
        connection.execute(update(log_checkpoints).values(note=forged))
    assert forged != note

    response = client.get("/api/v1/log/checkpoint")

    # The forged rows are passed over, never served; the log signs its tree again instead
    # (Ed25519 is deterministic: the same tree gives the same note as before the forgery).
    assert response.status_code == 200
    assert response.text != forged
    assert response.text == note
    assert signed(client).size == BASICS


# --- entries -------------------------------------------------------------------------------------


def test_entries_are_the_exact_bytes_each_leaf_hashes(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    checkpoint = signed(client)

    served = entries(client, 0, checkpoint.size)

    for index, entry in enumerate(served):
        proof = client.get(
            "/api/v1/log/proofs/inclusion", params={"index": index, "size": checkpoint.size}
        ).json()["proof"]
        verify_inclusion(leaf_hash(entry), index, checkpoint.size, hashes(proof), checkpoint.root)


def test_entries_equal_the_exported_bundles(
    services: Services, client: TestClient, tmp_path: Path
) -> None:
    register_basics(services)
    submit_pledge(services)
    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)
    exported = (tmp_path / "bundle" / ENTRIES).read_bytes().split(b"\n")[:-1]

    assert entries(client, 0, 3) + entries(client, 3, len(exported)) == exported


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [(0, 1001, "end"), (3, 3, "end"), (0, 99, "end"), (-1, 2, "start"), (0, 0, "end")],
)
def test_a_bad_entry_range_is_refused_naming_the_parameter(
    services: Services, client: TestClient, start: int, end: int, field: str
) -> None:
    register_basics(services)
    response = client.get("/api/v1/log/entries", params={"start": start, "end": end})
    assert problem_field(response) in {(400, field), (422, field)}


# --- proofs and receipts -------------------------------------------------------------------------


def test_a_consistency_proof_links_two_signed_checkpoints(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    older = signed(client)
    submit_pledge(services)
    newer = signed(client)

    body = client.get(
        "/api/v1/log/proofs/consistency", params={"from": older.size, "to": newer.size}
    ).json()

    assert (body["from"], body["to"]) == (older.size, newer.size)
    verify_consistency(older.size, newer.size, hashes(body["proof"]), older.root, newer.root)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"index": BASICS, "size": BASICS}, "index"), ({"index": 0, "size": 99}, "size")],
)
def test_an_inclusion_proof_outside_the_tree_is_refused_naming_the_parameter(
    services: Services, client: TestClient, params: dict[str, int], field: str
) -> None:
    register_basics(services)
    response = client.get("/api/v1/log/proofs/inclusion", params=params)
    assert problem_field(response) == (400, field)


def test_a_consistency_proof_backwards_is_refused_naming_from(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    response = client.get("/api/v1/log/proofs/consistency", params={"from": 5, "to": 2})
    assert problem_field(response) == (400, "from")


def test_a_receipt_proves_the_event_is_in_a_signed_tree(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    event = client.get(f"/api/v1/pledges/{pledge_id}/timeline").json()["events"][0]
    vkey = client.get("/api/v1/log/key").text.strip()

    receipt = client.get(f"/api/v1/events/{event['event_id']}/receipt").json()
    checkpoint = open_checkpoint(
        receipt["checkpoint"].encode(), Verifier.from_vkey(vkey), expected_origin=None
    )

    assert base64.b64decode(receipt["leaf_hash"]) == leaf_hash(event["envelope"].encode())
    verify_inclusion(
        leaf_hash(event["envelope"].encode()),
        receipt["leaf_index"],
        checkpoint.size,
        hashes(receipt["inclusion_proof"]),
        checkpoint.root,
    )


def test_the_receipt_of_an_unknown_event_is_a_404_naming_the_event_id(
    client: TestClient,
) -> None:
    response = client.get("/api/v1/events/no-such-event/receipt")
    assert problem_field(response) == (404, "event_id")


# --- tlog-tiles ----------------------------------------------------------------------------------


def test_every_served_tile_equals_the_exported_bundles(
    services: Services, client: TestClient, tmp_path: Path
) -> None:
    register_cities(services, TILE_WIDTH + 10)
    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)
    size = signed(client).size
    exported = sorted((tmp_path / "bundle" / "tile").rglob("*"))
    tiles = [p for p in exported if p.is_file()]

    assert size == TILE_WIDTH + 10
    assert {p.relative_to(tmp_path / "bundle").as_posix() for p in tiles} == {
        "tile/0/000",
        "tile/0/001.p/10",
        "tile/1/000.p/1",
    }
    for tile in tiles:
        path = tile.relative_to(tmp_path / "bundle").as_posix()
        response = client.get(f"/{path}")
        assert response.status_code == 200, path
        assert response.content == tile.read_bytes(), path


def test_a_full_tile_is_immutable_and_a_partial_one_is_not(
    services: Services, client: TestClient
) -> None:
    register_cities(services, TILE_WIDTH + 1)
    signed(client)

    assert "immutable" in client.get("/tile/0/000").headers["cache-control"]
    assert client.get("/tile/0/001.p/1").headers["cache-control"] == "public, max-age=5"


def test_an_entry_bundle_holds_each_entry_behind_its_uint16_length(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    size = signed(client).size

    data = client.get(f"/tile/entries/000.p/{size}").content
    unpacked: list[bytes] = []
    while data:
        length = int.from_bytes(data[:2], "big")
        unpacked.append(data[2 : 2 + length])
        data = data[2 + length :]

    assert unpacked == entries(client, 0, size)


@pytest.mark.parametrize(
    "path",
    ["/tile/0/0", "/tile/0/x000/000", "/tile/0/000.p/256", "/tile/0/000.p/11", "/tile/1/000"],
)
def test_a_tile_not_in_the_signed_tree_or_not_canonical_is_a_404_naming_the_tile(
    services: Services, client: TestClient, path: str
) -> None:
    register_basics(services)  # BASICS entries: only tile/0/000.p/10 exists
    assert problem_field(client.get(path)) == (404, "tile")


def test_a_partial_tile_narrower_than_the_tree_is_a_prefix_of_it(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    signed(client)
    narrow = client.get("/tile/0/000.p/2").content
    assert client.get(f"/tile/0/000.p/{BASICS}").content.startswith(narrow)


def test_an_entry_too_long_for_an_entry_bundle_is_refused_naming_the_tile(
    services: Services, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_basics(services)
    size = signed(client).size
    longest = max(len(entry) for entry in entries(client, 0, size))
    monkeypatch.setattr(audit, "MAX_BUNDLED_ENTRY", longest - 1)

    response = client.get(f"/tile/entries/000.p/{size}")

    assert problem_field(response) == (400, "tile")
    assert "/api/v1/log/entries" in response.json()["detail"]


# --- the published roll-ups ---------------------------------------------------------------------


def test_the_published_rollups_stand_at_the_size_asked(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    submit_pledge(services)
    size = signed(client).size

    document = orjson.loads(client.get("/api/v1/log/rollups", params={"size": size}).content)

    assert document["tree_size"] == size
    assert document["rollups"]["network"][0]["key"] == "uclg"


def test_rollups_beyond_the_log_are_refused_naming_the_size(
    services: Services, client: TestClient
) -> None:
    register_basics(services)
    response = client.get("/api/v1/log/rollups", params={"size": 99})
    assert problem_field(response) == (400, "size")
