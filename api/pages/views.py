"""View models: what each page shows, built from the projections' ``XxxOut`` read models.

The templates read these and nothing else, so a page learns about a field in one place: a new
field of a read model (external ids, quality flags, translations) is one addition to a builder
here and one block in a template, shown only when it has something. Nothing here queries: the
routes read the projections (the same functions as ``/api/v1``) and hand the results in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from api.pages.charts import BarChart, LineChart, Reading, bar_chart, line_chart
from api.pages.i18n import LANGUAGE_NAMES, Messages, Shown, shown
from domain.events import IndicatorPoint
from domain.pledge import STATUSES
from domain.taxonomies import reference_taxonomies
from domain.values import Language
from ledger.envelope import Envelope
from projections import (
    CityOut,
    IndicatorOut,
    NetworkOut,
    PledgeOut,
    PledgeSummaryOut,
    RollupOut,
    SignatureOut,
    TimelineEntryOut,
)
from projections.localize import localize_pledge_text
from projections.report_text import word

RECEIPT_PATH = "/api/v1/events/{event_id}/receipt"
ERRATUM_TYPE = "pledge.erratum_recorded"
AMENDMENT_TYPE = "pledge.amended"
STAGES = ("not_started", "planning", "in_progress", "on_hold", "completed")


def page_url(path: str, params: Mapping[str, object | None]) -> str:
    """``path`` with the query of every parameter given a value (empty ones are left out), so
    that a filtered page's address is short and can be shared as it is."""
    query = [(k, str(v)) for k, v in params.items() if v is not None and v != "" and v is not False]
    return f"{path}?{urlencode(query)}" if query else path


def receipt_href(event_id: str) -> str:
    return RECEIPT_PATH.format(event_id=event_id)


@dataclass(frozen=True, slots=True)
class Named:
    """A registry entry (network, city) as a link with its name in the reader's language."""

    id: str
    name: Shown
    href: str


def named_network(
    network_id: str, names: Mapping[str, Mapping[Language, str]], lang: Language
) -> Named:
    return Named(
        network_id,
        shown(names.get(network_id, {}), lang)
        if network_id in names
        else Shown(network_id, lang, False),
        f"/networks/{network_id}",
    )


def named_city(city_id: str, names: Mapping[str, Mapping[Language, str]], lang: Language) -> Named:
    return Named(
        city_id,
        shown(names.get(city_id, {}), lang) if city_id in names else Shown(city_id, lang, False),
        f"/cities/{city_id}",
    )


def named_html(t: Messages, item: Named) -> Markup:
    """``_macros.html``'s ``named(item)``, byte for byte, in Python: the group pages list
    thousands of members, and three macro calls per name were most of their render."""
    # Every value put into the markup below is escaped first (S704 is about unescaped ones).
    name = item.name
    inner = escape(name.text)
    if name.fallback:
        original = escape(t("lang.original", language=LANGUAGE_NAMES[name.language]))
        inner = Markup(  # noqa: S704
            f'<span lang="{escape(name.language)}">{inner}</span> '
            f'<small class="original">({original})</small>'
        )
    return Markup(f'<a href="{escape(item.href)}">{inner}</a>')  # noqa: S704


def gcm_label(objective: int | str) -> str:
    entry = reference_taxonomies().gcm_objectives.get(int(objective))
    return f"{objective}. {entry.short}" if entry is not None else str(objective)


def gcr_label(area: str) -> str:
    entry = reference_taxonomies().gcr_areas.get(area)
    return entry.title if entry is not None else area


def sdg_label(target: str) -> str:
    goal = reference_taxonomies().sdgs.get(int(target.split(".", 1)[0]))
    return f"{target} ({goal.short})" if goal is not None else target


# --- lists ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PledgeRow:
    pledge_id: str
    href: str
    title: Shown
    network: Named
    cities: tuple[Named, ...]
    status: str
    stage: str | None
    updated_at: str
    last_reported_on: date | None


def pledge_rows(
    items: Iterable[PledgeSummaryOut],
    lang: Language,
    networks: Mapping[str, Mapping[Language, str]],
    cities: Mapping[str, Mapping[Language, str]],
) -> tuple[PledgeRow, ...]:
    return tuple(
        PledgeRow(
            pledge_id=item.pledge_id,
            href=f"/pledges/{item.pledge_id}",
            title=shown(item.title, lang),
            network=named_network(item.network_id, networks, lang),
            cities=tuple(named_city(c, cities, lang) for c in item.cities),
            status=item.status,
            stage=item.stage,
            updated_at=item.updated_at[:10],
            last_reported_on=item.last_reported_on,
        )
        for item in items
    )


# --- charts of roll-ups ---------------------------------------------------------------------------


def status_chart(
    chart_id: str, t: Messages, rollup: RollupOut | None, link: dict[str, str]
) -> BarChart:
    by_status = rollup.by_status if rollup is not None else {}
    return bar_chart(
        chart_id,
        t("group.by_status"),
        (
            (t(f"status.{s}"), by_status.get(s, 0), page_url("/pledges", {**link, "status": s}))
            for s in STATUSES
        ),
    )


def freshness_chart(
    chart_id: str, t: Messages, rollup: RollupOut | None, link: dict[str, str]
) -> BarChart:
    months = rollup.freshness_months if rollup is not None else 0
    return bar_chart(
        chart_id,
        t("group.freshness"),
        (
            (
                t("group.fresh", months=months),
                rollup.reported_within_window if rollup is not None else 0,
                None,
            ),
            (
                t("group.silent_count"),
                rollup.silent if rollup is not None else 0,
                page_url("/pledges", {**link, "stale": "true"}),
            ),
        ),
    )


def tag_chart(
    chart_id: str,
    title: str,
    counts: Mapping[str, int],
    dimension: str,
    link: dict[str, str],
) -> BarChart:
    label: Callable[[str], str] = gcr_label
    keys = sorted(counts)
    if dimension == "gcm_objective":
        keys = sorted(counts, key=int)
        label = gcm_label
    return bar_chart(
        chart_id,
        title,
        ((label(k), counts[k], page_url("/pledges", {**link, dimension: k})) for k in keys),
    )


# --- the home page --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecentEvent:
    leaf_index: int
    type: str
    recorded_at: str
    subject: str
    href: str | None
    receipt: str


def recent_event(leaf_index: int, envelope: Envelope) -> RecentEvent:
    kind, _, subject = envelope.stream_id.partition(":")
    href = {"pledge": "/pledges/", "network": "/networks/", "city": "/cities/"}.get(kind)
    return RecentEvent(
        leaf_index=leaf_index,
        type=envelope.type,
        recorded_at=envelope.recorded_at,
        subject=subject,
        href=f"{href}{subject}" if href is not None else None,
        receipt=receipt_href(envelope.event_id),
    )


# --- a pledge's page ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Detail:
    label_key: str
    text: str
    language: Language | None = None
    fallback: bool = False


@dataclass(frozen=True, slots=True)
class TimelineItem:
    event_id: str
    stream_version: int
    type: str
    recorded_at: str
    recorded_by: str
    occurred_on: str | None
    on_behalf_of: tuple[str, ...]
    leaf_index: int | None
    receipt: str
    envelope: str
    changes: tuple[Change, ...]
    material: bool | None
    details: tuple[Detail, ...]
    erratum_for: str | None
    """The event this erratum corrects."""
    corrected_by: tuple[str, ...]
    """The errata that correct this event."""
    translation: bool
    after_as_of: bool
    """Recorded after the day the page shows (listed, greyed, so the timeline stays whole)."""


def _text_of(value: Any) -> str:
    """A field's value as one line of text for an amendment's before/after."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return " · ".join(f"{k}: {_text_of(v)}" for k, v in sorted(value.items()))
    if isinstance(value, list | tuple):
        return ", ".join(str(v.get("id", v)) if isinstance(v, dict) else _text_of(v) for v in value)
    return str(value)


def _localized_detail(key: str, texts: Mapping[str, str], lang: Language) -> Detail | None:
    known = {k: v for k, v in texts.items() if k in ("en", "fr", "es") and v}
    if not known:
        return None
    chosen = shown(known, lang)  # type: ignore[arg-type]
    return Detail(key, chosen.text, chosen.language, chosen.fallback)


def _details(entry: TimelineEntryOut, lang: Language) -> tuple[Detail, ...]:
    payload = entry.payload
    found: list[Detail | None] = []
    for key in ("reason", "note"):
        if payload.get(key):
            found.append(Detail(f"event.{key}", str(payload[key])))
    if payload.get("criteria"):
        found.append(Detail("event.criteria", ", ".join(payload["criteria"])))
    if entry.type == "pledge.progress_reported":
        period = payload.get("period") or {}
        found.append(Detail("event.period", f"{period.get('start')} – {period.get('end')}"))
        found.append(Detail("pledge.stage", str(payload.get("stage", ""))))
        observations = payload.get("observations") or []
        if observations:
            found.append(
                Detail(
                    "event.observations",
                    "; ".join(
                        f"{o.get('indicator_id')}: {o.get('value') or '—'} ({o.get('date')})"
                        for o in observations
                    ),
                )
            )
        found.append(_localized_detail("event.narrative", payload.get("narrative") or {}, lang))
        for evidence in payload.get("evidence") or []:
            found.append(
                Detail(
                    "event.evidence",
                    f"{evidence.get('title') or evidence.get('url')} — {evidence.get('url')} "
                    f"(SHA-256 {evidence.get('sha256')})",
                )
            )
    if entry.type == "pledge.matched":
        found.append(
            Detail(
                "pledge.matches",
                str(payload.get("supporting_pledge_id") or payload.get("funder") or ""),
            )
        )
    if entry.type == "pledge.closed" and payload.get("outcome"):
        found.append(Detail("pledge.outcome", str(payload["outcome"])))
    return tuple(d for d in found if d is not None)


def timeline_items(
    entries: Sequence[TimelineEntryOut], lang: Language, as_of: date | None
) -> tuple[TimelineItem, ...]:
    """Every event of the pledge, with each amendment's fields before and after (the content is
    folded along the way from the submission) and errata tied to what they correct."""
    corrected: dict[str, list[str]] = {}
    for entry in entries:
        if entry.type == ERRATUM_TYPE:
            corrected.setdefault(str(entry.payload.get("corrects_event_id")), []).append(
                entry.event_id
            )
    content: dict[str, Any] = {}
    items = []
    for entry in entries:
        changes: tuple[Change, ...] = ()
        material: bool | None = None
        if entry.type == "pledge.submitted":
            content = dict(entry.payload.get("content") or {})
        elif entry.type == AMENDMENT_TYPE:
            fields = {
                k: v for k, v in (entry.payload.get("changes") or {}).items() if v is not None
            }
            changes = tuple(
                Change(name, _text_of(content.get(name)), _text_of(value))
                for name, value in fields.items()
            )
            content.update(fields)
            material = bool(entry.payload.get("material"))
        items.append(
            TimelineItem(
                event_id=entry.event_id,
                stream_version=entry.stream_version,
                type=entry.type,
                recorded_at=entry.recorded_at,
                recorded_by=entry.recorded_by,
                occurred_on=entry.occurred_on,
                on_behalf_of=entry.on_behalf_of,
                leaf_index=entry.leaf_index,
                receipt=receipt_href(entry.event_id),
                envelope=entry.envelope,
                changes=changes,
                material=material,
                details=_details(entry, lang),
                erratum_for=str(entry.payload.get("corrects_event_id"))
                if entry.type == ERRATUM_TYPE
                else None,
                corrected_by=tuple(corrected.get(entry.event_id, ())),
                translation="translat" in entry.type,
                after_as_of=as_of is not None and entry.recorded_at[:10] > as_of.isoformat(),
            )
        )
    return tuple(items)


@dataclass(frozen=True, slots=True)
class IndicatorView:
    id: str
    title: Shown
    measure: str
    ascending: bool
    chart: LineChart | None
    readings: tuple[Reading, ...]
    progress: str | None
    met_target: bool | None


def _point(kind: str, point: IndicatorPoint) -> Reading:
    return Reading(kind, point.date, point.value or "")


def indicator_views(
    indicators: Iterable[IndicatorOut],
    entries: Sequence[TimelineEntryOut],
    lang: Language,
    as_of: date | None,
) -> tuple[IndicatorView, ...]:
    """Each indicator with its baseline, targets and every value reported (from the timeline's
    progress reports, up to the day shown), as a chart and its table."""
    reported: dict[str, list[Reading]] = {}
    for entry in entries:
        if entry.type != "pledge.progress_reported":
            continue
        if as_of is not None and entry.recorded_at[:10] > as_of.isoformat():
            continue
        for observation in entry.payload.get("observations") or []:
            reported.setdefault(str(observation.get("indicator_id")), []).append(
                Reading(
                    "actual",
                    date.fromisoformat(observation["date"]),
                    observation.get("value") or "",
                )
            )
    views = []
    for number, indicator in enumerate(indicators):
        readings = [
            *([_point("baseline", indicator.baseline)] if indicator.baseline is not None else []),
            *(_point("target", target) for target in indicator.targets),
            *reported.get(indicator.id, []),
        ]
        title = shown(indicator.title, lang)
        views.append(
            IndicatorView(
                id=indicator.id,
                title=title,
                measure=indicator.measure,
                ascending=indicator.ascending,
                chart=line_chart(f"indicator-{number}", title.text, readings),
                readings=tuple(sorted(readings, key=lambda r: (r.on, r.kind))),
                progress=indicator.progress,
                met_target=indicator.met_target,
            )
        )
    return tuple(views)


@dataclass(frozen=True, slots=True)
class Tag:
    label: str
    href: str


@dataclass(frozen=True, slots=True)
class PledgeView:
    pledge: PledgeOut
    title: Shown
    description: Shown
    network: Named
    cities: tuple[Named, ...]
    gcm: tuple[Tag, ...]
    gcr: tuple[Tag, ...]
    sdg: tuple[Tag, ...]
    priority: tuple[Tag, ...]
    indicators: tuple[IndicatorView, ...]
    timeline: tuple[TimelineItem, ...]
    later_events: int
    flags: tuple[str, ...]
    """The pledge's quality flags (derived, ``projections.quality``), in the reader's words."""


def pledge_view(
    found: PledgeOut,
    entries: Sequence[TimelineEntryOut],
    lang: Language,
    as_of: date | None,
    networks: Mapping[str, Mapping[Language, str]],
    cities: Mapping[str, Mapping[Language, str]],
) -> PledgeView:
    timeline = timeline_items(entries, lang, as_of)
    return PledgeView(
        pledge=found,
        title=_translated(found, "title", lang),
        description=_translated(found, "description", lang),
        network=named_network(found.network_id, networks, lang),
        cities=tuple(named_city(c, cities, lang) for c in found.cities),
        gcm=tuple(
            Tag(gcm_label(o), page_url("/pledges", {"gcm_objective": o}))
            for o in found.gcm_objectives
        ),
        gcr=tuple(
            Tag(gcr_label(a), page_url("/pledges", {"gcr_area": a})) for a in found.gcr_areas
        ),
        sdg=tuple(Tag(sdg_label(s), page_url("/pledges", {"sdg": s})) for s in found.sdg_targets),
        priority=tuple(
            Tag(p, page_url("/pledges", {"priority_area": p})) for p in found.priority_areas
        ),
        indicators=indicator_views(found.indicators, entries, lang, as_of),
        timeline=timeline,
        later_events=sum(1 for item in timeline if item.after_as_of),
        flags=tuple(word(f"flag_{flag}", lang) for flag in found.flags),
    )


def _translated(found: PledgeOut, field: str, lang: Language) -> Shown:
    """A text of the pledge in the reader's language: the author's, else a recorded
    translation, else the original marked with its language (``projections.localize``)."""
    original = found.title if field == "title" else found.description
    value = localize_pledge_text(original, found.translations, field, lang)
    if value is None:
        return shown(original, lang)
    return Shown(value.value, value.lang, value.lang != lang)


# --- network and city pages -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupView:
    """A network's or a city's page: who it is, its roll-up as charts, its silent pledges."""

    kind: str
    """``network`` or ``city``."""
    id: str
    name: Shown
    registered_at: str
    country: str | None
    related: tuple[Named, ...]
    """A network's member cities; a city's networks."""
    rollup: RollupOut | None
    charts: tuple[BarChart, ...]
    silent: tuple[PledgeRow, ...]
    silent_href: str
    pledges_href: str
    signatures: tuple[tuple[Named, SignatureOut], ...]


def group_charts(
    t: Messages,
    rollup: RollupOut | None,
    tags: Mapping[str, Mapping[str, int]],
    link: dict[str, str],
) -> tuple[BarChart, ...]:
    return (
        status_chart("chart-status", t, rollup, link),
        tag_chart(
            "chart-gcm", t("group.by_gcm"), tags.get("gcm_objective", {}), "gcm_objective", link
        ),
        tag_chart("chart-gcr", t("group.by_gcr"), tags.get("gcr_area", {}), "gcr_area", link),
        freshness_chart("chart-freshness", t, rollup, link),
    )


def network_view(
    t: Messages,
    found: NetworkOut,
    rollup: RollupOut | None,
    tags: Mapping[str, Mapping[str, int]],
    silent: tuple[PledgeRow, ...],
    cities: Mapping[str, Mapping[Language, str]],
    signatures: Sequence[SignatureOut],
) -> GroupView:
    lang = t.language
    link = {"network": found.network_id}
    return GroupView(
        kind="network",
        id=found.network_id,
        name=shown(found.name, lang),
        registered_at=found.registered_at,
        country=None,
        related=tuple(named_city(c, cities, lang) for c in found.members),
        rollup=rollup,
        charts=group_charts(t, rollup, tags, link),
        silent=silent,
        silent_href=page_url("/pledges", {**link, "stale": "true"}),
        pledges_href=page_url("/pledges", link),
        signatures=tuple((named_city(s.city_id, cities, lang), s) for s in signatures),
    )


def city_view(
    t: Messages,
    found: CityOut,
    rollup: RollupOut | None,
    tags: Mapping[str, Mapping[str, int]],
    silent: tuple[PledgeRow, ...],
    networks: Mapping[str, Mapping[Language, str]],
    signatures: Sequence[SignatureOut],
) -> GroupView:
    lang = t.language
    link = {"city": found.city_id}
    names = {found.city_id: found.name}
    return GroupView(
        kind="city",
        id=found.city_id,
        name=shown(found.name, lang),
        registered_at=found.registered_at,
        country=found.country,
        related=tuple(named_network(n, networks, lang) for n in found.networks),
        rollup=rollup,
        charts=group_charts(t, rollup, tags, link),
        silent=silent,
        silent_href=page_url("/pledges", {**link, "stale": "true"}),
        pledges_href=page_url("/pledges", link),
        signatures=tuple((named_city(s.city_id, names, lang), s) for s in signatures),
    )
