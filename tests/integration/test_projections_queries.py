"""What the read side answers: pledge pages, timelines, roll-ups, freshness, the past, reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert

from api.bootstrap import Services
from ledger.canonical import canonical_bytes
from ledger.clock import SteppingClock
from ledger.database import log_checkpoints
from ledger.write_path import WriteMode
from projections import (
    ProjectionRunner,
    build_report,
    city,
    network,
    pledge,
    pledge_as_of,
    pledge_timeline,
    recompute_rollups_document,
    report_from_entries,
    rollup,
    rollups,
    rollups_as_of,
    rollups_document,
    signatures,
    silent_pledges,
)
from projections.pledges import list_pledges
from projections.tables import read_snapshot
from tests.integration.ledger_scenario import (
    UCLG,
    VALIDATOR,
    register_basics,
    register_reference,
    submit_pledge,
)

MONTHS = 12


def report_progress(services: Services, pledge_id: str, value: str, on: str) -> None:
    with services.ledger.batch() as batch:
        batch.execute(
            "report_progress",
            UCLG,
            {
                "period": {"start": "2026-01-01", "end": on},
                "stage": "in_progress",
                "observations": [{"indicator_id": "people-served", "value": value, "date": on}],
            },
            target=pledge_id,
        )


def catch_up(services: Services) -> None:
    ProjectionRunner(services.engine, services.store).catch_up()


def test_a_pledge_page_shows_state_indicators_validation_and_freshness(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific", "measurable"]},
            target=pledge_id,
        )
    clock.set(datetime(2026, 7, 10, tzinfo=UTC))
    report_progress(services, pledge_id, "1200", "2026-06-30")
    catch_up(services)

    with services.engine.connect() as connection:
        page = pledge(connection, pledge_id, today=date(2026, 7, 10), freshness_months=MONTHS)

    assert page is not None
    assert (page.status, page.stage, page.version) == ("validated", "in_progress", 3)
    assert page.countries == ("MA",)
    assert page.validation is not None
    assert page.validation.criteria == ("specific", "measurable")
    (served,) = page.indicators
    assert served.latest is not None
    assert (served.latest.value, served.progress, served.met_target) == ("1200", "0.24", False)
    assert page.freshness.last_reported_on == date(2026, 7, 10)
    assert page.freshness.reported_within_window
    assert not page.freshness.silent


def test_an_unknown_pledge_has_no_page_and_no_timeline(services: Services) -> None:
    ProjectionRunner(services.engine, services.store).install()

    with services.engine.connect() as connection:
        assert pledge(connection, "no-such", today=date(2026, 3, 1), freshness_months=12) is None
        assert pledge_timeline(services.store, connection, "no-such") == []


def test_the_timeline_lists_every_event_with_its_leaf_index_once_integrated(
    services_in: Callable[[WriteMode], Services],
) -> None:
    services = services_in(WriteMode.APPEND_ONLY)
    register_basics(services)
    pledge_id = submit_pledge(services)
    report_progress(services, pledge_id, "10", "2026-02-28")

    with services.engine.connect() as connection:
        before = pledge_timeline(services.store, connection, pledge_id)
    services.log.integrate()
    with services.engine.connect() as connection:
        after = pledge_timeline(services.store, connection, pledge_id)

    assert [e.type for e in after] == ["pledge.submitted", "pledge.progress_reported"]
    assert [e.leaf_index for e in before] == [None, None]
    assert [e.leaf_index for e in after] == [10, 11]
    assert after[1].payload["stage"] == "in_progress"
    assert after[0].envelope.encode() == services.store.read_stream(f"pledge:{pledge_id}")[0].raw


def test_rollups_count_by_network_objective_and_country(services: Services) -> None:
    register_basics(services)
    first = submit_pledge(services)
    submit_pledge(services, gcm_objectives=[2])
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=first,
        )
    catch_up(services)

    with read_snapshot(services.engine) as connection:
        by_objective = rollups(
            connection, "gcm_objective", today=date(2026, 3, 1), freshness_months=MONTHS
        )
        uclg = rollup(connection, "network", "uclg", today=date(2026, 3, 1), freshness_months=12)
        nowhere = rollup(connection, "country", "FR", today=date(2026, 3, 1), freshness_months=12)

    assert [(r.key, r.pledges) for r in by_objective] == [("15", 1), ("16", 1), ("2", 1)]
    assert uclg is not None
    assert (uclg.pledges, uclg.validated, uclg.share_validated) == (2, 1, "0.5")
    assert nowhere is None


def test_silent_pledges_are_listed_per_network_longest_silent_first(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    quiet = submit_pledge(services)
    clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    closed = submit_pledge(services)
    reporting = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute("close_pledge", UCLG, {"outcome": "fulfilled"}, target=closed)
    clock.set(datetime(2027, 3, 20, tzinfo=UTC))
    report_progress(services, reporting, "5", "2027-03-01")
    catch_up(services)

    with services.engine.connect() as connection:
        silent = silent_pledges(
            connection, today=date(2027, 3, 25), freshness_months=MONTHS, network_id="uclg"
        )
        elsewhere = silent_pledges(
            connection, today=date(2027, 3, 25), freshness_months=MONTHS, network_id="metropolis"
        )

    assert [s.pledge_id for s in silent] == [quiet]
    assert silent[0].silent_since == date(2026, 3, 1)
    assert elsewhere == []


def test_the_registry_views_show_members_and_signatures(services: Services) -> None:
    register_basics(services)
    register_reference(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "sign_declaration",
            UCLG,
            {"city_id": "ma-marrakech", "signed_on": "2018-12-10"},
            target="marrakech-2018",
        )
        batch.execute("leave_network", UCLG, {"city_id": "ma-marrakech"}, target="uclg")
    catch_up(services)

    with services.engine.connect() as connection:
        uclg = network(connection, "uclg")
        marrakech = city(connection, "ma-marrakech")
        signed = signatures(connection, "marrakech-2018")

    assert uclg is not None
    assert uclg.members == ()
    assert marrakech is not None
    assert (marrakech.country, marrakech.networks) == ("MA", ())
    assert [(s.city_id, s.signed_on) for s in signed] == [("ma-marrakech", date(2018, 12, 10))]


def test_a_pledge_as_of_a_past_day_is_the_page_it_had_then(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    catch_up(services)
    with services.engine.connect() as connection:
        then = pledge(connection, pledge_id, today=date(2026, 3, 1), freshness_months=MONTHS)
    clock.set(datetime(2026, 5, 2, tzinfo=UTC))
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=pledge_id,
        )

    assert pledge_as_of(services.store, pledge_id, date(2026, 3, 1), freshness_months=12) == then
    assert pledge_as_of(services.store, pledge_id, date(2026, 2, 28), freshness_months=12) is None
    later = pledge_as_of(services.store, pledge_id, date(2026, 5, 2), freshness_months=MONTHS)
    assert later is not None
    assert later.status == "validated"
    past_rollups = rollups_as_of(
        services.store, "status", date(2026, 3, 1), freshness_months=MONTHS
    )
    assert [(r.key, r.pledges) for r in past_rollups] == [("awaiting_validation", 1)]


def test_published_rollups_are_what_a_verifier_recomputes_from_the_entries(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    report_progress(services, pledge_id, "7", "2026-02-28")
    catch_up(services)
    services.log.integrate()
    size = services.log.tree_size()

    from_views = rollups_document(
        services.engine, services.store, tree_size=size, freshness_months=MONTHS
    )
    from_log = rollups_document(
        services.engine, services.store, tree_size=size - 1, freshness_months=MONTHS
    )

    entries = list(services.log.entries(size))
    assert canonical_bytes(from_views) == canonical_bytes(
        recompute_rollups_document(entries, tree_size=size, freshness_months=MONTHS)
    )
    assert from_log == recompute_rollups_document(
        entries, tree_size=size - 1, freshness_months=MONTHS
    )
    assert from_views != from_log


def test_a_report_cites_the_smallest_checkpoint_holding_its_entries(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    submit_pledge(services)
    size = services.store.max_notification_id()
    with services.engine.begin() as connection:  # as if the log had not signed at this size
        connection.execute(log_checkpoints.delete().where(log_checkpoints.c.tree_size >= size))
    clock.set(datetime(2026, 3, 2, tzinfo=UTC))
    submit_pledge(services)
    covering = services.log.latest_checkpoint()
    assert covering is not None
    assert covering.size > size
    submit_pledge(services)

    report = build_report(
        services.store, services.log, as_of=date(2026, 3, 1), freshness_months=MONTHS
    )

    assert report.source.tree_size == size
    assert report.source.checkpoint is not None
    assert (report.source.checkpoint.tree_size, report.source.checkpoint.note) == (
        covering.size,
        covering.note,
    )
    entries = [n.raw for n in services.store.iter_notifications()]
    again = report_from_entries(
        entries,
        as_of=date(2026, 3, 1),
        freshness_months=MONTHS,
        checkpoint=report.source.checkpoint,
    )
    assert again.sha256 == report.sha256


def test_a_report_never_cites_a_forged_checkpoint_row(services: Services) -> None:
    register_basics(services)
    submit_pledge(services)
    size = services.store.max_notification_id()
    signed = services.log.latest_checkpoint()
    assert signed is not None
    assert signed.size == size
    with services.engine.begin() as connection:
        connection.execute(log_checkpoints.delete().where(log_checkpoints.c.tree_size == size))
        connection.execute(
            insert(log_checkpoints).values(
                tree_size=size, root_hash=bytes(32), signed_at="t", note="forged\n"
            )
        )

    report = build_report(
        services.store, services.log, as_of=date(2026, 3, 1), freshness_months=MONTHS
    )

    assert report.source.checkpoint is None


def test_pledges_are_listed_by_every_filter_a_page_at_a_time(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    register_reference(services)
    first = submit_pledge(services, sdg_targets=["10.7"])
    second = submit_pledge(services, gcm_objectives=[2], sdg_targets=["10.c"], gcr_areas=[])
    third = submit_pledge(services, gcm_objectives=[15], sdg_targets=[], priority_areas=["housing"])
    with services.ledger.batch() as batch:
        batch.execute(
            "validate_pledge",
            VALIDATOR,
            {"decision": "validated", "criteria": ["specific"]},
            target=third,
        )
    clock.set(datetime(2027, 6, 1, tzinfo=UTC))
    report_progress(services, second, "5", "2027-05-31")
    catch_up(services)

    def ids(**filters: Any) -> list[str]:
        with services.engine.connect() as connection:
            return [p.pledge_id for p in list_pledges(connection, **filters).items]

    assert ids(gcm_objective=15) == sorted([first, third])
    assert ids(sdg="10.7") == sorted([first, second])
    assert ids(priority_area="housing", status="validated") == [third]
    assert ids(country="MA", network_id="uclg") == sorted([first, second, third])
    assert ids(city="sn-dakar") == []
    assert ids(silent_on=date(2027, 6, 1), freshness_months=MONTHS) == sorted([first, third])
    with services.engine.connect() as connection:
        page = list_pledges(connection, limit=2)
        rest = list_pledges(connection, limit=2, after=page.next_after)
    assert [p.pledge_id for p in (*page.items, *rest.items)] == sorted([first, second, third])
    assert rest.next_after is None
    assert page.items[0].countries == ("MA",)


def test_the_list_the_silent_list_and_the_page_show_the_same_amended_pledge(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    with services.ledger.batch() as batch:
        batch.execute(
            "amend_pledge",
            UCLG,
            {"changes": {"title": {"fr": "Centre d'accueil"}}, "reason": "translation"},
            target=pledge_id,
        )
    catch_up(services)
    today = date(2028, 1, 1)

    with read_snapshot(services.engine) as connection:
        page = pledge(connection, pledge_id, today=today, freshness_months=MONTHS)
        (listed,) = list_pledges(connection).items
        (silent,) = silent_pledges(connection, today=today, freshness_months=MONTHS)

    assert page is not None
    assert listed.title == silent.title == page.title == {"fr": "Centre d'accueil"}
    assert listed.version == page.version == 2
    assert silent.silent_since == page.freshness.anchor
