"""The public pages, served by the API's process: each reads the projections through the same
functions as ``/api/v1`` (nothing here knows a table), builds its view model and renders it.

Every page answers HTML, also when the request is refused: a person gets a page that says what
was wrong and which field, with the status code a script would look at (400 for a malformed
filter, 404 for an unknown id). Pages carry a Content-Security-Policy that allows only this
origin's stylesheet: no script runs on them, none is needed (forms are plain GET forms, the
charts are SVG written by the server, each beside its table).
"""

from __future__ import annotations

import base64
import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Connection

from api.bootstrap import Services
from api.caching import entity_tag
from api.demo import demo_state
from api.errors import ApiError, UnknownResource
from api.pages.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGE_COOKIE,
    LANGUAGE_NAMES,
    Messages,
    as_language,
    choose_language,
)
from api.pages.views import (
    city_view,
    gcm_label,
    gcr_label,
    named_html,
    named_network,
    network_view,
    page_url,
    pledge_rows,
    pledge_view,
    recent_event,
    status_chart,
)
from api.problems import LAYER_ROOTS, LayerError, retry, status_of
from api.report_builds import ReportBuilds
from api.report_formats import REPORT_FORMATS, render_report, report_sections
from api.routes.audit import latest_checkpoint
from api.routes.reads import decode_cursor, encode_cursor, state_as_of, today
from domain.events import Framework
from domain.pledge import STATUSES
from domain.taxonomies import reference_taxonomies
from domain.values import Language
from ledger.api_keys import KeyRecord, key_history
from ledger.envelope import open_envelope
from ledger.errors import LedgerError
from ledger.log import SignedCheckpoint
from ledger.merkle import verify_consistency
from projections import (
    LedgerHead,
    PledgeOrder,
    city,
    city_names,
    ledger_head,
    list_pledges,
    network,
    network_names,
    pledge,
    pledge_timeline,
    read_snapshot,
    reference_items,
    registry_totals,
    rollup,
    rollups,
    signatures_of,
    tag_counts,
    views_position,
)

FRAMEWORKS: tuple[Framework, ...] = ("all", "gcm", "gcr")
"""The report scopes the reports page offers (``--framework`` of the command line)."""

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    # The same address answers in the reader's language: caches must keep them apart, and ask
    # again (the ETag makes that cheap) since the ledger changes with every write.
    "vary": "Accept-Language, Cookie",
    "cache-control": "no-cache",
}
COOKIE_MAX_AGE = 365 * 24 * 3600
RECENT_EVENTS = 10
SILENT_SHOWN = 10
DEMO_RECHECK_SECONDS = 30.0
TAG_CACHE_SIZE = 1024
PAGE_CACHE_BYTES = 48 * 1024 * 1024
"""The rendered pages kept, by the size of their bodies (least recently used go first)."""
PAGE_WAIT_SECONDS = 30.0
CHARTED_TAGS = ("gcm_objective", "gcr_area")

_COUNTRY = re.compile(r"^[A-Z]{2}\Z")
_SDG = re.compile(r"^(1[0-7]|[1-9])(\.[0-9a-z]{1,2})?\Z")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
SORTS: tuple[PledgeOrder, ...] = ("pledge_id", "updated", "submitted")
LIMITS = (20, 50, 100, 200)


class PageInputError(ApiError):
    """A page's query parameter is malformed (400, naming the parameter)."""

    code = "invalid_query"


# --- reading the query ------------------------------------------------------------------------


def _text(params: Mapping[str, str], name: str, *, longest: int) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if len(value) > longest:
        raise PageInputError(f"at most {longest} characters", field=name)
    return value


def _identifier(params: Mapping[str, str], name: str) -> str | None:
    value = _text(params, name, longest=64)
    if value is not None and not _ID.match(value):
        raise PageInputError(f"{value!r} is not an id", field=name)
    return value


def _day(params: Mapping[str, str], name: str, services: Services) -> date | None:
    value = _text(params, name, longest=10)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PageInputError(f"{value!r} is not a date (YYYY-MM-DD)", field=name) from None
    if day > today(services):
        raise PageInputError(f"{day} is in the future: the ledger knows only the past", field=name)
    return day


def _number(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = _text(params, name, longest=12)
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise PageInputError(f"{value!r} is not a whole number from {low} to {high}", field=name)
    return int(value)


@dataclass(frozen=True, slots=True)
class PledgeQuery:
    """The pledge list's filters, exactly those of ``GET /api/v1/pledges``, plus the order."""

    network: str | None = None
    city: str | None = None
    country: str | None = None
    status: str | None = None
    gcm_objective: int | None = None
    gcr_area: str | None = None
    sdg: str | None = None
    priority_area: str | None = None
    stale: bool = False
    q: str | None = None
    sort: PledgeOrder = "pledge_id"
    limit: int = 50
    cursor: str | None = None

    def link(self, **changes: object) -> dict[str, object | None]:
        """The query string's parameters (defaults left out), with ``changes``."""
        fields: dict[str, object | None] = {
            "q": self.q,
            "network": self.network,
            "city": self.city,
            "country": self.country,
            "status": self.status,
            "gcm_objective": self.gcm_objective,
            "gcr_area": self.gcr_area,
            "sdg": self.sdg,
            "priority_area": self.priority_area,
            "stale": "true" if self.stale else None,
            "sort": None if self.sort == "pledge_id" else self.sort,
            "limit": None if self.limit == 50 else self.limit,
            "cursor": self.cursor,
        }
        fields.update(changes)
        return fields

    @property
    def filtered(self) -> bool:
        return any(v is not None for k, v in self.link(cursor=None, sort=None, limit=None).items())


def pledge_query(params: Mapping[str, str]) -> PledgeQuery:
    country = _text(params, "country", longest=2)
    if country is not None:
        country = country.upper()
        if not _COUNTRY.match(country):
            raise PageInputError("a country is its ISO 3166-1 alpha-2 code", field="country")
    status = _text(params, "status", longest=32)
    if status is not None and status not in STATUSES:
        raise PageInputError(f"unknown status: one of {', '.join(STATUSES)}", field="status")
    sdg = _text(params, "sdg", longest=5)
    if sdg is not None and not _SDG.match(sdg):
        raise PageInputError("an SDG goal or target, e.g. 10 or 10.7", field="sdg")
    stale = params.get("stale", "").strip().lower()
    if stale not in ("", "true", "false", "on"):
        raise PageInputError("true or false", field="stale")
    sort = params.get("sort", "").strip() or "pledge_id"
    chosen_sort = next((s for s in SORTS if s == sort), None)
    if chosen_sort is None:
        raise PageInputError(f"unknown order: one of {', '.join(SORTS)}", field="sort")
    cursor = _text(params, "cursor", longest=256)
    return PledgeQuery(
        network=_identifier(params, "network"),
        city=_identifier(params, "city"),
        country=country,
        status=status,
        gcm_objective=_number(params, "gcm_objective", 1, 23),
        gcr_area=_text(params, "gcr_area", longest=80),
        sdg=sdg,
        priority_area=_text(params, "priority_area", longest=80),
        stale=stale in ("true", "on"),
        q=_text(params, "q", longest=200),
        sort=chosen_sort,
        limit=_number(params, "limit", 1, 200) or 50,
        cursor=cursor,
    )


# --- rendering --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Head:
    """Where the ledger stands: a page rendered at one head is the same page until it moves."""

    ledger: LedgerHead
    day: date


@dataclass(frozen=True, slots=True)
class RenderKey:
    """A rendered page's identity: the address as asked (with its host: receipts and commands
    on the pages name it), the language chosen, and the ledger's head."""

    base: str
    path: str
    query: str
    lang: Language
    head: Head


@dataclass(frozen=True, slots=True)
class Rendered:
    """A page kept: its status, body and headers (never a cookie: that is the reader's)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: Response) -> Rendered:
        headers = tuple(
            (name, value)
            for name, value in response.headers.items()
            if name not in ("set-cookie", "content-length", "etag")
        )
        body = bytes(response.body)
        # Its ETag once, here, rather than hashed again by ``api.caching`` on every visit.
        return cls(response.status_code, body, (*headers, ("etag", entity_tag(body))))

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, headers=dict(self.headers))


class Pages:
    """What the pages share in one app: the templates, the demo label, the report builder."""

    def __init__(self, reports: ReportBuilds | None = None) -> None:
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"], default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # The templates ship with the package: compile them once, here, rather than on
            # the first visit of each page, and never look at their files again.
            auto_reload=False,
        )
        for name in self.templates.list_templates(extensions=["html"]):
            self.templates.get_template(name)
        self._lock = threading.Lock()
        self._demo: tuple[float, bool] | None = None
        self.reports = reports if reports is not None else ReportBuilds()
        self._keys: tuple[int, Sequence[KeyRecord]] | None = None
        self._tags: OrderedDict[tuple[str, str], tuple[int, dict[str, dict[str, int]]]] = (
            OrderedDict()
        )
        self._rendered: OrderedDict[RenderKey, Rendered] = OrderedDict()
        self._rendered_bytes = 0
        self._rendering: dict[RenderKey, threading.Event] = {}

    def head(self, services: Services) -> Head:
        """What every page is a function of, besides its address and language: the events
        stored, where the read models stand, the log's size and latest checkpoint row, the
        ledger's day (silence is counted from it). One statement of four one-row reads."""
        with services.engine.connect() as connection:
            found = ledger_head(connection, services.store)
        return Head(found, today(services))

    def rendered(self, key: RenderKey, render: Callable[[], Response]) -> Response:
        """The page for ``key``, rendered once: a page that answered 200 is kept until its
        head moves (any write does) or it is pushed out; requests for a page being rendered
        wait for that render instead of repeating it."""
        while True:
            with self._lock:
                kept = self._rendered.get(key)
                if kept is not None:
                    self._rendered.move_to_end(key)
                    return kept.response()
                underway = self._rendering.get(key)
                if underway is None:
                    mine = threading.Event()
                    self._rendering[key] = mine
                    break
            # Another request renders it: take its page, or render it if that one was refused.
            underway.wait(PAGE_WAIT_SECONDS)
        try:
            response = render()
            if response.status_code == 200 and isinstance(getattr(response, "body", None), bytes):
                self._keep(key, Rendered.of(response))
            return response
        finally:
            with self._lock:
                self._rendering.pop(key, None)
            mine.set()

    def _keep(self, key: RenderKey, page: Rendered) -> None:
        if len(page.body) > PAGE_CACHE_BYTES // 8:
            return
        with self._lock:
            # Pages of an older head can never be asked for again: drop them all at once.
            stale = [k for k in self._rendered if k.head != key.head]
            for old in stale:
                self._rendered_bytes -= len(self._rendered.pop(old).body)
            previous = self._rendered.pop(key, None)
            if previous is not None:
                self._rendered_bytes -= len(previous.body)
            self._rendered[key] = page
            self._rendered_bytes += len(page.body)
            while self._rendered_bytes > PAGE_CACHE_BYTES:
                _, dropped = self._rendered.popitem(last=False)
                self._rendered_bytes -= len(dropped.body)

    def key_history(self, services: Services) -> Sequence[KeyRecord]:
        """Every API key on the log, kept while the log holds the same entries: reading it
        finds the key streams among all events, which the audit page need not pay each time."""
        size = services.log.tree_size()
        with self._lock:
            if self._keys is not None and self._keys[0] == size:
                return self._keys[1]
        records = key_history(services.store, services.engine)
        with self._lock:
            self._keys = (size, records)
        return records

    def tag_counts(
        self, connection: Connection, kind: Literal["network", "city"], key: str
    ) -> dict[str, dict[str, int]]:
        """A network's or a city's pledges by GCM objective and GCR area, kept while the read
        models stay at the position they were counted at (any write moves it): counting reads
        every tag of those dimensions, which a group's page need not pay on each visit."""
        position = views_position(connection)
        with self._lock:
            kept = self._tags.get((kind, key))
            if kept is not None and kept[0] == position:
                self._tags.move_to_end((kind, key))
                return kept[1]
        counted = tag_counts(
            connection,
            dimensions=CHARTED_TAGS,
            network_id=key if kind == "network" else None,
            city=key if kind == "city" else None,
        )
        with self._lock:
            self._tags[(kind, key)] = (position, counted)
            while len(self._tags) > TAG_CACHE_SIZE:
                self._tags.popitem(last=False)
        return counted

    def is_demo(self, services: Services) -> bool:
        """Whether the store holds the demo (read at most every half minute; once a demo,
        always a demo: a store never stops being one)."""
        now = time.monotonic()
        with self._lock:
            if self._demo is not None and (
                self._demo[1] or now - self._demo[0] < DEMO_RECHECK_SECONDS
            ):
                return self._demo[1]
        found = demo_state(services.engine) is not None
        with self._lock:
            self._demo = (now, found)
        return found


@dataclass(frozen=True, slots=True)
class Page:
    """One request's page: its language, messages and the services behind it."""

    request: Request
    services: Services
    pages: Pages
    lang: Language

    @property
    def t(self) -> Messages:
        return Messages(self.lang)

    def params(self) -> Mapping[str, str]:
        return self.request.query_params

    def render(self, template: str, *, status: int = 200, **data: Any) -> HTMLResponse:
        t = self.t
        here = self.request.url.path
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        html = self.pages.templates.get_template(template).render(
            t=t,
            lang=self.lang,
            languages=[
                (code, name, page_url(here, {**dict(query), "lang": code}))
                for code, name in LANGUAGE_NAMES.items()
            ],
            language_names=LANGUAGE_NAMES,
            type_label=functools.partial(type_label, t),
            named_html=functools.partial(named_html, t),
            demo=self.pages.is_demo(self.services),
            path=here,
            **data,
        )
        return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def remembered(response: Response, lang: Language) -> Response:
    """``?lang=`` chose the language: the answer sets the cookie that keeps it."""
    response.set_cookie(
        LANGUAGE_COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="lax", httponly=True
    )
    return response


def type_label(t: Messages, event_type: str) -> str:
    """An event type in words, or the type itself when the catalogue has no name for it."""
    key = f"type.{event_type}"
    return t(key) if key in t.catalogue else event_type


def error_page(
    request: Request, pages: Pages, services: Services, error: LayerError
) -> HTMLResponse:
    status, title = status_of(error)
    cookie = as_language(request.cookies.get(LANGUAGE_COOKIE, ""))
    page = Page(request, services, pages, cookie or DEFAULT_LANGUAGE)
    answer = page.render(
        "error.html",
        status=status,
        status_code=status,
        title=title,
        field=error.field,
        message=error.message,
    )
    answer.headers.update(retry(error) or {})
    return answer


PageHandler = Callable[..., Response]


def page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Give a page handler its ``Page`` and turn every refusal into an HTML error page."""

    @functools.wraps(handler)
    def answered(request: Request, **kwargs: Any) -> Response:
        services: Services = request.app.state.services
        pages: Pages = request.app.state.pages
        try:
            lang = choose_language(
                request.query_params.get("lang"),
                request.cookies.get(LANGUAGE_COOKIE),
                request.headers.get("accept-language"),
            )
            remember = "lang" in request.query_params
            key = RenderKey(
                str(request.base_url),
                request.url.path,
                request.url.query,
                lang,
                pages.head(services),
            )
            response = pages.rendered(
                key, lambda: handler(Page(request, services, pages, lang), **kwargs)
            )
            return remembered(response, lang) if remember else response
        except LAYER_ROOTS as error:
            return error_page(request, pages, services, error)

    return answered


# --- the pages --------------------------------------------------------------------------------


def home(page: Page) -> Response:
    services, t = page.services, page.t
    months = services.settings.freshness_months
    day = today(services)
    with read_snapshot(services.engine) as connection:
        everything = next(
            iter(rollups(connection, "all", today=day, freshness_months=months)), None
        )
        registry = registry_totals(connection)
        networks = network_names(connection)
    size = services.log.tree_size()
    first = max(0, size - RECENT_EVENTS)
    recent = (
        [
            recent_event(first + offset, open_envelope(raw))
            for offset, raw in enumerate(services.log.entry_range(first, size))
        ][::-1]
        if size
        else []
    )
    return page.render(
        "home.html",
        totals=everything,
        registry=registry,
        status_chart=status_chart("chart-status", t, everything, {}),
        recent=recent,
        checkpoint=services.log.latest_checkpoint(),
        networks=[named_network(n, networks, page.lang) for n in networks],
        months=months,
    )


def pledge_list(page: Page) -> Response:
    services = page.services
    query = pledge_query(page.params())
    after = decode_cursor(query.cursor) if query.cursor is not None else None
    months = services.settings.freshness_months
    with read_snapshot(services.engine) as connection:
        found = list_pledges(
            connection,
            network_id=query.network,
            status=query.status,
            city=query.city,
            country=query.country,
            gcm_objective=query.gcm_objective,
            gcr_area=query.gcr_area,
            sdg=query.sdg,
            priority_area=query.priority_area,
            silent_on=today(services) if query.stale else None,
            freshness_months=months,
            text=query.q,
            after=after,
            limit=query.limit,
            order=query.sort,
        )
        networks = network_names(connection)
        cities = city_names(connection, {c for item in found.items for c in item.cities})
        areas_on_log = [a.id for a in reference_items(connection, "priority_area")]
    next_href = (
        page_url("/pledges", query.link(cursor=encode_cursor(found.next_after)))
        if found.next_after is not None
        else None
    )
    taxonomies = reference_taxonomies()
    return page.render(
        "pledges.html",
        query=query,
        rows=pledge_rows(found.items, page.lang, networks, cities),
        next_href=next_href,
        first_href=page_url("/pledges", query.link(cursor=None)) if query.cursor else None,
        csv_href=page_url(
            "/api/v1/pledges",
            {**query.link(sort=None), "format": "csv", "cursor": query.cursor},
        )
        if query.sort == "pledge_id"
        else None,
        networks=[named_network(n, networks, page.lang) for n in networks],
        statuses=STATUSES,
        objectives=[(k, gcm_label(k)) for k in sorted(taxonomies.gcm_objectives)],
        areas=[(k, gcr_label(k)) for k in sorted(taxonomies.gcr_areas)],
        priority_areas=areas_on_log,
        sorts=SORTS,
        limits=LIMITS,
    )


def pledge_page(page: Page, pledge_id: str) -> Response:
    services = page.services
    as_of = _day(page.params(), "as_of", services)
    with read_snapshot(services.engine) as connection:
        entries = pledge_timeline(services.store, connection, pledge_id)
        found = (
            pledge(
                connection,
                pledge_id,
                today=today(services),
                freshness_months=services.settings.freshness_months,
            )
            if as_of is None
            else None
        )
        networks = network_names(connection)
        mentioned = {c for e in entries for c in e.on_behalf_of}
        if found is not None:
            mentioned.update(found.cities)
        cities = city_names(connection, mentioned)
    if not entries:
        raise UnknownResource(f"no pledge {pledge_id!r}", field="pledge_id")
    if as_of is not None:
        found = state_as_of(services, pledge_id, as_of)
        if found is None:
            raise UnknownResource(page.t("pledge.not_yet", day=as_of.isoformat()), field="as_of")
    assert found is not None
    base = str(page.request.base_url).rstrip("/")
    return page.render(
        "pledge.html",
        view=pledge_view(found, entries, page.lang, as_of, networks, cities),
        as_of=as_of,
        max_day=today(services).isoformat(),
        base=base,
        months=services.settings.freshness_months,
    )


def network_page(page: Page, network_id: str) -> Response:
    services, t = page.services, page.t
    day = today(services)
    months = services.settings.freshness_months
    with read_snapshot(services.engine) as connection:
        found = network(connection, network_id)
        if found is None:
            raise UnknownResource(f"no network {network_id!r}", field="network_id")
        summary = rollup(connection, "network", network_id, today=day, freshness_months=months)
        tags = page.pages.tag_counts(connection, "network", network_id)
        silent = list_pledges(
            connection,
            network_id=network_id,
            silent_on=day,
            freshness_months=months,
            limit=SILENT_SHOWN,
        )
        cities = city_names(
            connection, {*found.members, *(c for item in silent.items for c in item.cities)}
        )
        networks = network_names(connection)
        signed = signatures_of(connection, found.members)
    rows = pledge_rows(silent.items, page.lang, networks, cities)
    return page.render(
        "group.html", group=network_view(t, found, summary, tags, rows, cities, signed)
    )


def city_page(page: Page, city_id: str) -> Response:
    services, t = page.services, page.t
    day = today(services)
    months = services.settings.freshness_months
    with read_snapshot(services.engine) as connection:
        found = city(connection, city_id)
        if found is None:
            raise UnknownResource(f"no city {city_id!r}", field="city_id")
        summary = rollup(connection, "city", city_id, today=day, freshness_months=months)
        tags = page.pages.tag_counts(connection, "city", city_id)
        silent = list_pledges(
            connection, city=city_id, silent_on=day, freshness_months=months, limit=SILENT_SHOWN
        )
        cities = city_names(
            connection, {city_id, *(c for item in silent.items for c in item.cities)}
        )
        networks = network_names(connection)
        signed = signatures_of(connection, [city_id])
    rows = pledge_rows(silent.items, page.lang, networks, cities)
    return page.render(
        "group.html", group=city_view(t, found, summary, tags, rows, networks, signed)
    )


REPORT_MEDIA_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


def reports_page(page: Page) -> Response:
    services = page.services
    params = page.params()
    as_of = _day(params, "as_of", services)
    network_id = _identifier(params, "network")
    framework_asked = _text(params, "framework", longest=8) or "all"
    framework = next((f for f in FRAMEWORKS if f == framework_asked), None)
    if framework is None:
        raise PageInputError(f"one of {', '.join(FRAMEWORKS)}", field="framework")
    report_format = _text(params, "format", longest=8)
    if report_format is not None and report_format not in REPORT_FORMATS:
        raise PageInputError(f"one of {', '.join(REPORT_FORMATS)}", field="format")
    with read_snapshot(services.engine) as connection:
        networks = network_names(connection)
    if network_id is not None and network_id not in networks:
        raise PageInputError(f"no network {network_id!r}", field="network")
    if report_format is not None and as_of is None:
        raise PageInputError("a report needs its date", field="as_of")
    report = (
        page.pages.reports.report(
            services, as_of=as_of, network_id=network_id, framework=framework, lang=page.lang
        )
        if as_of is not None
        else None
    )
    if report is not None and report_format is not None:
        scope = f"-{network_id}" if network_id else ""
        name = f"report-{report.as_of.isoformat()}{scope}.{report_format}"
        return Response(
            render_report(report, report_format),
            media_type=REPORT_MEDIA_TYPES[report_format],
            headers={
                "content-disposition": f'attachment; filename="{name}"',
                "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
                "x-content-type-options": "nosniff",
            },
        )
    downloads = (
        [
            (
                f,
                page_url(
                    "/reports",
                    {
                        "as_of": as_of.isoformat(),
                        "network": network_id,
                        "framework": framework,
                        "lang": page.lang,
                        "format": f,
                    },
                ),
            )
            for f in REPORT_FORMATS
        ]
        if as_of is not None
        else []
    )
    return page.render(
        "reports.html",
        report=report,
        sections=report_sections(report) if report is not None else [],
        as_of=as_of,
        network_id=network_id,
        framework=framework,
        networks=[named_network(n, networks, page.lang) for n in networks],
        downloads=downloads,
        max_day=today(services).isoformat(),
    )


@dataclass(frozen=True, slots=True)
class ConsistencyCheck:
    from_size: int
    to_size: int
    proof: tuple[str, ...]
    api_href: str


def audit_page(page: Page) -> Response:
    services = page.services
    log = services.log
    try:
        checkpoint: SignedCheckpoint | None = latest_checkpoint(services)
    except LedgerError:
        checkpoint = None
    size = checkpoint.size if checkpoint is not None else 0
    params = page.params()
    from_size = _number(params, "from", 1, max(size, 1))
    to_size = _number(params, "to", 1, max(size, 1))
    check = None
    if (from_size is None) != (to_size is None):
        raise PageInputError("give both sizes", field="to" if to_size is None else "from")
    if from_size is not None and to_size is not None:
        if size == 0:
            raise PageInputError("the log has no signed checkpoint yet", field="to")
        if from_size > to_size:
            raise PageInputError(f"the older size {from_size} is after {to_size}", field="from")
        proof = log.consistency_proof(from_size, to_size)
        # The server checks its own proof before showing it; an auditor checks it again with
        # the roots of checkpoints they verified (the command line does both).
        verify_consistency(from_size, to_size, proof, log.root(from_size), log.root(to_size))
        check = ConsistencyCheck(
            from_size,
            to_size,
            tuple(base64.b64encode(h).decode() for h in proof),
            page_url("/api/v1/log/proofs/consistency", {"from": from_size, "to": to_size}),
        )
    return page.render(
        "audit.html",
        checkpoint=checkpoint,
        vkey=log.signer.vkey,
        keys=page.pages.key_history(services),
        check=check,
        from_size=from_size or (max(size // 2, 1) if size else ""),
        to_size=to_size or (size or ""),
        base=str(page.request.base_url).rstrip("/"),
    )


# --- wiring -----------------------------------------------------------------------------------


PAGES: tuple[tuple[str, Callable[..., Response], str], ...] = (
    ("/", home, "home"),
    ("/pledges", pledge_list, "pledges"),
    ("/pledges/{pledge_id}", pledge_page, "pledge"),
    ("/networks/{network_id}", network_page, "network"),
    ("/cities/{city_id}", city_page, "city"),
    ("/reports", reports_page, "reports"),
    ("/audit", audit_page, "audit"),
)


def _route(handler: Callable[..., Response], path: str) -> Callable[..., Response]:
    wrapped = page(handler)
    if "{pledge_id}" in path:

        def with_pledge(request: Request, pledge_id: str) -> Response:
            return wrapped(request, pledge_id=pledge_id)

        return with_pledge
    if "{network_id}" in path:

        def with_network(request: Request, network_id: str) -> Response:
            return wrapped(request, network_id=network_id)

        return with_network
    if "{city_id}" in path:

        def with_city(request: Request, city_id: str) -> Response:
            return wrapped(request, city_id=city_id)

        return with_city

    def plain(request: Request) -> Response:
        return wrapped(request)

    return plain


def install_pages(app: FastAPI) -> None:
    """Mount the pages and their stylesheet on ``app`` (built once, in ``create_app``)."""
    app.state.pages = Pages(app.state.reports)
    for path, handler, name in PAGES:
        app.add_api_route(
            path,
            _route(handler, path),
            methods=["GET"],
            name=f"page_{name}",
            response_class=HTMLResponse,
            include_in_schema=False,
        )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
