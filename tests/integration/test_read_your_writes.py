"""The writing process answers with its own write: log leaf, receipt and read models."""

from __future__ import annotations

from datetime import date

from api.bootstrap import Services
from ledger.checkpoint import open_checkpoint
from ledger.merkle import verify_inclusion
from projections import pledge, pledge_timeline, read_snapshot
from tests.integration.ledger_scenario import UCLG, VALIDATOR, register_basics, submit_pledge


def test_a_write_is_in_the_log_and_the_views_when_the_command_returns(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    written = services.ledger.write(
        "validate_pledge",
        VALIDATOR,
        {"decision": "validated", "criteria": ["specific"]},
        target=pledge_id,
    )
    with read_snapshot(services.engine) as connection:
        page = pledge(connection, pledge_id, today=date(2026, 3, 1), freshness_months=12)
        timeline = pledge_timeline(services.store, connection, pledge_id)
    assert page is not None
    assert page.status == "validated"
    assert [entry.leaf_index is not None for entry in timeline] == [True, True]
    [receipt] = written.receipts
    signed = open_checkpoint(
        receipt.checkpoint.encode(), services.log.signer.verifier, services.settings.log_origin
    )
    verify_inclusion(
        receipt.leaf_hash,
        receipt.leaf_index,
        signed.size,
        list(receipt.inclusion_proof),
        signed.root,
    )
    assert receipt.stream_version == 2
    assert UCLG.network_id == page.network_id
