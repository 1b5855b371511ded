"""Accountability reports and the published roll-ups, each reproducible from an audit bundle.

A report as of a day is computed from the log alone: the envelopes recorded by the end of that
day, folded in leaf order. It names the tree size it rests on (the shortest prefix of the log
holding every event it counts) and, when the server has signed a checkpoint at least that large,
that checkpoint; it carries the SHA-256 of its canonical JSON form (RFC 8785). An auditor folds
the first ``tree_size`` entries of a bundle's ``entries.jsonl`` with ``report_from_entries`` and
gets the same bytes, hence the same digest.

``rollups_document`` is what the audit bundle publishes as ``rollups.json``: every roll-up at a
tree size, read from the live roll-up tables; ``recompute_rollups_document`` derives the same
document from envelope bytes alone (no database), for the verifier.

This module returns data; ``api.report_formats`` writes it as Markdown, CSV, JSON or HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice
from typing import Any

from sqlalchemy import Engine, select

from domain.events import OUTCOMES, STAGES, Framework
from domain.pledge import STATUSES
from domain.taxonomies import reference_taxonomies
from domain.values import Language
from ledger.canonical import canonical_bytes
from ledger.envelope import Envelope
from ledger.log import TransparencyLog
from ledger.store import EventStore
from projections.as_of import fold_log, rollups_of, store_envelopes
from projections.counters import (
    DIMENSIONS,
    TALLY_BATCH,
    DimensionList,
    RollupCells,
    RollupTally,
    contribution,
)
from projections.envelopes import read_envelope, recorded_on
from projections.errors import InvalidQuery
from projections.freshness import freshness_cutoff, is_silent
from projections.models import (
    CheckpointCitationOut,
    FlagCountOut,
    LegendEntryOut,
    ReportOut,
    ReportPledgeOut,
    ReportSourceOut,
    SilentPledgeOut,
)
from projections.pledge_fold import PledgeView
from projections.pledges import silent_pledge
from projections.quality import QUALITY_FLAGS, quality_flags
from projections.report_text import LEGEND_TERMS, localized, taxonomy_label, word
from projections.rollups import all_rollups
from projections.runner import VIEWS
from projections.sealed import decode_sealed
from projections.state import Decode, ViewState, without_cycle_collection
from projections.tables import projection_position, read_snapshot

ROLLUPS_FORMAT = "pledge-ledger/rollups/v1"


def report_digest(report: ReportOut) -> str:
    return hashlib.sha256(
        canonical_bytes(report.model_dump(mode="json", exclude={"sha256"}))
    ).hexdigest()


def in_scope(view: PledgeView, framework: Framework) -> bool:
    """Whether a pledge counts in a report on ``framework`` (``gcr``: a GRF report)."""
    content = view.state.content
    if framework == "gcm":
        return bool(content.gcm_objectives)
    if framework == "gcr":
        return bool(content.gcr_areas)
    return True


def _labels(state: ViewState, lang: Language) -> dict[str, dict[str, str]]:
    taxonomies = reference_taxonomies()
    codes = {
        "status": STATUSES,
        "stage": STAGES,
        "outcome": OUTCOMES,
        "flag": QUALITY_FLAGS,
    }
    labels = {
        "gcm_objective": {
            str(k): taxonomy_label(e, lang, short=True)
            for k, e in taxonomies.gcm_objectives.items()
        },
        "gcr_area": {
            k: taxonomy_label(e, lang, short=False) for k, e in taxonomies.gcr_areas.items()
        },
        "network": {k: localized(n.name, lang) for k, n in state.networks.items()},
        "city": {k: localized(c.name, lang) for k, c in state.cities.items()},
    }
    for kind, keys in codes.items():
        labels[kind] = {key: word(f"{kind}_{key}", lang) for key in keys}
    return labels


def _title(as_of: date, network_id: str | None, framework: Framework, lang: Language) -> str:
    title = word("title", lang, as_of=as_of.isoformat())
    title += " — " + word(f"title_framework_{framework}", lang)
    if network_id is not None:
        title += ", " + word("title_network", lang, network=network_id)
    return title


class ReportSums:
    """A report's figures, summed one pledge at a time and in any order.

    What it keeps of a pledge in scope is the pledge's row (and, if it is silent, its silent
    entry); its contribution goes into roll-up sums at once (``TALLY_BATCH`` pledges tallied at
    a time, exact sums: the order does not change them). So ``report_from_state(spend=True)``
    lets go of each view as soon as it is summed, and a report never holds every view beside
    every row (at a million events: 1.36 against 1.76 GB, benchmarks/RESULTS.md).
    """

    def __init__(
        self,
        *,
        as_of: date,
        freshness_months: int,
        network_id: str | None,
        framework: Framework,
        lang: Language,
    ) -> None:
        self.as_of = as_of
        self.freshness_months = freshness_months
        self.network_id = network_id
        self.framework = framework
        self.lang = lang
        self.cutoff = freshness_cutoff(as_of, freshness_months)
        self._cells = RollupCells()
        self._tally = RollupTally()
        self._tallied = 0
        self._rows: list[ReportPledgeOut] = []
        self._silent: list[SilentPledgeOut] = []
        self._outcomes = dict.fromkeys(OUTCOMES, 0)

    def add(self, view: PledgeView) -> None:
        """Count a pledge's final view (as of the report's day), if the report's scope holds it."""
        if self.network_id is not None and view.network_id != self.network_id:
            return
        if not in_scope(view, self.framework):
            return
        state = view.state
        if view.is_open and is_silent(view.freshness_anchor, self.cutoff):
            self._silent.append(silent_pledge(view))
        if state.status == "closed" and state.outcome is not None:
            self._outcomes[state.outcome] += 1
        self._rows.append(
            ReportPledgeOut(
                pledge_id=view.pledge_id,
                title=localized(state.content.title, self.lang),
                network_id=view.network_id,
                cities=state.content.cities,
                status=state.status,
                stage=state.stage,
                outcome=state.outcome,
                last_reported_on=view.last_reported_on,
                flags=quality_flags(view, self.as_of),
            )
        )
        self._tally.add(contribution(view))
        self._tallied += 1
        if self._tallied % TALLY_BATCH == 0:
            self._cells.merge(self._tally.cells())
            self._tally = RollupTally()

    def report(
        self,
        registry: ViewState,
        *,
        tree_size: int,
        checkpoint: CheckpointCitationOut | None,
    ) -> ReportOut:
        """The report on the pledges added (``registry`` gives the names of networks and
        cities); the sums are spent."""
        cells, self._cells = self._cells, RollupCells()
        cells.merge(self._tally.cells())
        self._tally = RollupTally()
        as_of, months, framework = self.as_of, self.freshness_months, self.framework
        rows = sorted(self._rows, key=lambda r: r.pledge_id)
        totals = cells.rollup("all", "all", as_of, months)
        report = ReportOut(
            title=_title(as_of, self.network_id, framework, self.lang),
            as_of=as_of,
            network_id=self.network_id,
            framework=framework,
            lang=self.lang,
            freshness_months=months,
            freshness_cutoff=self.cutoff,
            source=ReportSourceOut(tree_size=tree_size, checkpoint=checkpoint),
            totals=totals,
            by_gcm_objective=tuple(
                sorted(rollups_of(cells, "gcm_objective", as_of, months), key=lambda r: int(r.key))
            )
            if framework != "gcr"
            else (),
            by_gcr_area=tuple(rollups_of(cells, "gcr_area", as_of, months))
            if framework != "gcm"
            else (),
            by_network=tuple(rollups_of(cells, "network", as_of, months)),
            indicator_progress=totals.indicators if totals is not None else (),
            silent_pledges=tuple(sorted(self._silent, key=lambda s: (s.silent_since, s.pledge_id))),
            outcomes=dict(self._outcomes),
            quality_flags=_flag_counts(rows),
            pledges=tuple(rows),
            legend=tuple(
                LegendEntryOut(term=term, text=word(f"legend_{term}", self.lang))
                for term in LEGEND_TERMS
            ),
            labels=_labels(registry, self.lang),
        )
        return report.model_copy(update={"sha256": report_digest(report)})


def _flag_counts(rows: list[ReportPledgeOut]) -> tuple[FlagCountOut, ...]:
    groups: dict[str, list[ReportPledgeOut]] = {"all": rows}
    for row in rows:
        groups.setdefault(f"network:{row.network_id}", []).append(row)
    counted = []
    for group, members in sorted(groups.items(), key=lambda g: (g[0] != "all", g[0])):
        counts: dict[str, int] = dict.fromkeys(QUALITY_FLAGS, 0)
        for row in members:
            for flag in row.flags:
                counts[flag] += 1
        counted.append(
            FlagCountOut(
                network_id=group.removeprefix("network:"),
                pledges=len(members),
                flagged=sum(1 for row in members if row.flags),
                counts=counts,
            )
        )
    return tuple(counted)


def report_from_state(
    state: ViewState,
    *,
    tree_size: int,
    as_of: date,
    freshness_months: int,
    network_id: str | None = None,
    framework: Framework = "all",
    lang: Language = "en",
    checkpoint: CheckpointCitationOut | None = None,
    spend: bool = False,
) -> ReportOut:
    """The report on a folded state (see ``report_from_entries``); ``spend`` lets go of each
    view as it is summed (the state is left without pledges)."""
    sums = ReportSums(
        as_of=as_of,
        freshness_months=freshness_months,
        network_id=network_id,
        framework=framework,
        lang=lang,
    )
    if spend:
        pledges = state.pledges
        while pledges:
            sums.add(pledges.popitem()[1])
    else:
        for view in state.pledges.values():
            sums.add(view)
    return sums.report(state, tree_size=tree_size, checkpoint=checkpoint)


@without_cycle_collection()
def report_from_entries(
    entries: Iterable[bytes],
    *,
    as_of: date,
    freshness_months: int,
    network_id: str | None = None,
    framework: Framework = "all",
    lang: Language = "en",
    checkpoint: CheckpointCitationOut | None = None,
) -> ReportOut:
    """The report as of ``as_of`` from envelope bytes in leaf order (no database needed).

    An auditor passes a bundle's entries and the checkpoint the report cites, and compares
    the digest.
    """
    folded = fold_log((read_envelope(raw) for raw in entries), as_of)
    return report_from_state(
        folded.state,
        tree_size=folded.tree_size,
        as_of=as_of,
        freshness_months=freshness_months,
        network_id=network_id,
        framework=framework,
        lang=lang,
        checkpoint=checkpoint,
    )


@without_cycle_collection()
def build_report(
    store: EventStore,
    log: TransparencyLog,
    *,
    as_of: date,
    freshness_months: int,
    network_id: str | None = None,
    framework: Framework = "all",
    lang: Language = "en",
) -> ReportOut:
    """The accountability report as of ``as_of``, from the log, citing its checkpoint.

    The citation is the smallest checkpoint that verifies and holds every entry the report
    counts (``TransparencyLog.checkpoint_covering``): a forged checkpoint row is never cited.
    """
    folded = fold_log(store_envelopes(store), as_of, decode=decode_sealed)
    covering = log.checkpoint_covering(folded.tree_size)
    return report_from_state(
        folded.state,
        tree_size=folded.tree_size,
        as_of=as_of,
        freshness_months=freshness_months,
        network_id=network_id,
        framework=framework,
        lang=lang,
        checkpoint=None
        if covering is None
        else CheckpointCitationOut(tree_size=covering.size, note=covering.note),
        spend=True,
    )


# --- the published roll-ups (rollups.json) -------------------------------------------------------


def _document(
    tree_size: int,
    as_of: date | None,
    freshness_months: int,
    rollups: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    return {
        "format": ROLLUPS_FORMAT,
        "tree_size": tree_size,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "freshness_months": freshness_months,
        "rollups": {dimension: rollups.get(dimension, []) for dimension in DIMENSIONS},
    }


@without_cycle_collection()
def _document_of(
    envelopes: Iterable[Envelope],
    tree_size: int,
    freshness_months: int,
    as_of: date | None,
    decode: Decode = Envelope.decode_payload,
) -> dict[str, Any]:
    """Fold the first ``tree_size`` envelopes as they stream by (never all in memory)."""
    last: list[Envelope] = []

    def counted() -> Iterator[Envelope]:
        for envelope in islice(envelopes, tree_size):
            last[:] = [envelope]
            yield envelope

    folded = fold_log(counted(), decode=decode)
    if folded.tree_size < tree_size:
        raise InvalidQuery(
            f"the roll-ups rest on {tree_size} entries; only {folded.tree_size} given",
            field="tree_size",
        )
    as_of = as_of or (recorded_on(last[0]) if last else None)
    cells = folded.state.rollup_cells()
    rollups: dict[str, list[dict[str, Any]]] = {}
    if as_of is not None:
        rollups = {d: list(DimensionList(cells, d, as_of, freshness_months)) for d in DIMENSIONS}
    return _document(tree_size, as_of, freshness_months, rollups)


def recompute_rollups_document(
    entries: Iterable[bytes],
    *,
    tree_size: int,
    freshness_months: int,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The roll-ups of the first ``tree_size`` entries (envelope bytes in leaf order).

    Pure, no database: what the verifier replays from a bundle's ``entries.jsonl`` to check its
    ``rollups.json``. Freshness is judged on ``as_of``, by default the day (UTC) the last of
    those entries was recorded, so the document depends on nothing but the entries and
    ``freshness_months`` (which it records).
    """
    envelopes = (read_envelope(raw) for raw in entries)
    return _document_of(envelopes, tree_size, freshness_months, as_of)


def rollups_document(
    engine: Engine,
    store: EventStore,
    *,
    tree_size: int,
    freshness_months: int,
    as_of: date | None = None,
) -> dict[str, Any]:
    """The published roll-ups at ``tree_size``: what ``rollups.json`` holds.

    When the live views stand exactly at ``tree_size`` events (catch them up to the
    notification of the tree's last leaf before exporting), the document is read from them;
    otherwise it is computed from the first ``tree_size`` events of the log. Both give what
    ``recompute_rollups_document`` gives on the same entries.
    """
    with read_snapshot(engine) as connection:
        position = connection.execute(
            select(projection_position.c.notification_id, projection_position.c.events).where(
                projection_position.c.name == VIEWS
            )
        ).one_or_none()
        if position is not None and position.events == tree_size and tree_size > 0:
            last = store.notifications_on(connection, after=position.notification_id - 1, limit=1)
            as_of = as_of or recorded_on(read_envelope(last[0].raw))
            rollups = all_rollups(connection, today=as_of, freshness_months=freshness_months)
            return _document(tree_size, as_of, freshness_months, rollups)
    return _document_of(
        store_envelopes(store), tree_size, freshness_months, as_of, decode=decode_sealed
    )
