"""As-of queries: a pledge or a roll-up as it stood at the end of a past day, from the log.

"As of D" means: the events recorded (``recorded_at``, UTC) on or before D, folded in log order,
and freshness judged on D. That is exactly what the live views showed at the end of D, because
the live views are the same fold of the same events (the property tests hold them to it).

A pledge reads only its own stream (and its cities'). A roll-up is read from the roll-ups'
history (``projections.history``, ADR 0017) when given the engine and the history covers the
day; otherwise it folds the whole log, which is the price of reproducing it from nothing but the
log. The fold stays the oracle: the property tests hold the history equal to it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from domain.events import CityRegistered
from domain.pledge import pledge_stream
from domain.registry import CityState, city_stream, evolve_city
from ledger.envelope import Envelope
from ledger.store import EventStore
from projections.counters import RollupCells, check_dimension
from projections.envelopes import read_envelope, recorded_by_end_of
from projections.history import cells_as_of, covered
from projections.models import PledgeOut, RollupOut
from projections.pledge_fold import PledgeView
from projections.pledge_page import matches_supported_by, pledge_page
from projections.sealed import decode_sealed
from projections.state import (
    CityRow,
    Decode,
    NetworkRow,
    ReferenceKey,
    ReferenceRow,
    ViewState,
    without_cycle_collection,
)
from projections.tables import read_snapshot


class _StoreLoader:
    """Finds cities in their own streams, as they stood at the end of ``day`` (a corrected
    country counts from the correction on, as in the live views)."""

    def __init__(self, store: EventStore, day: date) -> None:
        self.store = store
        self.day = day

    def city(self, city_id: str) -> CityRow | None:
        state: CityState | None = None
        registered_at = ""
        for envelope in self.store.read_stream(city_stream(city_id)):
            if not recorded_by_end_of(envelope, self.day):
                break
            payload = envelope.decode_payload()
            if isinstance(payload, CityRegistered):
                registered_at = envelope.recorded_at
            state = evolve_city(state, payload)
        if state is None:
            return None
        return CityRow(state.city_id, dict(state.name), state.country, registered_at)

    def network(self, network_id: str) -> NetworkRow | None:
        return None  # a pledge's view needs no network row

    def pledges(self, pledge_ids: Collection[str]) -> dict[str, PledgeView]:
        return {}

    def reference_item(self, key: ReferenceKey) -> ReferenceRow | None:
        return None  # only pledge streams are folded here

    def pledges_naming(self, city_id: str) -> dict[str, PledgeView]:
        return {}


def pledge_view_as_of(store: EventStore, pledge_id: str, day: date) -> PledgeView | None:
    envelopes = [
        e for e in store.read_stream(pledge_stream(pledge_id)) if recorded_by_end_of(e, day)
    ]
    if not envelopes:
        return None
    state = ViewState(_StoreLoader(store, day), decode=decode_sealed)
    state.apply_all(envelopes)
    return state.pledges[pledge_id]


def pledge_as_of(
    store: EventStore,
    pledge_id: str,
    day: date,
    *,
    freshness_months: int,
    hosts: Iterable[str] = (),
) -> PledgeOut | None:
    """The pledge's page as it stood at the end of ``day`` (None: not submitted by then).

    ``hosts``: pledges that may host a match with this one as their supporting pledge (the
    live ``hosting_views``, or any superset: a pledge's matches are never removed, so every
    host it had by then is among today's); their streams are folded to the same day.
    """
    view = pledge_view_as_of(store, pledge_id, day)
    if view is None:
        return None
    host_views = [
        host
        for host in (pledge_view_as_of(store, h, day) for h in sorted(set(hosts)) if h != pledge_id)
        if host is not None
    ]
    supported = matches_supported_by(host_views, pledge_id)
    return pledge_page(view, day, freshness_months, supported)


@dataclass
class LogFold:
    """Every view as of a day, and the shortest prefix of the log it rests on."""

    state: ViewState
    tree_size: int
    """Entries of the log, in leaf order, up to and including the last one folded."""


def fold_log(
    envelopes: Iterable[Envelope],
    day: date | None = None,
    *,
    decode: Decode = Envelope.decode_payload,
) -> LogFold:
    """Fold envelopes in log order: all of them, or those recorded by the end of ``day``
    (``decode``: ``decode_sealed`` for the store's own envelopes). Its views are for reports
    and roll-ups, never written: they keep no JSON of their content."""
    state = ViewState(decode=decode, keep_content_json=False)
    tree_size = 0
    for index, envelope in enumerate(envelopes):
        if day is None or recorded_by_end_of(envelope, day):
            state.apply(envelope)
            tree_size = index + 1
    state.take_changes()
    return LogFold(state, tree_size)


def store_envelopes(store: EventStore) -> Iterator[Envelope]:
    """The store's envelopes in notification order, which is the log's leaf order."""
    return (read_envelope(n.raw) for n in store.iter_notifications())


def views_as_of(store: EventStore, day: date) -> LogFold:
    return fold_log(store_envelopes(store), day, decode=decode_sealed)


def rollups_of(
    cells: RollupCells,
    dimension: str,
    today: date,
    freshness_months: int,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> list[RollupOut]:
    """Every roll-up of a dimension from in-memory sums, as ``projections.rollups.rollups``
    (with ``after`` and ``limit``: at most ``limit`` of those after the key ``after``; only
    those are made)."""
    check_dimension(dimension)
    keys = [key for key in cells.keys(dimension) if after is None or key > after]
    found = (cells.rollup(dimension, key, today, freshness_months) for key in keys[slice(limit)])
    return [r for r in found if r is not None]  # ``keys`` lists only groups that have one


def rollups_from_history(
    engine: Engine,
    store: EventStore,
    dimension: str,
    day: date,
    *,
    freshness_months: int,
    keys: Sequence[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[RollupOut] | None:
    """Every roll-up of a dimension (of ``keys`` only, if given; a page with ``after`` and
    ``limit``) as it stood at the end of ``day``, read from the roll-ups' history
    (``projections.history``); None when the history does not hold every event recorded by then
    (the views are behind, or it was never built)."""
    check_dimension(dimension)
    with read_snapshot(engine) as connection:
        if not covered(connection, store, day):
            return None
        cells = cells_as_of(connection, dimension, day, keys)
    return rollups_of(cells, dimension, day, freshness_months, after=after, limit=limit)


@without_cycle_collection()
def rollups_as_of(
    store: EventStore,
    dimension: str,
    day: date,
    *,
    freshness_months: int,
    engine: Engine | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[RollupOut]:
    """Every roll-up of a dimension as it stood at the end of ``day`` (a page with ``after``
    and ``limit``): from the history when ``engine`` is given and it covers the day, else
    folded from the log (the same answer)."""
    check_dimension(dimension)
    if engine is not None:
        found = rollups_from_history(
            engine,
            store,
            dimension,
            day,
            freshness_months=freshness_months,
            after=after,
            limit=limit,
        )
        if found is not None:
            return found
    cells = views_as_of(store, day).state.rollup_cells()
    return rollups_of(cells, dimension, day, freshness_months, after=after, limit=limit)


@without_cycle_collection()
def rollup_as_of(
    store: EventStore,
    dimension: str,
    key: str,
    day: date,
    *,
    freshness_months: int,
    engine: Engine | None = None,
) -> RollupOut | None:
    """One group's roll-up as it stood at the end of ``day`` (see ``rollups_as_of``)."""
    check_dimension(dimension)
    if engine is not None:
        found = rollups_from_history(
            engine, store, dimension, day, freshness_months=freshness_months, keys=[key]
        )
        if found is not None:
            return found[0] if found else None
    cells = views_as_of(store, day).state.rollup_cells()
    return cells.rollup(dimension, key, day, freshness_months)
