"""projections layer: read models rebuilt from the event log (SQLAlchemy Core, same database).

The public surface, for the API and the command line:

- keeping views current: ``ProjectionRunner(engine, store)`` with ``install()``,
  ``catch_up(until=None)`` (the write path's read-model port, wired in ``api.bootstrap``),
  ``behind()`` and ``follow(poll_interval, stop)``; ``rebuild(engine, store, progress=…)``.
- what they answer: read models named ``XxxOut``, all in ``projections.models``.
- reading them: ``pledge``, ``list_pledges``, ``pledge_timeline``, ``rollup`` / ``rollups`` /
  ``all_rollups``, ``silent_pledges``, ``city``, ``network``, ``signatures`` (open the
  connection with ``read_snapshot(engine)`` when a query reads several tables).
- the past: ``pledge_as_of``, ``rollup_as_of``, ``rollups_as_of`` (given the engine, roll-ups
  are read from the roll-ups' history, ADR 0017); ``build_history(engine, store)`` writes that
  history from the log for a store whose history is behind (loaded in bulk, or older).
- reports: ``build_report`` / ``report_from_entries`` return the ``ReportOut`` data (the api
  layer's ``api.report_formats`` writes it); the published roll-ups: ``rollups_document`` and
  its offline twin ``recompute_rollups_document``.
"""

from projections.as_of import pledge_as_of, rollup_as_of, rollups_as_of
from projections.counters import DIMENSIONS
from projections.errors import InvalidQuery, ProjectionError, RebuildFailed
from projections.history import HistoryResult, build_history
from projections.models import (
    CheckpointCitationOut,
    CityOut,
    ErratumOut,
    ExternalIdOut,
    FlagCountOut,
    FreshnessOut,
    IndicatorOut,
    IndicatorProgressOut,
    LegendEntryOut,
    MatchOut,
    NetworkOut,
    ObservationCorrectionOut,
    PledgeListOut,
    PledgeOrder,
    PledgeOut,
    PledgeSummaryOut,
    PublishedReportOut,
    ReadingOut,
    ReferenceItemOut,
    RegistryTotalsOut,
    ReportOut,
    ReportPledgeOut,
    ReportSourceOut,
    RollupOut,
    SignatureOut,
    SilentPledgeOut,
    TaxonomyEntryOut,
    TimelineEntryOut,
    TranslationOut,
    ValidationOut,
)
from projections.pledges import list_pledges, pledge, registry_totals, silent_pledges, tag_counts
from projections.projector import Projector
from projections.publications import published_reports
from projections.rebuild import RebuildProgress, RebuildResult, rebuild
from projections.registry import (
    city,
    city_names,
    network,
    network_names,
    reference_items,
    signatures,
    signatures_of,
)
from projections.reports import (
    build_report,
    recompute_rollups_document,
    report_from_entries,
    rollups_document,
)
from projections.rollups import all_rollups, rollup, rollups
from projections.runner import LedgerHead, ProjectionRunner, ledger_head, views_position
from projections.tables import read_snapshot
from projections.timeline import pledge_timeline, stream_timeline

__all__ = [
    "DIMENSIONS",
    "CheckpointCitationOut",
    "CityOut",
    "ErratumOut",
    "ExternalIdOut",
    "FlagCountOut",
    "FreshnessOut",
    "HistoryResult",
    "IndicatorOut",
    "IndicatorProgressOut",
    "InvalidQuery",
    "LedgerHead",
    "LegendEntryOut",
    "MatchOut",
    "NetworkOut",
    "ObservationCorrectionOut",
    "PledgeListOut",
    "PledgeOrder",
    "PledgeOut",
    "PledgeSummaryOut",
    "ProjectionError",
    "ProjectionRunner",
    "Projector",
    "PublishedReportOut",
    "ReadingOut",
    "RebuildFailed",
    "RebuildProgress",
    "RebuildResult",
    "ReferenceItemOut",
    "RegistryTotalsOut",
    "ReportOut",
    "ReportPledgeOut",
    "ReportSourceOut",
    "RollupOut",
    "SignatureOut",
    "SilentPledgeOut",
    "TaxonomyEntryOut",
    "TimelineEntryOut",
    "TranslationOut",
    "ValidationOut",
    "all_rollups",
    "build_history",
    "build_report",
    "city",
    "city_names",
    "ledger_head",
    "list_pledges",
    "network",
    "network_names",
    "pledge",
    "pledge_as_of",
    "pledge_timeline",
    "published_reports",
    "read_snapshot",
    "rebuild",
    "recompute_rollups_document",
    "reference_items",
    "registry_totals",
    "report_from_entries",
    "rollup",
    "rollup_as_of",
    "rollups",
    "rollups_as_of",
    "rollups_document",
    "signatures",
    "signatures_of",
    "silent_pledges",
    "stream_timeline",
    "tag_counts",
    "views_position",
]
