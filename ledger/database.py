"""The SQLAlchemy side of the store: engine, schema, and the ledger's own tables.

The event store's tables belong to eventsourcing; these tables sit beside them in the same
database (SQLite file or PostgreSQL schema): idempotency records, the transparency log's
leaves, subtree hashes, position and checkpoints, and the hashes of API key secrets.
"""

from __future__ import annotations

import fcntl
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor
from sqlalchemy.pool import ConnectionPoolEntry

from ledger.errors import ConfigurationError, StoreUnavailable
from ledger.settings import LedgerSettings

metadata = MetaData()

STARTUP_LOCK_KEY = zlib.crc32(b"pledge-ledger start-up DDL")
"""The PostgreSQL advisory lock that serialises the start-up DDL of all processes on a database.

``CREATE … IF NOT EXISTS`` is not safe against itself: two sessions that both find a table
missing both create it, and one fails on the catalogue ("tuple concurrently updated", a
duplicate key in ``pg_type`` or ``pg_namespace``). One key for the whole database, whatever the
schema: start-up DDL takes milliseconds, and waiting behind another schema's costs nothing."""

STARTUP_LOCK_TIMEOUT = "60s"
"""How long a starting process waits for another one's start-up DDL before it gives up."""


def serialise_startup_ddl(connection: Connection) -> None:
    """Make the rest of ``connection``'s transaction, which has not written yet, the only
    start-up DDL running on the database.

    PostgreSQL: the start-up advisory lock, held until the transaction ends. SQLite: the file's
    write lock, taken now (``BEGIN IMMEDIATE``); the driver would otherwise run each statement
    of a table creation on its own, and a process could find a table missing that another
    creates before it does.
    """
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{STARTUP_LOCK_TIMEOUT}'")
    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STARTUP_LOCK_KEY})")


@contextmanager
def startup_ddl_lock(settings: LedgerSettings) -> Iterator[None]:
    """Hold the start-up DDL lock on a connection of its own (PostgreSQL only), for DDL that
    runs on other connections: the event store's recorder creates its tables on its own pool.

    The lock is the session's: it is released when the block ends, or by the server when the
    process dies.
    """
    if settings.backend != "postgresql":
        yield
        return
    url = settings.url
    try:
        connection = psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            dbname=url.database,
            user=url.username or "postgres",
            password=url.password or "",
            connect_timeout=10,
            autocommit=True,
        )
    except psycopg.Error as error:
        raise StoreUnavailable(f"cannot open the event store: {error}") from error
    with connection:
        try:
            connection.execute(f"SET lock_timeout = '{STARTUP_LOCK_TIMEOUT}'")
            connection.execute(f"SELECT pg_advisory_lock({STARTUP_LOCK_KEY})")
        except psycopg.Error as error:
            raise StoreUnavailable(
                f"another process held the start-up lock for {STARTUP_LOCK_TIMEOUT}: {error}"
            ) from error
        yield


idempotency_keys = Table(
    "ledger_idempotency_keys",
    metadata,
    Column("principal", String(128), primary_key=True),
    Column("idempotency_key", String(256), primary_key=True),
    Column("request_sha256", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

log_leaves = Table(
    "log_leaves",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("notification_id", BigInteger, nullable=False, unique=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("stream_id", String(80), nullable=False, index=True),
    Column("stream_version", Integer, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

# Perfect subtrees above the leaves, keyed by one integer (see ``subtree_key``) so that the
# O(log n) hashes of a proof are one primary-key IN lookup on every backend.
log_subtrees = Table(
    "log_subtrees",
    metadata,
    Column("node", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

_LEVEL_SHIFT = 48


def subtree_key(level: int, index: int) -> int:
    """The key of the perfect subtree at (level, index): level in the high bits."""
    return (level << _LEVEL_SHIFT) | index


def subtree_position(key: int) -> tuple[int, int]:
    return key >> _LEVEL_SHIFT, key & ((1 << _LEVEL_SHIFT) - 1)


# The SHA-256 of each API key's secret. Private: not on the log, never exported; the key's
# history (issued, revoked) is on the log, as events of its ``apikey:<key_id>`` stream.
api_key_secrets = Table(
    "api_key_secrets",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("sha256", LargeBinary(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

log_position = Table(
    "log_position",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("notification_id", BigInteger, nullable=False),
    Column("tree_size", BigInteger, nullable=False),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("signed_at", String(32), nullable=False),
    Column("note", Text, nullable=False),
)


def _sqlite_pragmas(timeout: float) -> Callable[[DBAPIConnection, ConnectionPoolEntry], None]:
    def pragmas(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        _wal(cursor, timeout)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return pragmas


def _wal(cursor: DBAPICursor, timeout: float) -> None:
    """Put the file in WAL mode (it stays so), waiting up to ``timeout`` seconds for the lock.

    On a fresh file that other processes open at the same moment, the switch can answer
    "database is locked" at once rather than through the busy timeout (it needs the file to
    itself): processes starting together then failed now and then. It is tried again.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


def _sqlite_query_only(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def create_database_engine(settings: LedgerSettings) -> Engine:
    """An engine on the store's database, with the schema created if it is missing.

    With ``settings.for_reading()`` nothing is created and every connection refuses writes.
    """
    url = settings.sqlalchemy_url()
    if settings.backend == "sqlite":
        engine = create_engine(url, connect_args={"timeout": settings.sqlite_lock_timeout_seconds})
        event.listen(engine, "connect", _sqlite_pragmas(settings.sqlite_lock_timeout_seconds))
        if settings.read_only:
            event.listen(engine, "connect", _sqlite_query_only)
        return engine
    connect_args: dict[str, object] = {"connect_timeout": 10}
    schema = settings.database_schema
    options = [f"-csearch_path={schema}"] if schema else []
    if settings.read_only:
        options.append("-cdefault_transaction_read_only=on")
    if options:
        connect_args["options"] = " ".join(options)
    engine = create_engine(
        url, connect_args=connect_args, pool_pre_ping=True, pool_size=settings.postgres_pool_size
    )
    if schema and not settings.read_only:
        with engine.begin() as connection:
            serialise_startup_ddl(connection)
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def create_ledger_tables(engine: Engine) -> None:
    """Create the ledger's tables if missing, and refuse a database laid out by another version.

    There are no migrations yet: a table without a column this code needs is a clear error at
    start-up rather than a failed query later. Processes starting together create them one
    after the other (see ``STARTUP_LOCK_KEY``).
    """
    with engine.begin() as connection:
        serialise_startup_ddl(connection)
        metadata.create_all(connection)
        inspector = inspect(connection)
        columns = {
            table.name: inspector.get_columns(table.name) for table in metadata.sorted_tables
        }
    for table in metadata.sorted_tables:
        present = {column["name"] for column in columns[table.name]}
        missing = sorted(set(table.columns.keys()) - present)
        if missing:
            raise ConfigurationError(
                f"table {table.name} lacks column(s) {', '.join(missing)}: this database was "
                "created by another version of pledge-ledger"
            )


LOCK_POLL_SECONDS = 0.05
"""How often ``store_lock`` asks again for a lock another process holds."""


@contextmanager
def store_lock(
    engine: Engine, settings: LedgerSettings, name: str, *, timeout: float = 0.0
) -> Iterator[bool]:
    """Hold the store-wide lock ``name`` while the block runs, shared by every process on the
    store; yields False (and holds nothing) if another process held it for all of ``timeout``
    seconds (0: one try).

    SQLite: an exclusive ``flock`` on ``<database>.<name>.lock``. PostgreSQL: a session advisory
    lock on a connection of its own. Either is released by the operating system or the server
    when the process dies, so there is no stale lock to recover.
    """
    deadline = time.monotonic() + timeout
    if settings.backend == "postgresql":
        key = zlib.crc32(f"pledge-ledger {name} {settings.database_schema or ''}".encode())
        with engine.connect() as connection:
            while True:
                held = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar()
                connection.commit()  # the lock belongs to the session: no transaction left open
                if held or time.monotonic() >= deadline:
                    break
                time.sleep(LOCK_POLL_SECONDS)
            if not held:
                yield False
                return
            try:
                yield True
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                connection.commit()
        return
    with open(f"{settings.sqlite_path}.{name}.lock", "a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
