"""Accountability reports over HTTP, and the reports published on the log.

``GET /api/v1/reports`` answers the same bytes as ``pledge-ledger report`` with the same scope
(``as_of``, ``network``, ``framework``, ``lang``, ``format``), so a forum can fetch a report and
check it against a publication. It folds the log up to ``as_of``, one report at a time per
store, and keeps past days' reports (``api.report_builds``): a fold is as slow as the
command line's report (see benchmarks/RESULTS.md). ``GET
/api/v1/reports/published`` lists every ``report.published`` event, oldest first.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.dependencies import ServicesDep
from api.errors import ApiError, UnknownResource
from api.report_builds import ReportBuilds
from api.report_formats import render_report
from domain.events import Framework, ReportFormat
from domain.values import Language
from projections import PublishedReportOut, network, read_snapshot
from projections.publications import published_reports

router = APIRouter(prefix="/api/v1", tags=["reports"])

MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


@router.get(
    "/reports",
    responses={
        200: {
            "content": {media.split(";")[0]: {} for media in MEDIA_TYPES.values()},
            "description": "the report, in the format asked for",
        }
    },
)
def report(
    request: Request,
    services: ServicesDep,
    as_of: Annotated[date, Query(description="events recorded by the end of this day (UTC)")],
    network_id: Annotated[str | None, Query(alias="network", min_length=1, max_length=64)] = None,
    framework: Annotated[
        Framework, Query(description="gcm, gcr (GCR-tagged pledges: a GRF report) or all")
    ] = "all",
    lang: Language = "en",
    report_format: Annotated[ReportFormat, Query(alias="format")] = "json",
) -> Response:
    """The accountability report as of a day, citing the signed checkpoint it rests on: the
    bytes ``pledge-ledger report`` prints with the same options."""
    if as_of > services.log.clock.now().date():
        raise ApiError(f"{as_of} is in the future: the ledger knows only the past", field="as_of")
    if network_id is not None:
        with read_snapshot(services.engine) as connection:
            if network(connection, network_id) is None:
                raise UnknownResource(f"no network {network_id!r}", field="network")
    builds: ReportBuilds = request.app.state.reports
    built = builds.report(
        services,
        as_of=as_of,
        network_id=network_id,
        framework=framework,
        lang=lang,
    )
    return Response(render_report(built, report_format), media_type=MEDIA_TYPES[report_format])


@router.get("/reports/published", response_model=list[PublishedReportOut])
def reports_published(services: ServicesDep) -> list[PublishedReportOut]:
    """Every report published on the log (``report.published``), oldest first: digests, scope,
    as-of day, tree sizes and the leaf that records it."""
    return published_reports(services.store, services.engine, services.log)
