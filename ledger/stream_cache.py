"""Folded stream states kept per process, and how they stay current with the store.

A batch loads every stream it decides on through this cache. The cache is only trusted up to a
store position: before a batch reads, ``sync`` compares that position with the store's and drops
just the streams other processes wrote since (or everything, if they wrote a lot). After this
process's own append, ``advance`` moves the position on only if nobody else wrote in between.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from pydantic import BaseModel

from domain import external_ids, keys, publication, reference, registry
from domain.events import Payload
from domain.pledge import evolve_pledge
from ledger.envelope import Envelope
from ledger.store import EventStore

Evolver = Callable[[Any, Payload], Any]
EVOLVERS: dict[str, Evolver] = {
    "network": registry.evolve_network,
    "city": registry.evolve_city,
    "declaration": registry.evolve_declaration,
    "pledge": evolve_pledge,
    "apikey": keys.evolve_key,
    "area": reference.evolve_priority_area,
    "call": reference.evolve_call,
    "extid": external_ids.evolve_claim,
    "report": publication.evolve_publication,
}

# Beyond this many foreign events since the last sync, reading which streams they touched costs
# more than folding the few streams the next batches need again.
_DELTA_LIMIT = 5000


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _packed(event_id: str) -> bytes | None:
    """The 16 bytes of an id in the envelopes' form (a lowercase UUID), else None."""
    if len(event_id) == 36 and _UUID_TEXT.fullmatch(event_id):
        return bytes.fromhex(event_id.replace("-", ""))
    return None


class EventIds:
    """The ids of a stream's events, as a set, packed 16 bytes an id.

    Every cached stream keeps them (an erratum names a report by its event id; a retried
    request is recognised by its first event's id), and a bulk load caches hundreds of
    thousands of streams: as a ``frozenset`` of strings, a pledge's seven ids cost about
    1.3 KB, packed about 150 bytes. Envelopes' ids are lowercase UUIDs; any other string is
    kept as it is, so this is a set of strings whatever it is given.
    """

    __slots__ = ("_others", "_packed")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._packed = b""
        self._others: tuple[str, ...] = ()
        self._add(ids)

    def _add(self, ids: Iterable[str]) -> None:
        packed = [self._packed]
        others = list(self._others)
        seen: set[bytes] = set()
        for event_id in ids:
            raw = _packed(event_id)
            if raw is None:
                if event_id not in others:
                    others.append(event_id)
            elif raw not in seen and not self._holds(raw):
                seen.add(raw)
                packed.append(raw)
        self._packed = b"".join(packed)
        self._others = tuple(others)

    def adding(self, ids: Iterable[str]) -> EventIds:
        """These ids and ``ids``, as a new set."""
        more = EventIds()
        more._packed, more._others = self._packed, self._others
        more._add(ids)
        return more

    def _holds(self, raw: bytes) -> bool:
        start = self._packed.find(raw)
        while start != -1 and start % 16:  # a match across two ids is not one
            start = self._packed.find(raw, start + 1)
        return start != -1

    def __contains__(self, event_id: object) -> bool:
        if not isinstance(event_id, str):
            return False
        raw = _packed(event_id)
        return event_id in self._others if raw is None else self._holds(raw)

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self._packed), 16):
            text = self._packed[start : start + 16].hex()
            yield f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        yield from self._others

    def __len__(self) -> int:
        return len(self._packed) // 16 + len(self._others)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventIds):
            return frozenset(self) == frozenset(other)
        if isinstance(other, (set, frozenset)):
            return frozenset(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self))

    def __repr__(self) -> str:
        return f"EventIds({sorted(self)!r})"


NO_EVENTS = EventIds()


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """A stream's folded state at a version, and the ids of all its events."""

    stream_id: str
    version: int
    state: Any
    event_ids: EventIds

    def fold(
        self, envelopes: list[Envelope], payloads: list[Payload] | None = None
    ) -> StreamSnapshot:
        """Fold newer events in; ``payloads`` saves decoding events this process just decided."""
        if not envelopes:
            return self
        evolve = EVOLVERS[self.stream_id.split(":", 1)[0]]
        state = self.state
        if payloads is None:
            payloads = [envelope.decode_payload() for envelope in envelopes]
        for payload in payloads:
            state = evolve(state, payload)
        ids = self.event_ids.adding(e.event_id for e in envelopes)
        return StreamSnapshot(self.stream_id, envelopes[-1].stream_version, state, ids)


_FIELD_SETS: dict[frozenset[str], set[str]] = {}
_SHARED: set[int] = set()
"""The ids of the sets in ``_FIELD_SETS`` (kept for the process's life, so the ids stay theirs)."""


def share_field_sets(value: Any) -> None:
    """Make each frozen pydantic model under ``value`` hold one shared set of the names of its
    fields that were set, instead of a set of its own.

    pydantic keeps that set per instance (from 216 bytes, about 430 on a pledge's models): a third
    of a cached pledge state, and a bulk load caches tens of thousands of them. The set is
    mutated only by assigning a field, which a frozen model refuses; ``model_copy`` copies it
    before adding to it. Models whose set is shared already are skipped with everything under
    them (they were shared whole), so a state whose content did not change costs one lookup.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseModel):
            present = item.__pydantic_fields_set__
            if id(present) in _SHARED or not item.model_config.get("frozen"):
                continue
            key = frozenset(present)
            shared = _FIELD_SETS.get(key)
            if shared is None:  # setdefault: two threads sharing at once keep the same set
                shared = _FIELD_SETS.setdefault(key, set(key))
                _SHARED.add(id(shared))
            object.__setattr__(item, "__pydantic_fields_set__", shared)
            pending.extend(item.__dict__.values())
        elif isinstance(item, (tuple, list)):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif is_dataclass(item) and not isinstance(item, type):
            names = _FIELD_NAMES.get(type(item))
            if names is None:
                names = _FIELD_NAMES[type(item)] = tuple(f.name for f in fields(item))
            pending.extend(getattr(item, name) for name in names)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class StreamCache:
    """Bounded LRU of folded stream states, shared by the process's batches, kept in sync."""

    def __init__(self, store: EventStore, max_streams: int = 200_000) -> None:
        self._store = store
        self._items: OrderedDict[str, StreamSnapshot] = OrderedDict()
        self._max = max_streams
        self._lock = threading.Lock()
        # Every cached stream holds all its events up to this notification id (None: unknown).
        self._synced_position: int | None = None
        self._sync_lock = threading.Lock()

    def load(self, stream_id: str) -> StreamSnapshot:
        """The stream as stored, from the cache or folded from the store (then cached)."""
        snapshot = self._get(stream_id)
        if snapshot is None:
            empty = StreamSnapshot(stream_id, 0, None, NO_EVENTS)
            snapshot = empty.fold(self._store.read_stream(stream_id))
            self.put(snapshot)
        return snapshot

    def _get(self, stream_id: str) -> StreamSnapshot | None:
        with self._lock:
            snapshot = self._items.get(stream_id)
            if snapshot is not None:
                self._items.move_to_end(stream_id)
            return snapshot

    def put(self, snapshot: StreamSnapshot) -> None:
        share_field_sets(snapshot.state)
        with self._lock:
            current = self._items.get(snapshot.stream_id)
            if current is not None and current.version > snapshot.version:
                return
            self._items[snapshot.stream_id] = snapshot
            self._items.move_to_end(snapshot.stream_id)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def sync(self) -> int:
        """Make every cached stream current without reading every stream again.

        If the store has not moved since this process last knew it, the cache is current. If it
        moved a little (another process wrote), drop just the streams it touched; if it moved a
        lot, drop the cache. Answers the store's position.
        """
        position = self._store.max_notification_id()
        with self._sync_lock:
            synced = self._synced_position
            if synced == position:
                return position
            if synced is not None and 0 < position - synced <= _DELTA_LIMIT:
                delta = self._store.notifications(
                    after=synced, stop=position, limit=position - synced
                )
                self._discard(n.stream_id for n in delta)
            else:
                with self._lock:
                    self._items.clear()
            self._synced_position = position
            return position

    def advance(
        self,
        snapshots: Iterable[StreamSnapshot],
        synced_at: int | None,
        notification_ids: list[int],
    ) -> None:
        """After this process appended: cache what it wrote; stay trusted only if nobody else
        wrote between the batch's first read (``synced_at``) and its append."""
        for snapshot in snapshots:
            self.put(snapshot)
        with self._sync_lock:
            contiguous = synced_at is not None and notification_ids == list(
                range(synced_at + 1, synced_at + 1 + len(notification_ids))
            )
            if contiguous and self._synced_position == synced_at:
                self._synced_position = notification_ids[-1]
            else:
                self._synced_position = None

    def release(self, stream_ids: Iterable[str]) -> None:
        """Drop streams the caller will not write again soon (a bulk load's finished pledges),
        so the cache holds what is under way; they stay current, so the sync position holds."""
        self._discard(stream_ids)

    def release_all(self) -> None:
        """Drop every stream (a bulk load is over); what stays cached stays current."""
        with self._lock:
            self._items.clear()

    def forget(self, stream_ids: Iterable[str]) -> None:
        """An append to these streams failed: someone else wrote them, so reread them."""
        self._discard(stream_ids)
        with self._sync_lock:
            self._synced_position = None

    def _discard(self, stream_ids: Iterable[str]) -> None:
        with self._lock:
            for stream_id in stream_ids:
                self._items.pop(stream_id, None)
