"""The pledge view: one row per pledge (its page as a JSON document, plus the columns it is found
by), the pledge's tags for filtering, and the reporting-freshness queries on top of it."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, Select, and_, distinct, func, or_, select

from domain.external_ids import external_id_digest, external_id_key
from projections.counters import Key, memberships, sdg_goal
from projections.errors import InvalidQuery
from projections.freshness import freshness_cutoff
from projections.models import (
    PledgeListOut,
    PledgeOrder,
    PledgeOut,
    PledgeSummaryOut,
    RegistryTotalsOut,
    SilentPledgeOut,
)
from projections.pledge_fold import PledgeView, view_document, view_from_document
from projections.pledge_page import matches_supported_by, pledge_page
from projections.projector import ProjectionBatch
from projections.quality import QUALITY_FLAGS, quality_flags
from projections.state import ViewState
from projections.tables import (
    ViewTables,
    delete_rows,
    insert_rows,
    live_tables,
    update_rows,
)

TAG_DIMENSIONS = frozenset({"city", "country", "gcm_objective", "gcr_area", "sdg", "priority_area"})
"""Roll-up dimensions a pledge list is filtered by through the tags table (network and status
are columns of the pledges table)."""

FILTER_ONLY_DIMENSIONS = ("gcm_principle", "call")
"""Tags a pledge list is filtered by that have no roll-ups (ADR 0014)."""


def filter_only_tags(view: PledgeView) -> tuple[Key, ...]:
    content = view.state.content
    return (
        *[("gcm_principle", principle) for principle in content.gcm_principles],
        *[("call", call) for call in content.calls],
    )


PLEDGE_COLUMNS = (
    "network_id",
    "status",
    "stage",
    "is_open",
    "version",
    "submitted_at",
    "updated_at",
    "last_reported_on",
    "freshness_anchor",
    "document",
    "search",
    "pledge_id",
)
TAG_COLUMNS = ("dimension", "key", "pledge_id")
EXTERNAL_ID = "external_id"
"""The tag dimension by which a pledge is found from an id it has elsewhere; its key is the id's
digest (``domain.external_ids.external_id_digest``), which fits the key column whatever the id."""
ORDER_COLUMNS: dict[str, str] = {
    "pledge_id": "pledge_id",
    "updated": "updated_at",
    "submitted": "submitted_at",
}
"""The orders a pledge list can be read in, and the column each sorts by."""


def pledge_row(view: PledgeView) -> tuple[Any, ...]:
    """The pledge's row, in ``PLEDGE_COLUMNS`` order (its key last, as updates want it)."""
    state = view.state
    last = view.last_reported_on
    return (
        state.network_id,
        state.status,
        state.stage,
        view.is_open,
        view.version,
        view.submitted_at,
        view.updated_at,
        last.isoformat() if last is not None else None,
        view.freshness_anchor.isoformat(),
        orjson.dumps(view_document(view)).decode(),
        search_text(view),
        state.pledge_id,
    )


def normalised(text: str) -> str:
    """``text`` as the search column holds it: compatibility-normalised and case-folded, so
    that "ÉCOLE", "école" and "ｅcole" meet whatever the database's own collation does."""
    return unicodedata.normalize("NFKC", text).casefold()


def search_text(view: PledgeView) -> str:
    """What ``q`` searches: the pledge's titles and descriptions in all its languages, the
    original ones and their translations."""
    content = view.state.content
    parts = [content.title[lang] for lang in sorted(content.title)]
    parts += [content.description[lang] for lang in sorted(content.description)]
    parts += [t.text for t in view.translations if t.field in ("title", "description")]
    return normalised("\n".join(parts))


def external_id_tags(view: PledgeView) -> set[Key]:
    return {(EXTERNAL_ID, external_id_digest(x.scheme, x.value)) for x in view.external_ids}


MATCH_PARTNER = "match_partner"
"""Tag of a host pledge for each pledge that supports it in a match: the supporting pledge's
page finds its matches through it (ADR 0015)."""
SUPPORT = ("support", "needed")
"""Tag of an open pledge whose latest progress report asks for support (it feeds matching)."""


def matching_tags(view: PledgeView) -> set[Key]:
    """The tags that are no roll-up group: the pledges supporting this one in a match, and
    whether it asks for support."""
    found = {
        (MATCH_PARTNER, m.supporting_pledge_id)
        for m in view.matches
        if m.supporting_pledge_id is not None
    }
    if view.support_needed and view.is_open:
        found.add(SUPPORT)
    return found


def tags(view: PledgeView | None) -> set[Key]:
    if view is None:
        return set()
    found = {key for key in memberships(view) if key[0] in TAG_DIMENSIONS}
    found.update(filter_only_tags(view))
    found |= matching_tags(view)
    return found | external_id_tags(view) if view.external_ids else found


def _tag_rows(pledge_id: str, keys: Iterable[Key]) -> list[tuple[str, str, str]]:
    return [(d, k, pledge_id) for d, k in sorted(keys)]


def tag_rows(tagged: dict[Key, list[str]]) -> list[tuple[str, str, str]]:
    """Tag rows in key order (dimension, key, pledge) from each tag's pledges."""
    return [(d, k, p) for d, k in sorted(tagged) for p in sorted(tagged[(d, k)])]


@dataclass(frozen=True, slots=True)
class PledgeRows:
    pledges: list[tuple[Any, ...]]
    tags: list[tuple[str, str, str]]


class PledgeProjector:
    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        new_rows: list[tuple[Any, ...]] = []
        changed_rows: list[tuple[Any, ...]] = []
        removed_tags: list[tuple[str, str, str]] = []
        added_tags: list[tuple[str, str, str]] = []
        for pledge_id, before in sorted(batch.changes.pledges.items()):
            after = batch.state.pledges[pledge_id]
            (new_rows if before is None else changed_rows).append(pledge_row(after))
            old, new = tags(before), tags(after)
            removed_tags.extend(_tag_rows(pledge_id, old - new))
            added_tags.extend(_tag_rows(pledge_id, new - old))
        insert_rows(connection, tables.pledges, PLEDGE_COLUMNS, new_rows)
        update_rows(
            connection, tables.pledges, PLEDGE_COLUMNS[:-1], changed_rows, key=("pledge_id",)
        )
        delete_rows(connection, tables.pledge_tags, removed_tags, key=TAG_COLUMNS)
        insert_rows(connection, tables.pledge_tags, TAG_COLUMNS, added_tags)

    def load(self, connection: Connection, tables: ViewTables, state: ViewState) -> None:
        self.write(connection, tables, self.rows(state))

    @staticmethod
    def rows(state: ViewState) -> PledgeRows:
        """Every pledge's row and tags, in key order (a B-tree appends much faster than it
        inserts all over itself)."""
        views = [state.pledges[p] for p in sorted(state.pledges)]
        tagged: dict[Key, list[str]] = {}  # each tag's pledges, in pledge order
        for view in views:
            for key in tags(view):
                tagged.setdefault(key, []).append(view.pledge_id)
        return PledgeRows([pledge_row(v) for v in views], tag_rows(tagged))

    @staticmethod
    def write(connection: Connection, tables: ViewTables, rows: PledgeRows) -> None:
        insert_rows(connection, tables.pledges, PLEDGE_COLUMNS, rows.pledges)
        insert_rows(connection, tables.pledge_tags, TAG_COLUMNS, rows.tags)


# --- queries ----------------------------------------------------------------------------------


def stored_view(document: str | bytes) -> PledgeView:
    """The one decoder of the pledges table's documents, whatever the query shows of them."""
    return view_from_document(orjson.loads(document))


def stored_pledge_view(
    connection: Connection, pledge_id: str, *, tables: ViewTables | None = None
) -> PledgeView | None:
    """The pledge's view as the pledges table holds it (None: no such pledge)."""
    pledges = (tables or live_tables()).pledges
    document = connection.execute(
        select(pledges.c.document).where(pledges.c.pledge_id == pledge_id)
    ).scalar_one_or_none()
    return stored_view(document) if document is not None else None


def pledge(
    connection: Connection,
    pledge_id: str,
    *,
    today: date,
    freshness_months: int,
    tables: ViewTables | None = None,
) -> PledgeOut | None:
    """What the pledge's page shows now, its freshness judged on ``today``."""
    view = stored_pledge_view(connection, pledge_id, tables=tables)
    if view is None:
        return None
    hosts = hosting_views(connection, pledge_id, tables=tables)
    return pledge_page(view, today, freshness_months, matches_supported_by(hosts, pledge_id))


def hosting_views(
    connection: Connection, pledge_id: str, *, tables: ViewTables | None = None
) -> list[PledgeView]:
    """The pledges that host a match with ``pledge_id`` as their supporting pledge."""
    tables = tables or live_tables()
    pledges, pledge_tags = tables.pledges, tables.pledge_tags
    query = (
        select(pledges.c.document)
        .where(
            pledges.c.pledge_id.in_(
                select(pledge_tags.c.pledge_id).where(
                    pledge_tags.c.dimension == MATCH_PARTNER, pledge_tags.c.key == pledge_id
                )
            )
        )
        .order_by(pledges.c.pledge_id)
    )
    return [stored_view(document) for (document,) in connection.execute(query)]


def silent_pledge(view: PledgeView) -> SilentPledgeOut:
    return SilentPledgeOut(
        pledge_id=view.pledge_id,
        network_id=view.network_id,
        title=dict(view.state.content.title),
        cities=view.state.content.cities,
        status=view.state.status,
        stage=view.state.stage,
        submitted_at=view.submitted_at,
        last_reported_on=view.last_reported_on,
        silent_since=view.freshness_anchor,
        external_ids=tuple(external_id_key(x.scheme, x.value) for x in view.external_ids),
    )


def silent_pledges(
    connection: Connection,
    *,
    today: date,
    freshness_months: int,
    network_id: str | None = None,
    limit: int | None = None,
    tables: ViewTables | None = None,
) -> list[SilentPledgeOut]:
    """Open pledges silent on ``today``, longest silent first (of one network, or all)."""
    pledges = (tables or live_tables()).pledges
    query = (
        select(pledges.c.document)
        .where(
            pledges.c.is_open.is_(True),
            pledges.c.freshness_anchor < freshness_cutoff(today, freshness_months),
        )
        .order_by(pledges.c.freshness_anchor, pledges.c.pledge_id)
        .limit(limit)
    )
    if network_id is not None:
        query = query.where(pledges.c.network_id == network_id)
    return [silent_pledge(stored_view(document)) for (document,) in connection.execute(query)]


def pledge_summary(view: PledgeView, flags_on: date | None = None) -> PledgeSummaryOut:
    """The view as a list row; with ``flags_on``, carrying its quality flags on that day."""
    content = view.state.content
    return PledgeSummaryOut(
        pledge_id=view.pledge_id,
        network_id=view.network_id,
        title=dict(content.title),
        cities=content.cities,
        countries=view.countries,
        gcm_objectives=content.gcm_objectives,
        gcr_areas=content.gcr_areas,
        status=view.state.status,
        stage=view.state.stage,
        version=view.version,
        submitted_at=view.submitted_at,
        updated_at=view.updated_at,
        last_reported_on=view.last_reported_on,
        external_ids=tuple(external_id_key(x.scheme, x.value) for x in view.external_ids),
        flags=quality_flags(view, flags_on) if flags_on is not None else (),
    )


# A flag depends on the day it is judged on, so no column or index can hold it: a list filtered
# by flag reads the other filters' rows in pages of this many and keeps the flagged ones.
_FLAG_SCAN_PAGE = 500


def list_pledges(
    connection: Connection,
    *,
    network_id: str | None = None,
    status: str | None = None,
    city: str | None = None,
    country: str | None = None,
    gcm_objective: int | None = None,
    gcr_area: str | None = None,
    sdg: str | None = None,
    priority_area: str | None = None,
    gcm_principle: str | None = None,
    call: str | None = None,
    support_needed: bool | None = None,
    silent_on: date | None = None,
    freshness_months: int | None = None,
    text: str | None = None,
    external_id: tuple[str, str] | None = None,
    after: str | None = None,
    limit: int = 50,
    flags_on: date | None = None,
    flag: str | None = None,
    order: PledgeOrder = "pledge_id",
    tables: ViewTables | None = None,
) -> PledgeListOut:
    """Pledges matching every filter given, a page at a time, by pledge id (``order``
    ``"updated"`` or ``"submitted"``: newest first, ties by pledge id, descending).

    With ``flags_on``, each row carries its quality flags on that day, and ``flag`` keeps only
    the pledges that carry that flag then (``projections.quality``).

    ``sdg`` matches the goal of the target given ("10.7" finds pledges naming any target of
    goal 10); ``silent_on`` keeps only the pledges silent on that day (with
    ``freshness_months``); ``support_needed`` keeps the open pledges whose latest progress
    report asks for support (or, false, every other pledge); ``text`` keeps those whose title
    or description, in any language, contains it, ignoring case; ``external_id`` (scheme,
    value) keeps the pledge that carries it. ``after`` is the ``next_after`` of the previous
    page: a pledge id, or for the newest-first orders the timestamp and the pledge id,
    separated by a space.
    """
    tables = tables or live_tables()
    pledges, pledge_tags = tables.pledges, tables.pledge_tags
    if order not in ORDER_COLUMNS:
        raise InvalidQuery(
            f"unknown order {order!r}: one of {', '.join(ORDER_COLUMNS)}", field="order"
        )
    by = None if order == "pledge_id" else pledges.c[ORDER_COLUMNS[order]]
    # The second column is the position in the order (the pledge id again for the default).
    # Documents are read apart, for the page's rows only: a sort that carried them would
    # copy every matching pledge's document through the sorter.
    query = select(pledges.c.pledge_id, by if by is not None else pledges.c.pledge_id)
    if by is None:
        query = query.order_by(pledges.c.pledge_id)
    else:
        query = query.order_by(by.desc(), pledges.c.pledge_id.desc())
    if network_id is not None:
        query = query.where(pledges.c.network_id == network_id)
    if status is not None:
        query = query.where(pledges.c.status == status)
    tagged = {
        "city": city,
        "country": country,
        "gcm_objective": None if gcm_objective is None else str(gcm_objective),
        "gcr_area": gcr_area,
        "sdg": None if sdg is None else sdg_goal(sdg),
        "priority_area": priority_area,
        "gcm_principle": gcm_principle,
        "call": call,
        EXTERNAL_ID: None if external_id is None else external_id_digest(*external_id),
    }
    for dimension, key in tagged.items():
        if key is not None:
            query = query.where(
                pledges.c.pledge_id.in_(
                    select(pledge_tags.c.pledge_id).where(
                        pledge_tags.c.dimension == dimension, pledge_tags.c.key == key
                    )
                )
            )
    if support_needed is not None:
        asking = select(pledge_tags.c.pledge_id).where(
            pledge_tags.c.dimension == SUPPORT[0], pledge_tags.c.key == SUPPORT[1]
        )
        column = pledges.c.pledge_id
        query = query.where(column.in_(asking) if support_needed else column.not_in(asking))
    if silent_on is not None:
        if freshness_months is None:
            raise InvalidQuery(
                "listing silent pledges needs the freshness window in months",
                field="freshness_months",
            )
        query = query.where(
            pledges.c.is_open.is_(True),
            pledges.c.freshness_anchor < freshness_cutoff(silent_on, freshness_months),
        )
    if text is not None:
        wanted = normalised(text)
        if not wanted.strip():
            raise InvalidQuery("the search text is empty", field="q")
        escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(pledges.c.search.like(f"%{escaped}%", escape="\\"))
    if flag is not None:
        if flag not in QUALITY_FLAGS:
            raise InvalidQuery(f"quality flags: {', '.join(QUALITY_FLAGS)}", field="flag")
        if flags_on is None:
            raise InvalidQuery("filtering by flag needs the day to judge it on", field="flag")
        if by is not None:
            raise InvalidQuery("a flag filter lists pledges by pledge id only", field="order")
        return _flagged_page(connection, tables, query, flag, flags_on, after, limit)
    if after is not None and by is None:
        query = query.where(pledges.c.pledge_id > after)
    elif after is not None and by is not None:
        stamp, _, last_id = after.partition(" ")
        if not stamp or not last_id:
            raise InvalidQuery("not a position in this order", field="after")
        query = query.where(or_(by < stamp, and_(by == stamp, pledges.c.pledge_id < last_id)))
    rows = connection.execute(query.limit(limit + 1)).all()
    shown = [row[0] for row in rows[:limit]]
    documents = _documents(connection, tables, shown)
    items = [pledge_summary(stored_view(documents[p]), flags_on) for p in shown]
    next_after = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_after = last[0] if by is None else f"{last[1]} {last[0]}"
    return PledgeListOut(items=tuple(items), next_after=next_after)


def _documents(connection: Connection, tables: ViewTables, pledge_ids: list[str]) -> dict[str, Any]:
    """The stored documents of the pledges listed (read apart from the sorted ids)."""
    if not pledge_ids:
        return {}
    pledges = tables.pledges
    return dict(
        connection.execute(
            select(pledges.c.pledge_id, pledges.c.document).where(
                pledges.c.pledge_id.in_(pledge_ids)
            )
        ).all()
    )


def _flagged_page(
    connection: Connection,
    tables: ViewTables,
    query: Select[Any],
    flag: str,
    day: date,
    after: str | None,
    limit: int,
) -> PledgeListOut:
    """A page of the pledges ``query`` finds that carry ``flag`` on ``day``."""
    pledge_id = tables.pledges.c.pledge_id
    found: list[PledgeSummaryOut] = []
    position = after
    while len(found) <= limit:
        page = query if position is None else query.where(pledge_id > position)
        rows = connection.execute(page.limit(_FLAG_SCAN_PAGE)).all()
        documents = _documents(connection, tables, [row[0] for row in rows])
        for row in rows:
            view = stored_view(documents[row[0]])
            if flag in quality_flags(view, day):
                found.append(pledge_summary(view, day))
                if len(found) > limit:
                    break
        if len(rows) < _FLAG_SCAN_PAGE:
            break
        position = str(rows[-1][0])
    next_after = found[limit - 1].pledge_id if len(found) > limit else None
    return PledgeListOut(items=tuple(found[:limit]), next_after=next_after)


def registry_totals(
    connection: Connection, *, tables: ViewTables | None = None
) -> RegistryTotalsOut:
    """How many networks and cities are registered, and in how many countries."""
    tables = tables or live_tables()
    cities, networks = tables.cities, tables.networks
    city_count, countries = connection.execute(
        select(func.count(), func.count(distinct(cities.c.country)))
    ).one()
    network_count = connection.execute(select(func.count()).select_from(networks)).scalar_one()
    return RegistryTotalsOut(
        networks=int(network_count), cities=int(city_count), countries=int(countries)
    )


def tag_counts(
    connection: Connection,
    *,
    dimensions: Collection[str],
    network_id: str | None = None,
    city: str | None = None,
    tables: ViewTables | None = None,
) -> dict[str, dict[str, int]]:
    """How many pledges carry each tag of ``dimensions`` (by dimension, then key), among one
    network's pledges or one city's: what a group's page charts by GCM objective and GCR area.
    Only the dimensions asked are read (the tags table is clustered by dimension)."""
    tables = tables or live_tables()
    pledges, pledge_tags = tables.pledges, tables.pledge_tags
    query = (
        select(pledge_tags.c.dimension, pledge_tags.c.key, func.count())
        .where(pledge_tags.c.dimension.in_(sorted(dimensions)))
        .group_by(pledge_tags.c.dimension, pledge_tags.c.key)
    )
    if network_id is not None:
        query = query.where(
            pledge_tags.c.pledge_id.in_(
                select(pledges.c.pledge_id).where(pledges.c.network_id == network_id)
            )
        )
    if city is not None:
        query = query.where(
            pledge_tags.c.pledge_id.in_(
                select(pledge_tags.c.pledge_id).where(
                    pledge_tags.c.dimension == "city", pledge_tags.c.key == city
                )
            )
        )
    counted: dict[str, dict[str, int]] = {}
    for dimension, key, count in connection.execute(query):
        counted.setdefault(dimension, {})[key] = int(count)
    return counted
