"""Shared fixtures: stores on both backends, made fresh for every test and removed after it.

PostgreSQL comes from ``LEDGER_TEST_POSTGRES_URL``. Without it the PostgreSQL tests skip with
the reason, except under ``CI=true``, where a missing database is a failure: CI must run them.
Each test session creates its own database, and each test its own schema inside it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from psycopg import sql

from api.bootstrap import Services, bootstrap
from ledger.clock import SeededIds, SteppingClock, timedelta
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode

# Speed is measured in benchmarks/, never asserted here: a property example that runs slowly on a
# loaded CI machine (a GC pause, a busy core) is not a failure, and neither is slow generation.
hypothesis_settings.register_profile(
    "ledger", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("ledger")

SHARED = Path(__file__).resolve().parents[2] / "shared"
TEST_DATA = Path(__file__).resolve().parent / "data"
POSTGRES_URL_VARIABLE = "LEDGER_TEST_POSTGRES_URL"


def shipped_vector_file(name: str) -> Path:
    """A file shipped in tests/data (public test vectors; tests/data/README.md names sources)."""
    return TEST_DATA / name


def shared_file(*parts: str) -> Path:
    """A file of ../shared (vectors, reference data), or a skip that says why it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not present (../shared is laid beside the project checkout)")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session's own, dropped at the end."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"CI=true but {POSTGRES_URL_VARIABLE} is not set: PostgreSQL tests must run"
            )
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set: PostgreSQL tests skipped")
    name = f"pledge_ledger_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {POSTGRES_URL_VARIABLE} is not reachable: {error}")
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def sqlite_settings(directory: Path) -> LedgerSettings:
    return LedgerSettings(
        database_url=f"sqlite:///{directory / 'ledger.db'}",
        signing_key_file=directory / "ledger.key",
        log_origin="test.pledge-ledger/log",
        checkpoint_interval_seconds=0,
    )


@pytest.fixture
def postgres_settings(postgres_database: str, tmp_path: Path) -> Iterator[LedgerSettings]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    settings = LedgerSettings(
        database_url=postgres_database,
        database_schema=schema,
        signing_key_file=tmp_path / "ledger.key",
        log_origin="test.pledge-ledger/log",
        checkpoint_interval_seconds=0,
    )
    try:
        yield settings
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerSettings:
    """Settings for a fresh, empty store on each backend in turn."""
    if request.param == "sqlite":
        return sqlite_settings(tmp_path)
    result: LedgerSettings = request.getfixturevalue("postgres_settings")
    return result


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), step=timedelta(seconds=1))


@pytest.fixture
def services(settings: LedgerSettings, clock: SteppingClock) -> Iterator[Services]:
    with bootstrap(settings, clock=clock, ids=SeededIds(7)) as wired:
        yield wired


@pytest.fixture
def services_in(
    settings: LedgerSettings, clock: SteppingClock
) -> Iterator[Callable[[WriteMode], Services]]:
    """Wire the fresh store of ``settings`` for a write mode other than the receipted default."""
    with ExitStack() as stack:

        def wire(mode: WriteMode) -> Services:
            return stack.enter_context(
                bootstrap(settings, clock=clock, ids=SeededIds(7), write_mode=mode)
            )

        yield wire
