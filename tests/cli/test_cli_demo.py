"""The command line: demo loading, help, and one-line errors with a non-zero exit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from api.cli import app

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
    result = runner.invoke(app, ["checkpoint", "--database-url", f"sqlite:///{database}"], env=env)
    assert result.exit_code == 1
    assert "log_subtrees lacks column(s) node" in result.stderr
