"""The verifier's roll-ups replay: the log folded into roll-up sums, keeping only what they need.

``recompute_rollups_document`` folds every read model (``ViewState``: each pledge's whole view,
its content as a pydantic model, its JSON, its links and corrections) and sums the roll-ups at
the end. That holds every pledge's documents at once: 2.2 GB at a million entries. The roll-ups
need far less of a pledge: its status, stage, outcome and dates, the groups it counts in, and
per indicator its measure, direction, baseline and final target beside the latest reading. This
module folds exactly that, in two steps that ``ledger.verify`` runs in different processes:

- ``RollupsReplay.extract`` (in the verifier's worker processes, on any entry in any order): the
  facts of one event that the roll-ups depend on, from its payload already validated by the
  domain's models (``parse_payload``, as ``Envelope.decode_payload``); small, picklable tuples;
- ``RollupsFold.add`` (in one process, in leaf order): the facts folded into a compact state
  per pledge, with the same rules as the domain's ``evolve_pledge`` and ``evolve_view``;
  ``RollupsFold.document`` then sums each pledge's ``Contribution`` as ``RollupCells.of`` does.

``tests/unit/test_rollups_replay.py`` holds the result equal to ``recompute_rollups_document``
(the domain's fold) on generated logs: any change to the fold must change both.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from domain.errors import InvalidInput
from domain.events import (
    CityCorrected,
    CityRegistered,
    Indicator,
    ObservationCorrected,
    Payload,
    PledgeAmended,
    PledgeClosed,
    PledgeContent,
    PledgeSubmitted,
    ProgressReported,
)
from domain.pledge import ENDED
from ledger.envelope import Envelope
from projections.counters import (
    ALL,
    DIMENSIONS,
    EVER_VALIDATED,
    OPEN,
    PLEDGES,
    REPORTED,
    TALLY_BATCH,
    UNREPORTED,
    Contribution,
    DimensionList,
    IndicatorTotals,
    Key,
    RollupCells,
    RollupTally,
    sdg_goal,
)
from projections.decimals import EXACT, ZERO
from projections.reports import _document
from projections.sealed import decode_sealed
from projections.state import PLEDGE_PREFIX

_intern = sys.intern

IndicatorFacts = tuple[str, str, bool, str | None, str | None]
"""An indicator as the roll-ups see it: id, measure, ascending, baseline value, final target
value (the last target: targets are in increasing date order, a domain rule)."""

ContentFacts = tuple[
    tuple[str, ...],  # cities
    tuple[str, ...],  # GCM objectives (as the roll-ups' keys: text)
    tuple[str, ...],  # GCR areas
    tuple[str, ...],  # SDG goals, each once
    tuple[str, ...],  # priority areas
    tuple[IndicatorFacts, ...],
]

# Fact tags: the first item of every extracted tuple.
CITY = 0
SUBMITTED = 1
AMENDED = 2
VALIDATED = 3
CHANGES_REQUESTED = 4
REPORT = 5
WITHDRAWN = 6
CLOSED = 7
OTHER_PLEDGE_EVENT = 8
CITY_CORRECTED = 9
OBSERVATION_CORRECTED = 10
_BY_TYPE = {
    "pledge.validated": VALIDATED,
    "pledge.changes_requested": CHANGES_REQUESTED,
    "pledge.withdrawn": WITHDRAWN,
    "pledge.matched": OTHER_PLEDGE_EVENT,
    "pledge.erratum_recorded": OTHER_PLEDGE_EVENT,
    # Events of a pledge that change none of the roll-ups' inputs.
    "pledge.translated": OTHER_PLEDGE_EVENT,
    "pledge.external_id_added": OTHER_PLEDGE_EVENT,
    "pledge.external_id_removed": OTHER_PLEDGE_EVENT,
    "pledge.match_offered": OTHER_PLEDGE_EVENT,
    "pledge.match_accepted": OTHER_PLEDGE_EVENT,
    "pledge.match_declined": OTHER_PLEDGE_EVENT,
    "pledge.match_ended": OTHER_PLEDGE_EVENT,
}

_CITY_TYPES = frozenset({"city.registered", "city.corrected"})
"""The only events outside the pledges' streams whose facts the roll-ups need."""


def _indicator(indicator: Indicator) -> IndicatorFacts:
    baseline = indicator.baseline
    target = indicator.targets[-1] if indicator.targets else None
    return (
        _intern(indicator.id),
        _intern(indicator.measure),
        indicator.ascending,
        baseline.value if baseline is not None else None,
        target.value if target is not None else None,
    )


def _strings(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_intern(value) for value in values)


def _goals(targets: tuple[str, ...]) -> tuple[str, ...]:
    """SDG goals, each once, in the order their targets first name them."""
    return tuple(_intern(goal) for goal in dict.fromkeys(map(sdg_goal, targets)))


def _content(content: PledgeContent) -> ContentFacts:
    return (
        _strings(content.cities),
        tuple(_intern(str(objective)) for objective in content.gcm_objectives),
        _strings(content.gcr_areas),
        _goals(content.sdg_targets),
        _strings(content.priority_areas),
        tuple(_indicator(indicator) for indicator in content.indicators),
    )


@dataclass(slots=True)
class _Pledge:
    """What the roll-ups need of one pledge (``PledgeView`` holds far more)."""

    network_id: str
    content: ContentFacts
    countries: tuple[str, ...]
    status: str
    submitted_on: date
    stage: str | None = None
    outcome: str | None = None
    last_period_end: date | None = None
    ever_validated: bool = False
    last_reported_on: date | None = None
    readings: dict[str, tuple[str | None, date, str]] | None = None
    """Latest observation per indicator id: its value (corrected, if an erratum did), its date
    and the id of the progress report that recorded it (what an erratum names)."""


def _day(recorded_at: str) -> date:
    return date.fromisoformat(recorded_at[:10])


class RollupsReplay:
    """The replay ``ledger.verify`` runs beside its checks (``extract`` in its workers)."""

    def extract(
        self,
        event_type: str,
        stream_id: str,
        recorded_at: str,
        payload: Payload,
        event_id: str,
    ) -> tuple[Any, ...] | None:
        """The facts of one event the roll-ups depend on (None: it changes none of them)."""
        if stream_id.startswith(PLEDGE_PREFIX):
            pledge_id = stream_id[len(PLEDGE_PREFIX) :]
            kind = type(payload)
            if kind is PledgeSubmitted:
                submitted: PledgeSubmitted = payload  # type: ignore[assignment]
                return (
                    SUBMITTED,
                    pledge_id,
                    _intern(submitted.network_id),
                    _content(submitted.content),
                    _day(recorded_at),
                )
            if kind is ProgressReported:
                report: ProgressReported = payload  # type: ignore[assignment]
                observations = tuple(
                    (_intern(o.indicator_id), o.value, o.date) for o in report.observations
                )
                return (
                    REPORT,
                    pledge_id,
                    report.period.end,
                    _intern(report.stage),
                    observations,
                    _day(recorded_at),
                    event_id,
                )
            if kind is ObservationCorrected:
                fix: ObservationCorrected = payload  # type: ignore[assignment]
                return (
                    OBSERVATION_CORRECTED,
                    pledge_id,
                    fix.progress_event_id,
                    _intern(fix.indicator_id),
                    fix.date,
                    fix.value,
                )
            if kind is PledgeAmended:
                amended: PledgeAmended = payload  # type: ignore[assignment]
                changes = amended.changes
                return (
                    AMENDED,
                    pledge_id,
                    amended.material,
                    None if changes.cities is None else _strings(changes.cities),
                    None
                    if changes.gcm_objectives is None
                    else tuple(_intern(str(o)) for o in changes.gcm_objectives),
                    None if changes.gcr_areas is None else _strings(changes.gcr_areas),
                    None
                    if changes.sdg_targets is None
                    else tuple(
                        _intern(g) for g in dict.fromkeys(map(sdg_goal, changes.sdg_targets))
                    ),
                    None if changes.priority_areas is None else _strings(changes.priority_areas),
                    None
                    if changes.indicators is None
                    else tuple(_indicator(i) for i in changes.indicators),
                )
            if kind is PledgeClosed:
                return (CLOSED, pledge_id, _intern(payload.outcome))  # type: ignore[attr-defined]
            tag = _BY_TYPE.get(event_type)
            if tag is None:
                raise InvalidInput(f"{kind.__name__} does not belong to a pledge", field="type")
            return (tag, pledge_id)
        if isinstance(payload, CityRegistered):
            return (CITY, _intern(payload.city_id), _intern(payload.country))
        if isinstance(payload, CityCorrected) and payload.country is not None:
            return (CITY_CORRECTED, _intern(payload.city_id), _intern(payload.country))
        return None

    def extract_sealed(self, envelope: Envelope) -> tuple[Any, ...] | None:
        """``extract`` of an envelope the ledger sealed and stored (``decode_sealed``), decoding
        its payload only when the facts are in it: a pledge event whose type alone says what it
        does, and every event outside the pledges and cities, is not decoded at all."""
        event_type = envelope.type
        stream_id = envelope.stream_id
        if stream_id.startswith(PLEDGE_PREFIX):
            tag = _BY_TYPE.get(event_type)
            if tag is not None:
                return (tag, stream_id[len(PLEDGE_PREFIX) :])
        elif event_type not in _CITY_TYPES:
            return None
        return self.extract(
            event_type, stream_id, envelope.recorded_at, decode_sealed(envelope), envelope.event_id
        )

    def fold(self, freshness_months: int) -> RollupsFold:
        return RollupsFold(freshness_months)


class RollupsFold:
    """Extracted facts folded in leaf order; ``document`` is what ``rollups.json`` must hold."""

    def __init__(self, freshness_months: int) -> None:
        self.freshness_months = freshness_months
        self.countries: dict[str, str] = {}
        self.pledges: dict[str, _Pledge] = {}
        self._shared: dict[Any, Any] = {}

    def _share(self, value: Any) -> Any:
        """One object for equal values (pledges often repeat their tags and indicators)."""
        return self._shared.setdefault(value, value)

    def _shared_deep(self, value: Any) -> Any:
        """``_share`` all the way down: facts that came over a pipe from the verifier's workers
        are new objects in each chunk, equal ones included (city ids, indicators, days)."""
        kind = type(value)
        if kind is str:
            return sys.intern(value)
        if kind is tuple:
            return self._share(tuple(self._shared_deep(item) for item in value))
        if kind is date:
            return self._share(value)
        return value

    def _countries(self, cities: tuple[str, ...]) -> tuple[str, ...]:
        found = {c for c in map(self.countries.get, cities) if c is not None}
        countries: tuple[str, ...] = self._share(tuple(sorted(found)))
        return countries

    def add(self, facts: tuple[Any, ...] | None) -> None:
        """Fold one event's facts (``RollupsReplay.extract``), in leaf order."""
        if facts is None:
            return
        tag = facts[0]
        if tag == CITY:
            self.countries[sys.intern(facts[1])] = sys.intern(facts[2])
            return
        if tag == CITY_CORRECTED:
            # Every pledge naming the city counts under its corrected country from then on
            # (as the read side's recount does).
            self.countries[sys.intern(facts[1])] = sys.intern(facts[2])
            for named in self.pledges.values():
                if facts[1] in named.content[0]:
                    named.countries = self._countries(named.content[0])
            return
        pledge_id = facts[1]
        if tag == SUBMITTED:
            content: ContentFacts = self._shared_deep(facts[3])
            self.pledges[pledge_id] = _Pledge(
                network_id=sys.intern(facts[2]),
                content=content,
                countries=self._countries(content[0]),
                status="awaiting_validation",
                submitted_on=self._share(facts[4]),
            )
            return
        pledge = self.pledges.get(pledge_id)
        if pledge is None:
            raise InvalidInput("pledge event before the pledge was submitted", field="type")
        if tag == REPORT:
            _, _, period_end, stage, observations, reported_on, report_id = facts
            last = pledge.last_period_end
            if last is None or period_end >= last:
                pledge.stage = sys.intern(stage)
                pledge.last_period_end = self._share(period_end)
            pledge.last_reported_on = self._share(reported_on)
            if observations:
                readings = dict(pledge.readings or {})
                for indicator_id, value, on in observations:
                    known = readings.get(indicator_id)
                    if known is None or on >= known[1]:
                        readings[sys.intern(indicator_id)] = (
                            value if value is None else sys.intern(value),
                            self._share(on),
                            report_id,
                        )
                pledge.readings = readings
        elif tag == OBSERVATION_CORRECTED:
            # An erratum changes the reading only while the observation it names is the latest
            # (``projections.pledge_fold._corrected``).
            _, _, report_id, indicator_id, on, value = facts
            known = (pledge.readings or {}).get(indicator_id)
            if known is not None and known[2] == report_id and known[1] == on:
                pledge.readings = {**(pledge.readings or {}), indicator_id: (value, on, report_id)}
        elif tag == VALIDATED:
            pledge.status = "validated"
            pledge.ever_validated = True
        elif tag == AMENDED:
            _, _, material, cities, gcm, gcr, sdg, priority, indicators = facts
            old = pledge.content
            pledge.content = self._shared_deep(
                (
                    old[0] if cities is None else cities,
                    old[1] if gcm is None else gcm,
                    old[2] if gcr is None else gcr,
                    old[3] if sdg is None else sdg,
                    old[4] if priority is None else priority,
                    old[5] if indicators is None else indicators,
                )
            )
            if pledge.status == "changes_requested" or (material and pledge.status == "validated"):
                pledge.status = "awaiting_validation"
            if cities is not None:
                pledge.countries = self._countries(pledge.content[0])
        elif tag == CHANGES_REQUESTED:
            pledge.status = "changes_requested"
        elif tag == WITHDRAWN:
            pledge.status = "withdrawn"
        elif tag == CLOSED:
            pledge.status = "closed"
            pledge.outcome = sys.intern(facts[2])

    def contribution(self, pledge_id: str) -> Contribution | None:
        """What the pledge adds to the roll-ups now (None: not submitted)."""
        pledge = self.pledges.get(pledge_id)
        return _contribution(pledge) if pledge is not None else None

    def document(self, tree_size: int, last_recorded_at: str | None) -> dict[str, Any]:
        """The roll-ups document of the folded entries (``recompute_rollups_document``'s); the
        fold stays as it is."""
        document = self._summed(tree_size, last_recorded_at, spend=False, batch=TALLY_BATCH)
        rollups = document["rollups"]
        document["rollups"] = {dimension: list(rollups[dimension]) for dimension in rollups}
        return document

    def finish(
        self, tree_size: int, last_recorded_at: str | None, *, batch: int = TALLY_BATCH
    ) -> dict[str, Any]:
        """``document``, with ``rollups`` a ``DimensionRollups``; the fold is spent.

        Each pledge's state is let go as soon as it is summed (in the order ``document`` sums
        them), ``batch`` pledges are tallied at a time and their sums merged (a tally holds a
        pair per pledge and group: some 2.5 million at a million events), and no dimension's
        list exists before it is read: the verifier compares one roll-up at a time.
        """
        return self._summed(tree_size, last_recorded_at, spend=True, batch=batch)

    def _summed(
        self, tree_size: int, last_recorded_at: str | None, *, spend: bool, batch: int
    ) -> dict[str, Any]:
        as_of = _day(last_recorded_at) if last_recorded_at is not None else None
        document = _document(tree_size, as_of, self.freshness_months, {})
        if as_of is not None:
            cells = RollupCells()
            tally = RollupTally()
            pledges = self.pledges
            for count, pledge_id in enumerate(list(pledges), start=1):
                tally.add(_contribution(pledges.pop(pledge_id) if spend else pledges[pledge_id]))
                if count % batch == 0:
                    cells.merge(tally.cells())
                    tally = RollupTally()
            cells.merge(tally.cells())
            if spend:
                self._shared.clear()
            document["rollups"] = DimensionRollups(cells, as_of, self.freshness_months)
        return document


class DimensionRollups(Mapping[str, Sequence[dict[str, Any]]]):
    """The ``rollups`` of a roll-ups document, made as they are read and not kept: each
    dimension is a ``DimensionList`` whose roll-ups are made one at a time (``{d: list(this[d])
    for d in this}`` is the ``rollups`` that ``RollupsFold.document`` gives)."""

    def __init__(self, cells: RollupCells, as_of: date, freshness_months: int) -> None:
        self.cells = cells
        self.as_of = as_of
        self.freshness_months = freshness_months

    def __getitem__(self, dimension: str) -> DimensionList:
        if dimension not in DIMENSIONS:
            raise KeyError(dimension)
        return DimensionList(self.cells, dimension, self.as_of, self.freshness_months)

    def __contains__(self, dimension: object) -> bool:
        return dimension in DIMENSIONS

    def __iter__(self) -> Iterator[str]:
        return iter(DIMENSIONS)

    def __len__(self) -> int:
        return len(DIMENSIONS)


def _memberships(pledge: _Pledge) -> tuple[Key, ...]:
    cities, gcm, gcr, goals, priority, _ = pledge.content
    return (
        ALL,
        ("network", pledge.network_id),
        *[("city", city) for city in cities],
        *[("country", country) for country in pledge.countries],
        *[("gcm_objective", objective) for objective in gcm],
        *[("gcr_area", area) for area in gcr],
        *[("sdg", goal) for goal in goals],
        *[("priority_area", area) for area in priority],
        ("status", pledge.status),
    )


def _contribution(pledge: _Pledge) -> Contribution:
    """``projections.counters.contribution`` of the pledge's view, from the compact state."""
    counters = [PLEDGES, f"status:{pledge.status}", f"stage:{pledge.stage or UNREPORTED}"]
    if pledge.outcome is not None:
        counters.append(f"outcome:{pledge.outcome}")
    if pledge.ever_validated:
        counters.append(EVER_VALIDATED)
    freshness: list[tuple[str, date]] = []
    if pledge.status not in ENDED:
        freshness.append((OPEN, pledge.last_reported_on or pledge.submitted_on))
        if pledge.last_reported_on is not None:
            freshness.append((REPORTED, pledge.last_reported_on))
    readings = pledge.readings or {}
    indicators = []
    for indicator_id, measure, ascending, baseline, target in pledge.content[5]:
        latest = readings.get(indicator_id)
        latest_value = latest[0] if latest is not None else None
        met = False
        if measure != "qualitative" and latest_value is not None and target is not None:
            reached = EXACT.subtract(Decimal(latest_value), Decimal(target))
            met = reached >= 0 if ascending else reached <= 0
        totals = IndicatorTotals(pledges=1, reported=int(latest is not None), met_target=int(met))
        if measure == "unit":
            totals = IndicatorTotals(
                totals.pledges,
                totals.reported,
                totals.met_target,
                Decimal(baseline) if baseline is not None else ZERO,
                Decimal(latest_value) if latest_value is not None else ZERO,
                Decimal(target) if target is not None else ZERO,
            )
        indicators.append(((indicator_id, measure), totals))
    return Contribution(_memberships(pledge), tuple(counters), tuple(freshness), tuple(indicators))


class DailyChanges:
    """The log, in log order, folded into what each day changed in the roll-up sums.

    The compact fold of ``RollupsFold`` (held equal to the domain's fold): the difference of a
    run of events is, for each pledge it touched, the pledge's contribution after the run minus
    its contribution before it (``RollupCells.change_contributions``, as the read side's
    ``ProjectionBatch.rollup_change`` does with whole views). ``projections.history`` writes its
    history from it; ``tests/unit/test_projections_history.py`` holds every day's difference
    equal to the one the domain's fold gives.
    """

    def __init__(self) -> None:
        self.replay = RollupsReplay()
        self.fold = self.replay.fold(freshness_months=0)  # freshness is judged when read
        self.before: dict[str, Contribution | None] = {}

    def apply(self, envelope: Envelope) -> None:
        facts = self.replay.extract_sealed(envelope)
        if facts is None:
            return
        tag = facts[0]
        if tag == CITY_CORRECTED:
            city = facts[1]
            for pledge_id, pledge in self.fold.pledges.items():
                if city in pledge.content[0] and pledge_id not in self.before:
                    self.before[pledge_id] = _contribution(pledge)
        elif tag != CITY and facts[1] not in self.before:
            self.before[facts[1]] = self.fold.contribution(facts[1])
        self.fold.add(facts)

    def take_change(self) -> RollupCells:
        """What the events applied since the last call changed in the roll-up sums."""
        change = RollupCells()
        for pledge_id, old in self.before.items():
            change.change_contributions(old, self.fold.contribution(pledge_id))
        self.before = {}
        return change
