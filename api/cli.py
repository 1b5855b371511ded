"""The ``pledge-ledger`` command line.

Every command that prints results takes ``--json``; errors are one line on stderr and a
non-zero exit: 2 for a usage error (a malformed, out-of-range or unknown value in an option,
an argument or a ``LEDGER_*`` setting: the line names it), 1 for a refused or failed operation
(no store where the settings point, an integrity failure, an unreachable database), 130 when
interrupted.

Only ``demo``, ``checkpoint`` and ``serve`` create a store or a signing key; ``projections rebuild``
refuses a store that does not exist, and the others open the store with ``open_for_reading()``
and change nothing in it.
"""

from __future__ import annotations

import enum
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import orjson
import typer
import uvicorn
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from api.app import create_app
from api.bootstrap import (
    Services,
    StoreReader,
    bootstrap,
    count_events,
    open_for_reading,
    require_existing_store,
    store_location,
)
from api.demo import demo_clock, demo_state, load_demo
from api.errors import ApiError
from api.remote_log import LedgerServer, is_server_address, mirror_server
from api.report_formats import REPORT_FORMATS, render_report
from domain.errors import DomainError
from domain.events import FRAMEWORKS
from domain.keys import DEFAULT_REVOCATION_REASON, OPERATOR
from domain.values import Language
from ledger.api_keys import KeySecrets, issue_key, key_history, revoke_key
from ledger.bundle import export_bundle
from ledger.canonical import canonical_bytes
from ledger.clock import SeededIds
from ledger.database import create_database_engine
from ledger.errors import ConfigurationError, LedgerError
from ledger.log import ForgedCheckpoint, LogRewritten
from ledger.note import NoteError, Verifier
from ledger.reference_seed import register_reference_seed
from ledger.settings import LedgerSettings
from ledger.verify import Finding, VerificationResult, verify_bundle
from ledger.write_path import WriteMode
from projections import (
    CityOut,
    NetworkOut,
    ProjectionRunner,
    build_history,
    build_report,
    city,
    network,
    read_snapshot,
    rebuild,
    rollups_document,
)
from projections.check import ViewsCheck, check_views
from projections.errors import ProjectionError
from projections.models import PublishedReportOut, ReportOut
from projections.publications import publication_of
from projections.report_text import LANGUAGES
from projections.rollups_replay import RollupsReplay
from projections.tables import live_tables

USAGE_ERROR = 2
FAILED = 1
INTERRUPTED = 130

SETTINGS_EPILOG = """\b
Settings (environment variables; an option given on the command line wins):
  LEDGER_DATABASE_URL    the store: sqlite:///PATH or postgresql://USER@HOST:PORT/DB
                         (default sqlite:///./pledge-ledger.db, in the working directory)
  LEDGER_DATABASE_SCHEMA PostgreSQL schema for all tables (default: the search path)
  LEDGER_SIGNING_KEY_FILE the Ed25519 signer key (default: beside the SQLite file,
                         pledge-ledger.db -> pledge-ledger.key; required for PostgreSQL)
  LEDGER_LOG_ORIGIN      the log's origin line and key name
  LEDGER_CHECKPOINT_INTERVAL_SECONDS  0 (default): a checkpoint per commit; N: at most one per N s
  LEDGER_PRIORITY_AREAS  priority areas `reference seed` registers, e.g. ["housing","health"]
  LEDGER_FRESHNESS_MONTHS a pledge with no report for this long is "silent"

\b
Only demo, serve and keys issue create a store or a signing key (checkpoint
signs an existing store, report --publish records a publication in one); every other command
refuses a store that does not exist, and verify, export, report, networks and cities
change nothing in one that does.
Exit codes: 0 ok, 1 refused or failed, 2 usage error, 130 interrupted."""

app = typer.Typer(
    name="pledge-ledger",
    help="The public, verifiable ledger of city pledges for migrants and refugees.",
    epilog=SETTINGS_EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich panels print a type for every option, even flags (--json <bool>).
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///PATH or postgresql://… (default: LEDGER_DATABASE_URL, ./pledge-ledger.db)",
        show_default=False,
    ),
]
JsonOutput = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(message: str, code: int = FAILED) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A remark on stderr that is not an error (stdout stays the command's result)."""
    err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


def setting_name(field: str | None, *, database_url_given: bool) -> str:
    """How the user set ``field``: the option they typed, or the environment variable."""
    if field == "database_url" and database_url_given:
        return "--database-url"
    return f"LEDGER_{(field or 'settings').upper()}"


def load_settings(database_url: str | None) -> LedgerSettings:
    """The settings, with every malformed value refused here as one line naming it (exit 2)."""
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    given = database_url is not None
    try:
        settings = LedgerSettings(**overrides)
        # Derived values are checked now, so that a bad URL or a missing key setting is a
        # usage error before anything is opened.
        _ = settings.backend
        _ = settings.key_file
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        fail(f"{setting_name(location, database_url_given=given)}: {message}", USAGE_ERROR)
    except SettingsError as error:
        # pydantic-settings parses list settings as JSON before validating them; its message
        # names the field between the first pair of double quotes.
        quoted = str(error).split('"')
        parsed = quoted[1] if len(quoted) > 2 else None
        fail(
            f"{setting_name(parsed, database_url_given=given)}: expected JSON, "
            'e.g. ["housing","health"]',
            USAGE_ERROR,
        )
    except ConfigurationError as error:
        fail(f"{setting_name(error.field, database_url_given=given)}: {error.message}", USAGE_ERROR)
    return settings


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the layers' errors into one clear line and a non-zero exit."""
    try:
        yield
    except (DomainError, LedgerError, ProjectionError, ApiError) as error:
        fail(str(error))
    except (SQLAlchemyError, PersistenceError) as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0]
        fail(f"database error: {detail}")
    except OSError as error:
        fail(f"{error.filename}: {error.strerror}" if error.filename else str(error))


def print_json(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


@contextmanager
def progress_bar(description: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    if not enabled or not err_console.is_terminal:
        yield lambda done, total: None
        return
    # Redrawn by the work's own calls, not by rich's refresh thread: the rebuild and the
    # verifier fork worker processes, and a process must not fork while another thread runs.
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        auto_refresh=False,
    ) as progress:
        task = progress.add_task(description, total=None)
        drawn = [0.0]

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            now = time.monotonic()
            if now - drawn[0] >= REDRAW_SECONDS or done >= total:
                drawn[0] = now
                progress.refresh()

        yield update


REDRAW_SECONDS = 0.1


def installed_version() -> str:
    try:
        return version("pledge-ledger")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def print_version(requested: bool) -> None:
    if requested:
        console.print(f"pledge-ledger {installed_version()}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            is_eager=True,
            callback=print_version,
        ),
    ] = False,
) -> None:
    """The public, verifiable ledger of city pledges for migrants and refugees."""


@app.command()
def demo(
    pledges: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many demo pledges.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 2018,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="First delete the SQLite demo store and its key (refused for any other store).",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Load a deterministic, clearly labelled demo data set (fictional cities)."""
    settings = load_settings(database_url)
    if reset:
        reset_demo_store(settings)
    started = time.perf_counter()
    with (
        reported_errors(),
        bootstrap(
            settings,
            clock=demo_clock(),
            ids=SeededIds(seed),
            write_mode=WriteMode.BULK_LOAD,
        ) as services,
    ):
        refuse_a_store_with_events(services)
        try:
            with progress_bar("loading demo", enabled=not json_output) as update:
                summary = load_demo(
                    services,
                    pledges=pledges,
                    seed=seed,
                    progress=update,
                    rebuild_workers=max(1, os.cpu_count() or 1),
                )
        except KeyboardInterrupt:
            report_interrupted_demo(services)
        finish_after_writes(services)
    seconds = time.perf_counter() - started
    if json_output:
        print_json({**asdict(summary), "seconds": round(seconds, 3), "demo": True})
        return
    table = Table(title="Demo data loaded (fictional cities, labelled '(demo)')")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("networks", summary.networks),
        ("cities", summary.cities),
        ("declaration signatures", summary.signatures),
        ("pledges", summary.pledges),
        ("events", summary.events),
    ):
        table.add_row(label, str(value))
    for kind, count in summary.counts.items():
        table.add_row(f"  {kind}", str(count))
    console.print(table)
    console.print(
        f"Recorded from {summary.first_recorded} to {summary.last_recorded} "
        f"into {settings.database_url} in {seconds:.1f} s."
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The TCP port.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="First load the demo data set if the store is empty."),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port (each with its own writer on the one store).",
        ),
    ] = 1,
    database_url: DatabaseUrl = None,
) -> None:
    """Run the HTTP API (/api/v1, OpenAPI at /openapi.json, docs at /docs) and the public pages.

    One process with one writer by default; --workers N runs N processes on the one port and
    store (their writes keep one gapless log, as separate servers on one store do). SIGTERM or
    Ctrl-C stop it gracefully: requests in flight finish and every accepted write is committed,
    logged and signed before it exits.
    """
    settings = load_settings(database_url)
    with reported_errors():
        if demo:
            load_demo_unless_loaded(settings)
        # Open (and on first start create) the store and key here, so that a store that cannot
        # be opened is one line and exit 1, not a traceback from the server's start-up.
        bootstrap(settings).close()
    if workers > 1:
        # Each worker is a new interpreter that builds its app from the LEDGER_* environment:
        # the store chosen here (option or setting) is handed down through it.
        os.environ["LEDGER_DATABASE_URL"] = settings.database_url
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            server_header=False,
            timeout_graceful_shutdown=30,
        )
        return
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        server_header=False,
        # The default would wait forever for a client that keeps its connection open.
        timeout_graceful_shutdown=30,
    )
    # uvicorn stops gracefully on SIGTERM/SIGINT (the app's lifespan closes its writer and its
    # store), then lets the signal end the process as it would have.
    uvicorn.Server(config).run()


def load_demo_unless_loaded(settings: LedgerSettings) -> None:
    """``serve --demo``: load the demo into an empty store; serve a loaded one as it is."""
    with bootstrap(
        settings, clock=demo_clock(), ids=SeededIds(2018), write_mode=WriteMode.BULK_LOAD
    ) as services:
        if services.store.max_notification_id():
            state = demo_state(services.engine)
            if state is not None and state.partial:
                refuse_a_store_with_events(services)
            note(f"the store at {store_location(settings)} has events: serving them as they are")
            return
        with progress_bar("loading demo", enabled=True) as update:
            load_demo(services, pledges=200, seed=2018, progress=update)
        finish_after_writes(services)


START_OVER = "`pledge-ledger demo --reset` deletes it and loads the demo again"


def refuse_a_store_with_events(services: Services) -> None:
    if not services.store.max_notification_id():
        return
    where = store_location(services.settings)
    state = demo_state(services.engine)
    if state is not None and state.partial:
        fail(f"the store at {where} holds a partially loaded demo (interrupted); {START_OVER}")
    fail(f"the store at {where} already has events; the demo loads only into an empty store")


def report_interrupted_demo(services: Services) -> NoReturn:
    """Say what an interrupted demo left behind, and how to start over; exit 130."""
    try:
        stored = count_events(services.engine, services.settings)
    except (SQLAlchemyError, PersistenceError):
        stored = None
    held = "an unknown number of" if stored is None else str(stored)
    err_console.print(
        f"interrupted: the demo stopped early; the store at {store_location(services.settings)} "
        f"holds {held} events, a partially loaded demo (labelled so); {START_OVER}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(INTERRUPTED)


def demo_store_files(settings: LedgerSettings) -> list[Path]:
    """Every file a SQLite demo store consists of: the database, its journals and locks, key."""
    database = settings.sqlite_path
    companions = ("-wal", "-shm", ".integrator.lock", ".rebuild.lock", ".reports.lock")
    return [
        Path(database),
        *(Path(f"{database}{suffix}") for suffix in companions),
        settings.key_file,
    ]


def reset_demo_store(settings: LedgerSettings) -> None:
    """Delete a SQLite store that holds only a demo, and its key; refuse any other store."""
    if settings.backend != "sqlite":
        fail(
            "--reset deletes SQLite demo stores only; for PostgreSQL drop the schema "
            "(DROP SCHEMA … CASCADE) and remove LEDGER_SIGNING_KEY_FILE yourself",
            USAGE_ERROR,
        )
    if not Path(settings.sqlite_path).exists():
        return  # nothing to delete: the demo starts on a new store
    where = store_location(settings)
    with reported_errors():
        engine = create_database_engine(settings.for_reading())
        try:
            state = demo_state(engine)
            stored = count_events(engine, settings) if state is not None else 0
        finally:
            engine.dispose()
    if state is None:
        fail(f"--reset refused: the store at {where} was not loaded by `pledge-ledger demo`")
    if state.finished_events is not None and stored != state.finished_events:
        fail(
            f"--reset refused: the store at {where} holds {stored} events, "
            f"{stored - state.finished_events} more than the demo stored"
        )
    deleted = [path for path in demo_store_files(settings) if path.exists()]
    with reported_errors():
        for path in deleted:
            path.unlink()
    note(f"deleted the demo store at {where} and its key ({len(deleted)} files)")


VIEWS_LAG_NOTICE = 1000
"""Read models fewer events behind the log than this are not mentioned: the usual lag behind
other processes' writes."""


def say_views_behind(reader: StoreReader) -> None:
    """Say on stderr when the read models are far behind the log (as a demo or bulk load
    interrupted before its final rebuild leaves them): a command that only reads then folds
    the log instead, which takes longer, and never brings the views up itself."""
    behind = ProjectionRunner(reader.engine, reader.store).behind()
    if behind < VIEWS_LAG_NOTICE:
        return
    note(
        f"the read models are {behind} of {reader.events()} events behind the log (an "
        "interrupted demo or bulk load leaves them so); this command only reads the store, so "
        "it folds the log instead, which takes longer; `pledge-ledger projections rebuild` "
        "brings them up to date"
    )


def finish_after_writes(services: Services) -> None:
    """Bring the audit log (and its signed checkpoint) and the read models up to the writes."""
    services.log.sign(wait=True, force=True)
    services.views.catch_up()


def published_rollups(reader: StoreReader) -> Callable[[int], bytes]:
    """``rollups.json`` for a bundle: the roll-ups at the bundle's tree size.

    Read from the views when they stand exactly at that size, otherwise folded from the log:
    either way nothing is written.
    """

    def document(tree_size: int) -> bytes:
        return canonical_bytes(
            rollups_document(
                reader.engine,
                reader.store,
                tree_size=tree_size,
                freshness_months=reader.settings.freshness_months,
            )
        )

    return document


@app.command()
def checkpoint(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """Integrate pending events into the log and sign a checkpoint now (of an existing store).

    With nothing new since the latest checkpoint, that checkpoint is printed again and said so.

    Stored checkpoint rows the log did not sign are named on stderr (and never used); a stored
    hash that contradicts the last signed checkpoint stops signing with an alarm naming its row.
    """
    settings = load_settings(database_url)
    with reported_errors():
        require_existing_store(settings)  # signing never starts a new ledger
    with reported_errors(), bootstrap(settings) as services:
        try:
            before = services.log.latest_checkpoint()
            signed = services.log.sign(wait=False, force=True)
        except LogRewritten as error:
            fail(f"ALARM, nothing signed: {error}")
        vkey = services.log.signer.vkey
        for rejected in services.log.rejected_checkpoints():
            err_console.print(
                f"alarm: ignored {rejected}", markup=False, highlight=False, soft_wrap=True
            )
    new = before is None or signed.size != before.size
    if json_output:
        print_json(
            {
                "tree_size": signed.size,
                "root": signed.root.hex(),
                "checkpoint": signed.note,
                "signed_at": signed.signed_at,
                "new": new,
                "vkey": vkey,
            }
        )
        return
    if not new:
        console.print(
            f"No new entries since the checkpoint of {signed.size} entries signed at "
            f"{signed.signed_at}; it is still the latest:",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"Signed checkpoint of {signed.size} entries ({signed.signed_at}):",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    sys.stdout.write(signed.note)
    sys.stdout.flush()


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for the bundle.")],
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Write the audit bundle of what the log has signed (the store is not changed).

    Events recorded after the latest checkpoint are left out, and said so: run
    `pledge-ledger checkpoint` first to include them.
    """
    settings = load_settings(database_url)
    with (
        reported_errors(),
        open_for_reading(settings) as reader,
        progress_bar("exporting", enabled=not json_output) as update,
    ):
        say_views_behind(reader)
        summary = export_bundle(
            reader.log,
            directory,
            vkey=reader.log.signer.vkey,
            rollups=published_rollups(reader),
            progress=update,
        )
        unsigned = reader.events() - summary.tree_size
    if json_output:
        print_json({**asdict(summary), "unsigned_events": unsigned})
        return
    console.print(
        f"Wrote {summary.entries} entries, {summary.checkpoints} checkpoint(s) and "
        f"{summary.tiles} tiles to {summary.directory}."
    )
    say_unsigned(unsigned)


def say_unsigned(unsigned: int) -> None:
    if unsigned > 0:
        note(
            f"{unsigned} event(s) recorded after the latest checkpoint are not covered yet; "
            "`pledge-ledger checkpoint` signs them"
        )


WITHOUT_TRUST_KEY = (
    "Without --trust-key a bundle is checked only against its own key.vkey: that proves the "
    "bundle is consistent (every entry in the signed trees, every signature valid for that "
    "key), not that it comes from the log you mean; anyone can sign a consistent bundle with "
    "a key of their own. Pass the log's published key to prove that."
)


@app.command(epilog=WITHOUT_TRUST_KEY)
def verify(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="DIR_OR_URL",
            help="An audit bundle directory, or a running server's http://host:port "
            "(default: what the configured store has signed).",
            show_default=False,
        ),
    ] = None,
    trust_key: Annotated[
        str | None,
        typer.Option(
            "--trust-key",
            metavar="VKEY_FILE",
            help="The verifier key you trust: a vkey file (such as a key.vkey you kept) or "
            "its text NAME+HASH+KEY.",
        ),
    ] = None,
    no_rollups: Annotated[
        bool,
        typer.Option(
            "--no-rollups",
            help="Check the log without its published roll-ups (a bundle that has none).",
        ),
    ] = False,
    known_checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--known-checkpoint",
            metavar="FILE",
            help="A checkpoint you verified before (a file as `checkpoint` prints or a bundle "
            "holds); the log must extend it. Repeatable.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that read and check the entries (default: one per usable core).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Verify an audit bundle, a running server, or the configured store without writing to it.

    Exit 0 only if everything holds. With a server's URL, its public log (key, checkpoint,
    entries, tiles, roll-ups) is copied into a scratch bundle and checked as a bundle is.
    Without an argument, every stored leaf, subtree and checkpoint row is first checked against
    the stored events; then what the store has already signed (its latest checkpoint) is
    verified as a bundle, the events not covered yet are counted, and every read model is
    compared with a rebuild from the log (as ``projections check`` does). Keep the checkpoint
    you verified and pass it next time with ``--known-checkpoint``: a log that was truncated or
    rewritten since then fails.
    """
    trusted = trusted_vkey(trust_key) if trust_key is not None else None
    known = read_known_checkpoints(known_checkpoint or [])
    if source is not None and is_server_address(source):
        with tempfile.TemporaryDirectory(prefix="pledge-ledger-verify-") as scratch:
            bundle = Path(scratch) / "bundle"
            with reported_errors(), progress_bar("downloading", enabled=not json_output) as update:
                mirror_server(LedgerServer(source), bundle, rollups=not no_rollups, progress=update)
            report = run_verification(
                bundle, trusted, no_rollups, known, json_output, workers=workers
            )
        if not report.ok:
            raise typer.Exit(FAILED)
        return
    if source is not None:
        directory = Path(source)
        if not directory.is_dir():
            fail(
                f"DIR_OR_URL {source} is neither a directory (an audit bundle from `export`) "
                "nor an http(s) URL",
                USAGE_ERROR,
            )
        report = run_verification(
            directory, trusted, no_rollups, known, json_output, workers=workers
        )
        if not report.ok:
            raise typer.Exit(FAILED)
        return
    settings = load_settings(database_url)
    with tempfile.TemporaryDirectory(prefix="pledge-ledger-verify-") as scratch:
        bundle = Path(scratch) / "bundle"
        with reported_errors(), open_for_reading(settings) as reader:
            try:
                reader.log.audit()
            except (LogRewritten, ForgedCheckpoint) as error:
                alarm = VerificationResult(failure=Finding(error.field or "log", error.message))
                report_verification(alarm, json_output)
                raise typer.Exit(FAILED) from None
            say_views_behind(reader)
            summary = export_bundle(
                reader.log,
                bundle,
                vkey=reader.log.signer.vkey,
                rollups=None if no_rollups else published_rollups(reader),
            )
            unsigned = reader.events() - summary.tree_size
            state = demo_state(reader.engine)
            with progress_bar("checking the read models", enabled=not json_output):
                views = check_views(reader.engine, reader.store)
        partial_demo = state is not None and state.partial
        report = run_verification(
            bundle,
            trusted,
            no_rollups,
            known,
            json_output,
            views=views,
            store={"unsigned_events": unsigned, "partial_demo": partial_demo},
            workers=workers,
        )
    if not json_output:
        say_unsigned(unsigned)
        if partial_demo:
            note(f"this store holds a partially loaded demo (interrupted); {START_OVER}")
    if not report.ok or not views.ok:
        raise typer.Exit(FAILED)


def trusted_vkey(value: str) -> str:
    """The verifier key ``--trust-key`` names: read from a file, or given as its text."""
    path = Path(value)
    if path.exists():
        try:
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "not ASCII text"
            fail(f"--trust-key {value}: cannot read the key file: {reason}", USAGE_ERROR)
        what = f"the file {value}"
    else:
        text, what = value.strip(), "the key text"
    try:
        Verifier.from_vkey(text)
    except NoteError as error:
        fail(
            f"--trust-key: {what} is not a verifier key ({error.message}); pass a vkey file "
            "or its text NAME+HASH+KEY",
            USAGE_ERROR,
        )
    return text


def read_known_checkpoints(paths: list[Path]) -> list[tuple[str, bytes]]:
    """The notes of ``--known-checkpoint`` files, each named by its path."""
    known = []
    for path in paths:
        try:
            with path.open("rb") as file:
                note_bytes = file.read(KNOWN_CHECKPOINT_LIMIT + 1)
        except OSError as error:
            fail(f"--known-checkpoint {path}: {error.strerror or error}", USAGE_ERROR)
        if len(note_bytes) > KNOWN_CHECKPOINT_LIMIT:
            fail(
                f"--known-checkpoint {path}: larger than a checkpoint note "
                f"({KNOWN_CHECKPOINT_LIMIT} bytes at most)",
                USAGE_ERROR,
            )
        known.append((str(path), note_bytes))
    return known


KNOWN_CHECKPOINT_LIMIT = 64 * 1024


def run_verification(
    bundle: Path,
    trust_key: str | None,
    no_rollups: bool,
    known: list[tuple[str, bytes]],
    json_output: bool,
    *,
    views: ViewsCheck | None = None,
    store: dict[str, Any] | None = None,
    workers: int | None = None,
) -> VerificationResult:
    with reported_errors(), progress_bar("verifying", enabled=not json_output) as update:
        report = verify_bundle(
            bundle,
            trusted_vkey=trust_key,
            replay=None if no_rollups else RollupsReplay(),
            progress=update,
            known_checkpoints=known,
            workers=workers,
        )
    report_verification(report, json_output, views=views, store=store)
    return report


def report_verification(
    report: VerificationResult,
    json_output: bool,
    *,
    views: ViewsCheck | None = None,
    store: dict[str, Any] | None = None,
) -> None:
    if json_output:
        print_json(
            {
                "ok": report.ok and (views is None or views.ok),
                "entries": report.entries,
                "tree_size": report.tree_size,
                "checkpoints": report.checkpoints,
                "tiles": report.tiles,
                "known_checkpoints": report.known_checkpoints,
                "rollups_checked": report.rollups_checked,
                "authority_checked": report.authority_checked,
                "key": report.key,
                "key_trusted": report.key_trusted,
                "failure": None if report.failure is None else asdict(report.failure),
                **({} if views is None else {"views": views_json(views)}),
                **(store or {}),
            }
        )
        return
    if report.failure is not None:
        err_console.print(
            f"FAILED: {report.failure}", markup=False, highlight=False, soft_wrap=True
        )
        return
    if views is not None and views.mismatch is not None:
        err_console.print(
            f"FAILED: {views.mismatch}", markup=False, highlight=False, soft_wrap=True
        )
        return
    trust = (
        "the trusted key"
        if report.key_trusted
        else "the bundle's own key (consistency only: pass --trust-key to check its origin)"
    )
    rollups = (
        ", roll-ups replayed"
        if report.rollups_checked
        else "; the roll-ups were NOT checked (--no-rollups)"
    )
    known_text = (
        f", consistent with {len(report.known_checkpoints)} known checkpoint(s)"
        if report.known_checkpoints
        else ""
    )
    checked_views = (
        "" if views is None else f"; {views.rows} read-model rows match a rebuild from the log"
    )
    console.print(
        f"OK: {report.entries} entries, {len(report.checkpoints)} checkpoint(s) up to size "
        f"{report.tree_size} and {report.tiles} tiles verified with {trust}{rollups}"
        f"{known_text}{checked_views}; every event was recorded by a key allowed to act then.",
        markup=False,
        soft_wrap=True,
    )


def views_json(views: ViewsCheck) -> dict[str, Any]:
    return {
        "ok": views.ok,
        "events": views.events,
        "tables": views.tables,
        "rows": views.rows,
        "mismatch": None if views.mismatch is None else views.mismatch.as_json(),
    }


@app.command()
def report(
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="The report's date (YYYY-MM-DD): events recorded by then."),
    ],
    network_id: Annotated[
        str | None,
        typer.Option("--network", help="Only this network's pledges (see `networks`)."),
    ] = None,
    framework: Annotated[
        str,
        typer.Option(
            "--framework", help="gcm (GCM-tagged pledges), gcr (GCR-tagged: a GRF report) or all."
        ),
    ] = "all",
    lang: Annotated[str, typer.Option("--lang", help="en, fr or es.")] = "en",
    report_format: Annotated[str, typer.Option("--format", help="md, csv, json or html.")] = "md",
    publish: Annotated[
        bool,
        typer.Option(
            "--publish",
            help="Record on the log that this report was published: its digests, as-of day, "
            "scope and tree size (the day must be over; the report must cite a checkpoint).",
        ),
    ] = False,
    check_published: Annotated[
        bool,
        typer.Option(
            "--check-published",
            help="Compute the report again and say whether exactly these bytes were published "
            "(exit 0) or not (exit 1); prints the publication, not the report.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Accountability report (IMRF / GRF) as of a date, citing the checkpoint it rests on.

    The store is not changed, except by --publish: the report cites the smallest signed
    checkpoint that covers its events; if events it counts are not covered yet, it cites none
    and says so (run `pledge-ledger checkpoint`, then report again). Its sha256 is the SHA-256
    of the canonical (RFC 8785) JSON of the report without that field.
    """
    if report_format not in REPORT_FORMATS:
        fail(f"--format must be one of {', '.join(REPORT_FORMATS)}", USAGE_ERROR)
    if framework not in FRAMEWORKS:
        fail(f"--framework must be one of {', '.join(FRAMEWORKS)}", USAGE_ERROR)
    if lang not in LANGUAGES:
        fail(f"--lang must be one of {', '.join(LANGUAGES)}", USAGE_ERROR)
    if publish and check_published:
        fail("--publish and --check-published do not go together", USAGE_ERROR)
    if json_output and not check_published:
        fail("--json goes with --check-published; the report itself: --format json", USAGE_ERROR)
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of {as_of!r} is not a date written YYYY-MM-DD", USAGE_ERROR)
    today = datetime.now(UTC).date()
    if day > today:
        fail(f"--as-of {day.isoformat()} is in the future", USAGE_ERROR)
    if publish and day >= today:
        fail(
            f"--as-of {day.isoformat()}: a report as of a day that is not over can still change; "
            "publish one as of an earlier day",
            USAGE_ERROR,
        )
    settings = load_settings(database_url)
    with reported_errors(), open_for_reading(settings) as reader:
        if network_id is not None:
            require_known(reader.engine, "--network", network_id, known_network_ids)
        built = build_report(
            reader.store,
            reader.log,
            as_of=day,
            freshness_months=settings.freshness_months,
            network_id=network_id,
            framework=framework,
            lang=lang,
        )
        latest = reader.log.latest_checkpoint()
        output = render_report(built, report_format)
        if check_published:
            found = publication_of(reader.store, reader.log, output_sha256(output))
    if check_published:
        print_publication_check(found, built, output, json_output)
        return
    if publish:
        if built.source.checkpoint is None:
            fail(
                f"this report counts {built.source.tree_size} log entries but no signed "
                "checkpoint covers them: run `pledge-ledger checkpoint`, then publish"
            )
        publication = publish_report(settings, built, report_format, output)
    sys.stdout.write(output)
    sys.stdout.flush()
    if publish:
        leaf = publication.leaf_index
        note(
            f"published: report.published event {publication.event_id}"
            + (f" at leaf {leaf}" if leaf is not None else "")
            + f", output sha256 {publication.output_sha256}"
        )
    if built.source.checkpoint is None and built.source.tree_size > 0:
        signed = 0 if latest is None else latest.size
        note(
            f"this report counts {built.source.tree_size} log entries but the latest checkpoint "
            f"covers {signed}: it cites none; `pledge-ledger checkpoint` signs them"
        )


def output_sha256(output: str) -> str:
    """The SHA-256 of the bytes ``report`` prints (UTF-8)."""
    return hashlib.sha256(output.encode()).hexdigest()


def publish_report(
    settings: LedgerSettings, built: ReportOut, report_format: str, output: str
) -> PublishedReportOut:
    """Record ``output``'s publication on the log, as the local operator, through the one
    write path; answer the publication as the log now holds it."""
    checkpoint = built.source.checkpoint
    digest = output_sha256(output)
    body = {
        "report_sha256": built.sha256,
        "output_sha256": digest,
        "format": report_format,
        "as_of": built.as_of.isoformat(),
        "network_id": built.network_id,
        "framework": built.framework,
        "lang": built.lang,
        "freshness_months": built.freshness_months,
        "tree_size": built.source.tree_size,
        "checkpoint_tree_size": checkpoint.tree_size if checkpoint is not None else None,
    }
    with reported_errors(), bootstrap(settings) as services:
        services.ledger.write("publish_report", OPERATOR, body)
        found = publication_of(services.store, services.log, digest)
    if found is None:  # the write path answered: the stream holds the event
        fail("the publication was written but cannot be read back")
    return found


def print_publication_check(
    found: PublishedReportOut | None, built: ReportOut, output: str, json_output: bool
) -> None:
    digest = output_sha256(output)
    if json_output:
        print_json(
            {
                "published": found is not None,
                "output_sha256": digest,
                "report_sha256": built.sha256,
                "publication": None if found is None else found.model_dump(mode="json"),
            }
        )
    elif found is not None:
        where = f" at leaf {found.leaf_index}" if found.leaf_index is not None else ""
        console.print(
            f"published: these bytes (sha256 {digest}) were published on "
            f"{found.recorded_at}{where}, event {found.event_id}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if found is None:
        fail(
            f"not published: no report.published event holds sha256 {digest} "
            f"(report sha256 {built.sha256})"
        )


def known_network_ids(engine: Engine) -> list[str]:
    networks = live_tables().networks
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(networks.c.network_id).order_by(networks.c.network_id)
            ).scalars()
        )


def known_city_ids(engine: Engine) -> list[str]:
    cities = live_tables().cities
    with engine.connect() as connection:
        return list(
            connection.execute(select(cities.c.city_id).order_by(cities.c.city_id)).scalars()
        )


def require_known(
    engine: Engine, option: str, value: str, known: Callable[[Engine], list[str]]
) -> None:
    """Refuse an id the store does not hold (exit 2), pointing at the listing command."""
    if value not in known(engine):
        listing = "networks" if known is known_network_ids else "cities"
        fail(
            f"{option} {value!r} is not a registered id; `pledge-ledger {listing}` lists them",
            USAGE_ERROR,
        )


def english_name(name: Mapping[Language, str]) -> str:
    return name.get("en") or next(iter(name.values()), "")


Listed = TypeVar("Listed", NetworkOut, CityOut)


def print_listing(
    found: list[Listed],
    title: str,
    columns: dict[str, Callable[[Listed], str]],
    json_output: bool,
) -> None:
    """The registry listings: JSON of the read models, or a table of the given columns."""
    if json_output:
        print_json([item.model_dump(mode="json") for item in found])
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for item in found:
        table.add_row(*(cell(item) for cell in columns.values()))
    console.print(table)


@app.command("networks")
def networks_command(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """List the registered networks: id, name, member cities (from the read models)."""
    settings = load_settings(database_url)
    found: list[NetworkOut] = []
    with reported_errors(), open_for_reading(settings) as reader:
        ids = known_network_ids(reader.engine)
        with read_snapshot(reader.engine) as connection:
            found = [n for n in (network(connection, i) for i in ids) if n is not None]
    print_listing(
        found,
        f"{len(found)} network(s)",
        {
            "id": lambda n: n.network_id,
            "name": lambda n: english_name(n.name),
            "cities": lambda n: str(len(n.members)),
        },
        json_output,
    )


@app.command("cities")
def cities_command(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """List the registered cities: id, name, country, networks (from the read models)."""
    settings = load_settings(database_url)
    found: list[CityOut] = []
    with reported_errors(), open_for_reading(settings) as reader:
        ids = known_city_ids(reader.engine)
        with read_snapshot(reader.engine) as connection:
            found = [c for c in (city(connection, i) for i in ids) if c is not None]
    print_listing(
        found,
        f"{len(found)} city(ies)",
        {
            "id": lambda c: c.city_id,
            "name": lambda c: english_name(c.name),
            "country": lambda c: c.country,
            "networks": lambda c: ", ".join(c.networks),
        },
        json_output,
    )


keys_app = typer.Typer(
    help="API keys: issued and revoked on the public log; secrets shown once, kept as hashes.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(keys_app, name="keys")


class KeyRole(enum.StrEnum):
    admin = "admin"
    validator = "validator"
    network = "network"


# The command line's names for the fields of the key commands, for one-line errors.
KEY_OPTIONS = {
    "network_id": "--network",
    "role": "--role",
    "label": "--label",
    "reason": "--reason",
    "key_id": "KEY_ID",
}


@contextmanager
def key_errors() -> Iterator[None]:
    """The layers' refusals of a key command, naming the option at fault rather than the field."""
    with reported_errors():
        try:
            yield
        except DomainError as error:
            where = KEY_OPTIONS.get(error.field or "", error.field)
            fail(f"{where}: {error.message}" if where else error.message)


@keys_app.command("issue")
def keys_issue(
    role: Annotated[KeyRole, typer.Option("--role", help="What the key may do.")],
    network_id: Annotated[
        str | None,
        typer.Option("--network", help="The network a network key acts for.", show_default=False),
    ] = None,
    label: Annotated[
        str, typer.Option("--label", help="A short public note on the key (it goes on the log).")
    ] = "",
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Issue an API key: its id, role and network go on the public log; its secret is printed
    once, here, and kept only as a hash. Creates the store if there is none."""
    settings = load_settings(database_url)
    with key_errors(), bootstrap(settings) as services:
        issued = issue_key(
            services.ledger,
            KeySecrets(services.engine, services.ledger.clock),
            OPERATOR,
            role=role.value,
            network_id=network_id,
            label=label,
        )
    if json_output:
        print_json(
            {
                "key_id": issued.key_id,
                "secret": issued.token,
                "role": issued.role,
                "network_id": issued.network_id,
            }
        )
        return
    scope = f" for network {issued.network_id}" if issued.network_id else ""
    console.print(
        f"Issued {issued.role} key {issued.key_id}{scope}. Its secret, shown only this once "
        "(send it as 'Authorization: Bearer <secret>'):",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    sys.stdout.write(issued.token + "\n")
    sys.stdout.flush()


@keys_app.command("list")
def keys_list(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """List every key issued on the log: id, role, network, issued and revoked (never secrets)."""
    settings = load_settings(database_url)
    with reported_errors(), open_for_reading(settings) as reader:
        records = key_history(reader.store, reader.engine)
    if json_output:
        print_json([asdict(record) for record in records])
        return
    table = Table(title=f"{len(records)} key(s)")
    for column in ("key id", "role", "network", "label", "issued at", "revoked at"):
        table.add_column(column)
    for record in records:
        table.add_row(
            record.key_id,
            record.role,
            record.network_id or "",
            record.label,
            record.issued_at,
            record.revoked_at or "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(metavar="KEY_ID", help="The key to revoke.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (it goes on the public log).")
    ] = DEFAULT_REVOCATION_REASON,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Revoke a key on the log: every server refuses it from its next request on."""
    settings = load_settings(database_url)
    with reported_errors(), open_for_reading(settings):
        pass  # refuses a store that does not exist, rather than creating an empty one
    with key_errors(), bootstrap(settings) as services:
        written = revoke_key(services.ledger, OPERATOR, key_id, reason)
    (event,) = written.result.events
    if json_output:
        print_json({"key_id": key_id, "revoked": True, "event_id": event.event_id})
        return
    console.print(f"Revoked key {key_id} (event {event.event_id}).", markup=False)


reference_app = typer.Typer(
    help="Reference data on the log: priority areas, declarations, calls to action (ADR 0014).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(reference_app, name="reference")


@reference_app.command("seed")
def reference_seed(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """Register, as the local operator, the seed reference data that is not on the log yet: the
    Marrakech Mayors Declaration (marrakech-2018) and the priority areas of
    LEDGER_PRIORITY_AREAS (by default a neutral working list). Safe to run again: what an admin
    registered or retired is left as it is. Run it once on a store written before reference data
    lived on the log, so that its declaration can be signed and its areas named again."""
    settings = load_settings(database_url)
    with reported_errors():
        require_existing_store(settings)  # seeding never starts a new ledger
    with reported_errors(), bootstrap(settings) as services:
        batch = services.ledger.new_batch()
        streams = register_reference_seed(batch, OPERATOR, settings.priority_areas)
        written = services.ledger.commit(batch) if streams else ()
    events = sum(len(w.result.events) for w in written)
    if json_output:
        print_json({"registered": list(streams), "events": events})
        return
    if not streams:
        console.print("The seed reference data is already on the log; nothing registered.")
        return
    console.print(
        f"Registered {len(streams)} reference item(s) on the log: {', '.join(streams)}.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


projections_app = typer.Typer(
    help="Read models rebuilt from the event log.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(projections_app, name="projections")


@projections_app.command("rebuild")
def projections_rebuild(
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes folding the log (default: CPU count).")
    ] = max(1, os.cpu_count() or 1),
    views_only: Annotated[
        bool,
        typer.Option(
            "--views-only",
            help="Leave the roll-ups' history (as-of queries) as it is: rebuild the views alone.",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Rebuild every read model from the log, aside, then swap it in (safe while serving).

    Then the roll-ups' history that as-of queries read (ADR 0017) is written again from the
    log, in log order, unless --views-only.
    """
    settings = load_settings(database_url)
    with reported_errors(), open_for_reading(settings):
        pass  # refuses a store that does not exist, rather than creating an empty one
    with (
        reported_errors(),
        bootstrap(settings) as services,
        progress_bar("rebuilding", enabled=not json_output) as update,
    ):
        result = rebuild(
            services.engine,
            services.store,
            progress=lambda p: update(p.events, max(p.total, p.events)),
            workers=workers,
        )
    history = None
    if not views_only:
        with (
            reported_errors(),
            bootstrap(settings) as services,
            progress_bar("writing the roll-ups' history", enabled=not json_output) as update,
        ):
            total = services.store.max_notification_id()
            history = build_history(
                services.engine, services.store, progress=lambda n: update(n, max(total, n))
            )
    summary: dict[str, object] = {
        "events": result.events,
        "seconds": round(result.seconds, 3),
        "events_per_second": round(result.events_per_second),
        "workers": workers,
    }
    if history is not None:
        summary["history"] = {
            "events": history.events,
            "seconds": round(history.seconds, 3),
            "events_per_second": round(history.events_per_second),
        }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"Rebuilt the read models from {result.events} events in {result.seconds:.1f} s "
        f"({result.events_per_second:,.0f} events/s, {workers} process(es))."
    )
    if history is not None:
        console.print(
            f"Wrote the roll-ups' history of {history.events} events in {history.seconds:.1f} s "
            f"({history.events_per_second:,.0f} events/s)."
        )


@projections_app.command("check")
def projections_check(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """Compare every read model with a rebuild from the log; name the first row that differs.

    The rebuild goes into a scratch database of its own: the store is only read.
    """
    settings = load_settings(database_url)
    with (
        reported_errors(),
        bootstrap(settings) as services,
        progress_bar("checking the read models", enabled=not json_output),
    ):
        views = check_views(services.engine, services.store)
    if json_output:
        print_json(views_json(views))
    elif views.mismatch is not None:
        err_console.print(
            f"FAILED: {views.mismatch}", markup=False, highlight=False, soft_wrap=True
        )
    else:
        console.print(
            f"OK: {views.rows} rows of {views.tables} read-model tables match a rebuild from "
            f"the {views.events} events of the log.",
            markup=False,
            soft_wrap=True,
        )
    if not views.ok:
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(INTERRUPTED)
