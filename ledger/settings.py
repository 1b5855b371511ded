"""Settings: one pydantic-settings class, read from ``LEDGER_*`` environment variables.

Everything the event store, the log and the projections need is derived from here; in
particular eventsourcing always receives a complete ``env=`` dict built from these settings, so
that no stray environment variable of the process can change where events go.

The signing key lives beside the SQLite file by default (``pledge-ledger.db`` ->
``pledge-ledger.key`` in the same folder), so that the working directory never decides which key
signs or verifies a store; a PostgreSQL store has no file to sit beside, so it needs
``LEDGER_SIGNING_KEY_FILE``.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from domain.reference import DEFAULT_PRIORITY_AREAS
from domain.values import check_slug
from ledger.errors import ConfigurationError

Backend = Literal["sqlite", "postgresql"]


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEFAULT_DATABASE_URL = "sqlite:///./pledge-ledger.db"
KEY_SUFFIX = ".key"


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    database_url: str = DEFAULT_DATABASE_URL
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema (default: the connection's search path)"
    )
    signing_key_file: Path | None = Field(
        default=None,
        description="the Ed25519 signer key (default: beside the SQLite file, .key for .db)",
    )
    log_origin: str = "pledge-ledger.local/log"
    # 0: every commit signs its own checkpoint, which under load is one per group commit (the
    # group is the batching); a positive interval signs at most once per interval instead.
    checkpoint_interval_seconds: float = Field(default=0.0, ge=0.0)
    freshness_months: int = Field(default=12, ge=1, le=120)
    # Only a seed (ADR 0014): `reference seed` and the demo register these areas on the log when
    # they have never been registered; the log, not this setting, is what pledges are checked by.
    priority_areas: tuple[str, ...] = DEFAULT_PRIORITY_AREAS
    postgres_lock_timeout_seconds: int = Field(default=5, ge=1)
    postgres_pool_size: int = Field(default=5, ge=1)
    sqlite_lock_timeout_seconds: int = Field(default=30, ge=1)
    # Not a setting: a copy made by ``for_reading()`` opens the store without creating or
    # writing anything (read-only SQLite URI, no CREATE TABLE).
    _read_only: bool = PrivateAttr(default=False)

    @field_validator("database_schema")
    @classmethod
    def _schema_name(cls, value: str | None) -> str | None:
        # Lower-case ASCII only: PostgreSQL folds unquoted names to lower case, and the name is
        # written unquoted (search_path, raw SQL) as well as quoted (the event store's tables).
        if value and not _SCHEMA_NAME.fullmatch(value):
            raise ValueError(
                "schema names are lower-case ASCII letters, digits and underscores, "
                "starting with a letter or underscore, at most 63 characters"
            )
        return value or None

    @field_validator("priority_areas")
    @classmethod
    def _priority_areas(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Refused here rather than at the first pledge (or in the middle of the demo): the list is
        # a deployment's configuration, so a mistake in it is a start-up error.
        if not value:
            raise ValueError('expected a non-empty JSON list of slugs, e.g. ["housing"]')
        repeated = sorted({area for area in value if value.count(area) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        for area in value:
            try:
                check_slug(area)
            except ValueError:
                raise ValueError(f"priority area {area!r} must be a lowercase slug") from None
        return value

    @field_validator("log_origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value) or "+" in value:
            raise ValueError("the log origin is one token: no spaces, no '+'")
        return value

    @property
    def url(self) -> URL:
        try:
            url = make_url(self.database_url)
            port = url.port  # parsed lazily by SQLAlchemy: a non-numeric port fails here
        except (ArgumentError, ValueError) as error:
            raise ConfigurationError(
                f"{self.database_url!r} is not a database URL: expected sqlite:///PATH or "
                "postgresql://USER@HOST:PORT/DATABASE (PORT a number)",
                field="database_url",
            ) from error
        if port is not None and not 0 < port < 65536:
            raise ConfigurationError(
                f"{self.database_url!r}: the port must be between 1 and 65535",
                field="database_url",
            )
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"{self.database_url!r}: expected sqlite:///PATH or postgresql://…",
                field="database_url",
            )
        return url

    @property
    def backend(self) -> Backend:
        return "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"

    @property
    def sqlite_path(self) -> str:
        database = self.url.database
        if self.backend != "sqlite" or not database or database == ":memory:":
            raise ConfigurationError(
                "the SQLite store needs a file: sqlite:///path/to/ledger.db",
                field="database_url",
            )
        return database

    @property
    def read_only(self) -> bool:
        return self._read_only

    def for_reading(self) -> LedgerSettings:
        """These settings, opening the store read-only: nothing is created, nothing written."""
        copy = self.model_copy()
        copy._read_only = True
        return copy

    def _sqlite_target(self) -> str:
        """The SQLite file as the drivers open it: a ``mode=ro`` URI when reading only."""
        if not self._read_only:
            return self.sqlite_path
        path = Path(self.sqlite_path).resolve()
        target = f"file:{quote(str(path))}?mode=ro"
        if not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists():
            # SQLite reads a WAL database through -wal and -shm files it cannot create in a
            # folder it may not write. Without a -wal file every committed page is in the main
            # file, so it is read as immutable instead (no shared memory, no locks).
            target += "&immutable=1"
        return target

    @property
    def key_file(self) -> Path:
        """The signer key file: the setting, or the SQLite file's name with ``.key``."""
        if self.signing_key_file is not None:
            return self.signing_key_file
        if self.backend != "sqlite":
            raise ConfigurationError(
                "required for a PostgreSQL store: the path of its signer key file",
                field="signing_key_file",
            )
        database = Path(self.sqlite_path)
        if database.suffix == KEY_SUFFIX:
            return database.with_name(database.name + KEY_SUFFIX)
        return database.with_suffix(KEY_SUFFIX)

    def eventsourcing_env(self) -> dict[str, str]:
        """The complete environment handed to eventsourcing (never merged with os.environ)."""
        common = {"ORIGINATOR_ID_TYPE": "text", "CREATE_TABLE": "n" if self._read_only else "y"}
        if self.backend == "sqlite":
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self._sqlite_target(),
                "SQLITE_LOCK_TIMEOUT": str(self.sqlite_lock_timeout_seconds),
            }
        url = self.url
        if not url.database:
            raise ConfigurationError(
                f"{self.database_url!r} names no database", field="database_url"
            )
        return {
            **common,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.database,
            "POSTGRES_HOST": url.host or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_SCHEMA": self.database_schema or "",
            # Bounded waits for the table lock that keeps notifications in commit order.
            "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout_seconds),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_PRE_PING": "y",
            # Never: the database functions bypass that table lock.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }

    def sqlalchemy_url(self) -> URL:
        url = self.url
        if self.backend == "sqlite":
            if self._read_only:
                return url.set(
                    drivername="sqlite+pysqlite",
                    database=self._sqlite_target(),
                    query={"uri": "true"},
                )
            return url.set(drivername="sqlite+pysqlite", database=self.sqlite_path)
        return url.set(drivername="postgresql+psycopg")


@cache
def get_settings() -> LedgerSettings:
    """The process's settings, read once from the environment."""
    return LedgerSettings()
