"""Accountability reports and the published roll-ups, computed from envelope bytes alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import (
    CityCorrected,
    Framework,
    NetworkRegistered,
    PledgeClosed,
    PledgeValidated,
)
from ledger.envelope import Envelope
from ledger.errors import CorruptEvent
from projections.errors import InvalidQuery
from projections.reports import (
    ReportSums,
    fold_report,
    recompute_rollups_document,
    report_from_entries,
)
from tests.unit.test_projections_fold import OPERATIONS, START, Log, _random_log

AS_OF = date(2024, 6, 30)


def history() -> Log:
    """Three pledges of UCLG and one of another network, before and after ``AS_OF``."""
    log = Log().registry()
    log.add("network:metropolis", NetworkRegistered(network_id="metropolis", name={"en": "M"}))
    log.on(date(2024, 2, 1)).submit("old-silent")
    log.on(date(2024, 3, 1)).submit("validated", gcm_objectives=[16], gcr_areas=["gcr-objective-1"])
    log.pledge("validated", PledgeValidated(criteria=("specific",)))
    log.on(date(2024, 4, 1)).submit("closed")
    log.pledge("closed", PledgeClosed(outcome="fulfilled"))
    log.on(date(2024, 5, 1)).submit("elsewhere", network_id="metropolis")
    log.on(date(2024, 6, 30)).report("validated", {"people-served": "120"})
    log.on(date(2024, 7, 1)).submit("after-the-day")
    return log


def entries(log: Log) -> list[bytes]:
    return [e.raw for e in log.envelopes]


def test_a_report_counts_the_events_recorded_by_the_end_of_its_day() -> None:
    log = history()

    report = report_from_entries(entries(log), as_of=AS_OF, freshness_months=3)

    assert report.totals is not None
    assert report.totals.pledges == 4
    assert report.source.tree_size == len(log.envelopes) - 1
    assert report.source.checkpoint is None


def test_a_report_lists_silent_pledges_longest_silent_first() -> None:
    report = report_from_entries(entries(history()), as_of=AS_OF, freshness_months=3)

    assert [p.pledge_id for p in report.silent_pledges] == ["old-silent"]
    assert report.by_gcm_objective[0].key == "15"
    assert report.labels["gcm_objective"]["16"]


def test_a_network_report_counts_only_that_networks_pledges() -> None:
    report = report_from_entries(
        entries(history()), as_of=AS_OF, freshness_months=3, network_id="metropolis"
    )

    assert report.totals is not None
    assert report.totals.pledges == 1
    assert [r.key for r in report.by_network] == ["metropolis"]


def test_published_rollups_rest_on_exactly_tree_size_entries() -> None:
    log = history()
    size = len(log.envelopes) - 1

    document = recompute_rollups_document(entries(log), tree_size=size, freshness_months=3)

    assert document["tree_size"] == size
    assert document["as_of"] == AS_OF.isoformat()
    assert document == recompute_rollups_document(
        entries(log)[:size], tree_size=size, freshness_months=3
    )
    (total,) = document["rollups"]["all"]
    assert total["pledges"] == 4
    with pytest.raises(InvalidQuery, match="rest on"):
        recompute_rollups_document(entries(log)[:3], tree_size=size, freshness_months=3)


def test_published_rollups_of_an_empty_log_are_empty() -> None:
    document = recompute_rollups_document([], tree_size=0, freshness_months=12)

    assert document["as_of"] is None
    assert all(rollups == [] for rollups in document["rollups"].values())


# --- the report folded a pledge at a time equals the report on every view ---------------------


def _with_city_corrections(log: Log, corrections: list[tuple[int, int]]) -> Log:
    """``log`` with city country corrections spliced in at chosen places (as a registry
    correction would land between pledge events), recorded on the day of what precedes them."""
    spliced = Log()
    countries = ("MA", "SN", "FR")
    cities = ("rabat", "dakar", "tangier")
    where = {at % (len(log.envelopes) + 1): which for at, which in corrections}
    for index, envelope in enumerate([*log.envelopes, None]):
        if index in where:
            which = where[index]
            spliced.on(date.fromisoformat((envelope or log.envelopes[-1]).recorded_at[:10]))
            spliced.add(
                f"city:{cities[which % 3]}",
                CityCorrected(
                    city_id=cities[which % 3], country=countries[which % 3 - 1], reason="Fixed"
                ),
            )
        if envelope is not None:
            spliced.on(date.fromisoformat(envelope.recorded_at[:10]))
            spliced.add(envelope.stream_id, envelope.decode_payload())
    return spliced


@settings(max_examples=80, deadline=None)
@given(
    OPERATIONS,
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 5)), max_size=3),
    st.integers(min_value=0, max_value=1500),
    st.sampled_from(["all", "gcm", "gcr"]),
    st.booleans(),
)
def test_a_report_folded_a_pledge_at_a_time_equals_the_report_on_every_view(
    operations: list[tuple[str, int, int]],
    corrections: list[tuple[int, int]],
    days: int,
    framework: Framework,
    one_network: bool,
) -> None:
    """``build_report``'s fold (each view summed and let go after its pledge's last event, views
    naming a corrected city kept to the end) gives the oracle's bytes: ``report_from_state`` on
    ``fold_log``, every view in memory."""
    log = _with_city_corrections(_random_log(operations), corrections)
    as_of = START + timedelta(days=days)
    scope = {
        "as_of": as_of,
        "freshness_months": 6,
        "network_id": "uclg" if one_network else None,
        "framework": framework,
        "lang": "en",
    }
    oracle = report_from_entries(entries(log), **scope)  # type: ignore[arg-type]

    sums = ReportSums(**scope)  # type: ignore[arg-type]
    folded = fold_report(lambda: log.envelopes, sums, decode=Envelope.decode_payload)
    report = sums.report(folded.state, tree_size=folded.tree_size, checkpoint=None)

    assert report == oracle
    assert report.sha256 == oracle.sha256
    assert folded.tree_size == oracle.source.tree_size


def test_the_report_fold_lets_go_of_views_as_soon_as_they_are_final() -> None:
    log = history()
    log.on(date(2024, 6, 30)).add(
        "city:dakar", CityCorrected(city_id="dakar", country="MA", reason="Fixed")
    )
    log.on(date(2024, 7, 2)).submit("late-naming-dakar", cities=["dakar"])
    sums = ReportSums(as_of=AS_OF, freshness_months=3, network_id=None, framework="all", lang="en")

    folded = fold_report(lambda: log.envelopes, sums, decode=Envelope.decode_payload)

    assert folded.state.pledges == {}  # none names the corrected city: all were let go
    assert sums.report(folded.state, tree_size=folded.tree_size, checkpoint=None) == (
        report_from_entries(entries(log), as_of=AS_OF, freshness_months=3)
    )


def test_the_report_fold_keeps_views_naming_a_corrected_city_to_the_end() -> None:
    log = Log().registry()
    log.on(date(2024, 2, 1)).submit("in-dakar", cities=["dakar"])
    log.on(date(2024, 3, 1)).add(
        "city:dakar", CityCorrected(city_id="dakar", country="MA", reason="Fixed")
    )
    sums = ReportSums(as_of=AS_OF, freshness_months=3, network_id=None, framework="all", lang="en")

    folded = fold_report(lambda: log.envelopes, sums, decode=Envelope.decode_payload)

    assert set(folded.state.pledges) == {"in-dakar"}
    report = sums.report(folded.state, tree_size=folded.tree_size, checkpoint=None)
    assert [r.key for r in report.by_network] == ["uclg"]
    assert report == report_from_entries(entries(log), as_of=AS_OF, freshness_months=3)


def test_the_report_fold_stops_where_its_first_pass_ended_and_refuses_a_row_unlike_its_bytes() -> (
    None
):
    log = history()
    calls: list[int] = []

    def growing() -> list[Envelope]:
        calls.append(1)
        if len(calls) == 2:  # an event appended between the passes, on the report's day
            log.on(AS_OF).report("closed", {"people-served": "1"})
        return log.envelopes

    sums = ReportSums(as_of=AS_OF, freshness_months=3, network_id=None, framework="all", lang="en")
    folded = fold_report(growing, sums, decode=Envelope.decode_payload)
    assert folded.tree_size == len(log.envelopes) - 2  # neither the late one nor the new one

    @dataclass
    class Row:
        stream_id: str
        type: str
        raw: bytes

    forged = [Row(e.stream_id, e.type, e.raw) for e in history().envelopes]
    forged[-2] = Row("pledge:other", forged[-2].type, forged[-2].raw)
    with pytest.raises(CorruptEvent, match="the stored row says pledge:other"):
        fold_report(
            lambda: forged,
            ReportSums(
                as_of=AS_OF, freshness_months=3, network_id=None, framework="all", lang="en"
            ),
            decode=Envelope.decode_payload,
        )
