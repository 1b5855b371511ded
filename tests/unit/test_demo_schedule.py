"""The demo's schedule: time order, determinism, and the field it pretends to be.

The schedule is run against a recording batch (no store): every command it would send, with its
body, in order. The ledger's own rules are exercised by the CLI demo tests, which load it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from api.demo import DemoSchedule, corrected_reading
from api.demo_content import THEMES
from domain.events import OUTCOMES, STAGES
from domain.principal import Principal
from domain.taxonomies import reference_taxonomies

TODAY = date(2026, 11, 30)


@dataclass
class RecordedEvent:
    event_id: str


@dataclass
class RecordedResult:
    pledge_id: str | None
    events: tuple[RecordedEvent, ...]


@dataclass(frozen=True)
class RecordedStream:
    state: Any
    version: int


class RecordingBatch:
    """Stands in for ``ledger.commands.Batch``: records each command, answers fresh ids."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, Principal, dict[str, Any], str | None]] = []
        self.submitted: dict[str | None, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def execute(
        self, name: str, principal: Principal, body: dict[str, Any], *, target: str | None = None
    ) -> RecordedResult:
        self.commands.append((name, principal, body, target))
        event = RecordedEvent(f"event-{next(self._ids)}")
        pledge_id = f"pledge-{next(self._ids)}" if name == "submit_pledge" else target
        if name == "submit_pledge":
            self.submitted[pledge_id] = body
        return RecordedResult(pledge_id, (event,))

    def load(self, stream_id: str) -> RecordedStream:
        """Every stream is new to the recorder: the reference data is registered once."""
        del stream_id
        return RecordedStream(None, 0)


def run_schedule(pledges: int, seed: int) -> tuple[list[Any], RecordingBatch]:
    batch = RecordingBatch()
    planned = []
    for item in DemoSchedule(pledges, seed, TODAY, reference_taxonomies()):
        item.run(batch)  # type: ignore[arg-type]
        planned.append(item)
    return planned, batch


@pytest.fixture(scope="module")
def default_demo() -> tuple[list[Any], RecordingBatch]:
    return run_schedule(200, 2018)


def bodies(batch: RecordingBatch, name: str) -> list[dict[str, Any]]:
    return [body for command, _, body, _ in batch.commands if command == name]


def test_commands_come_in_time_order_and_before_today(
    default_demo: tuple[list[Any], RecordingBatch],
) -> None:
    planned, _ = default_demo
    moments = [item.at for item in planned]
    assert moments == sorted(moments)
    assert moments[-1].date() < TODAY


def test_the_same_seed_plans_the_same_commands() -> None:
    first = run_schedule(60, 7)[1].commands
    again = run_schedule(60, 7)[1].commands
    other = run_schedule(60, 8)[1].commands
    assert first == again
    assert first != other


def test_every_stage_and_outcome_occurs(default_demo: tuple[list[Any], RecordingBatch]) -> None:
    _, batch = default_demo
    stages = {body["stage"] for body in bodies(batch, "report_progress")}
    outcomes = {body["outcome"] for body in bodies(batch, "close_pledge")}
    assert stages == set(STAGES)
    assert outcomes == set(OUTCOMES)


def test_every_indicator_measure_and_a_descending_one_occur(
    default_demo: tuple[list[Any], RecordingBatch],
) -> None:
    _, batch = default_demo
    indicators = [i for body in bodies(batch, "submit_pledge") for i in body["indicators"]]
    assert {i["measure"] for i in indicators} == {"unit", "percentage", "qualitative"}
    assert any(not i["ascending"] for i in indicators)


def test_tags_fit_the_pledge_theme(default_demo: tuple[list[Any], RecordingBatch]) -> None:
    _, batch = default_demo
    by_title = {title["en"]: theme for theme in THEMES for title in theme.titles}
    for body in bodies(batch, "submit_pledge"):
        theme = by_title[body["title"]["en"].removesuffix(" (demo)")]
        assert set(body["gcm_objectives"]) <= set(theme.gcm_objectives), body["title"]
        assert set(body["gcr_areas"]) <= set(theme.gcr_areas), body["title"]
        assert set(body["sdg_targets"]) <= set(theme.sdg_targets), body["title"]
    language = [b for b in bodies(batch, "submit_pledge") if "Language classes" in b["title"]["en"]]
    assert language
    assert all(11 not in body["gcm_objectives"] for body in language)


def test_titles_are_in_english_and_some_in_french_or_spanish(
    default_demo: tuple[list[Any], RecordingBatch],
) -> None:
    _, batch = default_demo
    titles = [body["title"] for body in bodies(batch, "submit_pledge")]
    assert all(title["en"].endswith("(demo)") for title in titles)
    assert any("fr" in title for title in titles)
    assert any("es" in title for title in titles)


def test_some_pledges_deserve_each_quality_flag(
    default_demo: tuple[list[Any], RecordingBatch],
) -> None:
    _, batch = default_demo
    submissions = bodies(batch, "submit_pledge")
    indicators = [i for body in submissions for i in body["indicators"]]
    assert any(not body["indicators"] for body in submissions)  # not measurable
    assert any("baseline" not in i for i in indicators)  # no baseline
    assert any(not i["targets"] for i in indicators)  # no target
    reported = {target for name, _, _, target in batch.commands if name == "report_progress"}
    closed = [(t, b) for n, _, b, t in batch.commands if n == "close_pledge"]
    fulfilled_silently = [t for t, b in closed if b["outcome"] == "fulfilled" and t not in reported]
    assert fulfilled_silently
    ended = {t for t, _ in closed} | {
        target for name, _, _, target in batch.commands if name == "withdraw_pledge"
    }
    overdue_silent = [
        body
        for body, (_, _, _, target) in zip(
            submissions,
            [c for c in batch.commands if c[0] == "submit_pledge"],
            strict=True,
        )
        if date.fromisoformat(body["ends_on"]) < TODAY and target not in reported
    ]
    assert overdue_silent
    assert ended


def first_number_progress(submission: dict[str, Any], report: dict[str, Any]) -> float | None:
    """How far the report's first indicator got from its baseline to its target, if both are
    numbers the pledge declared."""
    indicator = submission["indicators"][0] if submission["indicators"] else None
    if indicator is None or indicator["measure"] == "qualitative":
        return None
    if "baseline" not in indicator or not indicator["targets"]:
        return None
    baseline = float(indicator["baseline"]["value"])
    target = float(indicator["targets"][-1]["value"])
    value = next(
        float(o["value"]) for o in report["observations"] if o["indicator_id"] == indicator["id"]
    )
    return (value - baseline) / (target - baseline)


def test_closures_agree_with_the_last_report_but_for_the_flagged_ones() -> None:
    _, batch = run_schedule(1000, 11)
    last_report: dict[str | None, dict[str, Any]] = {}
    agreeing: Counter[str] = Counter()
    fulfilled_below_target = 0
    for name, _, body, target in batch.commands:
        if name == "report_progress":
            last_report[target] = body
        if name != "close_pledge" or target not in last_report:
            continue
        done = first_number_progress(batch.submitted[target], last_report[target])
        if done is None or abs(done - 1) < 0.02 or abs(done - 0.5) < 0.02:
            continue  # nothing to compare, or too close to a boundary for rounded values
        expected = (
            "fulfilled" if done >= 1 else "partially_fulfilled" if done >= 0.5 else "not_fulfilled"
        )
        if body["outcome"] == expected:
            agreeing[expected] += 1
        else:
            assert body["outcome"] == "fulfilled", (target, done, body)
            fulfilled_below_target += 1
    assert fulfilled_below_target >= 1
    assert set(agreeing) == {"fulfilled", "partially_fulfilled", "not_fulfilled"}
    assert fulfilled_below_target < sum(agreeing.values()) / 5


def test_cities_pledge_one_and_a_half_times_on_average_with_a_long_tail() -> None:
    _, batch = run_schedule(3000, 5)
    registered = len(bodies(batch, "register_city"))
    per_city = Counter(city for body in bodies(batch, "submit_pledge") for city in body["cities"])
    pledges = len(bodies(batch, "submit_pledge"))
    assert 1.3 <= pledges / registered <= 1.7
    assert max(per_city.values()) >= 10
    assert sum(1 for count in per_city.values() if count == 1) > len(per_city) / 4
    countries = {body["country"] for body in bodies(batch, "register_city")}
    assert len(countries) >= 30


@pytest.mark.parametrize("reading", ["0", "0.0", "0.5", "1", "9", "10", "12.50", "1234", "-3"])
def test_a_demo_correction_never_restates_the_figure_it_corrects(reading: str) -> None:
    # The ledger refuses a correction that changes nothing ("the observation already reads
    # so"): a demo of 170,000 pledges met a reading of 0, whose correction used to be 0 again.
    value = Decimal(reading)
    corrected = corrected_reading(value)
    assert corrected != value
    assert corrected >= 0
