"""A pledge's page: what ``pledge`` answers, built from the folded view on a given day.

The view (``projections.pledge_fold``) holds facts; the page adds what depends on the day it is
read (reporting freshness) and the indicators' standing against their targets, in the
``PledgeOut`` shape that leaves the process.
"""

from __future__ import annotations

from datetime import date

from domain.external_ids import external_id_key
from projections.decimals import decimal_text
from projections.freshness import freshness_cutoff, is_silent, reported_within_window
from projections.models import (
    ErratumOut,
    ExternalIdOut,
    FreshnessOut,
    IndicatorOut,
    MatchOut,
    ObservationCorrectionOut,
    PledgeOut,
    ReadingOut,
    TranslationOut,
    ValidationOut,
)
from projections.pledge_fold import MatchRecord, PledgeView, indicator_standings
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


def match_out(record: MatchRecord, host_pledge_id: str, side: str) -> MatchOut:
    return MatchOut(
        kind=record.kind,
        supporting_pledge_id=record.supporting_pledge_id,
        funder=record.funder,
        note=record.note,
        event_id=record.match_id,
        recorded_at=record.offered_at,
        match_id=record.match_id,
        status=record.status,
        host_pledge_id=host_pledge_id,
        side=side,
        offered_by=record.offered_by,
        amount=record.amount,
        currency=record.currency,
        answer=record.answer,
        updated_at=record.updated_at,
    )


def matches_supported_by(hosts: list[PledgeView], pledge_id: str) -> tuple[MatchOut, ...]:
    """The matches in which ``pledge_id`` supports one of the ``hosts`` (their pages' own)."""
    return tuple(
        match_out(m, host.pledge_id, "supporter")
        for host in hosts
        for m in host.matches
        if m.supporting_pledge_id == pledge_id
    )


def pledge_page(
    view: PledgeView,
    today: date,
    freshness_months: int,
    supported: tuple[MatchOut, ...] = (),
) -> PledgeOut:
    """The page of ``view``; ``supported``: the matches other pledges host with it as their
    supporting pledge (``matches_supported_by``)."""
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
        gcm_principles=content.gcm_principles,
        nua_paragraphs=content.nua_paragraphs,
        calls=content.calls,
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
                    corrected_by=s.latest.corrected_by,
                    reported_value=s.latest.reported_value,
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
                match_id=x.event_id,
                status="linked",
                host_pledge_id=state.pledge_id,
                side="host",
                offered_by=None,
                amount=None,
                currency=None,
                answer="",
                updated_at=x.recorded_at,
            )
            for x in view.links
        )
        + tuple(match_out(m, state.pledge_id, "host") for m in view.matches)
        + supported,
        errata=tuple(
            ErratumOut(
                corrects_event_id=x.corrects_event_id,
                note=x.note,
                event_id=x.event_id,
                recorded_at=x.recorded_at,
            )
            for x in view.corrections
        ),
        observation_corrections=tuple(
            ObservationCorrectionOut(
                progress_event_id=c.progress_event_id,
                indicator_id=c.indicator_id,
                date=c.on,
                previous_value=c.previous_value,
                value=c.value,
                comment=c.comment,
                reason=c.reason,
                event_id=c.event_id,
                recorded_at=c.recorded_at,
            )
            for c in view.observation_corrections
        ),
        support_needed=view.support_needed,
        end_note=view.end_note,
        reports=view.reports,
        last_period_end=state.last_period_end,
        freshness=freshness_of(view, today, freshness_months),
        flags=quality_flags(view, today),
        version=view.version,
        submitted_at=view.submitted_at,
        submitted_by=view.submitted_by,
        updated_at=view.updated_at,
        translations=tuple(
            TranslationOut(
                field=t.field,
                progress_event_id=t.progress_event_id,
                language=t.language,
                text=t.text,
                event_id=t.event_id,
                recorded_at=t.recorded_at,
                recorded_by=t.recorded_by,
            )
            for t in view.translations
        ),
        external_ids=tuple(
            ExternalIdOut(
                scheme=x.scheme,
                value=x.value,
                id=external_id_key(x.scheme, x.value),
                event_id=x.event_id,
                recorded_at=x.recorded_at,
            )
            for x in view.external_ids
        ),
    )
