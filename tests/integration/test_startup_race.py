"""Processes starting together: every one of them starts, on a fresh store and an existing one.

Eight processes wait at a barrier and then bootstrap at once, which creates the schema, the
event store's tables and type and the ledger's tables if they are missing. On PostgreSQL,
concurrent ``CREATE … IF NOT EXISTS`` statements collide in the catalogue ("tuple concurrently
updated", a duplicate ``pg_type`` or ``pg_namespace`` key) unless start-up serialises them.
"""

from __future__ import annotations

import multiprocessing
import traceback
import uuid
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Barrier

import psycopg
import pytest
from psycopg import sql

from api.bootstrap import bootstrap
from ledger.database import create_database_engine
from ledger.settings import LedgerSettings
from ledger.store import EventStore
from tests.conftest import sqlite_settings

PROCESSES = 8
ROUNDS = 3


def bootstrap_and_close(settings: LedgerSettings) -> None:
    with bootstrap(settings) as services:
        services.store.max_notification_id()


def open_event_store(settings: LedgerSettings) -> None:
    EventStore(settings).close()


def _start(
    start: Callable[[LedgerSettings], None],
    settings: LedgerSettings,
    barrier: Barrier,
    results: Pipe,
) -> None:
    """In a forked process: wait for the others, start, and report the error if any."""
    try:
        barrier.wait(timeout=60)
        start(settings)
        results.send(None)
    except BaseException:
        results.send(traceback.format_exc())
    finally:
        results.close()


def start_together(
    settings: LedgerSettings, start: Callable[[LedgerSettings], None] = bootstrap_and_close
) -> list[str]:
    """Run ``start`` in ``PROCESSES`` processes at once; answer the failures' tracebacks."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    pipes = [context.Pipe(duplex=False) for _ in range(PROCESSES)]
    processes = [
        context.Process(target=_start, args=(start, settings, barrier, sender))
        for _, sender in pipes
    ]
    for process in processes:
        process.start()
    failures: list[str] = []
    for process, (receiver, sender) in zip(processes, pipes, strict=True):
        sender.close()
        try:
            outcome = receiver.recv()
        except EOFError:
            outcome = f"process {process.pid} died without a word"
        if outcome is not None:
            failures.append(str(outcome))
        process.join()
    return failures


@pytest.fixture
def fresh_schemas(postgres_database: str) -> Iterator[list[str]]:
    """Names of schemas that do not exist yet, dropped after the test."""
    names = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(ROUNDS)]
    try:
        yield names
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as connection:
            for name in names:
                connection.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )


@pytest.mark.postgres
def test_processes_starting_together_on_fresh_postgres_schemas_all_start(
    postgres_settings: LedgerSettings, fresh_schemas: list[str]
) -> None:
    for schema in fresh_schemas:
        settings = postgres_settings.model_copy(update={"database_schema": schema})
        assert start_together(settings) == []


@pytest.mark.postgres
def test_event_stores_opened_together_on_a_fresh_postgres_schema_all_open(
    postgres_settings: LedgerSettings, fresh_schemas: list[str]
) -> None:
    # The event store's recorder creates its type, table and index on connections of its own:
    # without the start-up lock around it, they collide even once the schema exists.
    for schema in fresh_schemas:
        settings = postgres_settings.model_copy(update={"database_schema": schema})
        create_database_engine(settings).dispose()  # the schema, as bootstrap creates it first
        assert start_together(settings, open_event_store) == []


def test_processes_starting_together_on_an_existing_store_all_start(
    settings: LedgerSettings,
) -> None:
    bootstrap(settings).close()
    for _ in range(ROUNDS):
        assert start_together(settings) == []


def test_processes_starting_together_on_a_fresh_sqlite_file_all_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for _ in range(ROUNDS):
        assert start_together(sqlite_settings(tmp_path_factory.mktemp("fresh"))) == []
