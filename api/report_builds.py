"""Reports as of a day, built one at a time per store and kept once they cannot change.

A report folds the log up to its day (``projections.build_report``): at a million events that is
most of a minute and about a gigabyte (benchmarks/RESULTS.md). The API's ``/api/v1/reports`` and
the reports page are public, so the processes serving one store fold one report at a time: a
request for another report waits up to ``wait_seconds`` for its turn, then gets a 503 with
``Retry-After`` (``ReportsBusy``) rather than a second fold beside the first. The turn is taken
in the process (a lock) and then across the processes of the store (``store_turn``: a lock file
beside a SQLite store, a session advisory lock on PostgreSQL), so ``serve --workers N`` and
several servers on one PostgreSQL store still fold one report at a time. A request for the
report being built by its own process waits for it and takes it. A report of a past day that
cites a signed checkpoint counts only events recorded by the end of that day, so it is kept (the
last ``kept`` of them, per process) and served again without a fold; today's is always built.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from api.bootstrap import Services
from api.errors import ReportsBusy
from api.routes.reads import today
from domain.events import Framework
from domain.values import Language
from ledger.database import store_lock
from projections import ReportOut, build_report

REPORT_WAIT_SECONDS = 30.0
"""How long a request waits for another report's fold before it is told to retry."""
REPORTS_KEPT = 32
"""Past days' reports kept per server process."""


@contextmanager
def store_turn(services: Services, timeout: float) -> Iterator[bool]:
    """Hold the store-wide turn to fold a report while the block runs; yields False (and holds
    nothing) if another process held it for all of ``timeout`` seconds (``store_lock``
    "reports": ``<database>.reports.lock`` beside SQLite, an advisory lock on PostgreSQL)."""
    with store_lock(services.engine, services.settings, "reports", timeout=timeout) as held:
        yield held


Key = tuple[date, str | None, str, str]


class ReportBuilds:
    """The reports one app serves: one fold at a time, past days' reports kept."""

    def __init__(
        self, *, wait_seconds: float = REPORT_WAIT_SECONDS, kept: int = REPORTS_KEPT
    ) -> None:
        self.wait_seconds = wait_seconds
        self.kept = kept
        self._turn = threading.Lock()  # held while a report is folded
        self._lock = threading.Lock()  # guards _reports
        self._reports: OrderedDict[Key, ReportOut] = OrderedDict()

    def report(
        self,
        services: Services,
        *,
        as_of: date,
        network_id: str | None,
        framework: Framework = "all",
        lang: Language = "en",
    ) -> ReportOut:
        key = (as_of, network_id, framework, lang)
        kept = self._kept(key)
        if kept is not None:
            return kept
        deadline = time.monotonic() + self.wait_seconds
        if not self._turn.acquire(timeout=self.wait_seconds):
            raise self._busy()
        try:
            kept = self._kept(key)  # built by the request this one waited behind
            if kept is not None:
                return kept
            with store_turn(services, max(0.0, deadline - time.monotonic())) as turn:
                if not turn:
                    raise self._busy()
                built = build_report(
                    services.store,
                    services.log,
                    as_of=as_of,
                    freshness_months=services.settings.freshness_months,
                    network_id=network_id,
                    framework=framework,
                    lang=lang,
                )
        finally:
            self._turn.release()
        if as_of < today(services) and built.source.checkpoint is not None:
            with self._lock:
                self._reports[key] = built
                while len(self._reports) > self.kept:
                    self._reports.popitem(last=False)
        return built

    def _busy(self) -> ReportsBusy:
        wait = max(1, round(self.wait_seconds))
        return ReportsBusy(
            f"another report is being built (a fold of the whole log): retry in {wait} s",
            retry_after=wait,
        )

    def _kept(self, key: Key) -> ReportOut | None:
        with self._lock:
            kept = self._reports.get(key)
            if kept is not None:
                self._reports.move_to_end(key)
            return kept
