"""Every read model that leaves the process, in one place and under one naming rule.

What the projections answer (to the command line, the future HTTP API, the audit bundle) is a
frozen pydantic model named ``XxxOut``; everything else in ``projections`` is internal (folds,
cells, table rows) and is never handed out. Keeping the wire shapes together shows the whole
public read surface at a glance and keeps them apart from events and tables.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.events import Decision, Framework, IndicatorPoint, Outcome, Stage
from domain.pledge import Status
from domain.values import Language
from projections.quality import QualityFlag


class OutModel(BaseModel):
    """Base of every read model that leaves the process: frozen, so answers cannot be edited."""

    model_config = ConfigDict(frozen=True)


# --- a pledge's page ------------------------------------------------------------------------------


class ReadingOut(OutModel):
    value: str | None
    """The value roll-ups and reports use: an erratum's correction, if there is one."""
    date: date
    comment: str
    event_id: str
    corrected_by: str | None = None
    """The erratum (``pledge.observation_corrected``) that corrected this reading, if any."""
    reported_value: str | None = None
    """What the progress report said, when an erratum corrected it."""


class IndicatorOut(OutModel):
    id: str
    title: dict[Language, str]
    measure: str
    ascending: bool
    baseline: IndicatorPoint | None
    targets: tuple[IndicatorPoint, ...]
    latest: ReadingOut | None
    progress: str | None
    met_target: bool | None


class ValidationOut(OutModel):
    decision: Decision
    criteria: tuple[str, ...]
    note: str
    event_id: str
    recorded_at: str
    recorded_by: str


class MatchOut(OutModel):
    """A match of this pledge, as its host pledge's stream records it (ADR 0015)."""

    kind: str
    supporting_pledge_id: str | None
    funder: str | None
    note: str
    event_id: str
    """The offer's event (the link's, for a one-sided link from before two-way matching)."""
    recorded_at: str
    match_id: str
    status: str
    """offered, accepted, declined, ended; ``linked`` for a one-sided link from before."""
    host_pledge_id: str
    """The pledge supported, whose stream records the match (answer it there)."""
    side: str
    """This pledge's side: ``host`` or ``supporter``."""
    offered_by: str | None
    amount: str | None
    currency: str | None
    answer: str
    updated_at: str


class ObservationCorrectionOut(OutModel):
    """An erratum that superseded an observation: the report, indicator and date it names, the
    value it superseded and the corrected one."""

    progress_event_id: str
    indicator_id: str
    date: date
    previous_value: str | None
    value: str | None
    comment: str
    reason: str
    event_id: str
    recorded_at: str


class ErratumOut(OutModel):
    corrects_event_id: str
    note: str
    event_id: str
    recorded_at: str


class TranslationOut(OutModel):
    """A text of the pledge in a language its author did not write it in."""

    field: Literal["title", "description", "narrative"]
    progress_event_id: str | None
    """For a narrative: the progress report's event id."""
    language: Language
    text: str
    event_id: str
    recorded_at: str
    recorded_by: str


class ExternalIdOut(OutModel):
    """An id the pledge has elsewhere: ``grf``, ``gcm`` or its network's own reference."""

    scheme: str
    value: str
    id: str
    """``scheme:value``, as ``GET /api/v1/pledges?external_id=`` takes it."""
    event_id: str
    recorded_at: str


class FreshnessOut(OutModel):
    """Reporting freshness on ``today``, apart from the implementation stage."""

    today: date
    cutoff: date
    last_reported_on: date | None
    anchor: date
    reported_within_window: bool
    silent: bool


class PledgeOut(OutModel):
    pledge_id: str
    network_id: str
    cities: tuple[str, ...]
    countries: tuple[str, ...]
    title: dict[Language, str]
    description: dict[Language, str]
    gcm_objectives: tuple[int, ...]
    gcr_areas: tuple[str, ...]
    sdg_targets: tuple[str, ...]
    priority_areas: tuple[str, ...]
    gcm_principles: tuple[str, ...] = ()
    nua_paragraphs: tuple[int, ...] = ()
    calls: tuple[str, ...] = ()
    starts_on: date
    ends_on: date
    status: Status
    stage: Stage | None
    outcome: Outcome | None
    ever_validated: bool
    validation: ValidationOut | None
    indicators: tuple[IndicatorOut, ...]
    matches: tuple[MatchOut, ...]
    errata: tuple[ErratumOut, ...]
    observation_corrections: tuple[ObservationCorrectionOut, ...]
    support_needed: str
    """What support the latest progress report asks for (empty: none)."""
    end_note: str
    reports: int
    last_period_end: date | None
    freshness: FreshnessOut
    flags: tuple[QualityFlag, ...]
    """Quality flags on the page's day (``projections.quality``): derived, never stored."""
    version: int
    submitted_at: str
    submitted_by: str
    updated_at: str
    translations: tuple[TranslationOut, ...] = ()
    """Current translations of the title, the description and the reports' narratives (the
    texts above are the originals); ``projections.localize`` picks a reader's language."""
    external_ids: tuple[ExternalIdOut, ...] = ()


# --- pledges in lists -----------------------------------------------------------------------------


class SilentPledgeOut(OutModel):
    """An open pledge with no progress report within the freshness window."""

    pledge_id: str
    network_id: str
    title: dict[Language, str]
    cities: tuple[str, ...]
    status: Status
    stage: Stage | None
    submitted_at: str
    last_reported_on: date | None
    silent_since: date
    external_ids: tuple[str, ...] = ()
    """``scheme:value`` of every id the pledge has elsewhere (so a forum finds it there)."""


class PledgeSummaryOut(OutModel):
    """A pledge in a list: enough for a row that links to its page."""

    pledge_id: str
    network_id: str
    title: dict[Language, str]
    cities: tuple[str, ...]
    countries: tuple[str, ...]
    gcm_objectives: tuple[int, ...]
    gcr_areas: tuple[str, ...]
    status: Status
    stage: Stage | None
    version: int
    submitted_at: str
    updated_at: str
    last_reported_on: date | None
    external_ids: tuple[str, ...] = ()
    """``scheme:value`` of every id the pledge has elsewhere."""
    flags: tuple[QualityFlag, ...] = ()
    """Quality flags on the list's day (``projections.quality``)."""


PledgeOrder = Literal["pledge_id", "updated", "submitted"]
"""How a pledge list is ordered: by pledge id, or newest change / submission first."""


class PledgeListOut(OutModel):
    items: tuple[PledgeSummaryOut, ...]
    next_after: str | None
    """The ``after`` that fetches the next page (None: this was the last)."""


# --- a pledge's timeline --------------------------------------------------------------------------


class TimelineEntryOut(OutModel):
    event_id: str
    stream_version: int
    type: str
    recorded_at: str
    recorded_by: str
    on_behalf_of: tuple[str, ...]
    occurred_on: str | None
    payload: dict[str, Any]
    leaf_index: int | None
    envelope: str
    """The canonical envelope, exactly as hashed into the log."""


# --- the registry ---------------------------------------------------------------------------------


class CityOut(OutModel):
    city_id: str
    name: dict[Language, str]
    country: str
    registered_at: str
    networks: tuple[str, ...]


class NetworkOut(OutModel):
    network_id: str
    name: dict[Language, str]
    registered_at: str
    members: tuple[str, ...]


class RegistryTotalsOut(OutModel):
    networks: int
    cities: int
    countries: int
    """Countries of the registered cities."""


class SignatureOut(OutModel):
    declaration_id: str
    city_id: str
    signed_on: date
    recorded_at: str


class ReferenceItemOut(OutModel):
    """A priority area, declaration or call to action registered on the log (ADR 0014)."""

    id: str
    title: dict[Language, str]
    registered_at: str
    adopted_on: date | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    retired: bool = False
    retired_at: str | None = None
    retired_reason: str | None = None


class TaxonomyEntryOut(OutModel):
    """An entry of a shipped taxonomy, with its labels in en/fr/es where the reference has them."""

    code: str
    title: str
    kind: str
    labels: dict[Language, str]


# --- roll-ups -------------------------------------------------------------------------------------


class IndicatorProgressOut(OutModel):
    """One indicator id across a group's pledges; totals are given for ``unit`` measures only."""

    indicator_id: str
    measure: str
    pledges: int
    reported: int
    met_target: int
    baseline_total: str | None
    latest_total: str | None
    target_total: str | None


class RollupOut(OutModel):
    dimension: str
    key: str
    today: date
    freshness_months: int
    freshness_cutoff: date
    pledges: int
    open: int
    by_status: dict[str, int]
    by_stage: dict[str, int]
    by_outcome: dict[str, int]
    validated: int
    ever_validated: int
    share_validated: str | None
    reported_within_window: int
    share_reported_within_window: str | None
    silent: int
    indicators: tuple[IndicatorProgressOut, ...]


# --- reports --------------------------------------------------------------------------------------


class CheckpointCitationOut(OutModel):
    tree_size: int
    note: str
    """The signed checkpoint, as the log published it."""


class ReportSourceOut(OutModel):
    tree_size: int
    """The report counts events among the first ``tree_size`` entries of the log."""
    checkpoint: CheckpointCitationOut | None
    """The smallest signed checkpoint whose tree holds those entries, if there is one yet."""


class ReportPledgeOut(OutModel):
    """One pledge in a report's scope, as the report's readers see it (names in ``labels``)."""

    pledge_id: str
    title: str
    """In the report's language, else the original marked with its language code."""
    network_id: str
    cities: tuple[str, ...]
    status: Status
    stage: Stage | None
    outcome: Outcome | None
    last_reported_on: date | None
    flags: tuple[QualityFlag, ...]


class FlagCountOut(OutModel):
    """How many pledges of a network (``all``: of the whole scope) carry each quality flag."""

    network_id: str
    pledges: int
    flagged: int
    """Pledges with at least one flag."""
    counts: dict[str, int]


class LegendEntryOut(OutModel):
    term: str
    text: str


class ReportOut(OutModel):
    title: str
    as_of: date
    network_id: str | None
    framework: Framework = "all"
    """The scope: ``gcm`` counts GCM-tagged pledges, ``gcr`` GCR-tagged ones (a GRF report)."""
    lang: Language = "en"
    freshness_months: int
    freshness_cutoff: date
    source: ReportSourceOut
    totals: RollupOut | None
    by_gcm_objective: tuple[RollupOut, ...]
    by_gcr_area: tuple[RollupOut, ...]
    by_network: tuple[RollupOut, ...]
    indicator_progress: tuple[IndicatorProgressOut, ...]
    silent_pledges: tuple[SilentPledgeOut, ...]
    outcomes: dict[str, int] = {}
    """Closed pledges in scope by outcome."""
    quality_flags: tuple[FlagCountOut, ...] = ()
    pledges: tuple[ReportPledgeOut, ...] = ()
    legend: tuple[LegendEntryOut, ...] = ()
    labels: dict[str, dict[str, str]]
    """Readable names of the keys in the report's language: GCM objectives, GCR areas,
    networks, cities, statuses, stages, outcomes, quality flags."""
    sha256: str = ""
    """SHA-256 of the canonical JSON of every other field."""


class PublishedReportOut(OutModel):
    """A ``report.published`` event: which report a forum received, and where it is on the log."""

    event_id: str
    recorded_at: str
    recorded_by: str
    leaf_index: int | None
    """None until the log has integrated the event."""
    report_sha256: str
    output_sha256: str
    format: str
    as_of: date
    network_id: str | None
    framework: Framework
    lang: Language
    freshness_months: int
    tree_size: int
    checkpoint_tree_size: int
