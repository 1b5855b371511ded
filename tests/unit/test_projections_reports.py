"""Accountability reports and the published roll-ups, computed from envelope bytes alone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import Framework, NetworkRegistered, PledgeClosed, PledgeValidated
from projections.as_of import fold_log
from projections.errors import InvalidQuery
from projections.reports import recompute_rollups_document, report_from_entries, report_from_state
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


# --- the report summed a pledge at a time, views let go, equals the report on every view ------


@settings(max_examples=80, deadline=None)
@given(
    OPERATIONS,
    st.integers(min_value=0, max_value=1500),
    st.sampled_from(["all", "gcm", "gcr"]),
    st.booleans(),
)
def test_a_report_that_lets_go_of_each_view_equals_the_report_on_every_view(
    operations: list[tuple[str, int, int]],
    days: int,
    framework: Framework,
    one_network: bool,
) -> None:
    """``build_report``'s way (``spend=True``: each view summed in another order and let go, the
    roll-ups tallied a pledge at a time) gives the bytes of the oracle, every view kept."""
    log = _random_log(operations)
    as_of = START + timedelta(days=days)
    scope: dict[str, Any] = {
        "as_of": as_of,
        "freshness_months": 6,
        "network_id": "uclg" if one_network else None,
        "framework": framework,
        "lang": "en",
    }
    folded = fold_log(log.envelopes, as_of)
    oracle = report_from_state(folded.state, tree_size=folded.tree_size, **scope)
    kept = len(folded.state.pledges)

    spent = report_from_state(folded.state, tree_size=folded.tree_size, spend=True, **scope)

    assert spent == oracle
    assert spent.sha256 == oracle.sha256
    assert folded.state.pledges == {}
    assert len(oracle.pledges) <= kept
