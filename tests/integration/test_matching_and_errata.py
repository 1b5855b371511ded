"""Two-way matches and errata on figures through the real ledger, its views, its reports and
its verifier, on SQLite and PostgreSQL (ADR 0015)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Services
from domain.errors import InvalidTransition, NotPermitted
from domain.events import MatchAccepted, NewEvent
from ledger.clock import SteppingClock
from ledger.commands import CommandName
from ledger.errors import ConcurrencyConflict
from ledger.log import TransparencyLog
from projections import list_pledges, pledge, rollup
from projections.as_of import pledge_as_of
from projections.reports import build_report, recompute_rollups_document
from projections.tables import read_snapshot
from projections.timeline import pledge_timeline
from tests.integration.ledger_scenario import (
    ADMIN,
    METROPOLIS,
    UCLG,
    VALIDATOR,
    event_count,
    pledge_body,
    register_basics,
    submit_pledge,
)
from tests.integration.test_verify_authority import append_forged, verified

MONTHS = 12


def write(
    services: Services, name: CommandName, principal: Any, pledge_id: str, **body: Any
) -> str:
    """One command; answers the id of the event it stored."""
    written = services.ledger.write(name, principal, body, target=pledge_id)
    return written.result.events[0].event_id


def two_pledges(services: Services) -> tuple[str, str]:
    """A uclg pledge (the host) and a metropolis pledge that may support it."""
    register_basics(services)
    host = submit_pledge(services)
    body = pledge_body(network_id="metropolis", cities=["sn-dakar"], title={"en": "Legal aid"})
    supporting = services.ledger.write("submit_pledge", METROPOLIS, body).result.pledge_id
    assert supporting is not None
    return host, supporting


def page(services: Services, pledge_id: str) -> Any:
    today = services.ledger.clock.now().date()
    with read_snapshot(services.engine) as connection:
        return pledge(connection, pledge_id, today=today, freshness_months=MONTHS)


def test_both_pledges_pages_show_an_accepted_match(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", METROPOLIS, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "accept_match", UCLG, host, match_id=match_id, note="Welcome")

    [on_host] = page(services, host).matches
    [on_supporting] = page(services, supporting).matches
    assert (on_host.match_id, on_host.status, on_host.side) == (match_id, "accepted", "host")
    assert (on_supporting.status, on_supporting.side) == ("accepted", "supporter")
    assert on_supporting.host_pledge_id == host
    assert on_host.offered_by == "supporter"
    assert on_host.answer == "Welcome"


def test_the_supporting_pledges_page_as_of_a_day_shows_the_match_then(
    services: Services, clock: SteppingClock
) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    day = clock.now().date()
    [then] = pledge_as_of(
        services.store, supporting, day, freshness_months=MONTHS, hosts=[host]
    ).matches  # type: ignore[union-attr]
    assert (then.match_id, then.status, then.side) == (match_id, "offered", "supporter")


def test_accepting_twice_is_refused_and_stores_nothing(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "accept_match", METROPOLIS, host, match_id=match_id)
    before = event_count(services)
    with pytest.raises(InvalidTransition):
        write(services, "accept_match", METROPOLIS, host, match_id=match_id)
    assert event_count(services) == before


def test_accepting_ones_own_offer_is_refused_and_stores_nothing(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    before = event_count(services)
    with pytest.raises(NotPermitted):
        write(services, "accept_match", UCLG, host, match_id=match_id)
    assert event_count(services) == before


def test_a_withdrawn_supporting_pledge_cannot_accept(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", METROPOLIS, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "withdraw_pledge", METROPOLIS, supporting, reason="Funding ended")
    with pytest.raises(InvalidTransition, match="withdrawn"):
        write(services, "accept_match", UCLG, host, match_id=match_id)


def test_withdrawing_the_host_ends_its_matches_on_both_pages(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "accept_match", METROPOLIS, host, match_id=match_id)
    write(services, "withdraw_pledge", UCLG, host, reason="The centre closed")
    assert [m.status for m in page(services, supporting).matches] == ["ended"]
    with pytest.raises(InvalidTransition):
        write(services, "end_match", METROPOLIS, host, match_id=match_id, reason="Done")


def test_a_funders_offer_with_an_amount_is_answered_by_a_validator(services: Services) -> None:
    host, _ = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="funder", funder="Urban Fund",
        amount="25000.00", currency="EUR",
    )  # fmt: skip
    write(services, "accept_match", VALIDATOR, host, match_id=match_id)
    [match] = page(services, host).matches
    assert (match.amount, match.currency, match.status) == ("25000.00", "EUR", "accepted")


def report_people_served(services: Services, pledge_id: str, value: str, **extra: Any) -> str:
    return write(
        services,
        "report_progress",
        UCLG,
        pledge_id,
        period={"start": "2026-01-01", "end": "2026-02-28"},
        stage="in_progress",
        observations=[{"indicator_id": "people-served", "value": value, "date": "2026-02-28"}],
        **extra,
    )


def test_the_corrected_value_is_what_roll_ups_and_reports_use_and_replay_agrees(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    report_id = report_people_served(services, pledge_id, "1200")
    correction = write(
        services, "correct_observation", UCLG, pledge_id, progress_event_id=report_id,
        indicator_id="people-served", date="2026-02-28", value="1150",
        reason="Fifty people were counted twice",
    )  # fmt: skip

    today = services.ledger.clock.now().date()
    with read_snapshot(services.engine) as connection:
        live = rollup(connection, "network", "uclg", today=today, freshness_months=MONTHS)
    assert live is not None
    [indicator] = live.indicators
    assert indicator.latest_total == "1150"

    [standing] = page(services, pledge_id).indicators
    assert standing.latest is not None
    assert (standing.latest.value, standing.latest.reported_value) == ("1150", "1200")
    assert standing.latest.corrected_by == correction
    [fix] = page(services, pledge_id).observation_corrections
    assert (fix.previous_value, fix.value, fix.progress_event_id) == ("1200", "1150", report_id)

    report = build_report(
        services.store, services.log, as_of=today, freshness_months=MONTHS, network_id="uclg"
    )
    [progress] = report.indicator_progress
    assert progress.latest_total == "1150"

    types = [e.type for e in pledge_timeline_of(services, pledge_id)]
    assert types[-2:] == ["pledge.progress_reported", "pledge.observation_corrected"]

    entries = [n.raw for n in services.store.iter_notifications()]
    replayed = recompute_rollups_document(
        entries, tree_size=len(entries), freshness_months=MONTHS, as_of=today
    )
    [network] = [r for r in replayed["rollups"]["network"] if r["key"] == "uclg"]
    assert network["indicators"][0]["latest_total"] == "1150"
    result = verified(services, tmp_path / "bundle")
    assert result.ok, result.failure


def pledge_timeline_of(services: Services, pledge_id: str) -> list[Any]:
    with read_snapshot(services.engine) as connection:
        return pledge_timeline(services.store, connection, pledge_id)


def test_an_erratum_naming_an_observation_that_does_not_exist_is_refused(
    services: Services,
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    report_id = report_people_served(services, pledge_id, "1200")
    before = event_count(services)
    for wrong in ({"date": "2026-02-27"}, {"progress_event_id": pledge_id}):
        body = {
            "progress_event_id": report_id, "indicator_id": "people-served",
            "date": "2026-02-28", "value": "1", "reason": "typo", **wrong,
        }  # fmt: skip
        with pytest.raises(Exception, match="has no observation") as caught:
            services.ledger.write("correct_observation", UCLG, body, target=pledge_id)
        assert caught.value.field == "progress_event_id"  # type: ignore[attr-defined]
    assert event_count(services) == before


def test_a_pledge_asking_for_support_is_listed_until_it_ends(services: Services) -> None:
    register_basics(services)
    asking = submit_pledge(services)
    quiet = submit_pledge(services, title={"en": "Another one"})
    report_people_served(services, asking, "10", support_needed="A partner for legal aid")
    report_people_served(services, quiet, "10")

    def listed(flag: bool) -> list[str]:
        with read_snapshot(services.engine) as connection:
            found = list_pledges(connection, support_needed=flag)
        return [p.pledge_id for p in found.items]

    assert listed(True) == [asking]
    assert asking not in listed(False)
    assert page(services, asking).support_needed == "A partner for legal aid"
    write(services, "withdraw_pledge", UCLG, asking, reason="Stopped")
    assert listed(True) == []


def test_verify_accepts_a_history_of_matches_and_corrections(
    services: Services, tmp_path: Path
) -> None:
    host, supporting = two_pledges(services)
    first = write(
        services, "match_pledge", METROPOLIS, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "decline_match", UCLG, host, match_id=first, reason="Not now")
    second = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    write(services, "accept_match", METROPOLIS, host, match_id=second)
    write(services, "end_match", METROPOLIS, host, match_id=second, reason="Done")
    report_id = report_people_served(services, host, "5")
    write(
        services, "correct_observation", ADMIN, host, progress_event_id=report_id,
        indicator_id="people-served", date="2026-02-28", value="6", reason="Late count",
    )  # fmt: skip
    result = verified(services, tmp_path / "bundle")
    assert result.ok, result.failure


def test_verify_names_an_acceptance_by_a_network_that_is_no_party_to_the_match(
    services: Services, tmp_path: Path
) -> None:
    register_basics(services)
    host = submit_pledge(services)
    match_id = write(services, "match_pledge", UCLG, host, kind="funder", funder="Urban Fund")
    version = services.store.stream_version(f"pledge:{host}")
    forged = NewEvent(MatchAccepted(match_id=match_id), on_behalf_of=("ma-marrakech",))
    leaf, event_id = append_forged(
        services, forged, f"pledge:{host}", version + 1, METROPOLIS.key_id
    )
    result = verified(services, tmp_path / "bundle")
    assert result.failure is not None
    assert result.failure.where == f"entry {leaf} (event {event_id})"
    assert "(only uclg may)" in result.failure.problem


def test_report_as_of_before_the_correction_uses_the_reported_value(
    services: Services, clock: SteppingClock
) -> None:
    register_basics(services)
    pledge_id = submit_pledge(services)
    report_id = report_people_served(services, pledge_id, "1200")
    reported_on = clock.now().date()
    clock.set(clock.now() + timedelta(days=1))
    write(
        services, "correct_observation", UCLG, pledge_id, progress_event_id=report_id,
        indicator_id="people-served", date="2026-02-28", value="1150", reason="Counted twice",
    )  # fmt: skip
    log: TransparencyLog = services.log
    before = build_report(services.store, log, as_of=reported_on, freshness_months=MONTHS)
    after = build_report(
        services.store, log, as_of=reported_on + timedelta(days=1), freshness_months=MONTHS
    )
    assert [p.latest_total for p in before.indicator_progress] == ["1200"]
    assert [p.latest_total for p in after.indicator_progress] == ["1150"]


def test_an_answer_racing_an_ending_cannot_both_be_stored(services: Services) -> None:
    host, supporting = two_pledges(services)
    match_id = write(
        services, "match_pledge", UCLG, host, kind="pledge", supporting_pledge_id=supporting
    )
    accepting, ending = services.ledger.new_batch(), services.ledger.new_batch()
    accepting.execute("accept_match", METROPOLIS, {"match_id": match_id}, target=host)
    body = {"match_id": match_id, "reason": "Changed our mind"}
    ending.execute("end_match", UCLG, body, target=host)  # decided on the same offer
    services.ledger.commit(accepting)
    with pytest.raises(ConcurrencyConflict):
        services.ledger.commit(ending)
    assert [m.status for m in page(services, host).matches] == ["accepted"]
