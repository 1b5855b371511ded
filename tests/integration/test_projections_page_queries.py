"""The read-side queries the public pages added: registry totals, tag counts of a network's or a
city's pledges, names in one query, signatures of a set of cities, newest-first list orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api.bootstrap import Services, bootstrap
from ledger.clock import SeededIds, SteppingClock
from projections import (
    InvalidQuery,
    city_names,
    list_pledges,
    network_names,
    registry_totals,
    signatures_of,
    tag_counts,
)
from projections.tables import read_snapshot
from tests.conftest import sqlite_settings
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    register_basics,
    register_reference,
    submit_pledge,
)


def submit_for_dakar(services: Services, objectives: list[int]) -> str:
    with services.ledger.batch() as batch:
        result = batch.execute(
            "submit_pledge",
            METROPOLIS,
            {
                "network_id": "metropolis",
                "cities": ["sn-dakar"],
                "title": {"en": "Legal aid desk"},
                "description": {"en": "Free legal counselling."},
                "gcm_objectives": objectives,
                "gcr_areas": ["gcr-objective-2"],
                "starts_on": "2026-01-01",
                "ends_on": "2027-12-31",
            },
        )
    assert result.pledge_id is not None
    return result.pledge_id


def test_registry_totals_count_networks_cities_and_their_countries(services: Services) -> None:
    register_basics(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "register_city", ADMIN, {"id": "ma-fes", "name": {"en": "Fes"}, "country": "MA"}
        )
    with read_snapshot(services.engine) as connection:
        totals = registry_totals(connection)
    assert (totals.networks, totals.cities, totals.countries) == (2, 3, 2)


def test_tag_counts_count_only_the_pledges_of_the_network_or_city_asked(
    services: Services,
) -> None:
    register_basics(services)
    submit_pledge(services, gcm_objectives=[15, 16])
    submit_pledge(services, gcm_objectives=[15])
    submit_for_dakar(services, [4, 15])
    with read_snapshot(services.engine) as connection:
        charted = ("gcm_objective", "gcr_area")
        uclg = tag_counts(connection, dimensions=charted, network_id="uclg")
        dakar = tag_counts(connection, dimensions=charted, city="sn-dakar")
        everything = tag_counts(connection, dimensions=("gcm_objective",))
    assert uclg["gcm_objective"] == {"15": 2, "16": 1}
    assert "gcr_area" not in uclg
    assert dakar["gcm_objective"] == {"4": 1, "15": 1}
    assert dakar["gcr_area"] == {"gcr-objective-2": 1}
    assert everything == {"gcm_objective": {"4": 1, "15": 3, "16": 1}}


def test_names_and_signatures_come_in_one_query_each(services: Services) -> None:
    register_basics(services)
    register_reference(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "sign_declaration",
            ADMIN,
            {"city_id": "sn-dakar", "signed_on": "2018-12-10"},
            target="marrakech-2018",
        )
    with read_snapshot(services.engine) as connection:
        assert network_names(connection) == {
            "metropolis": {"en": "Metropolis"},
            "uclg": {"en": "UCLG"},
        }
        assert city_names(connection, ["sn-dakar"]) == {"sn-dakar": {"en": "Dakar"}}
        assert set(city_names(connection)) == {"ma-marrakech", "sn-dakar"}
        signed = signatures_of(connection, ["sn-dakar", "ma-marrakech"])
    assert [(s.city_id, s.declaration_id) for s in signed] == [("sn-dakar", "marrakech-2018")]


def pages(services: Services, order: str, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    with read_snapshot(services.engine) as connection:
        while True:
            page = list_pledges(connection, order=order, after=after, limit=limit)  # type: ignore[arg-type]
            seen += [item.pledge_id for item in page.items]
            if page.next_after is None:
                return seen
            after = page.next_after


@hypothesis_settings(max_examples=5)
@given(limit=st.integers(min_value=1, max_value=7), amended=st.lists(st.integers(0, 5), max_size=4))
def test_every_order_pages_through_every_pledge_once(
    tmp_path_factory: pytest.TempPathFactory, limit: int, amended: list[int]
) -> None:
    """Whatever the page size and whichever pledges changed last, the newest-first orders
    visit every pledge exactly once, in the order of their timestamps."""
    clock = SteppingClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), step=timedelta(seconds=1))
    settings_ = sqlite_settings(tmp_path_factory.mktemp("orders"))
    with bootstrap(settings_, clock=clock, ids=SeededIds(7)) as services:
        check_orders(services, limit, amended)


def check_orders(services: Services, limit: int, amended: list[int]) -> None:
    register_basics(services)
    made = [submit_pledge(services, title={"en": f"Pledge {n}"}) for n in range(6)]
    for step, index in enumerate(amended):
        with services.ledger.batch() as batch:
            batch.execute(
                "amend_pledge",
                UCLG,
                {"changes": {"ends_on": f"2029-06-{10 + step}"}, "reason": "Moved"},
                target=made[index],
            )
    by_id = pages(services, "pledge_id", limit)
    assert by_id == sorted(made)
    submitted = pages(services, "submitted", limit)
    assert submitted == made[::-1]
    updated = pages(services, "updated", limit)
    assert sorted(updated) == sorted(made)
    last_changed = list(dict.fromkeys(made[i] for i in reversed(amended)))
    assert updated[: len(last_changed)] == last_changed


def test_an_unknown_order_or_a_foreign_position_is_refused(services: Services) -> None:
    register_basics(services)
    with read_snapshot(services.engine) as connection:
        with pytest.raises(InvalidQuery) as unknown:
            list_pledges(connection, order="title")  # type: ignore[arg-type]
        assert unknown.value.field == "order"
        with pytest.raises(InvalidQuery) as foreign:
            list_pledges(connection, order="updated", after="no-space")
        assert foreign.value.field == "after"
