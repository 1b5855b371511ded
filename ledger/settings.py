"""Settings: one pydantic-settings class, read from ``LEDGER_*`` environment variables.

Everything the event store, the log and the projections need is derived from here; in
particular eventsourcing always receives a complete ``env=`` dict built from these settings, so
that no stray environment variable of the process can change where events go.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from domain.taxonomies import DEFAULT_PRIORITY_AREAS
from ledger.errors import ConfigurationError

Backend = Literal["sqlite", "postgresql"]


_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./pledge-ledger.db"
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema (default: the connection's search path)"
    )
    signing_key_file: Path = Path("./pledge-ledger.key")
    log_origin: str = "pledge-ledger.local/log"
    checkpoint_interval_seconds: float = Field(default=1.0, ge=0.0)
    freshness_months: int = Field(default=12, ge=1, le=120)
    priority_areas: tuple[str, ...] = DEFAULT_PRIORITY_AREAS
    postgres_lock_timeout_seconds: int = Field(default=5, ge=1)
    postgres_pool_size: int = Field(default=5, ge=1)
    sqlite_lock_timeout_seconds: int = Field(default=30, ge=1)

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
        except ArgumentError as error:
            raise ConfigurationError(
                f"LEDGER_DATABASE_URL {self.database_url!r} is not a database URL", field="url"
            ) from error
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                "LEDGER_DATABASE_URL must be sqlite:///PATH or postgresql://…", field="url"
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
                "the SQLite store needs a file: LEDGER_DATABASE_URL=sqlite:///path/to/ledger.db"
            )
        return database

    def eventsourcing_env(self) -> dict[str, str]:
        """The complete environment handed to eventsourcing (never merged with os.environ)."""
        common = {"ORIGINATOR_ID_TYPE": "text", "CREATE_TABLE": "y"}
        if self.backend == "sqlite":
            return {
                **common,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.sqlite_path,
                "SQLITE_LOCK_TIMEOUT": str(self.sqlite_lock_timeout_seconds),
            }
        url = self.url
        if not url.database:
            raise ConfigurationError("LEDGER_DATABASE_URL names no database", field="url")
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
            return url.set(drivername="sqlite+pysqlite", database=self.sqlite_path)
        return url.set(drivername="postgresql+psycopg")


@cache
def get_settings() -> LedgerSettings:
    """The process's settings, read once from the environment."""
    return LedgerSettings()
