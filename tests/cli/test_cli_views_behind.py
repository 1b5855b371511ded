"""Commands that only read say so when the read models are far behind the log, on SQLite and
PostgreSQL, and still answer correctly without writing the store.

The case: a demo interrupted before its final rebuild (the bulk load defers the views to it)
leaves every event in the log and none in the views. The next ``verify`` or ``export`` must
not spend minutes folding the log in silence, and must not write the store either (they are
read-only commands): they say why they are slow and how to bring the views up to date.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from api.bootstrap import bootstrap
from api.cli import app
from ledger.settings import LedgerSettings
from projections.errors import RebuildFailed

runner = CliRunner()
PLEDGES = "250"  # about 1,500 events: past the notice threshold


def invoke(settings: LedgerSettings, *args: str) -> Result:
    env = {
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_DATABASE_SCHEMA": settings.database_schema or "",
        "LEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "LEDGER_LOG_ORIGIN": settings.log_origin,
    }
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def interrupted_demo(settings: LedgerSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A demo whose process died in its final rebuild: the log is written, the views are not."""

    def killed(*_: Any, **__: Any) -> None:
        raise RebuildFailed("the demo was killed during its final rebuild")

    with monkeypatch.context() as patch:
        patch.setattr("api.demo.rebuild", killed)
        assert invoke(settings, "demo", "--pledges", PLEDGES, "--json").exit_code == 1


def views_and_log(settings: LedgerSettings) -> tuple[int, int]:
    with bootstrap(settings) as services:
        return services.views.position().events, services.store.max_notification_id()


@pytest.mark.usefixtures("interrupted_demo")
def test_verify_after_an_interrupted_demo_says_the_views_are_behind_and_leaves_them(
    settings: LedgerSettings,
) -> None:
    behind, total = views_and_log(settings)
    assert behind == 0

    result = invoke(settings, "verify", "--json")

    assert result.exit_code == 0, result.stderr
    assert f"the read models are {total} of {total} events behind the log" in result.stderr
    assert "projections rebuild" in result.stderr
    report = orjson.loads(result.stdout)
    assert report["ok"] is True
    assert report["rollups_checked"] is True
    assert views_and_log(settings) == (0, total)  # read-only: the views are left as they were


@pytest.mark.usefixtures("interrupted_demo")
def test_export_with_views_behind_says_so_and_still_writes_the_roll_ups(
    settings: LedgerSettings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _, total = views_and_log(settings)
    bundle = tmp_path_factory.mktemp("out") / "bundle"

    result = invoke(settings, "export", str(bundle), "--json")

    assert result.exit_code == 0, result.stderr
    assert f"the read models are {total} of {total} events behind the log" in result.stderr
    assert (bundle / "rollups.json").is_file()
    assert views_and_log(settings) == (0, total)
    assert invoke(settings, "verify", str(bundle), "--json").exit_code == 0


def test_verify_with_current_views_says_nothing_about_them(settings: LedgerSettings) -> None:
    assert invoke(settings, "demo", "--pledges", PLEDGES, "--json").exit_code == 0

    result = invoke(settings, "verify", "--json")

    assert result.exit_code == 0, result.stderr
    assert "read models" not in result.stderr
