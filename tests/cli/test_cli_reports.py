"""Reports, the projections rebuild and the published roll-ups, from the command line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("reports")
    variables = {
        "LEDGER_DATABASE_URL": f"sqlite:///{directory / 'ledger.db'}",
        "LEDGER_SIGNING_KEY_FILE": str(directory / "ledger.key"),
        "LEDGER_LOG_ORIGIN": "reports.test/log",
    }
    result = runner.invoke(
        app, ["demo", "--pledges", "60", "--seed", "11", "--json"], env=variables
    )
    assert result.exit_code == 0, result.stderr
    return variables


def test_markdown_report_names_its_tree_size_checkpoint_and_digest(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["report", "--as-of", "2024-06-30"], env=env)
    assert result.exit_code == 0, result.stderr
    assert "tree size" in result.stdout
    assert "reports.test/log" in result.stdout  # the signed checkpoint note it rests on
    assert "SHA-256" in result.stdout
    assert "## By GCM objective" in result.stdout


def test_json_report_is_reproducible(env: dict[str, str]) -> None:
    first = runner.invoke(app, ["report", "--as-of", "2023-12-31", "--format", "json"], env=env)
    second = runner.invoke(app, ["report", "--as-of", "2023-12-31", "--format", "json"], env=env)
    assert first.exit_code == 0, first.stderr
    assert orjson.loads(first.stdout)["sha256"] == orjson.loads(second.stdout)["sha256"]
    assert len(orjson.loads(first.stdout)["sha256"]) == 64


def test_csv_and_html_reports_render(env: dict[str, str]) -> None:
    as_csv = runner.invoke(app, ["report", "--as-of", "2025-01-01", "--format", "csv"], env=env)
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0] == ["section", "key", "label", "metric", "value"]
    as_html = runner.invoke(app, ["report", "--as-of", "2025-01-01", "--format", "html"], env=env)
    assert as_html.stdout.lstrip().lower().startswith("<!doctype html")


def test_report_for_one_network(env: dict[str, str]) -> None:
    result = runner.invoke(
        app,
        [
            "report",
            "--as-of",
            "2025-01-01",
            "--network",
            "demo-welcoming-cities",
            "--format",
            "json",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["network_id"] == "demo-welcoming-cities"


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (["report", "--as-of", "yesterday"], 2),
        (["report", "--as-of", "2025-01-01", "--format", "pdf"], 2),
        (["report", "--as-of", "2999-01-01"], 2),
    ],
)
def test_bad_report_arguments_are_one_line_errors(
    env: dict[str, str], arguments: list[str], code: int
) -> None:
    result = runner.invoke(app, arguments, env=env)
    assert result.exit_code == code
    assert result.stderr.count("\n") == 1


def test_projections_rebuild_reports_what_it_folded(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["projections", "rebuild", "--workers", "1", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["events"] > 60
    after = runner.invoke(app, ["report", "--as-of", "2025-01-01", "--format", "json"], env=env)
    assert after.exit_code == 0


def test_projections_rebuild_writes_the_history_as_of_queries_read_unless_views_only(
    env: dict[str, str],
) -> None:
    result = runner.invoke(app, ["projections", "rebuild", "--workers", "1", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    summary = orjson.loads(result.stdout)
    assert summary["history"]["events"] == summary["events"]
    views_only = runner.invoke(
        app, ["projections", "rebuild", "--workers", "1", "--views-only", "--json"], env=env
    )
    assert views_only.exit_code == 0, views_only.stderr
    assert "history" not in orjson.loads(views_only.stdout)
    text = runner.invoke(app, ["projections", "rebuild", "--workers", "1"], env=env)
    assert "roll-ups' history" in text.stdout


def test_bundle_carries_rollups_and_verify_replays_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    assert runner.invoke(app, ["export", str(bundle), "--json"], env=env).exit_code == 0
    published = orjson.loads((bundle / "rollups.json").read_bytes())
    assert published["tree_size"] == int((bundle / "checkpoint").read_text().splitlines()[1])
    result = runner.invoke(app, ["verify", str(bundle), "--json"], env=env)
    assert result.exit_code == 0, result.stdout
    assert orjson.loads(result.stdout)["rollups_checked"] is True


def test_doctored_rollups_fail_verification_naming_the_figure(
    env: dict[str, str], tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    assert runner.invoke(app, ["export", str(bundle)], env=env).exit_code == 0
    published = orjson.loads((bundle / "rollups.json").read_bytes())
    published["rollups"]["status"][0]["pledges"] += 1
    (bundle / "rollups.json").write_bytes(orjson.dumps(published))
    result = runner.invoke(app, ["verify", str(bundle), "--json"], env=env)
    assert result.exit_code == 1
    failure = orjson.loads(result.stdout)["failure"]
    assert failure["where"] == "rollups.json"
    assert "$.rollups.status[0].pledges" in failure["problem"]
