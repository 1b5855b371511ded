"""The pure fold behind every read model: pledge views, roll-up sums, and their documents.

Envelopes are sealed here exactly as the ledger seals them (``ledger.envelope.seal``), without a
database: ``Log`` keeps the stream versions and the clock.
"""

from __future__ import annotations

import gc
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import (
    CityRegistered,
    ErratumRecorded,
    NetworkRegistered,
    NewEvent,
    ObservationCorrected,
    Payload,
    PledgeAmended,
    PledgeChanges,
    PledgeChangesRequested,
    PledgeClosed,
    PledgeContent,
    PledgeMatched,
    PledgeSubmitted,
    PledgeValidated,
    PledgeWithdrawn,
    ProgressReported,
)
from ledger.envelope import Envelope, seal
from projections.as_of import fold_log
from projections.counters import RollupCells, contribution, memberships
from projections.pledge_fold import (
    CONTENT_NOT_KEPT,
    indicator_standings,
    view_document,
    view_from_document,
)
from projections.pledge_page import pledge_page
from projections.state import ViewState, without_cycle_collection

START = date(2024, 1, 1)


def indicator(
    indicator_id: str = "people-served",
    measure: str = "unit",
    *,
    ascending: bool = True,
    baseline: str | None = "0",
    target: str | None = "5000",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": indicator_id,
        "title": {"en": indicator_id},
        "measure": measure,
        "ascending": ascending,
    }
    if baseline is not None or measure == "qualitative":
        body["baseline"] = {"value": baseline, "date": "2024-01-01"}
    if target is not None or measure == "qualitative":
        body["targets"] = [{"value": target, "date": "2027-12-31"}]
    return body


def content(**overrides: Any) -> PledgeContent:
    body: dict[str, Any] = {
        "cities": ["rabat"],
        "title": {"en": "Welcome centre"},
        "description": {"en": "A municipal welcome centre."},
        "gcm_objectives": [15],
        "sdg_targets": ["10.7"],
        "starts_on": "2024-01-01",
        "ends_on": "2027-12-31",
        "indicators": [indicator()],
    }
    body.update(overrides)
    return PledgeContent.model_validate(body)


class Log:
    """Seals payloads into envelopes in log order, on days the test chooses."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.versions: Counter[str] = Counter()
        self.day = START

    def on(self, day: date) -> Log:
        self.day = day
        return self

    def add(self, stream_id: str, payload: Payload, by: str = "key-1") -> Envelope:
        self.versions[stream_id] += 1
        moment = datetime.combine(self.day, time(9), UTC) + timedelta(
            microseconds=len(self.envelopes)
        )
        envelope = seal(
            NewEvent(payload),
            event_id=str(uuid.UUID(int=len(self.envelopes) + 1)),
            stream_id=stream_id,
            stream_version=self.versions[stream_id],
            recorded_at=moment,
            recorded_by=by,
        )
        self.envelopes.append(envelope)
        return envelope

    def registry(self) -> Log:
        self.add("network:uclg", NetworkRegistered(network_id="uclg", name={"en": "UCLG"}))
        for city, country in (("rabat", "MA"), ("dakar", "SN"), ("tangier", "MA")):
            self.add(
                f"city:{city}",
                CityRegistered(city_id=city, name={"en": city.title()}, country=country),
            )
        return self

    def pledge(self, pledge_id: str, payload: Payload) -> Envelope:
        return self.add(f"pledge:{pledge_id}", payload)

    def submit(self, pledge_id: str, network_id: str = "uclg", **overrides: Any) -> Envelope:
        return self.pledge(
            pledge_id,
            PledgeSubmitted(
                pledge_id=pledge_id, network_id=network_id, content=content(**overrides)
            ),
        )

    def report(
        self, pledge_id: str, values: Mapping[str, str | None], *, stage: str = "in_progress"
    ) -> Envelope:
        end = self.day - timedelta(days=1)
        return self.pledge(
            pledge_id,
            ProgressReported.model_validate(
                {
                    "period": {"start": (end - timedelta(days=90)).isoformat(), "end": end},
                    "stage": stage,
                    "observations": [
                        {"indicator_id": key, "value": value, "date": end.isoformat()}
                        for key, value in values.items()
                    ],
                }
            ),
        )


def pledge_views(log: Log) -> ViewState:
    return fold_log(log.envelopes).state


def test_pledge_counts_in_every_group_its_content_names() -> None:
    log = Log().registry()
    log.submit(
        "p1",
        cities=["rabat", "tangier", "dakar"],
        gcm_objectives=[15, 16],
        gcr_areas=["gcr-objective-1"],
        sdg_targets=["10.7", "10.c", "11.1"],
        priority_areas=["housing"],
    )

    view = pledge_views(log).pledges["p1"]

    assert memberships(view) == (
        ("all", "all"),
        ("network", "uclg"),
        ("city", "rabat"),
        ("city", "tangier"),
        ("city", "dakar"),
        ("country", "MA"),
        ("country", "SN"),
        ("gcm_objective", "15"),
        ("gcm_objective", "16"),
        ("gcr_area", "gcr-objective-1"),
        ("sdg", "10"),
        ("sdg", "11"),
        ("priority_area", "housing"),
        ("status", "awaiting_validation"),
    )


def test_material_amendment_after_validation_counts_the_pledge_as_awaiting_validation() -> None:
    log = Log().registry()
    log.submit("p1")
    log.pledge("p1", PledgeValidated(criteria=("specific",)))
    log.pledge(
        "p1",
        PledgeAmended(
            changes=PledgeChanges.model_validate({"ends_on": "2028-06-30"}),
            reason="Funding moved",
            material=True,
        ),
    )

    rollup = pledge_views(log).rollup_cells().rollup("all", "all", date(2024, 2, 1), 12)

    assert rollup is not None
    assert rollup.by_status["awaiting_validation"] == 1
    assert rollup.validated == 0
    assert rollup.ever_validated == 1


def test_latest_reading_is_the_latest_observation_date_not_the_latest_report() -> None:
    log = Log().registry()
    log.submit("p1")
    log.on(date(2024, 7, 10)).report("p1", {"people-served": "900"})
    late_report = log.on(date(2024, 8, 1)).pledge(
        "p1",
        ProgressReported.model_validate(
            {
                "period": {"start": "2024-01-01", "end": "2024-03-31"},
                "stage": "in_progress",
                "observations": [
                    {"indicator_id": "people-served", "value": "300", "date": "2024-03-31"}
                ],
            }
        ),
    )

    view = pledge_views(log).pledges["p1"]
    (standing,) = indicator_standings(view)

    assert standing.latest is not None
    assert standing.latest.value == "900"
    assert view.last_reported_on == date(2024, 8, 1)
    assert view.reports == 2
    assert standing.latest.event_id != late_report.event_id


def test_progress_and_target_respect_a_descending_indicator() -> None:
    log = Log().registry()
    log.submit(
        "p1",
        indicators=[indicator("waiting-days", ascending=False, baseline="100", target="50")],
    )
    log.on(date(2024, 5, 1)).report("p1", {"waiting-days": "40"})

    page = pledge_page(pledge_views(log).pledges["p1"], date(2024, 5, 1), 12)

    (shown,) = page.indicators
    assert shown.progress == "1.2"
    assert shown.met_target is True


def test_a_qualitative_indicator_is_reported_but_never_measured() -> None:
    log = Log().registry()
    log.submit("p1", indicators=[indicator("city-plan", "qualitative", baseline=None, target=None)])
    log.on(date(2024, 5, 1)).report("p1", {"city-plan": None})

    rollup = pledge_views(log).rollup_cells().rollup("all", "all", date(2024, 5, 1), 12)

    assert rollup is not None
    (progress,) = rollup.indicators
    assert (progress.pledges, progress.reported, progress.met_target) == (1, 1, 0)
    assert progress.latest_total is None


def test_indicator_totals_are_exact_decimal_strings() -> None:
    big = "999999999999999999.999999999999"
    log = Log().registry()
    for pledge_id in ("p1", "p2"):
        log.submit(pledge_id, indicators=[indicator(target=big)])
        log.report(pledge_id, {"people-served": "0.1"})
    log.submit("p3", indicators=[indicator(target="0.2")])
    log.report("p3", {"people-served": "0.2"})

    rollup = pledge_views(log).rollup_cells().rollup("all", "all", START, 12)

    assert rollup is not None
    (progress,) = rollup.indicators
    assert progress.target_total == "2000000000000000000.199999999998"
    assert progress.latest_total == "0.4"
    assert progress.met_target == 1


def test_freshness_counts_open_pledges_only() -> None:
    log = Log().registry()
    log.submit("silent")
    log.submit("closed")
    log.pledge("closed", PledgeClosed(outcome="fulfilled"))
    log.submit("reporting")
    log.on(date(2025, 6, 1)).report("reporting", {"people-served": "10"})

    cells = pledge_views(log).rollup_cells()
    rollup = cells.rollup("all", "all", date(2025, 7, 1), 12)

    assert rollup is not None
    assert (rollup.open, rollup.silent, rollup.reported_within_window) == (2, 1, 1)
    assert rollup.share_reported_within_window == "0.5"


def test_view_document_gives_back_the_same_view() -> None:
    log = Log().registry()
    log.submit("p1", indicators=[indicator(), indicator("rate", "percentage", target="80")])
    log.pledge("p1", PledgeChangesRequested(criteria=("measurable",), note="Add a target"))
    log.pledge("p1", PledgeMatched(kind="funder", funder="Urban Fund"))
    log.on(date(2024, 4, 1)).report("p1", {"people-served": "12.50", "rate": "55"})
    log.pledge("p1", ErratumRecorded(corrects_event_id=log.envelopes[-1].event_id, note="Typo"))
    log.pledge("p1", PledgeWithdrawn(reason="No funding"))

    state = ViewState()
    for envelope in log.envelopes:
        state.apply(envelope)
    view = state.pledges["p1"]

    assert view_from_document(view_document(view)) == view


def test_a_fold_of_the_log_keeps_no_json_of_contents_and_its_views_are_never_written() -> None:
    """``fold_log`` (reports, roll-ups as of a day) keeps the content's model, not its JSON too;
    such a view cannot reach a table by mistake."""
    log = Log().registry()
    log.submit("p1")
    log.pledge(
        "p1",
        PledgeAmended(
            changes=PledgeChanges.model_validate({"ends_on": "2028-06-30"}),
            reason="Funding moved",
            material=True,
        ),
    )

    view = pledge_views(log).pledges["p1"]

    assert view.content_json is CONTENT_NOT_KEPT
    assert view.state.content.ends_on == date(2028, 6, 30)
    with pytest.raises(ValueError, match="folded without its content's JSON"):
        view_document(view)


# --- every path to the roll-ups agrees -----------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "submit",
                "validate",
                "changes",
                "amend",
                "cities",
                "report",
                "correct",
                "close",
                "withdraw",
            ]
        ),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=0, max_value=120),
    ),
    max_size=40,
)


def _random_log(operations: list[tuple[str, int, int]]) -> Log:
    log = Log().registry()
    submitted: list[str] = []
    ended: set[str] = set()
    reports: dict[str, list[Envelope]] = {}
    day = START
    for operation, which, days in operations:
        day += timedelta(days=days)
        log.on(day)
        if operation == "submit" or not submitted:
            pledge_id = f"p{len(submitted)}"
            log.submit(
                pledge_id,
                gcm_objectives=[which + 1],
                sdg_targets=[f"{which + 1}.1"],
                indicators=[indicator(), indicator("rate", "percentage", target="80")][
                    : which % 2 + 1
                ],
            )
            submitted.append(pledge_id)
            continue
        pledge_id = submitted[which % len(submitted)]
        if pledge_id in ended:
            log.pledge(pledge_id, ErratumRecorded(corrects_event_id="x", note="A note"))
        elif operation == "validate":
            log.pledge(pledge_id, PledgeValidated(criteria=("specific",)))
        elif operation == "changes":
            log.pledge(pledge_id, PledgeChangesRequested(note="Be specific"))
        elif operation in ("amend", "cities"):
            changes = (
                {"cities": ["dakar"] if which % 2 else ["rabat", "tangier"]}
                if operation == "cities"
                else {"gcm_objectives": [which + 5]}
            )
            log.pledge(
                pledge_id,
                PledgeAmended(
                    changes=PledgeChanges.model_validate(changes), reason="Update", material=True
                ),
            )
        elif operation == "report":
            # Some reports meet their targets (5000 people, a rate of 80) and some do not.
            values = {"people-served": str(days * 50)}
            if which % 2:
                values["rate"] = str(which * 30)
            reports.setdefault(pledge_id, []).append(log.report(pledge_id, values))
        elif operation == "correct" and reports.get(pledge_id):
            # A figure corrected: often the latest reading, sometimes an older one (which
            # changes nothing the roll-ups count), sometimes to no value at all.
            earlier = reports[pledge_id]
            report = earlier[-1 - which % len(earlier)] if which < 3 else earlier[0]
            observed = report.decode_payload().observations[0]  # type: ignore[attr-defined]
            log.pledge(
                pledge_id,
                ObservationCorrected(
                    progress_event_id=report.event_id,
                    indicator_id=observed.indicator_id,
                    date=observed.date,
                    previous_value=observed.value,
                    value=None if days % 7 == 0 else str(days * 40),
                    reason="A typo in the count",
                ),
            )
        elif operation == "correct":
            continue  # nothing reported yet: nothing to correct
        elif operation == "close":
            log.pledge(pledge_id, PledgeClosed(outcome="partially_fulfilled"))
            ended.add(pledge_id)
        else:
            log.pledge(pledge_id, PledgeWithdrawn(reason="Stopped"))
            ended.add(pledge_id)
    return log


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_rollups_kept_by_differences_equal_rollups_summed_from_scratch(
    operations: list[tuple[str, int, int]],
) -> None:
    log = _random_log(operations)
    state = ViewState()
    by_difference = RollupCells()
    for envelope in log.envelopes:
        state.apply(envelope)
        for pledge_id, before in state.take_changes().pledges.items():
            after = state.pledges[pledge_id]
            by_difference.change(before, after)
            assert view_from_document(view_document(after)) == after

    from_scratch = RollupCells.of(state.pledges.values())
    # A fold that keeps no JSON of the contents gives the same views but for that JSON.
    lean = fold_log(log.envelopes).state.pledges
    assert lean.keys() == state.pledges.keys()
    for pledge_id, view in state.pledges.items():
        assert lean[pledge_id] == replace(view, content_json=CONTENT_NOT_KEPT)

    assert by_difference.counters == from_scratch.counters
    assert by_difference.freshness == from_scratch.freshness
    assert by_difference.indicators == from_scratch.indicators
    for batch in (1, 2):  # tallied a few pledges at a time, the sums merged
        in_batches = RollupCells.of(state.pledges.values(), batch=batch)
        assert in_batches.counters == from_scratch.counters
        assert in_batches.freshness == from_scratch.freshness
        assert in_batches.indicators == from_scratch.indicators
    for view in state.pledges.values():
        assert contribution(view).keys == memberships(view)


def test_cycle_collection_pauses_for_a_fold_and_resumes_as_it_was() -> None:
    @without_cycle_collection()
    def fold() -> bool:
        with without_cycle_collection():  # nested: still paused when the inner one ends
            pass
        return gc.isenabled()

    assert gc.isenabled()
    assert fold() is False
    assert gc.isenabled()
    with pytest.raises(RuntimeError), without_cycle_collection():
        raise RuntimeError("a failed fold")
    assert gc.isenabled()
    gc.disable()
    try:
        with without_cycle_collection():
            pass
        assert not gc.isenabled()  # a caller that paused it keeps it paused
    finally:
        gc.enable()


def test_indicator_sums_add_and_take_away_exactly_and_refuse_any_other_sign() -> None:
    from decimal import Decimal

    from projections.counters import IndicatorTotals

    large = Decimal("12345678901234567.123456789012")
    a = IndicatorTotals(2, 1, 1, Decimal("0.1"), large, Decimal(5))
    b = IndicatorTotals(1, 1, 0, Decimal("0.2"), Decimal("0.000000000001"), Decimal(5))
    assert a.plus(b).plus(b, -1) == a
    assert a.plus(b).latest == Decimal("12345678901234567.123456789013")  # no rounding
    assert a.plus(a, -1).is_zero
    with pytest.raises(ValueError, match="sign"):
        a.plus(b, 2)
