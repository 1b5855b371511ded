"""The pledge fold: everything known of a pledge, folded from its events, and its stored form.

Pure: no database, no clock. The same fold serves the SQL projection (which keeps each view as
a JSON document beside the columns it is queried by), the as-of queries and the offline
recomputation of roll-ups. The lifecycle itself (status, stage, outcome) is the domain's own
``evolve_pledge``; this module only adds what a reader needs around it: who and when, the latest
reading of each indicator, the last validation decision, links and corrections.
``projections.pledge_page`` turns a view into the page that leaves the process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, cast

from domain.events import (
    Criterion,
    Decision,
    ErratumRecorded,
    ExternalIdAdded,
    ExternalIdRemoved,
    Indicator,
    IndicatorPoint,
    MatchAccepted,
    MatchDeclined,
    MatchEnded,
    MatchOffered,
    ObservationCorrected,
    Payload,
    PledgeAmended,
    PledgeChangesRequested,
    PledgeClosed,
    PledgeContent,
    PledgeMatched,
    PledgeSubmitted,
    PledgeTranslated,
    PledgeValidated,
    PledgeWithdrawn,
    ProgressReported,
    TranslatedField,
)
from domain.pledge import ENDED, PledgeState, evolve_pledge
from domain.values import Language
from ledger.envelope import Envelope
from projections.decimals import EXACT, ratio
from projections.envelopes import recorded_on
from projections.sealed import sealed_decoder

CountryOf = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Reading:
    """The latest observation of one indicator, and the progress report it came from; if an
    erratum corrected it, ``value`` and ``comment`` are the corrected ones and ``reported_value``
    what the report said."""

    value: str | None
    on: date
    comment: str
    event_id: str
    corrected_by: str | None = None
    reported_value: str | None = None


@dataclass(frozen=True, slots=True)
class Vetting:
    """The latest validation decision."""

    decision: Decision
    criteria: tuple[Criterion, ...]
    note: str
    event_id: str
    recorded_at: str
    recorded_by: str


@dataclass(frozen=True, slots=True)
class Link:
    """A supporting pledge or a funder matched to the pledge."""

    kind: Literal["pledge", "funder"]
    supporting_pledge_id: str | None
    funder: str | None
    note: str
    event_id: str
    recorded_at: str


MatchStatus = Literal["offered", "accepted", "declined", "ended", "linked"]


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """A two-way match hosted on this pledge's stream (ADR 0015); a one-sided
    ``pledge.matched`` link from before is ``linked``, its id its event's."""

    match_id: str
    kind: Literal["pledge", "funder"]
    offered_by: str | None
    supporting_pledge_id: str | None
    funder: str | None
    amount: str | None
    currency: str | None
    note: str
    status: MatchStatus
    offered_at: str
    updated_at: str
    answer: str
    """The acceptance's note, or the reason it was declined or ended."""


@dataclass(frozen=True, slots=True)
class ObservationCorrection:
    """An erratum that superseded one observation with a corrected reading."""

    progress_event_id: str
    indicator_id: str
    on: date
    previous_value: str | None
    value: str | None
    comment: str
    reason: str
    event_id: str
    recorded_at: str


@dataclass(frozen=True, slots=True)
class Correction:
    """An erratum: a note on an earlier event of the pledge."""

    corrects_event_id: str
    note: str
    event_id: str
    recorded_at: str


@dataclass(frozen=True, slots=True)
class Translation:
    """The current translation of one text of the pledge into one language."""

    field: TranslatedField
    """``title``, ``description`` or ``narrative`` (of the report ``progress_event_id``)."""
    progress_event_id: str | None
    language: Language
    text: str
    event_id: str
    recorded_at: str
    recorded_by: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.field, self.progress_event_id or "", self.language)


@dataclass(frozen=True, slots=True)
class HeldExternalId:
    """An id the pledge has elsewhere, and the event that recorded it."""

    scheme: str
    value: str
    event_id: str
    recorded_at: str


@dataclass(frozen=True, slots=True)
class PledgeView:
    state: PledgeState
    content_json: dict[str, Any]
    """``state.content`` as JSON: the submitted payload's own, or the amended content's dump."""
    countries: tuple[str, ...]
    version: int
    submitted_at: str
    submitted_by: str
    updated_at: str
    reports: int = 0
    last_reported_on: date | None = None
    readings: tuple[tuple[str, Reading], ...] = ()
    vetting: Vetting | None = None
    links: tuple[Link, ...] = ()
    corrections: tuple[Correction, ...] = ()
    end_note: str = ""
    translations: tuple[Translation, ...] = ()
    """Current translations, in (field, report, language) order; an amendment of a text
    retires its translations (they translated a text the pledge no longer has)."""
    external_ids: tuple[HeldExternalId, ...] = ()
    """In (scheme, value) order."""
    matches: tuple[MatchRecord, ...] = ()
    observation_corrections: tuple[ObservationCorrection, ...] = ()
    support_needed: str = ""

    @property
    def pledge_id(self) -> str:
        return self.state.pledge_id

    @property
    def network_id(self) -> str:
        return self.state.network_id

    @property
    def is_open(self) -> bool:
        return self.state.status not in ENDED

    @property
    def submitted_on(self) -> date:
        return date.fromisoformat(self.submitted_at[:10])

    @property
    def freshness_anchor(self) -> date:
        """The latest report's date or, until the first report, the submission's."""
        return self.last_reported_on or self.submitted_on


def countries_of(cities: tuple[str, ...], country_of: CountryOf) -> tuple[str, ...]:
    return tuple(sorted({c for c in map(country_of, cities) if c is not None}))


CONTENT_NOT_KEPT: dict[str, Any] = {}
"""``PledgeView.content_json`` of a fold that keeps no JSON of the content (``evolve_view``'s
``keep_json``): compared by identity, never written to a table."""


def evolve_view(
    view: PledgeView | None,
    envelope: Envelope,
    payload: Payload,
    country_of: CountryOf,
    *,
    keep_json: bool = True,
) -> PledgeView:
    """Fold one pledge event into the pledge's view (lifecycle rules: ``evolve_pledge``).

    The hot path of every rebuild: one exact-type dispatch and one constructor call per event.
    ``keep_json=False`` leaves the content's JSON out (``CONTENT_NOT_KEPT``), for folds that
    never write or serve a view (reports, roll-ups as of a day): it is the parsed submission
    held beside its model, a fifth of such a fold's memory.
    """
    state = evolve_pledge(view.state if view is not None else None, payload)
    kind = type(payload)
    if kind is PledgeSubmitted or view is None:
        return PledgeView(
            state=state,
            content_json=envelope.payload["content"] if keep_json else CONTENT_NOT_KEPT,
            countries=countries_of(state.content.cities, country_of),
            version=envelope.stream_version,
            submitted_at=envelope.recorded_at,
            submitted_by=envelope.recorded_by,
            updated_at=envelope.recorded_at,
        )
    content_json = view.content_json
    countries = view.countries
    reports = view.reports
    last_reported_on = view.last_reported_on
    readings = view.readings
    vetting = view.vetting
    links = view.links
    corrections = view.corrections
    end_note = view.end_note
    translations = view.translations
    held = view.external_ids
    matches = view.matches
    observation_corrections = view.observation_corrections
    support_needed = view.support_needed
    if kind is ProgressReported:
        report = cast(ProgressReported, payload)
        reports += 1
        last_reported_on = recorded_on(envelope)
        if report.observations:
            readings = _read(readings, report, envelope.event_id)
        if state.last_period_end == report.period.end:
            # The report of the latest period says what support the pledge needs now (as it
            # sets the stage); a late report on an older period does not.
            support_needed = report.support_needed
    elif kind is PledgeValidated or kind is PledgeChangesRequested:
        vetted = cast(PledgeValidated | PledgeChangesRequested, payload)
        vetting = Vetting(
            "validated" if kind is PledgeValidated else "changes_requested",
            tuple(vetted.criteria),
            vetted.note,
            envelope.event_id,
            envelope.recorded_at,
            envelope.recorded_by,
        )
    elif kind is PledgeAmended:
        changes = cast(PledgeAmended, payload).changes
        if content_json is not CONTENT_NOT_KEPT:
            content_json = state.content.model_dump(mode="json")
        if changes.cities is not None:
            countries = countries_of(state.content.cities, country_of)
        retired = {name for name in ("title", "description") if getattr(changes, name) is not None}
        if retired and translations:
            translations = tuple(t for t in translations if t.field not in retired)
    elif kind is PledgeTranslated:
        translated = cast(PledgeTranslated, payload)
        translation = Translation(
            translated.field,
            translated.progress_event_id,
            translated.language,
            translated.text,
            envelope.event_id,
            envelope.recorded_at,
            envelope.recorded_by,
        )
        kept = {t.key: t for t in translations}
        kept[translation.key] = translation
        translations = tuple(kept[k] for k in sorted(kept))
    elif kind is ExternalIdAdded:
        added = cast(ExternalIdAdded, payload)
        entry = HeldExternalId(added.scheme, added.value, envelope.event_id, envelope.recorded_at)
        held = tuple(sorted((*held, entry), key=lambda x: (x.scheme, x.value)))
    elif kind is ExternalIdRemoved:
        removed = cast(ExternalIdRemoved, payload)
        held = tuple(x for x in held if (x.scheme, x.value) != (removed.scheme, removed.value))
    elif kind is PledgeMatched:
        match = cast(PledgeMatched, payload)
        link = Link(
            match.kind,
            match.supporting_pledge_id,
            match.funder,
            match.note,
            envelope.event_id,
            envelope.recorded_at,
        )
        links = (*links, link)
    elif kind is ErratumRecorded:
        erratum = cast(ErratumRecorded, payload)
        correction = Correction(
            erratum.corrects_event_id, erratum.note, envelope.event_id, envelope.recorded_at
        )
        corrections = (*corrections, correction)
    elif kind is MatchOffered:
        offer = cast(MatchOffered, payload)
        matches = (
            *matches,
            MatchRecord(
                offer.match_id, offer.kind, offer.offered_by, offer.supporting_pledge_id,
                offer.funder, offer.amount, offer.currency, offer.note, "offered",
                envelope.recorded_at, envelope.recorded_at, "",
            ),
        )  # fmt: skip
    elif kind is MatchAccepted or kind is MatchDeclined or kind is MatchEnded:
        answer = cast(MatchAccepted | MatchDeclined | MatchEnded, payload)
        matches = _answered(matches, answer, envelope)
    elif kind is ObservationCorrected:
        fix = cast(ObservationCorrected, payload)
        observation_corrections = (
            *observation_corrections,
            ObservationCorrection(
                fix.progress_event_id, fix.indicator_id, fix.date, fix.previous_value, fix.value,
                fix.comment, fix.reason, envelope.event_id, envelope.recorded_at,
            ),
        )  # fmt: skip
        readings = _corrected(readings, fix, envelope.event_id)
    elif kind is PledgeWithdrawn:
        end_note = cast(PledgeWithdrawn, payload).reason
        matches = _ended_with_pledge(matches, envelope.recorded_at, end_note)
    elif kind is PledgeClosed:
        end_note = cast(PledgeClosed, payload).note
        matches = _ended_with_pledge(matches, envelope.recorded_at, "the pledge was closed")
    return PledgeView(
        state,
        content_json,
        countries,
        envelope.stream_version,
        view.submitted_at,
        view.submitted_by,
        envelope.recorded_at,
        reports,
        last_reported_on,
        readings,
        vetting,
        links,
        corrections,
        end_note,
        translations,
        held,
        matches,
        observation_corrections,
        support_needed,
    )


def _answered(
    matches: tuple[MatchRecord, ...],
    answer: MatchAccepted | MatchDeclined | MatchEnded,
    envelope: Envelope,
) -> tuple[MatchRecord, ...]:
    status: MatchStatus
    if isinstance(answer, MatchAccepted):
        status, said = "accepted", answer.note
    elif isinstance(answer, MatchDeclined):
        status, said = "declined", answer.reason
    else:
        status, said = "ended", answer.reason
    return tuple(
        _with(m, status, envelope.recorded_at, said) if m.match_id == answer.match_id else m
        for m in matches
    )


def _with(match: MatchRecord, status: MatchStatus, at: str, answer: str) -> MatchRecord:
    return MatchRecord(
        match.match_id, match.kind, match.offered_by, match.supporting_pledge_id, match.funder,
        match.amount, match.currency, match.note, status, match.offered_at, at, answer,
    )  # fmt: skip


def _ended_with_pledge(
    matches: tuple[MatchRecord, ...], at: str, why: str
) -> tuple[MatchRecord, ...]:
    """The domain's rule (``domain.pledge``): an ended pledge ends its live matches."""
    return tuple(
        _with(m, "ended", at, why) if m.status in ("offered", "accepted") else m for m in matches
    )


def _corrected(
    readings: tuple[tuple[str, Reading], ...], fix: ObservationCorrected, event_id: str
) -> tuple[tuple[str, Reading], ...]:
    """The latest readings once an erratum corrected an observation: it changes the reading of
    its indicator only if that observation is still the latest one."""
    latest = dict(readings)
    known = latest.get(fix.indicator_id)
    if known is None or known.event_id != fix.progress_event_id or known.on != fix.date:
        return readings
    reported = known.reported_value if known.corrected_by is not None else known.value
    latest[fix.indicator_id] = Reading(
        fix.value, known.on, fix.comment, known.event_id, event_id, reported
    )
    return tuple(sorted(latest.items()))


def _read(
    readings: tuple[tuple[str, Reading], ...], report: ProgressReported, event_id: str
) -> tuple[tuple[str, Reading], ...]:
    """The latest reading of each indicator once ``report``'s observations are in."""
    latest = dict(readings)
    for observation in report.observations:
        known = latest.get(observation.indicator_id)
        if known is None or observation.date >= known.on:
            latest[observation.indicator_id] = Reading(
                observation.value, observation.date, observation.comment, event_id
            )
    return tuple(sorted(latest.items()))


# --- the stored document ---------------------------------------------------------------------


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text is not None else None


def view_document(view: PledgeView) -> dict[str, Any]:
    """The view as JSON-ready data, as the pledges table keeps it (``view_from_document``
    inverts it)."""
    if view.content_json is CONTENT_NOT_KEPT:
        raise ValueError(f"pledge {view.pledge_id} was folded without its content's JSON")
    state = view.state
    vetting = view.vetting
    return {
        "pledge_id": state.pledge_id,
        "network_id": state.network_id,
        "content": view.content_json,
        "status": state.status,
        "stage": state.stage,
        "outcome": state.outcome,
        "last_period_end": _iso(state.last_period_end),
        "ever_validated": state.ever_validated,
        "countries": list(view.countries),
        "version": view.version,
        "submitted_at": view.submitted_at,
        "submitted_by": view.submitted_by,
        "updated_at": view.updated_at,
        "reports": view.reports,
        "last_reported_on": _iso(view.last_reported_on),
        "readings": [
            [key, r.value, r.on.isoformat(), r.comment, r.event_id]
            + ([r.corrected_by, r.reported_value] if r.corrected_by is not None else [])
            for key, r in view.readings
        ],
        "vetting": None
        if vetting is None
        else [
            vetting.decision,
            list(vetting.criteria),
            vetting.note,
            vetting.event_id,
            vetting.recorded_at,
            vetting.recorded_by,
        ],
        "links": [
            [x.kind, x.supporting_pledge_id, x.funder, x.note, x.event_id, x.recorded_at]
            for x in view.links
        ],
        "corrections": [
            [x.corrects_event_id, x.note, x.event_id, x.recorded_at] for x in view.corrections
        ],
        "end_note": view.end_note,
        # Only when there are some: the documents of pledges without any stay as they were.
        **(
            {
                "translations": [
                    [
                        t.field,
                        t.progress_event_id,
                        t.language,
                        t.text,
                        t.event_id,
                        t.recorded_at,
                        t.recorded_by,
                    ]
                    for t in view.translations
                ]
            }
            if view.translations
            else {}
        ),
        **(
            {
                "external_ids": [
                    [x.scheme, x.value, x.event_id, x.recorded_at] for x in view.external_ids
                ]
            }
            if view.external_ids
            else {}
        ),
        "matches": [_match_row(m) for m in view.matches],
        "observation_corrections": [_correction_row(c) for c in view.observation_corrections],
        "support_needed": view.support_needed,
    }


def _match_row(m: MatchRecord) -> list[str | None]:
    return [
        m.match_id, m.kind, m.offered_by, m.supporting_pledge_id, m.funder, m.amount, m.currency,
        m.note, m.status, m.offered_at, m.updated_at, m.answer,
    ]  # fmt: skip


def _correction_row(c: ObservationCorrection) -> list[str | None]:
    return [
        c.progress_event_id, c.indicator_id, c.on.isoformat(), c.previous_value, c.value,
        c.comment, c.reason, c.event_id, c.recorded_at,
    ]  # fmt: skip


_stored_content = sealed_decoder(PledgeContent)
"""The pledges table keeps the content a validated model was dumped to: decoded, not validated."""


def view_from_document(document: dict[str, Any]) -> PledgeView:
    vetting = document["vetting"]
    return PledgeView(
        state=PledgeState(
            pledge_id=document["pledge_id"],
            network_id=document["network_id"],
            content=_stored_content(document["content"]),
            status=document["status"],
            stage=document["stage"],
            outcome=document["outcome"],
            last_period_end=_day(document["last_period_end"]),
            ever_validated=document["ever_validated"],
        ),
        content_json=document["content"],
        countries=tuple(document["countries"]),
        version=document["version"],
        submitted_at=document["submitted_at"],
        submitted_by=document["submitted_by"],
        updated_at=document["updated_at"],
        reports=document["reports"],
        last_reported_on=_day(document["last_reported_on"]),
        readings=tuple(
            (key, Reading(value, date.fromisoformat(on), comment, event_id, *corrected))
            for key, value, on, comment, event_id, *corrected in document["readings"]
        ),
        vetting=None
        if vetting is None
        else Vetting(vetting[0], tuple(vetting[1]), vetting[2], vetting[3], vetting[4], vetting[5]),
        links=tuple(Link(*x) for x in document["links"]),
        corrections=tuple(Correction(*x) for x in document["corrections"]),
        end_note=document["end_note"],
        translations=tuple(Translation(*x) for x in document.get("translations", ())),
        external_ids=tuple(HeldExternalId(*x) for x in document.get("external_ids", ())),
        # Documents stored before two-way matching and errata on figures have none of these.
        matches=tuple(MatchRecord(*m) for m in document.get("matches", ())),
        observation_corrections=tuple(
            ObservationCorrection(
                c[0], c[1], date.fromisoformat(c[2]), c[3], c[4], c[5], c[6], c[7], c[8]
            )
            for c in document.get("observation_corrections", ())
        ),
        support_needed=document.get("support_needed", ""),
    )


# --- indicators against baseline and targets ------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorStanding:
    """One indicator of a pledge: its latest reading against its baseline and final target."""

    indicator: Indicator
    latest: Reading | None
    target: IndicatorPoint | None
    progress: Decimal | None
    met_target: bool | None


def indicator_standings(
    view: PledgeView, *, with_progress: bool = True
) -> tuple[IndicatorStanding, ...]:
    """Each indicator against its final target (``with_progress``: and its progress fraction)."""
    readings = dict(view.readings)
    standings = []
    for indicator in view.state.content.indicators:
        latest = readings.get(indicator.id)
        # Targets are in strictly increasing date order (a domain rule): the last is the final.
        target = indicator.targets[-1] if indicator.targets else None
        progress: Decimal | None = None
        met: bool | None = None
        latest_value = Decimal(latest.value) if latest and latest.value is not None else None
        target_value = Decimal(target.value) if target and target.value is not None else None
        if indicator.measure != "qualitative" and latest_value is not None:
            if target_value is not None:
                reached = EXACT.subtract(latest_value, target_value)
                met = reached >= 0 if indicator.ascending else reached <= 0
            baseline = indicator.baseline
            if (
                with_progress
                and baseline is not None
                and baseline.value is not None
                and target_value is not None
            ):
                start = Decimal(baseline.value)
                span = EXACT.subtract(target_value, start)
                if span != 0:
                    progress = ratio(EXACT.subtract(latest_value, start), span)
        standings.append(IndicatorStanding(indicator, latest, target, progress, met))
    return tuple(standings)
