"""The one write path: commands -> one append -> the log -> the read models -> receipts.

``Ledger`` is the write use case. A caller runs commands into a ``Batch`` (``ledger.batch()``,
or ``new_batch()`` then ``commit()`` for one result per command), and the commit appends all of
the batch's events in one transaction, records its idempotency keys, and then does what the
ledger's ``WriteMode`` (chosen in ``bootstrap()``) says:

- ``RECEIPTED`` (serving requests): integrate the new events into the transparency log, catch
  the read models up to them (so the answer reads its own write), sign a checkpoint as the
  checkpoint interval allows, and answer each command's result with a receipt per event.
- ``BULK_LOAD`` (the demo, imports): integrate and sign a checkpoint of every commit; the read
  models are rebuilt once at the end by the loader.
- ``APPEND_ONLY`` (benchmarks and tests that measure or stage the append alone): nothing more.

An idempotent retry gets the first result and the first receipt, also when it raced the first
request: an append that collides with the stored events of the same keys answers them instead of
a conflict (ADR 0002).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine

from domain.pledge import PledgeState
from domain.principal import Principal
from domain.taxonomies import Taxonomies
from ledger.clock import Clock, IdFactory
from ledger.command_result import CommandResult
from ledger.commands import Batch, CommandName, StagedCommand
from ledger.errors import ConcurrencyConflict, ConfigurationError
from ledger.idempotency import IdempotencyRecords
from ledger.log import Receipt, TransparencyLog
from ledger.store import EventStore
from ledger.stream_cache import StreamCache


class WriteMode(enum.Enum):
    """What a commit does after the append (see the module docstring)."""

    RECEIPTED = "receipted"
    BULK_LOAD = "bulk_load"
    APPEND_ONLY = "append_only"


class ReadModels(Protocol):
    """The read side as the write path needs it: catch up to a notification id."""

    def catch_up(self, until: int | None = None) -> int: ...


@dataclass(frozen=True, slots=True)
class Written:
    """A committed command's result and, in ``RECEIPTED`` mode, one receipt per event."""

    result: CommandResult
    receipts: tuple[Receipt, ...] = ()


class Ledger:
    """The write side: commands in, canonical envelopes appended, then published per mode."""

    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        *,
        log: TransparencyLog,
        clock: Clock,
        ids: IdFactory,
        taxonomies: Taxonomies,
        mode: WriteMode = WriteMode.RECEIPTED,
        read_models: ReadModels | None = None,
    ) -> None:
        if mode is WriteMode.RECEIPTED and read_models is None:
            raise ConfigurationError(
                "the receipted write mode catches the read models up: give it them",
                field="read_models",
            )
        self.store = store
        self.engine = engine
        self.log = log
        self.clock = clock
        self.ids = ids
        self.taxonomies = taxonomies
        self.mode = mode
        self._read_models = read_models
        self.cache = StreamCache(store)
        self.records = IdempotencyRecords(engine, clock)

    # --- running commands -------------------------------------------------------------------------

    def new_batch(self) -> Batch:
        return Batch(
            store=self.store,
            cache=self.cache,
            records=self.records,
            clock=self.clock,
            ids=self.ids,
            taxonomies=self.taxonomies,
        )

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """Run commands as one unit of work: on leaving the block, append all or nothing."""
        batch = self.new_batch()
        yield batch
        self.commit(batch)

    def write(
        self,
        name: CommandName,
        principal: Principal,
        body: Mapping[str, Any] | BaseModel,
        *,
        target: str | None = None,
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """One command as its own batch: the use case behind a single request."""
        batch = self.new_batch()
        batch.execute(
            name,
            principal,
            body,
            target=target,
            idempotency_key=idempotency_key,
            expected_version=expected_version,
        )
        [written] = self.commit(batch)
        return written

    def release(self, stream_ids: Iterable[str]) -> None:
        """A bulk loader is done with these streams: its stream cache need not keep them.

        A later command on one of them reads it from the store again, so this changes how much
        memory a load holds, never what it decides."""
        self.cache.release(stream_ids)

    def release_all(self) -> None:
        """A bulk loader is done: the stream cache need keep nothing (see ``release``)."""
        self.cache.release_all()

    def pledge_state(self, pledge_id: str) -> PledgeState:
        return self.new_batch().pledge(pledge_id)

    # --- committing -------------------------------------------------------------------------------

    def commit(self, batch: Batch) -> tuple[Written, ...]:
        """Append the batch, then publish it as the mode says; one ``Written`` per command."""
        batch.close()
        results, notification_ids = self._append(batch)
        if not results or self.mode is WriteMode.APPEND_ONLY:
            return tuple(Written(result) for result in results)
        self.log.integrate()
        if self.mode is WriteMode.BULK_LOAD:
            # A checkpoint per commit, however close in time: a loader's history is its batches.
            # It signs the edge the integration just extended (ADR 0018).
            self.log.sign(wait=False, force=True, own_edge=True)
            return tuple(Written(result) for result in results)
        self._catch_up_read_models(results, notification_ids)
        receipts = iter(self.log.receipts([e.event_id for r in results for e in r.events]))
        return tuple(
            Written(result, tuple(next(receipts) for _ in result.events)) for result in results
        )

    def _append(self, batch: Batch) -> tuple[list[CommandResult], list[int]]:
        staged = batch.staged
        envelopes = batch.envelopes
        if not envelopes:
            return [s.result for s in staged], []
        try:
            notification_ids = self.store.append(envelopes)
        except ConcurrencyConflict:
            self.cache.forget(snapshot.stream_id for snapshot in batch.snapshots)
            first = self._first_results_of_retries(staged)
            if first is None:
                raise
            return first, []
        self.cache.advance(batch.snapshots, batch.synced_at, notification_ids)
        keyed = [(s.request, s.result) for s in staged if s.request is not None]
        if keyed:
            self.records.record(keyed)
        return [s.result for s in staged], notification_ids

    def _first_results_of_retries(
        self, staged: Sequence[StagedCommand]
    ) -> list[CommandResult] | None:
        """After a conflict: if every command of the batch is a retry whose first request has
        now been stored (it raced this one), the first results; otherwise None."""
        results: list[CommandResult] = []
        for command in staged:
            if command.result.replayed:
                results.append(command.result)
                continue
            if command.request is None:
                return None
            first = self.records.find(command.request) or command.request.stored_result(self.store)
            if first is None:
                return None
            results.append(first)
        self.records.record(
            (command.request, result)
            for command, result in zip(staged, results, strict=True)
            if command.request is not None
        )
        return results

    def _catch_up_read_models(
        self, results: Sequence[CommandResult], notification_ids: list[int]
    ) -> None:
        assert self._read_models is not None  # checked in __init__ for this mode
        until = max(notification_ids, default=0)
        for result in results:
            if result.replayed:
                # Written by the first request, perhaps by a process that died before this step.
                for event in result.events:
                    until = max(until, self.log.leaf(event.event_id).notification_id)
        self._read_models.catch_up(until=until)
