"""The ``pledge-ledger`` command line.

Every command that prints results takes ``--json``; errors are one line on stderr and a
non-zero exit (1 for a refused or failed operation, 2 for a usage error).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from api.bootstrap import Services, bootstrap
from api.demo import demo_clock, load_demo
from api.errors import ApiError
from api.remote_log import LedgerServer, is_server_address, mirror_server
from api.report_formats import REPORT_FORMATS, render_report
from domain.errors import DomainError
from ledger.bundle import export_bundle
from ledger.canonical import canonical_bytes
from ledger.clock import SeededIds
from ledger.errors import LedgerError
from ledger.settings import LedgerSettings
from ledger.verify import VerificationResult, verify_bundle
from projections import (
    build_report,
    rebuild,
    recompute_rollups_document,
    rollups_document,
)
from projections.check import ViewsCheck, check_views
from projections.errors import ProjectionError

app = typer.Typer(
    name="pledge-ledger",
    help="The public, verifiable ledger of city pledges for migrants and refugees.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings(database_url: str | None) -> LedgerSettings:
    overrides: dict[str, Any] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    try:
        return LedgerSettings(**overrides)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"setting LEDGER_{where.upper()}: {first['msg']}")


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
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


@app.callback()
def root() -> None:
    """The public, verifiable ledger of city pledges for migrants and refugees."""


@app.command()
def demo(
    pledges: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many demo pledges.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 2018,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Load a deterministic, clearly labelled demo data set (fictional cities)."""
    settings = load_settings(database_url)
    started = time.perf_counter()
    with (
        reported_errors(),
        bootstrap(settings, clock=demo_clock(), ids=SeededIds(seed)) as services,
    ):
        if services.store.max_notification_id():
            fail(
                f"the store at {settings.database_url} already has events; "
                "the demo loads only into an empty store"
            )
        with progress_bar("loading demo", enabled=not json_output) as update:
            summary = load_demo(
                services,
                pledges=pledges,
                seed=seed,
                progress=update,
                rebuild_workers=max(1, os.cpu_count() or 1),
            )
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


def finish_after_writes(services: Services) -> None:
    """Bring the audit log (and its signed checkpoint) and the read models up to the writes."""
    services.log.sign(wait=True, force=True)
    services.views.catch_up()


def published_rollups(services: Services) -> Callable[[int], bytes]:
    """``rollups.json`` for a bundle: the roll-ups at the bundle's tree size."""

    def document(tree_size: int) -> bytes:
        services.views.catch_up()
        return canonical_bytes(
            rollups_document(
                services.engine,
                services.store,
                tree_size=tree_size,
                freshness_months=services.settings.freshness_months,
            )
        )

    return document


def replay_rollups(entries: Iterator[bytes], tree_size: int, freshness_months: int) -> Any:
    """The verifier's replay of ``rollups.json`` (it checks the document's fields first)."""
    try:
        return recompute_rollups_document(
            entries, tree_size=tree_size, freshness_months=freshness_months
        )
    except (DomainError, ProjectionError) as error:
        raise ValueError(str(error)) from error  # the verifier reports it as a failed replay


@app.command()
def checkpoint(database_url: DatabaseUrl = None, json_output: JsonOutput = False) -> None:
    """Integrate pending events into the log and sign a checkpoint now."""
    settings = load_settings(database_url)
    with reported_errors(), bootstrap(settings) as services:
        signed = services.log.sign(wait=False, force=True)
        vkey = services.log.signer.vkey
    if json_output:
        print_json(
            {
                "tree_size": signed.size,
                "root": signed.root.hex(),
                "checkpoint": signed.note,
                "signed_at": signed.signed_at,
                "vkey": vkey,
            }
        )
        return
    console.print(f"Signed checkpoint of {signed.size} entries ({signed.signed_at}):")
    sys.stdout.write(signed.note)
    sys.stdout.flush()


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for the bundle.")],
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Write the audit bundle: entries, checkpoints, key, hash tiles, roll-ups."""
    settings = load_settings(database_url)
    with (
        reported_errors(),
        bootstrap(settings) as services,
        progress_bar("exporting", enabled=not json_output) as update,
    ):
        summary = export_bundle(
            services.log,
            directory,
            vkey=services.log.signer.vkey,
            rollups=published_rollups(services),
            progress=update,
        )
    if json_output:
        print_json(asdict(summary))
        return
    console.print(
        f"Wrote {summary.entries} entries, {summary.checkpoints} checkpoint(s) and "
        f"{summary.tiles} tiles to {summary.directory}."
    )


@app.command()
def verify(
    source: Annotated[
        str | None,
        typer.Argument(
            help="An audit bundle directory, or a running server's http://host:port "
            "(default: export the store and check it).",
            show_default=False,
        ),
    ] = None,
    trust_key: Annotated[
        str | None, typer.Option("--trust-key", help="The verifier key (vkey) you trust.")
    ] = None,
    no_rollups: Annotated[
        bool,
        typer.Option(
            "--no-rollups",
            help="Check the log without its published roll-ups (a bundle that has none).",
        ),
    ] = False,
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Verify an audit bundle, a running server or the store; exit 0 only if everything holds.

    Without DIR, the store is exported to a scratch folder and checked, and every read model is
    compared with a rebuild from the log (as ``projections check`` does). With a server's URL,
    its public log (key, checkpoint, entries, tiles, roll-ups) is copied into a scratch bundle
    and checked the same way.
    """
    views: ViewsCheck | None = None
    if source is None:
        settings = load_settings(database_url)
        with tempfile.TemporaryDirectory(prefix="pledge-ledger-verify-") as scratch:
            with reported_errors(), bootstrap(settings) as services:
                bundle = Path(scratch) / "bundle"
                export_bundle(
                    services.log,
                    bundle,
                    vkey=services.log.signer.vkey,
                    rollups=None if no_rollups else published_rollups(services),
                )
                with progress_bar("checking the read models", enabled=not json_output):
                    views = check_views(services.engine, services.store)
            report = run_verification(bundle, trust_key, no_rollups, views, json_output)
    elif is_server_address(source):
        with tempfile.TemporaryDirectory(prefix="pledge-ledger-verify-") as scratch:
            bundle = Path(scratch) / "bundle"
            with reported_errors(), progress_bar("downloading", enabled=not json_output) as update:
                mirror_server(LedgerServer(source), bundle, rollups=not no_rollups, progress=update)
            report = run_verification(bundle, trust_key, no_rollups, None, json_output)
    else:
        report = run_verification(Path(source), trust_key, no_rollups, None, json_output)
    if not report.ok or (views is not None and not views.ok):
        raise typer.Exit(1)


def run_verification(
    bundle: Path,
    trust_key: str | None,
    no_rollups: bool,
    views: ViewsCheck | None,
    json_output: bool,
) -> VerificationResult:
    with progress_bar("verifying", enabled=not json_output) as update:
        report = verify_bundle(
            bundle,
            trusted_vkey=trust_key,
            replay=None if no_rollups else replay_rollups,
            progress=update,
        )
    if json_output:
        print_json(
            {
                "ok": report.ok and (views is None or views.ok),
                "entries": report.entries,
                "tree_size": report.tree_size,
                "checkpoints": report.checkpoints,
                "tiles": report.tiles,
                "rollups_checked": report.rollups_checked,
                "key": report.key,
                "key_trusted": report.key_trusted,
                "failure": None if report.failure is None else asdict(report.failure),
                **({} if views is None else {"views": views_json(views)}),
            }
        )
        return report
    if report.failure is not None:
        err_console.print(
            f"FAILED: {report.failure}", markup=False, highlight=False, soft_wrap=True
        )
        return report
    if views is not None and views.mismatch is not None:
        err_console.print(
            f"FAILED: {views.mismatch}", markup=False, highlight=False, soft_wrap=True
        )
        return report
    trust = "the trusted key" if report.key_trusted else "the bundle's own key (pass --trust-key)"
    rollups = (
        ", roll-ups replayed"
        if report.rollups_checked
        else "; the roll-ups were NOT checked (--no-rollups)"
    )
    checked_views = (
        "" if views is None else f"; {views.rows} read-model rows match a rebuild from the log"
    )
    console.print(
        f"OK: {report.entries} entries, {len(report.checkpoints)} checkpoint(s) up to size "
        f"{report.tree_size} and {report.tiles} tiles verified with {trust}{rollups}"
        f"{checked_views}.",
        markup=False,
        soft_wrap=True,
    )
    return report


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
    network: Annotated[
        str | None, typer.Option("--network", help="Only this network's pledges.")
    ] = None,
    report_format: Annotated[str, typer.Option("--format", help="md, csv, json or html.")] = "md",
    database_url: DatabaseUrl = None,
) -> None:
    """Accountability report (IMRF / GRF) as of a date, citing the checkpoint it rests on."""
    if report_format not in REPORT_FORMATS:
        fail(f"--format must be one of {', '.join(REPORT_FORMATS)}", code=2)
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        fail(f"--as-of {as_of!r} is not a date written YYYY-MM-DD", code=2)
    settings = load_settings(database_url)
    with reported_errors(), bootstrap(settings) as services:
        if day > services.ledger.clock.now().date():
            fail(f"--as-of {day.isoformat()} is in the future")
        services.log.sign(wait=True)  # the report cites a checkpoint that covers its events
        built = build_report(
            services.engine,
            services.store,
            as_of=day,
            freshness_months=settings.freshness_months,
            network_id=network,
        )
    sys.stdout.write(render_report(built, report_format))
    sys.stdout.flush()


projections_app = typer.Typer(help="Read models rebuilt from the event log.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")


@projections_app.command("rebuild")
def projections_rebuild(
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes folding the log (default: CPU count).")
    ] = max(1, os.cpu_count() or 1),
    database_url: DatabaseUrl = None,
    json_output: JsonOutput = False,
) -> None:
    """Rebuild every read model from the log, aside, then swap it in (safe while serving)."""
    settings = load_settings(database_url)
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
    summary = {
        "events": result.events,
        "seconds": round(result.seconds, 3),
        "events_per_second": round(result.events_per_second),
        "workers": workers,
    }
    if json_output:
        print_json(summary)
        return
    console.print(
        f"Rebuilt the read models from {result.events} events in {result.seconds:.1f} s "
        f"({result.events_per_second:,.0f} events/s, {workers} process(es))."
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
        sys.exit(130)
