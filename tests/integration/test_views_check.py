"""Read models edited behind the log's back are caught by comparing them with a rebuild.

Each attack edits one row of a live view by SQL, as someone with database access could, and
checks that ``check_views`` names that row, its column and both values; on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import orjson
from sqlalchemy import delete, insert, select, update

from api.bootstrap import Services
from projections import ProjectionRunner
from projections.check import check_views
from projections.tables import live_tables
from tests.integration.ledger_scenario import register_basics, submit_pledge


def store_with_two_pledges(services: Services) -> tuple[str, str]:
    register_basics(services)
    first = submit_pledge(services)
    second = submit_pledge(services)
    ProjectionRunner(services.engine, services.store).catch_up()
    return first, second


def test_untouched_views_match_their_rebuild(services: Services) -> None:
    store_with_two_pledges(services)

    check = check_views(services.engine, services.store)

    assert check.mismatch is None
    assert check.events == services.store.max_notification_id()
    assert check.tables == len(live_tables().all())
    assert check.rows > 2


def test_a_pledge_status_edited_by_sql_is_named_with_both_values(services: Services) -> None:
    _, pledge_id = store_with_two_pledges(services)
    pledges = live_tables().pledges
    with services.engine.begin() as connection:
        connection.execute(
            update(pledges).where(pledges.c.pledge_id == pledge_id).values(status="validated")
        )

    mismatch = check_views(services.engine, services.store).mismatch

    assert mismatch is not None
    assert (mismatch.table, mismatch.key, mismatch.column) == (
        "projection_pledges",
        {"pledge_id": pledge_id},
        "status",
    )
    assert (mismatch.live, mismatch.rebuilt) == ("validated", "awaiting_validation")
    assert f"pledge_id={pledge_id}: status is 'validated' in the live view" in str(mismatch)


def test_a_pledge_document_edited_by_sql_is_named(services: Services) -> None:
    pledge_id, _ = store_with_two_pledges(services)
    pledges = live_tables().pledges
    with services.engine.begin() as connection:
        stored = connection.execute(
            select(pledges.c.document).where(pledges.c.pledge_id == pledge_id)
        ).scalar_one()
        document = orjson.loads(stored)
        document["title"] = {"en": "A promise nobody made"}
        connection.execute(
            update(pledges)
            .where(pledges.c.pledge_id == pledge_id)
            .values(document=orjson.dumps(document).decode())
        )

    mismatch = check_views(services.engine, services.store).mismatch

    assert mismatch is not None
    assert (mismatch.table, mismatch.key, mismatch.column) == (
        "projection_pledges",
        {"pledge_id": pledge_id},
        "document",
    )


def test_a_pledge_row_deleted_by_sql_is_named_as_missing(services: Services) -> None:
    pledge_id, _ = store_with_two_pledges(services)
    pledges = live_tables().pledges
    with services.engine.begin() as connection:
        connection.execute(delete(pledges).where(pledges.c.pledge_id == pledge_id))

    mismatch = check_views(services.engine, services.store).mismatch

    assert mismatch is not None
    assert (mismatch.table, mismatch.key, mismatch.column) == (
        "projection_pledges",
        {"pledge_id": pledge_id},
        None,
    )
    assert "missing from the live view" in str(mismatch)


def test_a_city_row_inserted_by_sql_is_named_as_not_given_by_the_log(services: Services) -> None:
    store_with_two_pledges(services)
    cities = live_tables().cities
    with services.engine.begin() as connection:
        connection.execute(
            insert(cities).values(
                city_id="zz-forged",
                name='{"en":"Forged"}',
                country="ZZ",
                registered_at="2026-03-01T09:00:00.000000Z",
            )
        )

    mismatch = check_views(services.engine, services.store).mismatch

    assert mismatch is not None
    assert (mismatch.table, mismatch.key) == ("projection_cities", {"city_id": "zz-forged"})
    assert "the log does not give it" in str(mismatch)


def test_a_rollup_counter_edited_by_sql_is_named(services: Services) -> None:
    store_with_two_pledges(services)
    counters = live_tables().rollup_counters
    with services.engine.begin() as connection:
        first = connection.execute(
            select(counters.c.dimension, counters.c.key, counters.c.name).limit(1)
        ).one()
        connection.execute(
            update(counters)
            .where(
                counters.c.dimension == first.dimension,
                counters.c.key == first.key,
                counters.c.name == first.name,
            )
            .values(value=counters.c.value + 1000)
        )

    mismatch = check_views(services.engine, services.store).mismatch

    assert mismatch is not None
    assert mismatch.table == "projection_rollup_counters"
    assert mismatch.column == "value"
    assert mismatch.live == mismatch.rebuilt + 1000
