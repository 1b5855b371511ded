"""The one write path: commands into a batch, one commit, then the log, views and receipts as the
bootstrap's write mode says. Run against every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from api.bootstrap import Services
from api.demo import load_demo
from api.errors import DemoRefused
from domain.errors import InvalidInput, NotFound
from ledger.checkpoint import open_checkpoint
from ledger.clock import random_ids
from ledger.commands import BatchClosed
from ledger.errors import ConcurrencyConflict, ConfigurationError, IdempotencyKeyReused
from ledger.merkle import verify_inclusion
from ledger.write_path import Ledger, WriteMode
from projections.runner import read_position
from tests.integration.ledger_scenario import (
    ADMIN,
    UCLG,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)

AMENDMENT = {"changes": {"ends_on": "2029-06-30"}, "reason": "Funding moved"}


# --- a batch of independent commands ------------------------------------------------------------


def test_a_refused_command_leaves_its_batch_untouched_and_the_others_commit(
    services: Services,
) -> None:
    register_basics(services)
    before = event_count(services)
    batch = services.ledger.new_batch()
    first = batch.execute("submit_pledge", UCLG, pledge_body())
    staged = (batch.results, batch.event_count)

    with pytest.raises(InvalidInput):
        batch.execute("submit_pledge", UCLG, pledge_body(gcm_objectives=[]))
    with pytest.raises(ConcurrencyConflict):
        batch.execute("amend_pledge", UCLG, AMENDMENT, target=first.pledge_id, expected_version=7)

    assert (batch.results, batch.event_count) == staged
    second = batch.execute("amend_pledge", UCLG, AMENDMENT, target=first.pledge_id)
    assert second.stream_version == 2  # decided on top of the first command, not the refusals
    written = services.ledger.commit(batch)
    assert [w.result for w in written] == [first, second]
    assert event_count(services) == before + 2


def test_a_committed_batch_takes_no_more_commands(services: Services) -> None:
    register_basics(services)
    with services.ledger.batch() as batch:
        batch.execute("submit_pledge", UCLG, pledge_body())
    before = event_count(services)

    with pytest.raises(BatchClosed, match="committed"):
        batch.execute("submit_pledge", UCLG, pledge_body())
    assert event_count(services) == before


def test_an_unknown_command_is_refused_naming_the_command(services: Services) -> None:
    batch = services.ledger.new_batch()
    with pytest.raises(InvalidInput) as caught:
        batch.execute("delete_pledge", UCLG, {})  # type: ignore[arg-type]
    assert caught.value.field == "command"
    assert batch.results == ()


def test_a_command_without_the_id_it_addresses_is_refused_naming_it(services: Services) -> None:
    register_basics(services)
    batch = services.ledger.new_batch()
    with pytest.raises(InvalidInput) as caught:
        batch.execute("withdraw_pledge", UCLG, {"reason": "x"})
    assert caught.value.field == "pledge_id"
    assert batch.event_count == 0


def test_an_id_given_to_a_command_that_addresses_none_is_refused(services: Services) -> None:
    register_basics(services)
    batch = services.ledger.new_batch()
    body = {"id": "fr-lyon", "name": {"en": "Lyon"}, "country": "FR"}
    with pytest.raises(InvalidInput) as caught:
        batch.execute("register_city", ADMIN, body, target="fr-lyon")
    assert caught.value.field == "target"
    assert batch.event_count == 0


def test_a_malformed_network_id_is_refused_naming_it(services: Services) -> None:
    register_basics(services)
    batch = services.ledger.new_batch()
    with pytest.raises(InvalidInput) as caught:
        batch.execute("join_network", ADMIN, {"city_id": "sn-dakar"}, target="Not A Slug")
    assert caught.value.field == "network_id"
    assert batch.event_count == 0


def test_a_malformed_pledge_id_is_not_found(services: Services) -> None:
    register_basics(services)
    batch = services.ledger.new_batch()
    with pytest.raises(NotFound, match="UUID"):
        batch.execute("withdraw_pledge", UCLG, {"reason": "x"}, target="not-a-uuid")
    assert batch.event_count == 0


# --- idempotency inside one batch ---------------------------------------------------------------


def test_the_same_key_twice_in_one_batch_stores_once_and_answers_the_first_result(
    services: Services,
) -> None:
    register_basics(services)
    before = event_count(services)
    with services.ledger.batch() as batch:
        first = batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="k-1")
        again = batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="k-1")
    assert again.replayed
    assert (again.pledge_id, again.events) == (first.pledge_id, first.events)
    assert event_count(services) == before + 1


def test_a_key_reused_for_another_request_in_one_batch_is_refused_and_stages_nothing(
    services: Services,
) -> None:
    register_basics(services)
    batch = services.ledger.new_batch()
    batch.execute("submit_pledge", UCLG, pledge_body(), idempotency_key="k-1")
    staged = (batch.results, batch.event_count)
    with pytest.raises(IdempotencyKeyReused):
        batch.execute(
            "submit_pledge", UCLG, pledge_body(title={"en": "Other"}), idempotency_key="k-1"
        )
    assert (batch.results, batch.event_count) == staged


# --- receipts -----------------------------------------------------------------------------------


def test_a_written_command_has_a_receipt_whose_proof_verifies_against_its_checkpoint(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)

    written = services.ledger.write("amend_pledge", UCLG, AMENDMENT, target=pledge_id)

    [event] = written.result.events
    [receipt] = written.receipts
    assert (receipt.event_id, receipt.stream_id, receipt.stream_version) == (
        event.event_id,
        f"pledge:{pledge_id}",
        2,
    )
    signed = open_checkpoint(
        receipt.checkpoint.encode(), services.log.signer.verifier, services.settings.log_origin
    )
    assert signed.size == receipt.tree_size > receipt.leaf_index
    verify_inclusion(
        receipt.leaf_hash,
        receipt.leaf_index,
        signed.size,
        list(receipt.inclusion_proof),
        signed.root,
    )


def test_a_retry_after_later_writes_gets_the_first_receipt(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    first = services.ledger.write(
        "amend_pledge", UCLG, AMENDMENT, target=pledge_id, idempotency_key="amend-1"
    )
    submit_pledge(services)  # a later write, under a later checkpoint

    again = services.ledger.write(
        "amend_pledge", UCLG, AMENDMENT, target=pledge_id, idempotency_key="amend-1"
    )

    latest = services.log.latest_checkpoint()
    assert latest is not None
    assert latest.size > first.receipts[0].tree_size
    assert again.result.replayed
    assert again.receipts == first.receipts


# --- the write modes chosen in bootstrap() ------------------------------------------------------


def test_the_receipted_mode_integrates_catches_up_the_views_and_answers_receipts(
    services: Services,
) -> None:
    register_basics(services)
    written = services.ledger.write("submit_pledge", UCLG, pledge_body())
    count = event_count(services)
    assert services.log.tree_size() == count
    assert read_position(services.engine).events == count
    assert [r.event_id for r in written.receipts] == [e.event_id for e in written.result.events]


def test_the_bulk_load_mode_integrates_and_signs_but_leaves_the_views(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.BULK_LOAD)
    register_basics(services)
    written = services.ledger.write("submit_pledge", UCLG, pledge_body())
    count = event_count(services)
    latest = services.log.latest_checkpoint()
    assert latest is not None
    assert latest.size == services.log.tree_size() == count
    assert read_position(services.engine).events == 0
    assert written.receipts == ()


def test_the_append_only_mode_leaves_the_log_and_the_views(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.APPEND_ONLY)
    register_basics(services)
    written = services.ledger.write("submit_pledge", UCLG, pledge_body())
    assert event_count(services) > 0
    assert services.log.tree_size() == 0
    assert services.log.latest_checkpoint() is None
    assert read_position(services.engine).events == 0
    assert written.receipts == ()


def test_the_receipted_mode_without_read_models_is_refused(services: Services) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Ledger(
            services.store,
            services.engine,
            log=services.log,
            clock=services.ledger.clock,
            ids=random_ids,
            taxonomies=services.ledger.taxonomies,
            mode=WriteMode.RECEIPTED,
            read_models=None,
        )
    assert caught.value.field == "read_models"


def test_the_demo_refuses_a_ledger_not_wired_for_a_bulk_load(services: Services) -> None:
    with pytest.raises(DemoRefused) as caught:
        load_demo(services, pledges=1)
    assert caught.value.field == "write_mode"
    assert event_count(services) == 0
