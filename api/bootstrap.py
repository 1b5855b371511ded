"""The composition root: the one place where settings, store, ledger and read side are wired.

Nothing is built at import time; commands, the server and tests call ``bootstrap()``, which
creates the store's tables and the signing key when they are missing (only commands that write
a ledger call it). The write path's mode is chosen there, once (``write_mode``): the server's
requests get receipts and read their own writes, a bulk loader skips the read models, a
benchmark measures the append alone. Commands that only read call ``open_for_reading()``: it
refuses a store that does not exist, and opens one that does without creating, integrating or
signing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine, func, inspect, select, table

from api.errors import StoreNotFound
from domain.taxonomies import reference_taxonomies
from ledger.checkpoint import load_or_create_signer
from ledger.clock import Clock, IdFactory, SystemClock, random_ids
from ledger.database import create_database_engine, create_ledger_tables, metadata
from ledger.log import LogError, SignedCheckpoint, TransparencyLog
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
    taxonomies = reference_taxonomies()
    clock = clock or SystemClock()
    signer = load_or_create_signer(settings.key_file, settings.log_origin)
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


class SignedLogReader(TransparencyLog):
    """The log as it is already integrated and signed: reading it never integrates or signs.

    ``sign()`` answers the latest stored checkpoint, so that an audit bundle written from this
    reader covers exactly what the log has signed; events recorded after it are left out.
    """

    def integrate(self, *, batch_size: int = 5000) -> int:
        return self.tree_size()

    def sign(
        self, *, wait: bool = True, force: bool = False, own_edge: bool = False
    ) -> SignedCheckpoint:
        latest = self.latest_checkpoint()
        if latest is None:
            raise LogError(
                "the store has no signed checkpoint yet: `pledge-ledger checkpoint` signs one"
            )
        return latest


@dataclass
class StoreReader:
    """An existing store opened for reading only: the event store, the log and the engine."""

    settings: LedgerSettings
    store: EventStore
    engine: Engine
    log: SignedLogReader

    def events(self) -> int:
        """How many events the store holds, signed or not."""
        return count_events(self.engine, self.settings)

    def close(self) -> None:
        self.store.close()
        self.engine.dispose()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def count_events(engine: Engine, settings: LedgerSettings) -> int:
    """How many events the store's event table holds (reads only)."""
    events = (
        table("stored_events")
        if settings.backend == "sqlite"
        else table("ledger_events", schema=settings.database_schema)
    )
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(events)).scalar_one())


def store_location(settings: LedgerSettings) -> str:
    """The store as a person would name it: the URL, and the absolute file for SQLite."""
    if settings.backend == "sqlite":
        return f"{settings.database_url} ({Path(settings.sqlite_path).resolve()})"
    schema = f", schema {settings.database_schema}" if settings.database_schema else ""
    return f"{settings.url.render_as_string(hide_password=True)}{schema}"


def _missing_store(settings: LedgerSettings, what: str) -> StoreNotFound:
    return StoreNotFound(
        f"{what} at {store_location(settings)}: point at a store with --database-url or "
        "LEDGER_DATABASE_URL, or create one with `pledge-ledger demo`",
    )


def _refuse_a_missing_store(settings: LedgerSettings, engine: Engine) -> None:
    present = set(inspect(engine).get_table_names(schema=settings.database_schema))
    if not {t.name for t in metadata.sorted_tables} <= present:
        raise _missing_store(settings, "no pledge-ledger store")
    key_file = settings.key_file
    if not key_file.is_file():
        raise StoreNotFound(
            f"no signing key at {key_file.resolve()} (the key of the store at "
            f"{store_location(settings)}): set LEDGER_SIGNING_KEY_FILE to its key file",
        )


def require_existing_store(settings: LedgerSettings) -> None:
    """Refuse a store (or its key) that does not exist, without creating anything.

    For commands that write to a ledger but must not start a new one (``checkpoint``): only
    ``demo``, ``serve`` and ``keys issue`` create a store.
    """
    if settings.backend == "sqlite" and not Path(settings.sqlite_path).is_file():
        raise _missing_store(settings, "no store")
    # The SQLite file exists, so opening it creates nothing (a read-only opening could not
    # switch an old file to WAL); PostgreSQL is looked at without creating its schema.
    looking = settings if settings.backend == "sqlite" else settings.for_reading()
    engine = create_database_engine(looking)
    try:
        present = set(inspect(engine).get_table_names(schema=settings.database_schema))
    finally:
        engine.dispose()
    if not present & {t.name for t in metadata.sorted_tables}:
        raise _missing_store(settings, "no pledge-ledger store")
    # Some of the ledger's tables are there: bootstrap names any that are laid out otherwise.
    if not settings.key_file.is_file():
        raise StoreNotFound(
            f"no signing key at {settings.key_file.resolve()} (the key of the store at "
            f"{store_location(settings)}): set LEDGER_SIGNING_KEY_FILE to its key file",
        )


def open_for_reading(settings: LedgerSettings | None = None) -> StoreReader:
    """Open an existing store read-only; refuse one that does not exist.

    Nothing is created: not the SQLite file, not a table or schema, not the signing key, not a
    lock file. A SQLite store is opened through a ``mode=ro`` URI with ``query_only``, a
    PostgreSQL one in read-only transactions.
    """
    settings = (settings or get_settings()).for_reading()
    if settings.backend == "sqlite" and not Path(settings.sqlite_path).is_file():
        raise _missing_store(settings, "no store")
    engine = create_database_engine(settings)
    try:
        _refuse_a_missing_store(settings, engine)
        # The key exists: this loads it and never creates one.
        signer = load_or_create_signer(settings.key_file, settings.log_origin)
        store = EventStore(settings)
    except BaseException:
        engine.dispose()
        raise
    log = SignedLogReader(
        store,
        engine,
        signer=signer,
        origin=settings.log_origin,
        clock=SystemClock(),
        schema=settings.database_schema,
    )
    return StoreReader(settings=settings, store=store, engine=engine, log=log)
