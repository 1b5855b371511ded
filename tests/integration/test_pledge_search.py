"""The pledge view's search column: what ``q`` matches, kept by the incremental projector and
the rebuild alike (both write a pledge's row through ``pledge_row``)."""

from __future__ import annotations

from api.bootstrap import Services
from projections.check import check_views
from projections.pledges import list_pledges
from projections.tables import read_snapshot
from tests.integration.ledger_scenario import UCLG, register_basics, submit_pledge


def found(services: Services, text: str) -> list[str]:
    with read_snapshot(services.engine) as connection:
        page = list_pledges(connection, text=text)
    return [item.pledge_id for item in page.items]


def test_an_amended_title_is_found_by_its_new_words_and_no_longer_by_the_old(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services, title={"en": "Harbour shelter"})
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {
                "changes": {"title": {"en": "Newcomer hub", "es": "Centro de acogida"}},
                "reason": "x",
            },
            target=pledge_id,
        )

    assert found(services, "ACOGIDA") == [pledge_id]
    assert found(services, "harbour") == []


def test_the_search_column_of_the_live_view_equals_a_rebuilds(services: Services) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services, description={"en": "Straße für alle", "fr": "École"})
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"title": {"en": "ÉQUIPE"}}, "reason": "renamed"},
            target=pledge_id,
        )

    check = check_views(services.engine, services.store)

    assert check.ok, check.mismatch
    assert found(services, "strasse") == [pledge_id]
    assert found(services, "équipe") == [pledge_id]
