"""The SQLAlchemy side of the store: engine, schema, and the ledger's own tables.

The event store's tables belong to eventsourcing; these tables sit beside them in the same
database (SQLite file or PostgreSQL schema): idempotency records, and the transparency log's
leaves, subtree hashes, position and checkpoints.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
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
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from ledger.errors import ConfigurationError
from ledger.settings import LedgerSettings

metadata = MetaData()

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


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


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
        event.listen(engine, "connect", _sqlite_pragmas)
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
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    return engine


def create_ledger_tables(engine: Engine) -> None:
    """Create the ledger's tables if missing, and refuse a database laid out by another version.

    There are no migrations yet: a table without a column this code needs is a clear error at
    start-up rather than a failed query later.
    """
    metadata.create_all(engine)
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = sorted(set(table.columns.keys()) - present)
        if missing:
            raise ConfigurationError(
                f"table {table.name} lacks column(s) {', '.join(missing)}: this database was "
                "created by another version of pledge-ledger"
            )
