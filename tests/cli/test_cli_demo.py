"""The command line: demo loading, help, and one-line errors with a non-zero exit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from api import cli
from api.bootstrap import Services, bootstrap
from api.cli import app
from api.demo import DemoSummary, load_demo
from domain.keys import OPERATOR
from ledger.settings import LedgerSettings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "cli.key"),
        "LEDGER_LOG_ORIGIN": "cli.test/log",
    }


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "checkpoint", "export", "verify"):
        assert command in result.stdout


def test_demo_loads_labelled_deterministic_data(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["demo", "--pledges", "40", "--seed", "3", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["demo"] is True
    assert summary["pledges"] == 40
    assert summary["events"] > 40
    assert summary["counts"]["pledge submitted"] == 40


def test_demo_with_the_same_seed_writes_the_same_events(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        env = {
            "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / name}.db",
            "LEDGER_SIGNING_KEY_FILE": str(tmp_path / f"{name}.key"),
        }
        result = runner.invoke(app, ["demo", "--pledges", "25", "--seed", "9", "--json"], env=env)
        assert result.exit_code == 0, result.stderr
        bundle = tmp_path / f"{name}-bundle"
        assert runner.invoke(app, ["export", str(bundle), "--json"], env=env).exit_code == 0
        outputs.append((bundle / "entries.jsonl").read_bytes())
    assert outputs[0] == outputs[1]


def test_demo_refuses_a_store_that_already_has_events(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["demo", "--pledges", "5", "--json"], env=env).exit_code == 0
    result = runner.invoke(app, ["demo", "--pledges", "5"], env=env)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "already has events" in result.stderr


def test_a_malformed_database_url_is_a_usage_error_naming_the_option(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["demo", "--database-url", "mysql://nowhere/x"], env=env)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --database-url: ")
    assert "sqlite:///PATH or postgresql://" in result.stderr


def test_an_out_of_range_option_is_a_usage_error(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["demo", "--pledges", "0"], env=env)
    assert result.exit_code == 2


def test_an_unknown_command_is_a_usage_error() -> None:
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2


def test_an_unreachable_database_is_one_clear_line(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["demo", "--database-url", "postgresql://postgres@127.0.0.1:1/test"], env=env
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database error: ")
    assert result.stderr.count("\n") == 1


def test_a_database_laid_out_by_another_version_is_refused_at_start(
    env: dict[str, str], tmp_path: Path
) -> None:
    database = tmp_path / "old.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE log_subtrees (level INTEGER, idx INTEGER, hash BLOB)")
    result = runner.invoke(app, ["demo", "--database-url", f"sqlite:///{database}"], env=env)
    assert result.exit_code == 1
    assert "log_subtrees lacks column(s) node" in result.stderr


# --- an interrupted demo, and starting over ----------------------------------------------------


@pytest.fixture
def interrupted_after_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``demo`` receive Ctrl-C once its first batch of events is stored."""

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    def load_then_interrupt(services: Services, **options: Any) -> DemoSummary:
        return load_demo(services, **{**options, "progress": stop, "batch_size": 50})

    monkeypatch.setattr(cli, "load_demo", load_then_interrupt)


def settings_of(env: dict[str, str]) -> LedgerSettings:
    return LedgerSettings(
        database_url=env["LEDGER_DATABASE_URL"],
        signing_key_file=Path(env["LEDGER_SIGNING_KEY_FILE"]),
        log_origin=env["LEDGER_LOG_ORIGIN"],
    )


def stored_events(env: dict[str, str]) -> int:
    database = env["LEDGER_DATABASE_URL"].removeprefix("sqlite:///")
    with closing(sqlite3.connect(database)) as connection:
        (count,) = connection.execute("SELECT count(*) FROM stored_events").fetchone()
    return int(count)


def test_an_interrupted_demo_says_what_the_store_holds_and_how_to_start_over(
    env: dict[str, str], interrupted_after_one_batch: None
) -> None:
    result = runner.invoke(app, ["demo", "--pledges", "30"], env=env)

    assert result.exit_code == 130
    # 50 commands; one of them registers the reference data: 9 events (ADR 0014)
    assert stored_events(env) == 58
    assert "interrupted: the demo stopped early" in result.stderr
    assert "holds 58 events, a partially loaded demo" in result.stderr
    assert "pledge-ledger demo --reset" in result.stderr


def test_a_partial_demo_is_refused_by_demo_with_the_way_to_start_over(
    env: dict[str, str], interrupted_after_one_batch: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(app, ["demo", "--pledges", "30"], env=env)
    monkeypatch.undo()

    result = runner.invoke(app, ["demo", "--pledges", "30"], env=env)

    assert result.exit_code == 1
    assert "holds a partially loaded demo (interrupted)" in result.stderr
    assert "demo --reset" in result.stderr


def test_verify_labels_a_partially_loaded_demo(
    env: dict[str, str], interrupted_after_one_batch: None
) -> None:
    runner.invoke(app, ["demo", "--pledges", "30"], env=env)
    with bootstrap(settings_of(env)) as services:
        services.log.sign(force=True)  # so that there is something signed to verify

    text = runner.invoke(app, ["verify"], env=env)
    as_json = runner.invoke(app, ["verify", "--json"], env=env)

    assert text.exit_code == 0, text.stderr
    assert "this store holds a partially loaded demo" in text.stderr
    assert orjson.loads(as_json.stdout)["partial_demo"] is True


def test_demo_reset_deletes_a_partial_demo_and_loads_it_again(
    env: dict[str, str], interrupted_after_one_batch: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner.invoke(app, ["demo", "--pledges", "30"], env=env)
    monkeypatch.undo()

    result = runner.invoke(app, ["demo", "--pledges", "30", "--reset", "--json"], env=env)

    assert result.exit_code == 0, result.stderr
    assert "deleted the demo store" in result.stderr
    assert stored_events(env) == orjson.loads(result.stdout)["events"]


def test_demo_reset_refuses_a_store_the_demo_did_not_load(env: dict[str, str]) -> None:
    with bootstrap(settings_of(env)) as services, services.ledger.batch() as batch:
        batch.execute("register_network", OPERATOR, {"id": "real", "name": {"en": "R"}})
    database = Path(env["LEDGER_DATABASE_URL"].removeprefix("sqlite:///"))

    result = runner.invoke(app, ["demo", "--reset"], env=env)

    assert result.exit_code == 1
    assert "--reset refused" in result.stderr
    assert "was not loaded by `pledge-ledger demo`" in result.stderr
    assert database.exists()


def test_demo_reset_refuses_a_demo_store_that_has_events_added_since(env: dict[str, str]) -> None:
    assert runner.invoke(app, ["demo", "--pledges", "5", "--json"], env=env).exit_code == 0
    with bootstrap(settings_of(env)) as services, services.ledger.batch() as batch:
        batch.execute("register_network", OPERATOR, {"id": "real", "name": {"en": "R"}})
    before = stored_events(env)

    result = runner.invoke(app, ["demo", "--reset"], env=env)

    assert result.exit_code == 1
    assert "1 more than the demo stored" in result.stderr
    assert stored_events(env) == before


def test_demo_reset_refuses_postgresql_as_a_usage_error(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["demo", "--reset", "--database-url", "postgresql://postgres@127.0.0.1:1/test"],
        env=env,
    )

    assert result.exit_code == 2
    assert "--reset deletes SQLite demo stores only" in result.stderr


def test_demo_with_a_single_priority_area_configured_loads(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        ["demo", "--pledges", "30", "--json"],
        env={**env, "LEDGER_PRIORITY_AREAS": '["housing"]'},
    )

    assert result.exit_code == 0, result.stderr


# --- settings errors are one line naming the setting -------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("housing", 'LEDGER_PRIORITY_AREAS: expected JSON, e.g. ["housing","health"]'),
        ('["Housing"]', "LEDGER_PRIORITY_AREAS: priority area 'Housing' must be a lowercase slug"),
        ("[]", "LEDGER_PRIORITY_AREAS: expected a non-empty JSON list of slugs"),
        ('["health","health"]', "LEDGER_PRIORITY_AREAS: health listed more than once"),
    ],
)
def test_a_bad_priority_areas_setting_is_one_line_naming_it(
    env: dict[str, str], value: str, expected: str
) -> None:
    result = runner.invoke(app, ["demo"], env={**env, "LEDGER_PRIORITY_AREAS": value})

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {expected}")
    assert result.stderr.count("\n") == 1


def test_a_bad_port_given_as_an_option_names_the_option(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["verify", "--database-url", "postgresql://postgres@127.0.0.1:port/x"], env=env
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("error: --database-url: ")
    assert "(PORT a number)" in result.stderr
    assert "invalid literal" not in result.stderr


def test_a_bad_port_given_in_the_environment_names_the_variable(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["verify"], env={**env, "LEDGER_DATABASE_URL": "postgresql://u@h:99999/x"}
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("error: LEDGER_DATABASE_URL: ")
    assert "between 1 and 65535" in result.stderr


def test_postgresql_without_a_key_file_setting_names_it(env: dict[str, str]) -> None:
    variables = {k: v for k, v in env.items() if k != "LEDGER_SIGNING_KEY_FILE"}
    result = runner.invoke(
        app,
        ["report", "--as-of", "2024-01-01"],
        env={**variables, "LEDGER_DATABASE_URL": "postgresql://postgres@127.0.0.1/x"},
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("error: LEDGER_SIGNING_KEY_FILE: required for a PostgreSQL")


# --- command-line polish ---------------------------------------------------------------------


def test_flags_show_no_value_in_help() -> None:
    result = runner.invoke(app, ["demo", "--help"])

    assert "--json" in result.stdout
    assert "<bool>" not in result.stdout


def test_version_prints_the_installed_version() -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"pledge-ledger {version('pledge-ledger')}\n"


def test_help_lists_the_environment_variables_and_exit_codes() -> None:
    result = runner.invoke(app, ["--help"])

    for variable in ("LEDGER_DATABASE_URL", "LEDGER_SIGNING_KEY_FILE", "LEDGER_PRIORITY_AREAS"):
        assert variable in result.stdout
    assert "2 usage error" in result.stdout
