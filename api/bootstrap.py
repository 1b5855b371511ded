"""The composition root: the one place where settings, store, ledger and read side are wired.

Nothing is built at import time; commands, the server and tests call ``bootstrap()``. The write
path's mode is chosen here, once (``write_mode``): the server's requests get receipts and read
their own writes, a bulk loader skips the read models, a benchmark measures the append alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine

from domain.taxonomies import reference_taxonomies
from ledger.checkpoint import load_or_create_signer
from ledger.clock import Clock, IdFactory, SystemClock, random_ids
from ledger.database import create_database_engine, create_ledger_tables
from ledger.log import TransparencyLog
from ledger.settings import LedgerSettings, get_settings
from ledger.store import EventStore
from ledger.write_path import Ledger, WriteMode
from projections.runner import ProjectionRunner


@dataclass
class Services:
    settings: LedgerSettings
    store: EventStore
    engine: Engine
    ledger: Ledger
    log: TransparencyLog
    views: ProjectionRunner

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def bootstrap(
    settings: LedgerSettings | None = None,
    *,
    clock: Clock | None = None,
    ids: IdFactory | None = None,
    write_mode: WriteMode = WriteMode.RECEIPTED,
) -> Services:
    settings = settings or get_settings()
    engine = create_database_engine(settings)
    create_ledger_tables(engine)
    store = EventStore(settings)
    taxonomies = reference_taxonomies().with_priority_areas(settings.priority_areas)
    clock = clock or SystemClock()
    signer = load_or_create_signer(settings.signing_key_file, settings.log_origin)
    log = TransparencyLog(
        store,
        engine,
        signer=signer,
        origin=settings.log_origin,
        clock=clock,
        checkpoint_interval=settings.checkpoint_interval_seconds,
        lock_path=(
            Path(f"{settings.sqlite_path}.integrator.lock")
            if settings.backend == "sqlite"
            else None
        ),
        schema=settings.database_schema,
    )
    views = ProjectionRunner(engine, store)
    views.install()
    ledger = Ledger(
        store,
        engine,
        log=log,
        clock=clock,
        ids=ids or random_ids,
        taxonomies=taxonomies,
        mode=write_mode,
        read_models=views,
    )
    return Services(
        settings=settings, store=store, engine=engine, ledger=ledger, log=log, views=views
    )
