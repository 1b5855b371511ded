"""Proofs, receipts and the checkpoints a bundle carries, read from the log's own tables.

The oracle is :class:`ledger.merkle.InMemoryTree` over the stored envelopes: whatever the log
answers from its database (roots, inclusion and consistency proofs) must equal it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.bootstrap import Services, bootstrap
from domain.principal import Principal
from ledger.bundle import export_bundle
from ledger.checkpoint import open_checkpoint
from ledger.clock import SteppingClock
from ledger.envelope import Envelope
from ledger.log import LogError, SignedCheckpoint
from ledger.merkle import InMemoryTree, MerkleError, verify_inclusion
from ledger.verify import verify_bundle
from tests.conftest import sqlite_settings
from tests.integration.ledger_scenario import issue_keys
from tests.integration.synthetic_log import synthetic_envelope

STREAMS = 5
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def envelope(number: int) -> Envelope:
    return synthetic_envelope(number, streams=STREAMS)


def append(services: Services, first: int, count: int) -> None:
    services.store.append([envelope(n) for n in range(first, first + count)])


def reference_tree(services: Services) -> InMemoryTree:
    return InMemoryTree(
        hashlib.sha256(b"\x00" + stored.raw).digest()
        for stored in services.store.iter_notifications()
    )


@dataclass(frozen=True)
class LoggedStore:
    services: Services
    tree: InMemoryTree


@pytest.fixture(scope="module")
def logged_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedStore]:
    """A SQLite store of 300 events (more than one tile), integrated in uneven batches."""
    with bootstrap(sqlite_settings(tmp_path_factory.mktemp("proofs"))) as services:
        append(services, 0, 300)
        services.log.integrate(batch_size=97)
        yield LoggedStore(services, reference_tree(services))


# --- proofs against the reference tree --------------------------------------------------------


@PROPERTY_SETTINGS
@given(data=st.data())
def test_inclusion_proof_from_the_database_equals_the_reference_tree(
    logged_store: LoggedStore, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, logged_store.tree.size), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")

    proof = logged_store.services.log.inclusion_proof(index, size)

    assert proof == logged_store.tree.inclusion_proof(index, size)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_consistency_proof_from_the_database_equals_the_reference_tree(
    logged_store: LoggedStore, data: st.DataObject
) -> None:
    size2 = data.draw(st.integers(1, logged_store.tree.size), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")

    proof = logged_store.services.log.consistency_proof(size1, size2)

    assert proof == logged_store.tree.consistency_proof(size1, size2)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_root_from_the_database_equals_the_reference_tree(
    logged_store: LoggedStore, data: st.DataObject
) -> None:
    size = data.draw(st.integers(0, logged_store.tree.size), label="size")

    assert logged_store.services.log.root(size) == logged_store.tree.root(size)


def test_proofs_from_each_backend_equal_the_reference_tree(services: Services) -> None:
    append(services, 0, 23)
    services.log.integrate(batch_size=5)
    tree = reference_tree(services)

    for size in range(1, 24):
        assert services.log.root(size) == tree.root(size)
        for index in {0, size // 2, size - 1}:
            assert services.log.inclusion_proof(index, size) == tree.inclusion_proof(index, size)
        for size1 in {1, size // 2 or 1, size}:
            assert services.log.consistency_proof(size1, size) == tree.consistency_proof(
                size1, size
            )


def test_proofs_beyond_the_tree_are_refused(services: Services) -> None:
    append(services, 0, 4)
    services.log.integrate()

    with pytest.raises(LogError):
        services.log.inclusion_proof(4, 4)
    with pytest.raises(LogError):
        services.log.inclusion_proof(0, 5)
    with pytest.raises(LogError):
        services.log.consistency_proof(2, 5)
    with pytest.raises(LogError):
        services.log.consistency_proof(0, 4)


# --- receipts ---------------------------------------------------------------------------------

ADMIN = Principal("admin-key", "admin")


@pytest.fixture
def admin_issued(services: Services) -> Services:
    """The store with ADMIN's key issued on the log (as the operator)."""
    with services.ledger.batch() as batch:
        issue_keys(batch, ADMIN)
    return services


def test_receipts_of_written_events_verify_against_their_signed_checkpoint(
    admin_issued: Services,
) -> None:
    services = admin_issued
    results = []
    for n in range(6):
        with services.ledger.batch() as batch:
            results.append(
                batch.execute(
                    "register_city",
                    ADMIN,
                    {"id": f"city-{n}", "name": {"en": f"City {n}"}, "country": "MA"},
                )
            )
    verifier = services.log.signer.verifier

    for result in results:
        (appended,) = result.events
        receipt = services.log.receipt(appended.event_id)
        checkpoint = open_checkpoint(
            receipt.checkpoint.encode(), verifier, expected_origin=services.settings.log_origin
        )
        (stored,) = services.store.read_stream(appended.stream_id)

        assert receipt.leaf_hash == hashlib.sha256(b"\x00" + stored.raw).digest()
        assert receipt.tree_size == checkpoint.size > receipt.leaf_index
        verify_inclusion(
            receipt.leaf_hash,
            receipt.leaf_index,
            checkpoint.size,
            receipt.inclusion_proof,
            checkpoint.root,
        )


def test_receipts_of_many_events_at_once_equal_their_receipts_one_by_one(
    admin_issued: Services,
) -> None:
    services = admin_issued
    event_ids = []
    for group in range(3):  # three commits, three checkpoints: each event keeps its first one
        with services.ledger.batch() as batch:
            for n in range(4):
                result = batch.execute(
                    "register_city",
                    ADMIN,
                    {"id": f"city-{group}-{n}", "name": {"en": "C"}, "country": "MA"},
                )
                event_ids.append(result.events[0].event_id)
    shuffled = event_ids[5:] + event_ids[:5]

    together = services.log.receipts(shuffled)

    assert together == [services.log.receipt(event_id) for event_id in shuffled]
    assert len({receipt.tree_size for receipt in together}) == 3


def test_receipts_name_an_event_the_log_does_not_hold(admin_issued: Services) -> None:
    with pytest.raises(LogError) as refused:
        admin_issued.log.receipts(["00000000-0000-4000-8000-000000000000"])
    assert refused.value.field == "event_id"


def test_receipt_proof_does_not_verify_another_event(admin_issued: Services) -> None:
    services = admin_issued
    with services.ledger.batch() as batch:
        first = batch.execute(
            "register_city", ADMIN, {"id": "city-a", "name": {"en": "A"}, "country": "MA"}
        )
        second = batch.execute(
            "register_city", ADMIN, {"id": "city-b", "name": {"en": "B"}, "country": "SN"}
        )
    receipt = services.log.receipt(first.events[0].event_id)
    other = services.log.leaf(second.events[0].event_id)
    checkpoint = open_checkpoint(receipt.checkpoint.encode(), services.log.signer.verifier, None)

    with pytest.raises(MerkleError, match="root mismatch"):
        verify_inclusion(
            other.leaf_hash,
            receipt.leaf_index,
            checkpoint.size,
            receipt.inclusion_proof,
            checkpoint.root,
        )


# --- the bounded set of checkpoints in a bundle -----------------------------------------------


def sign_over_days(
    services: Services, clock: SteppingClock, per_day: list[int]
) -> list[SignedCheckpoint]:
    """Sign ``per_day[d]`` checkpoints on day ``d`` (each after new events); all of them."""
    signed = []
    first_day = clock.now().replace(hour=8, minute=0, second=0, microsecond=0)
    number = 0
    for day, count in enumerate(per_day):
        for hour in range(count):
            clock.set(first_day + timedelta(days=day, hours=hour + 2))
            append(services, number, 3)
            number += 3
            signed.append(services.log.sign(wait=False, force=True))
    return signed


def test_bundle_checkpoints_are_the_latest_and_the_last_of_each_utc_day(
    services: Services, clock: SteppingClock
) -> None:
    signed = sign_over_days(services, clock, [3, 4, 1, 2])

    kept = services.log.bundle_checkpoints()

    assert len(services.log.checkpoints()) == 10
    assert kept == [signed[2], signed[6], signed[7], signed[9]]


def test_exported_bundle_carries_the_bounded_set_and_verifies(
    services: Services, clock: SteppingClock, tmp_path: Path
) -> None:
    signed = sign_over_days(services, clock, [4, 4, 4])

    export_bundle(services.log, tmp_path / "bundle", vkey=services.log.signer.vkey)
    result = verify_bundle(tmp_path / "bundle", trusted_vkey=services.log.signer.vkey)

    files = sorted(int(p.name) for p in (tmp_path / "bundle" / "checkpoints").iterdir())
    assert files == [signed[3].size, signed[7].size, signed[11].size]
    assert result.ok, result.failure
    assert result.checkpoints == files
