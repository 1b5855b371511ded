"""``pledge-ledger serve`` refusals before it listens, and ``--demo`` on empty and loaded stores.

(The running server is tested as a real process in test_serve_process.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.bootstrap import count_events, open_for_reading
from api.cli import app, load_demo_unless_loaded
from ledger.settings import LedgerSettings
from tests.conftest import sqlite_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "serve.key"),
        "LEDGER_LOG_ORIGIN": "serve.test/log",
    }


def test_an_out_of_range_port_is_a_usage_error_naming_it(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"], env=env)
    assert result.exit_code == 2
    assert "--port" in result.output


@pytest.mark.parametrize("workers", ["0", "65", "two"])
def test_a_bad_number_of_workers_is_a_usage_error_naming_it(
    env: dict[str, str], workers: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["serve", "--workers", workers], env=env)
    assert result.exit_code == 2
    assert "--workers" in result.output
    assert not (tmp_path / "serve.db").exists()


def test_an_unreachable_database_is_one_line_before_the_server_starts(
    env: dict[str, str],
) -> None:
    result = runner.invoke(
        app, ["serve", "--database-url", "postgresql://postgres@127.0.0.1:1/test"], env=env
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: database error: ")
    assert result.stderr.count("\n") == 1


def stored_events(settings: LedgerSettings) -> int:
    with open_for_reading(settings) as reader:
        return count_events(reader.engine, settings)


def test_demo_loads_into_an_empty_store_with_everything_logged(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    load_demo_unless_loaded(settings)
    with open_for_reading(settings) as reader:
        events = count_events(reader.engine, settings)
        latest = reader.log.latest_checkpoint()
    assert events > 0
    assert latest is not None
    assert latest.size == events


def test_demo_serves_a_store_that_has_events_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = sqlite_settings(tmp_path)
    load_demo_unless_loaded(settings)
    before = stored_events(settings)

    load_demo_unless_loaded(settings)

    assert stored_events(settings) == before
    assert "serving them as they are" in capsys.readouterr().err
