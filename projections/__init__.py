"""projections layer: read models rebuilt from the event log (SQLAlchemy Core, same database).

The public surface, for the API and the command line:

- keeping views current: ``ProjectionRunner(engine, store)`` with ``install()``,
  ``catch_up(until=None)`` (the write path's read-model port, wired in ``api.bootstrap``),
  ``behind()`` and ``follow(poll_interval, stop)``; ``rebuild(engine, store, progress=…)``.
- what they answer: read models named ``XxxOut``, all in ``projections.models``.
- reading them: ``pledge``, ``list_pledges``, ``pledge_timeline``, ``rollup`` / ``rollups`` /
  ``all_rollups``, ``silent_pledges``, ``city``, ``network``, ``signatures`` (open the
  connection with ``read_snapshot(engine)`` when a query reads several tables).
- the past: ``pledge_as_of``, ``rollup_as_of``, ``rollups_as_of``.
- reports: ``build_report`` / ``report_from_entries`` return the ``ReportOut`` data (the api
  layer's ``api.report_formats`` writes it); the published roll-ups: ``rollups_document`` and
  its offline twin ``recompute_rollups_document``.
"""

from projections.as_of import pledge_as_of, rollup_as_of, rollups_as_of
from projections.counters import DIMENSIONS
from projections.errors import InvalidQuery, ProjectionError, RebuildFailed
from projections.models import (
    CheckpointCitationOut,
    CityOut,
    ErratumOut,
    FreshnessOut,
    IndicatorOut,
    IndicatorProgressOut,
    MatchOut,
    NetworkOut,
    PledgeListOut,
    PledgeOrder,
    PledgeOut,
    PledgeSummaryOut,
    ReadingOut,
    RegistryTotalsOut,
    ReportOut,
    ReportSourceOut,
    RollupOut,
    SignatureOut,
    SilentPledgeOut,
    TimelineEntryOut,
    ValidationOut,
)
from projections.pledges import list_pledges, pledge, registry_totals, silent_pledges, tag_counts
from projections.projector import Projector
from projections.rebuild import RebuildProgress, RebuildResult, rebuild
from projections.registry import (
    city,
    city_names,
    network,
    network_names,
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
from projections.runner import ProjectionRunner, views_position
from projections.tables import read_snapshot
from projections.timeline import pledge_timeline

__all__ = [
    "DIMENSIONS",
    "CheckpointCitationOut",
    "CityOut",
    "ErratumOut",
    "FreshnessOut",
    "IndicatorOut",
    "IndicatorProgressOut",
    "InvalidQuery",
    "MatchOut",
    "NetworkOut",
    "PledgeListOut",
    "PledgeOrder",
    "PledgeOut",
    "PledgeSummaryOut",
    "ProjectionError",
    "ProjectionRunner",
    "Projector",
    "ReadingOut",
    "RebuildFailed",
    "RebuildProgress",
    "RebuildResult",
    "RegistryTotalsOut",
    "ReportOut",
    "ReportSourceOut",
    "RollupOut",
    "SignatureOut",
    "SilentPledgeOut",
    "TimelineEntryOut",
    "ValidationOut",
    "all_rollups",
    "build_report",
    "city",
    "city_names",
    "list_pledges",
    "network",
    "network_names",
    "pledge",
    "pledge_as_of",
    "pledge_timeline",
    "read_snapshot",
    "rebuild",
    "recompute_rollups_document",
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
    "tag_counts",
    "views_position",
]
