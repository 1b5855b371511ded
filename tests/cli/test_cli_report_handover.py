"""Reports fit to hand over, and their publication on the log, on a small fixed scenario.

The scenario is written through the real write path (the ledger's commands, a stepping clock,
seeded ids and a fixed signing key), so every byte of every report is reproducible: the golden
files under ``tests/golden/reports`` pin each format in each language. Regenerate them with
``UPDATE_GOLDEN=1 pytest tests/cli/test_cli_report_handover.py`` and review the diff.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from api.bootstrap import bootstrap
from api.cli import app
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.clock import SeededIds, SteppingClock
from ledger.note import Signer
from ledger.settings import LedgerSettings
from tests.integration.ledger_scenario import issue_keys

runner = CliRunner()
GOLDEN = Path(__file__).parent.parent / "golden" / "reports"
ORIGIN = "handover.test/log"
AS_OF = "2025-12-31"
ADMIN = Principal("admin-1", "admin")
VALIDATOR = Principal("validator-1", "validator")
WELCOME = Principal("welcome-key", "network", "welcoming-cities")
GULF = Principal("gulf-key", "network", "gulf-cities")


def _pledge(network: str, cities: list[str], **fields: object) -> dict[str, object]:
    body: dict[str, object] = {
        "network_id": network,
        "cities": cities,
        "title": {"en": "Welcome centre"},
        "description": {"en": "A municipal welcome centre."},
        "starts_on": "2024-01-01",
        "ends_on": "2025-06-30",
    }
    body.update(fields)
    return body


PEOPLE = {
    "id": "people-served",
    "title": {"en": "People served", "fr": "Personnes accueillies"},
    "measure": "unit",
    "baseline": {"value": "0", "date": "2024-01-01"},
    "targets": [{"value": "1000", "date": "2025-06-30"}],
}


def write_scenario(directory: Path) -> dict[str, str]:
    """Two networks, three cities, three pledges; answers the command line's environment."""
    key_file = directory / "ledger.key"
    key_file.write_text(Signer(ORIGIN, bytes(range(32))).skey + "\n")
    key_file.chmod(0o600)
    env = {
        "LEDGER_DATABASE_URL": f"sqlite:///{directory / 'ledger.db'}",
        "LEDGER_SIGNING_KEY_FILE": str(key_file),
        "LEDGER_LOG_ORIGIN": ORIGIN,
    }
    settings = LedgerSettings(
        database_url=env["LEDGER_DATABASE_URL"], signing_key_file=key_file, log_origin=ORIGIN
    )
    clock = SteppingClock(datetime(2025, 3, 1, 9, tzinfo=UTC), step=timedelta(seconds=1))
    with bootstrap(settings, clock=clock, ids=SeededIds(21)) as services:
        with services.ledger.batch() as batch:
            issue_keys(batch, ADMIN, VALIDATOR)
            batch.execute(
                "register_network",
                ADMIN,
                {
                    "id": "welcoming-cities",
                    "name": {
                        "en": "Welcoming Cities",
                        "fr": "Villes accueillantes",
                        "es": "Ciudades acogedoras",
                    },
                },
            )
            batch.execute(
                "register_network", ADMIN, {"id": "gulf-cities", "name": {"en": "Gulf Cities"}}
            )
            for city_id, names, country in (
                ("ma-rabat", {"en": "Rabat", "fr": "Rabat", "es": "Rabat"}, "MA"),
                ("sn-dakar", {"en": "Dakar", "fr": "Dakar"}, "SN"),
                ("jo-amman", {"en": "Amman"}, "JO"),
            ):
                batch.execute(
                    "register_city", ADMIN, {"id": city_id, "name": names, "country": country}
                )
            batch.execute("join_network", ADMIN, {"city_id": "ma-rabat"}, target="welcoming-cities")
            batch.execute("join_network", ADMIN, {"city_id": "sn-dakar"}, target="welcoming-cities")
            batch.execute("join_network", ADMIN, {"city_id": "jo-amman"}, target="gulf-cities")
            issue_keys(batch, WELCOME, GULF)
        with services.ledger.batch() as batch:
            closed = batch.execute(
                "submit_pledge",
                WELCOME,
                _pledge(
                    "welcoming-cities",
                    ["ma-rabat", "sn-dakar"],
                    title={
                        "en": "One-stop welcome centre",
                        "fr": "Guichet unique d'accueil",
                        "es": "Ventanilla única de acogida",
                    },
                    gcm_objectives=[15, 16],
                    gcr_areas=["gcr-objective-2"],
                    sdg_targets=["10.7"],
                    indicators=[PEOPLE],
                ),
            ).pledge_id
            silent = batch.execute(
                "submit_pledge",
                WELCOME,
                _pledge(
                    "welcoming-cities",
                    ["sn-dakar"],
                    title={"fr": "Cours de langue pour adultes"},
                    gcm_objectives=[16],
                ),
            ).pledge_id
            refugees = batch.execute(
                "submit_pledge",
                GULF,
                _pledge(
                    "gulf-cities",
                    ["jo-amman"],
                    title={"en": "Schooling for refugee children"},
                    gcr_areas=["gcr-objective-2"],
                    ends_on="2027-12-31",
                    indicators=[
                        {
                            "id": "school-climate",
                            "title": {"en": "School climate"},
                            "measure": "qualitative",
                        }
                    ],
                ),
            ).pledge_id
        assert closed is not None
        assert silent is not None
        assert refugees is not None
        with services.ledger.batch() as batch:
            for pledge_id in (closed, refugees):
                batch.execute(
                    "validate_pledge",
                    VALIDATOR,
                    {"decision": "validated", "criteria": ["specific", "measurable"]},
                    target=pledge_id,
                )
            batch.execute(
                "report_progress",
                WELCOME,
                {
                    "period": {"start": "2024-01-01", "end": "2025-02-28"},
                    "stage": "completed",
                    "observations": [
                        {"indicator_id": "people-served", "value": "850", "date": "2025-02-28"}
                    ],
                },
                target=closed,
            )
            batch.execute(
                "report_progress",
                GULF,
                {"period": {"start": "2024-09-01", "end": "2025-02-28"}, "stage": "in_progress"},
                target=refugees,
            )
            batch.execute(
                "close_pledge", WELCOME, {"outcome": "fulfilled", "note": "Opened"}, target=closed
            )
    return env


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_scenario(tmp_path_factory.mktemp("handover"))


def report(env: dict[str, str], *arguments: str) -> str:
    result = runner.invoke(app, ["report", "--as-of", AS_OF, *arguments], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
@pytest.mark.parametrize("report_format", ["md", "csv", "json", "html"])
def test_every_format_in_every_language_matches_its_golden_file(
    scenario: dict[str, str], report_format: str, lang: str
) -> None:
    output = report(scenario, "--format", report_format, "--lang", lang)
    golden = GOLDEN / f"report.{lang}.{report_format}"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")


def test_a_report_shows_names_beside_ids_percentages_outcomes_and_flags(
    scenario: dict[str, str],
) -> None:
    output = report(scenario, "--format", "md", "--lang", "fr")
    assert "| welcoming-cities | Villes accueillantes |" in output
    assert "Gulf Cities \\[en\\]" in output  # no French name: the original, marked
    assert "Rabat, Dakar" in output  # city names, not ids, in the pledge rows
    assert "50 %" in output  # a share as a percentage, French style
    assert "| fulfilled | réalisé | 1 |" in output  # the outcome of the closed pledge
    assert "clos comme réalisé sous la cible" in output  # 850 of 1000 and closed as fulfilled
    assert "date cible passée sans rapport" in output  # the silent pledge, past its end
    assert "## Légende" in output


def test_a_gcr_report_counts_only_gcr_tagged_pledges(scenario: dict[str, str]) -> None:
    document = orjson.loads(report(scenario, "--format", "json", "--framework", "gcr"))
    assert document["framework"] == "gcr"
    assert document["totals"]["pledges"] == 2
    assert document["by_gcm_objective"] == []
    gcm = orjson.loads(report(scenario, "--format", "json", "--framework", "gcm"))
    assert gcm["totals"]["pledges"] == 2
    assert {p["title"] for p in gcm["pledges"]} == {
        "One-stop welcome centre",
        "Cours de langue pour adultes [fr]",
    }


def test_flag_counts_are_given_per_network(scenario: dict[str, str]) -> None:
    document = orjson.loads(report(scenario, "--format", "json"))
    counts = {c["network_id"]: c for c in document["quality_flags"]}
    assert counts["all"]["pledges"] == 3
    assert counts["welcoming-cities"]["counts"]["fulfilled_below_target"] == 1
    assert counts["welcoming-cities"]["counts"]["no_indicator"] == 1
    assert counts["gulf-cities"]["counts"]["qualitative_only"] == 1
    assert counts["gulf-cities"]["flagged"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--network", "no-such-network"], "--network"),
        (["--framework", "sdg"], "--framework"),
        (["--lang", "de"], "--lang"),
        (["--publish", "--check-published"], "--check-published"),
        (["--json"], "--format json"),
    ],
)
def test_a_bad_scope_is_a_one_line_usage_error_that_stores_nothing(
    scenario: dict[str, str], arguments: list[str], message: str
) -> None:
    before = events_in(scenario)
    result = runner.invoke(app, ["report", "--as-of", AS_OF, "--publish", *arguments], env=scenario)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr
    assert result.stdout == ""
    assert events_in(scenario) == before


def test_publishing_a_report_as_of_today_is_refused_and_stores_nothing(
    scenario: dict[str, str],
) -> None:
    before = events_in(scenario)
    today = datetime.now(UTC).date().isoformat()
    result = runner.invoke(app, ["report", "--as-of", today, "--publish"], env=scenario)
    assert result.exit_code == 2
    assert "not over" in result.stderr
    assert events_in(scenario) == before


def events_in(env: dict[str, str]) -> int:
    result = runner.invoke(app, ["verify", "--json", "--no-rollups"], env=env)
    entries: int = orjson.loads(result.stdout)["entries"]
    return entries


@pytest.fixture
def own_scenario(tmp_path: Path) -> dict[str, str]:
    """A store of its own, for tests that publish (they add events)."""
    return write_scenario(tmp_path)


def test_publishing_records_the_digest_of_exactly_the_bytes_printed(
    own_scenario: dict[str, str],
) -> None:
    result = runner.invoke(
        app,
        ["report", "--as-of", AS_OF, "--format", "html", "--lang", "es", "--publish"],
        env=own_scenario,
    )
    assert result.exit_code == 0, result.stderr
    printed = result.stdout.encode()
    listed = runner.invoke(
        app,
        ["report", "--as-of", AS_OF, "--format", "html", "--lang", "es", "--check-published"],
        env=own_scenario,
    )
    assert listed.exit_code == 0, listed.stderr
    assert hashlib.sha256(printed).hexdigest() in listed.stdout


def test_a_published_json_report_holds_both_digests_and_its_scope(
    own_scenario: dict[str, str],
) -> None:
    arguments = ["--format", "json", "--network", "welcoming-cities", "--framework", "gcm"]
    printed = runner.invoke(
        app, ["report", "--as-of", AS_OF, *arguments, "--publish"], env=own_scenario
    )
    assert printed.exit_code == 0, printed.stderr
    document = orjson.loads(printed.stdout)
    check = runner.invoke(
        app,
        ["report", "--as-of", AS_OF, *arguments, "--check-published", "--json"],
        env=own_scenario,
    )
    assert check.exit_code == 0, check.stderr
    publication = orjson.loads(check.stdout)["publication"]
    assert publication["output_sha256"] == hashlib.sha256(printed.stdout.encode()).hexdigest()
    assert publication["report_sha256"] == document["sha256"]
    assert publication["as_of"] == AS_OF
    assert publication["network_id"] == "welcoming-cities"
    assert publication["framework"] == "gcm"
    assert publication["tree_size"] == document["source"]["tree_size"]
    assert publication["checkpoint_tree_size"] == document["source"]["checkpoint"]["tree_size"]
    assert publication["recorded_by"] == OPERATOR.key_id
    assert publication["leaf_index"] is not None


def test_a_published_report_is_derived_again_after_the_log_grew(
    own_scenario: dict[str, str],
) -> None:
    first = runner.invoke(app, ["report", "--as-of", AS_OF, "--publish"], env=own_scenario)
    assert first.exit_code == 0, first.stderr
    # The log grows after the publication (the publication itself, and a later report).
    second = runner.invoke(
        app, ["report", "--as-of", AS_OF, "--format", "csv", "--publish"], env=own_scenario
    )
    assert second.exit_code == 0, second.stderr
    again = runner.invoke(app, ["report", "--as-of", AS_OF], env=own_scenario)
    assert again.stdout == first.stdout
    check = runner.invoke(app, ["report", "--as-of", AS_OF, "--check-published"], env=own_scenario)
    assert check.exit_code == 0, check.stderr
    verified = runner.invoke(app, ["verify", "--json"], env=own_scenario)
    assert verified.exit_code == 0, verified.stdout


def test_the_same_bytes_are_published_once(own_scenario: dict[str, str]) -> None:
    assert (
        runner.invoke(app, ["report", "--as-of", AS_OF, "--publish"], env=own_scenario).exit_code
        == 0
    )
    before = events_in(own_scenario)
    again = runner.invoke(app, ["report", "--as-of", AS_OF, "--publish"], env=own_scenario)
    assert again.exit_code == 1
    assert "already published" in again.stderr
    assert again.stdout == ""
    assert events_in(own_scenario) == before


def test_a_report_never_published_fails_the_check(scenario: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["report", "--as-of", "2025-06-30", "--check-published"], env=scenario
    )
    assert result.exit_code == 1
    assert "not published" in result.stderr


def test_golden_day_is_in_the_past() -> None:
    assert date.fromisoformat(AS_OF) < datetime.now(UTC).date()
