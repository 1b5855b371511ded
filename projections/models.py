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

from domain.events import Decision, IndicatorPoint, Outcome, Stage
from domain.pledge import Status
from domain.values import Language


class OutModel(BaseModel):
    """Base of every read model that leaves the process: frozen, so answers cannot be edited."""

    model_config = ConfigDict(frozen=True)


# --- a pledge's page ------------------------------------------------------------------------------


class ReadingOut(OutModel):
    value: str | None
    date: date
    comment: str
    event_id: str


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
    kind: str
    supporting_pledge_id: str | None
    funder: str | None
    note: str
    event_id: str
    recorded_at: str


class ErratumOut(OutModel):
    corrects_event_id: str
    note: str
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
    end_note: str
    reports: int
    last_period_end: date | None
    freshness: FreshnessOut
    version: int
    submitted_at: str
    submitted_by: str
    updated_at: str


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


class ReportOut(OutModel):
    title: str
    as_of: date
    network_id: str | None
    freshness_months: int
    freshness_cutoff: date
    source: ReportSourceOut
    totals: RollupOut | None
    by_gcm_objective: tuple[RollupOut, ...]
    by_gcr_area: tuple[RollupOut, ...]
    by_network: tuple[RollupOut, ...]
    indicator_progress: tuple[IndicatorProgressOut, ...]
    silent_pledges: tuple[SilentPledgeOut, ...]
    labels: dict[str, dict[str, str]]
    """Readable names of the keys: GCM objectives, GCR areas, networks."""
    sha256: str = ""
    """SHA-256 of the canonical JSON of every other field."""
