"""Group commit: one writer thread per process turns concurrent write requests into few commits.

Requests wait in a bounded queue. The writer takes the first one and then every request already
waiting (up to ``max_group``), runs each command into one ``Batch`` through the command table,
and commits the batch once: one transaction, one log integration, one checkpoint signature, one
catch-up of the read models. Then each request gets its own ``Written`` (result and receipts,
with the inclusion proof to the new checkpoint).

Each request still succeeds or fails on its own. A command the domain refuses raises inside
``Batch.execute`` and leaves the batch untouched, so its error goes to its request alone and its
neighbours commit. If the commit itself conflicts (another process appended to one of the
gathered streams in between), the gathered commands are decided and committed again one by
one, so that only the command whose stream moved under its ``expected_version`` fails.

While no request is waiting, the writer follows the store: if another process appended events
(or one died between its append and the log), it integrates them, signs them when the interval
allows and catches the read models up, so this process serves them too. On SQLite the writer is
the only writer of its process; on PostgreSQL several processes each run one, and the store and
the integrator's lock serialise them.

This module knows nothing of HTTP: the API maps its errors to statuses.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from domain.principal import Principal
from ledger.commands import Batch, CommandName
from ledger.errors import ConcurrencyConflict, ConfigurationError, LedgerError
from ledger.log import TransparencyLog
from ledger.store import EventStore
from ledger.write_path import ReadModels, Written

logger = logging.getLogger(__name__)

DEFAULT_MAX_GROUP = 128
DEFAULT_QUEUE_SIZE = 4096
DEFAULT_FOLLOW_SECONDS = 0.5


class WriterUnavailable(LedgerError):
    """The writer takes no request now: it is shutting down, or its queue is full."""

    code = "writer_unavailable"


class WritingLedger(Protocol):
    """What the writer needs of ``Ledger``: batches, their commit, and the store and log it
    follows while idle."""

    store: EventStore
    log: TransparencyLog

    def new_batch(self) -> Batch: ...

    def commit(self, batch: Batch) -> tuple[Written, ...]: ...


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One command as a caller sends it; the arguments of ``Batch.execute``."""

    name: CommandName
    principal: Principal
    body: Mapping[str, Any] | BaseModel
    target: str | None = None
    idempotency_key: str | None = None
    expected_version: int | None = None

    def execute_in(self, batch: Batch) -> None:
        batch.execute(
            self.name,
            self.principal,
            self.body,
            target=self.target,
            idempotency_key=self.idempotency_key,
            expected_version=self.expected_version,
        )


@dataclass(slots=True)
class _Pending:
    request: WriteRequest
    future: Future[Written] = field(default_factory=Future)


_STOP = object()


class GroupCommitter:
    """The process's single writer: ``submit`` a request, get a future of its ``Written``."""

    def __init__(
        self,
        ledger: WritingLedger,
        *,
        read_models: ReadModels | None = None,
        max_group: int = DEFAULT_MAX_GROUP,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        follow_seconds: float = DEFAULT_FOLLOW_SECONDS,
    ) -> None:
        if max_group < 1:
            raise ConfigurationError("a group holds at least one request", field="max_group")
        self._ledger = ledger
        self._read_models = read_models
        self._max_group = max_group
        self._follow_seconds = follow_seconds
        self._queue: queue.Queue[_Pending | object] = queue.Queue(maxsize=queue_size)
        self._accepting = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._followed = 0
        self.groups_committed = 0
        """How many groups were committed together (for tests and the benchmark)."""

    # --- the callers' side --------------------------------------------------------------------

    def start(self) -> GroupCommitter:
        self._thread.start()
        return self

    def submit(self, request: WriteRequest) -> Future[Written]:
        """Queue ``request``; the future holds its ``Written`` or the error that refused it."""
        pending = _Pending(request)
        with self._accepting:
            if self._closed:
                raise WriterUnavailable("the server is shutting down: retry on another one")
            try:
                self._queue.put_nowait(pending)
            except queue.Full:
                raise WriterUnavailable("too many writes are waiting: retry in a moment") from None
        return pending.future

    def write(self, request: WriteRequest) -> Written:
        """Submit and wait: the result, or the request's own error raised."""
        return self.submit(request).result()

    def close(self) -> None:
        """Take no more requests, finish every queued one, and stop the writer."""
        with self._accepting:
            if self._closed:
                return
            self._closed = True
        if not self._thread.is_alive():
            self._drain_unstarted()
            return
        # Queued after every accepted request: the writer finishes them all before stopping.
        self._queue.put(_STOP)
        self._thread.join()

    def _drain_unstarted(self) -> None:
        """Closed without ever starting: refuse what was queued instead of leaving it waiting."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Pending) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(WriterUnavailable("the writer was closed unstarted"))

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._follow_seconds)
            except queue.Empty:
                self.follow_store()
                continue
            if first is _STOP:
                return
            group: list[_Pending] = [first] if isinstance(first, _Pending) else []
            stop = False
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                if isinstance(item, _Pending):
                    group.append(item)
            self._commit_group(group)
            if stop:
                return

    def _commit_group(self, group: list[_Pending]) -> None:
        # A caller that gave up before its turn (a cancelled future) is never executed.
        running = [p for p in group if p.future.set_running_or_notify_cancel()]
        try:
            self._commit_together(running)
        except BaseException as error:  # never leave a caller waiting, whatever went wrong
            logger.exception("the writer failed a group of %d requests", len(running))
            for pending in running:
                if not pending.future.done():
                    pending.future.set_exception(error)
            if not isinstance(error, Exception):
                raise

    def _commit_together(self, group: list[_Pending]) -> None:
        batch = self._ledger.new_batch()
        accepted = [p for p in group if _executed(p, batch)]
        if not accepted:
            return
        try:
            written = self._ledger.commit(batch)
        except ConcurrencyConflict:
            # Another process wrote one of these streams since the batch read it: decide each
            # command again alone, so that only one whose expected version is now stale fails.
            for pending in accepted:
                self._commit_alone(pending)
            return
        except Exception as error:
            for pending in accepted:
                pending.future.set_exception(error)
            return
        self.groups_committed += 1
        for pending, answer in zip(accepted, written, strict=True):
            pending.future.set_result(answer)

    def _commit_alone(self, pending: _Pending) -> None:
        batch = self._ledger.new_batch()
        if not _executed(pending, batch):
            return
        try:
            [written] = self._ledger.commit(batch)
        except Exception as error:
            pending.future.set_exception(error)
            return
        self.groups_committed += 1
        pending.future.set_result(written)

    def follow_store(self) -> None:
        """What the idle writer does: integrate, sign and catch the read models up with what
        other processes (or one that crashed after its append) stored since it last looked."""
        try:
            head = self._ledger.store.max_notification_id()
            if head <= self._followed:
                return
            size = self._ledger.log.integrate()
            signed = self._ledger.log.sign(wait=False)
            if self._read_models is not None:
                self._read_models.catch_up(until=head)
            if signed.size >= size:
                self._followed = head
            # else the checkpoint interval has not passed: the next idle moment signs them.
        except Exception:
            # The next idle moment tries again; the alarm is in the log, not a dead writer.
            logger.exception("the writer could not follow the store")


def _executed(pending: _Pending, batch: Batch) -> bool:
    """Run the request's command into ``batch``; a refusal is its own request's answer."""
    try:
        pending.request.execute_in(batch)
    except Exception as error:
        pending.future.set_exception(error)
        return False
    return True
