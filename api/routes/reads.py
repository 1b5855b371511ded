"""Public reads: the pledge list (filters, cursor pages, CSV), a pledge now or on a past date,
its timeline, and the roll-ups (one network's, or every key of a dimension).

Everything here reads the projections' ``XxxOut`` models; nothing writes. Dates in the past
(``as_of``) go through ``projections.as_of`` behind ``state_as_of`` (a fold of the pledge's own
stream) and ``rollups_on`` (the roll-ups' history, or a fold of the log it does not cover).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.bootstrap import Services
from api.dependencies import ServicesDep
from api.errors import ApiError, UnknownResource
from api.report_formats import spreadsheet_safe
from domain.external_ids import parse_external_id
from domain.pledge import Status
from domain.registry import city_stream, declaration_stream, network_stream
from domain.values import LANGUAGES
from projections import (
    DIMENSIONS,
    PledgeOut,
    PledgeSummaryOut,
    RollupOut,
    TimelineEntryOut,
    list_pledges,
    network,
    pledge,
    pledge_as_of,
    pledge_timeline,
    read_snapshot,
    rollup,
    rollup_as_of,
    rollups,
    rollups_as_of,
    stream_timeline,
)
from projections.counters import build_rollup
from projections.pledges import hosting_views
from projections.quality import QualityFlag

router = APIRouter(prefix="/api/v1", tags=["public reads"])

MAX_CURSOR = 128
"""Characters of a cursor: base64 of a pledge id (36 characters) is 48."""
MAX_ROLLUPS_CURSOR = 1024
"""Characters of a roll-ups cursor: base64 of a group's key (a city id, an indicator's area)."""

CSV_COLUMNS = (
    "pledge_id",
    "network_id",
    "status",
    "stage",
    "cities",
    "countries",
    "gcm_objectives",
    "gcr_areas",
    *(f"title_{language}" for language in LANGUAGES),
    "version",
    "submitted_at",
    "updated_at",
    "last_reported_on",
    "flags",
)

Identifier = Annotated[str, Path(min_length=1, max_length=64)]


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class PledgePageOut(WireModel):
    """One page of the pledge list, in pledge id order."""

    items: tuple[PledgeSummaryOut, ...]
    cursor: str | None
    """Pass as ``cursor`` to get the next page (None: this is the last)."""
    next: str | None
    """The URL of the next page, with the same filters (None: this is the last)."""


class TimelineOut(WireModel):
    pledge_id: str
    events: tuple[TimelineEntryOut, ...]


class RollupsOut(WireModel):
    """One page of a dimension's roll-ups, in key order (by code point)."""

    by: str
    as_of: date | None
    """The date the roll-ups stand on when asked for a past date (None: now)."""
    items: tuple[RollupOut, ...]
    cursor: str | None = None
    """Pass as ``cursor`` to get the next page (None: this is the last)."""
    next: str | None = None
    """The URL of the next page (None: this is the last)."""


ROLLUPS_PAGE = 1000
"""Roll-ups a page holds unless ``limit`` says fewer (every dimension but cities and countries
fits in one); at most ``ROLLUPS_PAGE_MAX``."""
ROLLUPS_PAGE_MAX = 5000


def encode_cursor(pledge_id: str) -> str:
    return base64.urlsafe_b64encode(pledge_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The last pledge id (or roll-up key) of the previous page; a cursor this server did not
    make is refused."""
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded or not decoded.isprintable() or encode_cursor(decoded) != cursor:
        raise ApiError("not a cursor of this list: pass the one a page answered", field="cursor")
    return decoded


def next_page_url(request: Request, cursor: str | None) -> str | None:
    """The request's URL with ``cursor`` in place of its own (None: there is no next page)."""
    if cursor is None:
        return None
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{request.url.path}?{urlencode([*query, ('cursor', cursor)])}"


def today(services: Services) -> date:
    return services.log.clock.now().date()


def state_as_of(services: Services, pledge_id: str, day: date) -> PledgeOut | None:
    """A pledge on a past day (folds its stream, and those of the pledges that host a match
    with it: see the module docstring)."""
    with read_snapshot(services.engine) as connection:
        hosts = [view.pledge_id for view in hosting_views(connection, pledge_id)]
    return pledge_as_of(
        services.store,
        pledge_id,
        day,
        freshness_months=services.settings.freshness_months,
        hosts=hosts,
    )


def rollups_on(
    services: Services,
    dimension: str,
    day: date,
    key: str | None = None,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[RollupOut]:
    """Roll-ups as they stood at the end of a past day (from the roll-ups' history, or a fold
    of the log when it does not cover the day); a page with ``after`` and ``limit``."""
    months = services.settings.freshness_months
    engine = services.engine
    if key is None:
        return rollups_as_of(
            services.store,
            dimension,
            day,
            freshness_months=months,
            engine=engine,
            after=after,
            limit=limit,
        )
    found = rollup_as_of(
        services.store, dimension, key, day, freshness_months=months, engine=engine
    )
    return [found] if found is not None else []


def refuse_future(as_of: date | None, services: Services) -> None:
    if as_of is not None and as_of > today(services):
        raise ApiError(f"{as_of} is in the future: the ledger knows only the past", field="as_of")


def csv_page(items: tuple[PledgeSummaryOut, ...]) -> str:
    """The page as CSV: a header row, then one row per pledge, every cell made inert for
    spreadsheets (a title starting with ``=`` is text, not a formula)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        cells = [
            item.pledge_id,
            item.network_id,
            item.status,
            item.stage or "",
            ";".join(item.cities),
            ";".join(item.countries),
            ";".join(str(n) for n in item.gcm_objectives),
            ";".join(item.gcr_areas),
            *(item.title.get(language, "") for language in LANGUAGES),
            str(item.version),
            item.submitted_at,
            item.updated_at,
            item.last_reported_on.isoformat() if item.last_reported_on else "",
            ";".join(item.flags),
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return buffer.getvalue()


@router.get(
    "/pledges",
    response_model=PledgePageOut,
    responses={200: {"content": {"text/csv": {}}, "description": "the page (JSON or CSV)"}},
)
def pledges_list(
    request: Request,
    services: ServicesDep,
    network_id: Annotated[str | None, Query(alias="network", min_length=1, max_length=64)] = None,
    city: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    status: Status | None = None,
    gcm_objective: Annotated[int | None, Query(ge=1, le=23)] = None,
    gcr_area: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    sdg: Annotated[str | None, Query(pattern=r"^(1[0-7]|[1-9])(\.[0-9a-z]{1,2})?$")] = None,
    priority_area: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    gcm_principle: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    call: Annotated[str | None, Query(min_length=1, max_length=80)] = None,
    stale: Annotated[
        bool, Query(description="true: only the open pledges silent past the window")
    ] = False,
    support_needed: Annotated[
        bool | None,
        Query(
            description="true: only the open pledges whose latest progress report asks for "
            "support (what matching starts from); false: every other pledge"
        ),
    ] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="text in a title or description"),
    ] = None,
    external_id: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=170,
            description="SCHEME:ID, an id the pledge has elsewhere (grf:…, gcm:…, NETWORK:…)",
        ),
    ] = None,
    flag: Annotated[
        QualityFlag | None,
        Query(description="only the pledges carrying this quality flag today (derived)"),
    ] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=MAX_CURSOR)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    response_format: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> PledgePageOut | Response:
    """Pledges matching every filter given, a page at a time in pledge id order.

    ``sdg`` names a target ("10.7") and matches every pledge of its goal; ``stale=true``
    keeps the open pledges with no progress report within the freshness window; ``q`` finds
    text in a title or description, any language (translations too), ignoring case;
    ``external_id=grf:12345`` finds the pledge that carries that id. ``format=csv`` answers the
    text in a title or description, any language, ignoring case; ``flag`` keeps the pledges
    carrying that quality flag today (every row carries its flags). ``format=csv`` answers the
    page as CSV, the next page's URL in ``Link``.
    """
    after = decode_cursor(cursor) if cursor is not None else None
    held = parse_external_id(external_id) if external_id is not None else None
    months = services.settings.freshness_months
    with read_snapshot(services.engine) as connection:
        page = list_pledges(
            connection,
            network_id=network_id,
            status=status,
            city=city,
            country=country,
            gcm_objective=gcm_objective,
            gcr_area=gcr_area,
            sdg=sdg,
            priority_area=priority_area,
            gcm_principle=gcm_principle,
            call=call,
            support_needed=support_needed,
            silent_on=today(services) if stale else None,
            freshness_months=months,
            text=q,
            external_id=held,
            after=after,
            limit=limit,
            flags_on=today(services),
            flag=flag,
        )
    items = page.items
    next_cursor = encode_cursor(page.next_after) if page.next_after is not None else None
    next_url = next_page_url(request, next_cursor)
    if response_format == "csv":
        headers = {"link": f'<{next_url}>; rel="next"'} if next_url else None
        return Response(csv_page(items), media_type="text/csv; charset=utf-8", headers=headers)
    return PledgePageOut(items=items, cursor=next_cursor, next=next_url)


@router.get("/pledges/{pledge_id}", response_model=PledgeOut)
def pledge_state(
    services: ServicesDep,
    pledge_id: Identifier,
    as_of: Annotated[date | None, Query(description="the state at the end of this day")] = None,
) -> PledgeOut:
    """A pledge's current state, or its state at the end of ``as_of``."""
    refuse_future(as_of, services)
    if as_of is not None:
        found = state_as_of(services, pledge_id, as_of)
    else:
        with read_snapshot(services.engine) as connection:
            found = pledge(
                connection,
                pledge_id,
                today=today(services),
                freshness_months=services.settings.freshness_months,
            )
    if found is None:
        when = f" on {as_of}" if as_of is not None else ""
        raise UnknownResource(f"no pledge {pledge_id!r}{when}", field="pledge_id")
    return found


@router.get("/pledges/{pledge_id}/timeline", response_model=TimelineOut)
def pledge_events(services: ServicesDep, pledge_id: Identifier) -> TimelineOut:
    """Every event of the pledge, oldest first, with its leaf index and exact envelope."""
    with services.engine.connect() as connection:
        events = pledge_timeline(services.store, connection, pledge_id)
    if not events:
        raise UnknownResource(f"no pledge {pledge_id!r}", field="pledge_id")
    return TimelineOut(pledge_id=pledge_id, events=tuple(events))


class HistoryOut(WireModel):
    stream_id: str
    events: tuple[TimelineEntryOut, ...]


def _history(services: Services, stream_id: str, what: str, field: str) -> HistoryOut:
    with services.engine.connect() as connection:
        events = stream_timeline(services.store, connection, stream_id)
    if not events:
        raise UnknownResource(f"no {what}", field=field)
    return HistoryOut(stream_id=stream_id, events=tuple(events))


@router.get("/cities/{city_id}/history", response_model=HistoryOut)
def city_history(services: ServicesDep, city_id: Identifier) -> HistoryOut:
    """Every event of the city's registry entry (registration, corrections), oldest first."""
    return _history(services, city_stream(city_id), f"city {city_id!r}", "city_id")


@router.get("/networks/{network_id}/history", response_model=HistoryOut)
def network_history(services: ServicesDep, network_id: Identifier) -> HistoryOut:
    """Every event of the network: registration, members joining and leaving, corrections."""
    return _history(services, network_stream(network_id), f"network {network_id!r}", "network_id")


@router.get("/declarations/{declaration_id}/history", response_model=HistoryOut)
def declaration_history(services: ServicesDep, declaration_id: Identifier) -> HistoryOut:
    """Every signature of the declaration and every withdrawal of one, oldest first."""
    return _history(
        services,
        declaration_stream(declaration_id),
        f"signature of declaration {declaration_id!r}",
        "declaration_id",
    )


@router.get("/networks/{network_id}/rollup", response_model=RollupOut)
def network_rollup(
    services: ServicesDep,
    network_id: Identifier,
    as_of: Annotated[date | None, Query(description="the roll-up at the end of this day")] = None,
) -> RollupOut:
    """Counts and indicator totals of one network's pledges (now, or at the end of ``as_of``);
    a registered network without pledges has every count at zero."""
    refuse_future(as_of, services)
    with read_snapshot(services.engine) as connection:
        if network(connection, network_id) is None:
            raise UnknownResource(f"no network {network_id!r}", field="network_id")
        if as_of is None:
            found = rollup(
                connection,
                "network",
                network_id,
                today=today(services),
                freshness_months=services.settings.freshness_months,
            )
    if as_of is not None:
        found = next(iter(rollups_on(services, "network", as_of, network_id)), None)
    if found is None:  # a network without pledges (yet, or on that day): every count is zero
        day = as_of or today(services)
        months = services.settings.freshness_months
        found = build_rollup("network", network_id, {}, 0, 0, (), day, months)
    return found


@router.get("/rollups", response_model=RollupsOut)
def rollups_by(
    request: Request,
    services: ServicesDep,
    by: Annotated[
        str, Query(description=f"one of {', '.join(DIMENSIONS)}", min_length=1, max_length=32)
    ],
    as_of: Annotated[date | None, Query(description="the roll-ups at the end of this day")] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=MAX_ROLLUPS_CURSOR)] = None,
    limit: Annotated[int, Query(ge=1, le=ROLLUPS_PAGE_MAX)] = ROLLUPS_PAGE,
) -> RollupsOut:
    """Every group's roll-up along one dimension, by key (now, or at the end of ``as_of``), a
    page at a time: ``cursor`` and ``next`` lead to the following page."""
    refuse_future(as_of, services)
    after = decode_cursor(cursor) if cursor is not None else None
    if as_of is not None:
        found = rollups_on(services, by, as_of, after=after, limit=limit + 1)
    else:
        with read_snapshot(services.engine) as connection:
            found = rollups(
                connection,
                by,
                today=today(services),
                freshness_months=services.settings.freshness_months,
                after=after,
                limit=limit + 1,
            )
    items = tuple(found[:limit])
    next_cursor = encode_cursor(items[-1].key) if len(found) > limit else None
    return RollupsOut(
        by=by,
        as_of=as_of,
        items=items,
        cursor=next_cursor,
        next=next_page_url(request, next_cursor),
    )
