"""Quality flags are derived from a pledge's view and a day: never stored, gained and lost."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput, NotFound, NotPermitted
from domain.events import PledgeAmended, PledgeChanges, PledgeClosed, ProgressReported
from domain.keys import OPERATOR
from domain.principal import Principal
from domain.publication import PublishReport, publish_report
from projections.as_of import fold_log
from projections.pledge_fold import PledgeView
from projections.quality import quality_flags
from tests.unit.test_projections_fold import Log, indicator

PLEDGE = "00000000-0000-4000-8000-0000000000aa"


def view_of(log: Log, day: date | None = None) -> PledgeView:
    return fold_log(log.envelopes, day).state.pledges[PLEDGE]


def report(value: str, on: date) -> ProgressReported:
    return ProgressReported.model_validate(
        {
            "period": {"start": "2024-01-01", "end": on.isoformat()},
            "stage": "completed",
            "observations": [{"indicator_id": "people-served", "value": value, "date": on}],
        }
    )


def test_a_pledge_gains_target_passed_unreported_when_its_target_date_passes() -> None:
    log = Log().registry()
    log.submit(PLEDGE)  # target 2027-12-31
    view = view_of(log)
    assert "target_passed_unreported" not in quality_flags(view, date(2027, 12, 31))
    assert "target_passed_unreported" in quality_flags(view, date(2028, 1, 1))


def test_a_report_after_the_target_date_clears_target_passed_unreported() -> None:
    log = Log().registry()
    log.submit(PLEDGE)
    log.on(date(2028, 2, 1)).pledge(PLEDGE, report("100", date(2028, 1, 31)))
    assert "target_passed_unreported" not in quality_flags(view_of(log), date(2028, 3, 1))


def test_closing_as_fulfilled_below_target_flags_it_and_meeting_the_target_does_not() -> None:
    below = Log().registry()
    below.submit(PLEDGE)
    below.on(date(2024, 6, 1)).pledge(PLEDGE, report("4999", date(2024, 5, 31)))
    open_flags = quality_flags(view_of(below), date(2024, 6, 2))
    assert "fulfilled_below_target" not in open_flags
    below.pledge(PLEDGE, PledgeClosed(outcome="fulfilled"))
    assert "fulfilled_below_target" in quality_flags(view_of(below), date(2024, 6, 2))

    met = Log().registry()
    met.submit(PLEDGE)
    met.on(date(2024, 6, 1)).pledge(PLEDGE, report("5000", date(2024, 5, 31)))
    met.pledge(PLEDGE, PledgeClosed(outcome="fulfilled"))
    assert quality_flags(view_of(met), date(2024, 6, 2)) == ()


def test_closing_as_fulfilled_with_no_report_is_flagged_and_an_as_of_day_before_is_not() -> None:
    log = Log().registry()
    log.submit(PLEDGE)
    log.on(date(2024, 9, 1)).pledge(PLEDGE, PledgeClosed(outcome="fulfilled"))
    assert "fulfilled_without_report" in quality_flags(view_of(log), date(2024, 9, 1))
    before = view_of(log, date(2024, 8, 31))
    assert "fulfilled_without_report" not in quality_flags(before, date(2024, 8, 31))


def test_an_amendment_adding_a_baseline_clears_missing_baseline() -> None:
    log = Log().registry()
    log.submit(PLEDGE, indicators=[indicator(baseline=None)])
    assert "missing_baseline" in quality_flags(view_of(log), date(2024, 2, 1))
    changes = PledgeChanges.model_validate({"indicators": [indicator()]})
    log.pledge(PLEDGE, PledgeAmended(changes=changes, reason="Baseline found", material=True))
    assert "missing_baseline" not in quality_flags(view_of(log), date(2024, 2, 1))


def test_smart_gaps_name_what_is_missing() -> None:
    none = Log().registry()
    none.submit(PLEDGE, indicators=[])
    assert "no_indicator" in quality_flags(view_of(none), date(2024, 2, 1))
    qualitative = Log().registry()
    qualitative.submit(
        PLEDGE, indicators=[indicator(measure="qualitative", baseline=None, target=None)]
    )
    assert "qualitative_only" in quality_flags(view_of(qualitative), date(2024, 2, 1))
    untargeted = Log().registry()
    untargeted.submit(PLEDGE, indicators=[indicator(target=None)])
    assert "no_target" in quality_flags(view_of(untargeted), date(2024, 2, 1))


def test_a_withdrawn_or_closed_pledge_is_never_overdue() -> None:
    log = Log().registry()
    log.submit(PLEDGE)
    log.on(date(2025, 1, 1)).pledge(PLEDGE, PledgeClosed(outcome="not_fulfilled"))
    assert "target_passed_unreported" not in quality_flags(view_of(log), date(2030, 1, 1))


# --- publication rules (domain) ---------------------------------------------------------------


def publication(**overrides: object) -> PublishReport:
    body: dict[str, object] = {
        "report_sha256": "a" * 64,
        "output_sha256": "b" * 64,
        "format": "md",
        "as_of": "2025-12-31",
        "framework": "all",
        "lang": "en",
        "freshness_months": 12,
        "tree_size": 10,
        "checkpoint_tree_size": 10,
    }
    body.update(overrides)
    return PublishReport.model_validate(body)


TODAY = date(2026, 1, 1)


def test_only_an_admin_publishes_a_report() -> None:
    validator = Principal("validator-1", "validator")
    with pytest.raises(NotPermitted):
        publish_report(publication(), None, None, validator, TODAY)
    assert publish_report(publication(), None, None, OPERATOR, TODAY)


def test_a_report_resting_on_no_covering_checkpoint_is_not_published() -> None:
    for checkpoint in (None, 9):
        with pytest.raises(InvalidInput) as refused:
            publish_report(
                publication(checkpoint_tree_size=checkpoint), None, None, OPERATOR, TODAY
            )
        assert refused.value.field == "checkpoint_tree_size"


def test_a_report_as_of_a_day_not_over_is_not_published() -> None:
    with pytest.raises(InvalidInput) as refused:
        publish_report(publication(as_of="2026-01-01"), None, None, OPERATOR, TODAY)
    assert refused.value.field == "as_of"


def test_a_report_on_an_unregistered_network_is_not_published() -> None:
    with pytest.raises(NotFound):
        publish_report(publication(network_id="nowhere"), None, None, OPERATOR, TODAY)
