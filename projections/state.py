"""Every read model folded in memory: the one place where events become view state.

``ViewState.apply`` handles envelopes in log order. Without a loader it holds everything (a
rebuild, an as-of query, the offline verifier); with a loader it is a window onto the stored
views, holding only what one batch of events touches, and records what changed so the SQL
projectors can write just that. Both uses run the same code, which is what makes the rebuilt
tables, the incrementally maintained ones and the verifier's recomputation agree.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Protocol

from domain.events import (
    CallRegistered,
    CityCorrected,
    CityJoinedNetwork,
    CityLeftNetwork,
    CityRegistered,
    DeclarationRegistered,
    DeclarationSigned,
    NetworkCorrected,
    NetworkRegistered,
    Payload,
    PriorityAreaRegistered,
    PriorityAreaRetired,
    SignatureWithdrawn,
)
from domain.values import Language
from ledger.envelope import Envelope
from projections.counters import RollupCells
from projections.pledge_fold import PledgeView, countries_of, evolve_view

PLEDGE_PREFIX = "pledge:"

Decode = Callable[[Envelope], Payload]
"""How a fold decodes payloads: ``Envelope.decode_payload`` validates them (bytes from outside,
such as a bundle's); ``projections.sealed.decode_sealed`` trusts the store's own."""


@dataclass(frozen=True, slots=True)
class CityRow:
    city_id: str
    name: dict[Language, str]
    country: str
    registered_at: str


@dataclass(frozen=True, slots=True)
class NetworkRow:
    network_id: str
    name: dict[Language, str]
    registered_at: str


@dataclass(frozen=True, slots=True)
class Membership:
    network_id: str
    city_id: str
    joined_at: str


@dataclass(frozen=True, slots=True)
class Signature:
    declaration_id: str
    city_id: str
    signed_on: date
    recorded_at: str


ReferenceKey = tuple[str, str]
"""(kind, id): kind is ``priority_area``, ``declaration`` or ``call``."""


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    """A reference item registered on the log (ADR 0014)."""

    kind: str
    item_id: str
    title: dict[Language, str]
    starts_on: date | None
    ends_on: date | None
    registered_at: str
    retired_at: str | None = None
    retired_reason: str | None = None


class StateLoader(Protocol):
    """Where a windowed ``ViewState`` finds the views it does not hold."""

    def city(self, city_id: str) -> CityRow | None: ...

    def network(self, network_id: str) -> NetworkRow | None: ...

    def pledges(self, pledge_ids: Collection[str]) -> dict[str, PledgeView]: ...

    def reference_item(self, key: ReferenceKey) -> ReferenceRow | None: ...
    def pledges_naming(self, city_id: str) -> dict[str, PledgeView]:
        """The stored views of the pledges whose cities include ``city_id``."""
        ...


@dataclass
class Changes:
    """What a run of ``apply`` changed; for pledges, each one's view before the first change."""

    cities: set[str] = field(default_factory=set)
    networks: set[str] = field(default_factory=set)
    members: dict[tuple[str, str], Membership | None] = field(default_factory=dict)
    signatures: set[tuple[str, str]] = field(default_factory=set)
    reference: set[ReferenceKey] = field(default_factory=set)
    pledges: dict[str, PledgeView | None] = field(default_factory=dict)


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while a fold runs (also as a decorator).

    A fold allocates millions of small objects, none of them in a reference cycle, and keeps
    many of them: the collector would walk the growing heap again and again, for nothing (the
    fold of a report on 1M events took 126 s with it, 40 s without). Reference counting still
    frees everything a fold lets go. Wrap the whole computation that holds the folded state, so
    that the state is gone before collection resumes: a collector resuming beside millions of
    young objects would walk them all at once.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def pledge_id_of(stream_id: str) -> str | None:
    return stream_id[len(PLEDGE_PREFIX) :] if stream_id.startswith(PLEDGE_PREFIX) else None


class ViewState:
    """The views as a fold of envelopes; ``changes`` records what ``apply`` changed since the
    last ``take_changes``."""

    def __init__(
        self,
        loader: StateLoader | None = None,
        *,
        decode: Decode = Envelope.decode_payload,
        keep_content_json: bool = True,
    ) -> None:
        """``keep_content_json=False``: a fold whose views are never written (``evolve_view``)."""
        self.loader = loader
        self.decode = decode
        self.keep_content_json = keep_content_json
        self.cities: dict[str, CityRow] = {}
        self.networks: dict[str, NetworkRow] = {}
        self.members: dict[tuple[str, str], Membership] = {}
        self.signatures: dict[tuple[str, str], Signature] = {}
        self.reference: dict[ReferenceKey, ReferenceRow] = {}
        self.pledges: dict[str, PledgeView] = {}
        self.changes = Changes()
        self._looked_up: set[str] = set()

    # --- lookups (through the loader when windowed) ----------------------------------------------

    def city_row(self, city_id: str) -> CityRow | None:
        city = self.cities.get(city_id)
        if city is None and self.loader is not None:
            city = self.loader.city(city_id)
            if city is not None:
                self.cities[city_id] = city
        return city

    def country_of(self, city_id: str) -> str | None:
        city = self.city_row(city_id)
        return city.country if city is not None else None

    def network_row(self, network_id: str) -> NetworkRow | None:
        network = self.networks.get(network_id)
        if network is None and self.loader is not None:
            network = self.loader.network(network_id)
            if network is not None:
                self.networks[network_id] = network
        return network

    def _pledges_naming(self, city_id: str) -> dict[str, PledgeView]:
        """Every pledge naming ``city_id``: those this state holds, and the stored others."""
        found: dict[str, PledgeView] = {}
        if self.loader is not None:
            for pledge_id, view in self.loader.pledges_naming(city_id).items():
                if pledge_id not in self._looked_up:
                    self.pledges[pledge_id] = view
                    self._looked_up.add(pledge_id)
        for pledge_id, view in self.pledges.items():
            if city_id in view.state.content.cities:
                found[pledge_id] = view
        return found

    def _recount_countries(self, city_id: str) -> None:
        """A city's country was corrected: every pledge naming it counts under the corrected
        country from now on (so that a fold in any order ends where the log's order does)."""
        for pledge_id, view in sorted(self._pledges_naming(city_id).items()):
            countries = countries_of(view.state.content.cities, self.country_of)
            if countries == view.countries:
                continue
            if pledge_id not in self.changes.pledges:
                self.changes.pledges[pledge_id] = view
            self.pledges[pledge_id] = replace(view, countries=countries)

    def prefetch(self, envelopes: Iterable[Envelope]) -> None:
        """Load, in one go, the stored views of the pledges these envelopes touch."""
        if self.loader is None:
            return
        wanted = {p for p in map(pledge_id_of, (e.stream_id for e in envelopes)) if p is not None}
        wanted -= self._looked_up
        if wanted:
            self.pledges.update(self.loader.pledges(wanted))
            self._looked_up |= wanted

    # --- the fold -------------------------------------------------------------------------------

    def apply(self, envelope: Envelope) -> None:
        payload = self.decode(envelope)
        pledge_id = pledge_id_of(envelope.stream_id)
        if pledge_id is not None:
            before = self.pledges.get(pledge_id)
            if before is None and self.loader is not None and pledge_id not in self._looked_up:
                before = self.loader.pledges([pledge_id]).get(pledge_id)
                self._looked_up.add(pledge_id)
            if pledge_id not in self.changes.pledges:
                self.changes.pledges[pledge_id] = before
            self.pledges[pledge_id] = evolve_view(
                before, envelope, payload, self.country_of, keep_json=self.keep_content_json
            )
        elif isinstance(payload, CityRegistered):
            self.cities[payload.city_id] = CityRow(
                payload.city_id, dict(payload.name), payload.country, envelope.recorded_at
            )
            self.changes.cities.add(payload.city_id)
        elif isinstance(payload, NetworkRegistered):
            self.networks[payload.network_id] = NetworkRow(
                payload.network_id, dict(payload.name), envelope.recorded_at
            )
            self.changes.networks.add(payload.network_id)
        elif isinstance(payload, CityJoinedNetwork):
            member = Membership(payload.network_id, payload.city_id, envelope.recorded_at)
            self.members[(payload.network_id, payload.city_id)] = member
            self.changes.members[(payload.network_id, payload.city_id)] = member
        elif isinstance(payload, CityLeftNetwork):
            self.members.pop((payload.network_id, payload.city_id), None)
            self.changes.members[(payload.network_id, payload.city_id)] = None
        elif isinstance(payload, DeclarationSigned):
            key = (payload.declaration_id, payload.city_id)
            self.signatures[key] = Signature(
                payload.declaration_id, payload.city_id, payload.signed_on, envelope.recorded_at
            )
            self.changes.signatures.add(key)
        elif isinstance(payload, PriorityAreaRegistered):
            self._set_reference(
                ReferenceRow(
                    "priority_area",
                    payload.area_id,
                    dict(payload.title),
                    None,
                    None,
                    envelope.recorded_at,
                )
            )
        elif isinstance(payload, PriorityAreaRetired):
            key = ("priority_area", payload.area_id)
            area = self.reference.get(key)
            if area is None and self.loader is not None:
                area = self.loader.reference_item(key)
            if area is not None:
                self._set_reference(replace(area, retired_at=envelope.recorded_at,
                                            retired_reason=payload.reason))  # fmt: skip
        elif isinstance(payload, DeclarationRegistered):
            self._set_reference(
                ReferenceRow(
                    "declaration",
                    payload.declaration_id,
                    dict(payload.title),
                    payload.adopted_on,
                    None,
                    envelope.recorded_at,
                )
            )
        elif isinstance(payload, CallRegistered):
            self._set_reference(
                ReferenceRow(
                    "call",
                    payload.call_id,
                    dict(payload.title),
                    payload.opens_on,
                    payload.closes_on,
                    envelope.recorded_at,
                )
            )
        elif isinstance(payload, SignatureWithdrawn):
            key = (payload.declaration_id, payload.city_id)
            self.signatures.pop(key, None)
            self.changes.signatures.add(key)
        elif isinstance(payload, CityCorrected):
            city = self.city_row(payload.city_id)
            if city is None:
                return  # a correction is decided against a registered city; the log says so
            self.cities[payload.city_id] = CityRow(
                city.city_id,
                dict(payload.name) if payload.name is not None else city.name,
                payload.country if payload.country is not None else city.country,
                city.registered_at,
            )
            self.changes.cities.add(payload.city_id)
            if payload.country is not None and payload.country != city.country:
                self._recount_countries(payload.city_id)
        elif isinstance(payload, NetworkCorrected):
            network = self.network_row(payload.network_id)
            if network is None:
                return
            self.networks[payload.network_id] = NetworkRow(
                network.network_id, dict(payload.name), network.registered_at
            )
            self.changes.networks.add(payload.network_id)
        # Every other event changes no view: API keys (their history is read from the log, see
        # ledger.api_keys) and report publications (read from the log, projections.publications).

    def _set_reference(self, row: ReferenceRow) -> None:
        key = (row.kind, row.item_id)
        self.reference[key] = row
        self.changes.reference.add(key)

    def apply_all(self, envelopes: Iterable[Envelope]) -> None:
        for envelope in envelopes:
            self.apply(envelope)

    def take_changes(self) -> Changes:
        changes, self.changes = self.changes, Changes()
        return changes

    def rollup_cells(self) -> RollupCells:
        return RollupCells.of(self.pledges.values())
