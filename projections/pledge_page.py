"""A pledge's page: what ``pledge`` answers, built from the folded view on a given day.

The view (``projections.pledge_fold``) holds facts; the page adds what depends on the day it is
read (reporting freshness) and the indicators' standing against their targets, in the
``PledgeOut`` shape that leaves the process.
"""

from __future__ import annotations

from datetime import date

from projections.decimals import decimal_text
from projections.freshness import freshness_cutoff, is_silent, reported_within_window
from projections.models import (
    ErratumOut,
    FreshnessOut,
    IndicatorOut,
    MatchOut,
    PledgeOut,
    ReadingOut,
    ValidationOut,
)
from projections.pledge_fold import PledgeView, indicator_standings
from projections.quality import quality_flags


def freshness_of(view: PledgeView, today: date, freshness_months: int) -> FreshnessOut:
    cutoff = freshness_cutoff(today, freshness_months)
    return FreshnessOut(
        today=today,
        cutoff=cutoff,
        last_reported_on=view.last_reported_on,
        anchor=view.freshness_anchor,
        reported_within_window=view.is_open
        and reported_within_window(view.last_reported_on, cutoff),
        silent=view.is_open and is_silent(view.freshness_anchor, cutoff),
    )


def pledge_page(view: PledgeView, today: date, freshness_months: int) -> PledgeOut:
    state = view.state
    content = state.content
    vetting = view.vetting
    return PledgeOut(
        pledge_id=state.pledge_id,
        network_id=state.network_id,
        cities=content.cities,
        countries=view.countries,
        title=dict(content.title),
        description=dict(content.description),
        gcm_objectives=content.gcm_objectives,
        gcr_areas=content.gcr_areas,
        sdg_targets=content.sdg_targets,
        priority_areas=content.priority_areas,
        starts_on=content.starts_on,
        ends_on=content.ends_on,
        status=state.status,
        stage=state.stage,
        outcome=state.outcome,
        ever_validated=state.ever_validated,
        validation=None
        if vetting is None
        else ValidationOut(
            decision=vetting.decision,
            criteria=vetting.criteria,
            note=vetting.note,
            event_id=vetting.event_id,
            recorded_at=vetting.recorded_at,
            recorded_by=vetting.recorded_by,
        ),
        indicators=tuple(
            IndicatorOut(
                id=s.indicator.id,
                title=dict(s.indicator.title),
                measure=s.indicator.measure,
                ascending=s.indicator.ascending,
                baseline=s.indicator.baseline,
                targets=s.indicator.targets,
                latest=None
                if s.latest is None
                else ReadingOut(
                    value=s.latest.value,
                    date=s.latest.on,
                    comment=s.latest.comment,
                    event_id=s.latest.event_id,
                ),
                progress=None if s.progress is None else decimal_text(s.progress),
                met_target=s.met_target,
            )
            for s in indicator_standings(view)
        ),
        matches=tuple(
            MatchOut(
                kind=x.kind,
                supporting_pledge_id=x.supporting_pledge_id,
                funder=x.funder,
                note=x.note,
                event_id=x.event_id,
                recorded_at=x.recorded_at,
            )
            for x in view.links
        ),
        errata=tuple(
            ErratumOut(
                corrects_event_id=x.corrects_event_id,
                note=x.note,
                event_id=x.event_id,
                recorded_at=x.recorded_at,
            )
            for x in view.corrections
        ),
        end_note=view.end_note,
        reports=view.reports,
        last_period_end=state.last_period_end,
        freshness=freshness_of(view, today, freshness_months),
        flags=quality_flags(view, today),
        version=view.version,
        submitted_at=view.submitted_at,
        submitted_by=view.submitted_by,
        updated_at=view.updated_at,
    )
