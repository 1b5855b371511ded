"""Reports and quality flags over HTTP: the report in each format, the published reports, and
the pledge list's ``flag`` filter."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.bootstrap import Services
from api.errors import ReportsBusy
from api.problems import PROBLEM_JSON
from api.report_builds import ReportBuilds
from api.report_formats import render_report
from ledger.clock import SteppingClock
from projections import build_report
from tests.integration.ledger_scenario import ADMIN, register_basics, submit_pledge


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    register_basics(services)
    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def test_every_row_of_the_list_carries_its_flags_and_flag_filters_them(
    client: TestClient, services: Services
) -> None:
    measured = submit_pledge(services)
    unmeasured = submit_pledge(services, indicators=[])
    everything = client.get("/api/v1/pledges").json()["items"]
    flags = {item["pledge_id"]: item["flags"] for item in everything}
    assert flags[measured] == []
    assert flags[unmeasured] == ["no_indicator"]
    flagged = client.get("/api/v1/pledges", params={"flag": "no_indicator"})
    assert flagged.status_code == 200, flagged.text
    assert [item["pledge_id"] for item in flagged.json()["items"]] == [unmeasured]
    page = client.get("/api/v1/pledges/" + unmeasured).json()
    assert page["flags"] == ["no_indicator"]


def test_a_flag_filter_pages_through_the_flagged_pledges(
    client: TestClient, services: Services
) -> None:
    unmeasured = sorted(submit_pledge(services, indicators=[]) for _ in range(3))
    submit_pledge(services)
    first = client.get("/api/v1/pledges", params={"flag": "no_indicator", "limit": 2}).json()
    assert [i["pledge_id"] for i in first["items"]] == unmeasured[:2]
    second = client.get(first["next"]).json()
    assert [i["pledge_id"] for i in second["items"]] == unmeasured[2:]
    assert second["next"] is None


def test_an_unknown_flag_is_refused_naming_the_parameter(client: TestClient) -> None:
    response = client.get("/api/v1/pledges", params={"flag": "late"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["field"] == "flag"


@pytest.mark.parametrize("report_format", ["md", "csv", "json", "html"])
def test_the_report_over_http_is_the_command_lines_bytes(
    client: TestClient, services: Services, report_format: str
) -> None:
    submit_pledge(services)
    params = {"as_of": "2026-03-01", "format": report_format, "lang": "es", "framework": "gcm"}
    response = client.get("/api/v1/reports", params=params)
    assert response.status_code == 200, response.text
    built = build_report(
        services.store,
        services.log,
        as_of=services.log.clock.now().date(),
        freshness_months=services.settings.freshness_months,
        framework="gcm",
        lang="es",
    )
    assert response.content == render_report(built, report_format).encode()


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"as_of": "2026-03-01", "network": "no-such-network"}, 404, "network"),
        ({"as_of": "2999-01-01"}, 400, "as_of"),
        ({"as_of": "2026-03-01", "framework": "sdg"}, 422, "framework"),
        ({"as_of": "2026-03-01", "lang": "de"}, 422, "lang"),
        ({"as_of": "2026-03-01", "format": "pdf"}, 422, "format"),
    ],
)
def test_a_bad_report_request_is_a_problem_naming_the_parameter(
    client: TestClient, params: dict[str, str], status: int, field: str
) -> None:
    response = client.get("/api/v1/reports", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["field"] == field


def test_published_reports_are_listed_with_their_digests_and_leaf(
    client: TestClient, services: Services
) -> None:
    assert client.get("/api/v1/reports/published").json() == []
    response = client.get("/api/v1/reports", params={"as_of": "2026-02-28", "format": "md"})
    output = response.content
    built = build_report(
        services.store,
        services.log,
        as_of=services.log.clock.now().date().replace(day=28, month=2),
        freshness_months=services.settings.freshness_months,
    )
    body = {
        "report_sha256": built.sha256,
        "output_sha256": hashlib.sha256(output).hexdigest(),
        "format": "md",
        "as_of": "2026-02-28",
        "framework": "all",
        "lang": "en",
        "freshness_months": built.freshness_months,
        "tree_size": built.source.tree_size,
        "checkpoint_tree_size": 0,
    }
    services.ledger.write("publish_report", ADMIN, body)
    [published] = client.get("/api/v1/reports/published").json()
    assert published["output_sha256"] == hashlib.sha256(output).hexdigest()
    assert published["report_sha256"] == built.sha256
    assert published["recorded_by"] == ADMIN.key_id
    assert published["leaf_index"] is not None


# --- one report fold at a time per server process (api.report_builds) ---------------------------


class HeldFold:
    """``build_report`` that waits until released, counting the folds it was asked for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.folds = 0
        real = build_report

        def held(*args: Any, **kwargs: Any) -> Any:
            self.folds += 1
            self.started.set()
            assert self.release.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr("api.report_builds.build_report", held)


def in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def one_report_folding(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> tuple[HeldFold, threading.Thread, list[Any]]:
    """A report requested and held in its fold; other requests wait 0.2 s for their turn."""
    submit_pledge(services)
    client.app.state.reports.wait_seconds = 0.2  # type: ignore[attr-defined]
    fold = HeldFold(monkeypatch)
    first, answers = in_thread(
        lambda: client.get("/api/v1/reports", params={"as_of": "2026-02-01"})
    )
    assert fold.started.wait(30)
    return fold, first, answers


def test_a_second_report_waits_its_turn_then_is_told_to_retry(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold, first, answers = one_report_folding(client, services, monkeypatch)

    other = client.get("/api/v1/reports", params={"as_of": "2026-01-15"})

    fold.release.set()
    first.join(30)
    assert other.status_code == 503
    assert other.headers["content-type"] == PROBLEM_JSON
    assert other.headers["retry-after"] == "1"
    assert other.json()["code"] == "reports_busy"
    assert answers[0].status_code == 200
    assert fold.folds == 1


def test_the_same_report_asked_for_twice_at_once_is_folded_once(
    client: TestClient,
    services: Services,
    clock: SteppingClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submit_pledge(services)
    services.log.sign(wait=True, force=True)  # a past day's report citing one is kept
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    fold = HeldFold(monkeypatch)
    params = {"as_of": "2026-03-01", "format": "json"}
    first, answers = in_thread(lambda: client.get("/api/v1/reports", params=params))
    assert fold.started.wait(30)
    second, more = in_thread(lambda: client.get("/api/v1/reports", params=params))

    fold.release.set()
    first.join(30)
    second.join(30)
    again = client.get("/api/v1/reports", params={**params, "format": "md"})

    assert answers[0].status_code == more[0].status_code == again.status_code == 200
    assert answers[0].content == more[0].content
    assert fold.folds == 1


def test_todays_report_is_folded_every_time(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit_pledge(services)
    services.log.sign(wait=True, force=True)
    fold = HeldFold(monkeypatch)
    fold.release.set()
    today = services.log.clock.now().date().isoformat()

    for _ in range(2):
        assert client.get("/api/v1/reports", params={"as_of": today}).status_code == 200

    assert fold.folds == 2


def test_the_reports_page_shares_the_turn_and_says_when_to_retry(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    fold, first, _ = one_report_folding(client, services, monkeypatch)

    page = client.get("/reports", params={"as_of": "2026-01-15"})

    fold.release.set()
    first.join(30)
    assert page.status_code == 503
    assert page.headers["retry-after"] == "1"
    assert "another report is being built" in page.text


def test_another_process_serving_the_store_waits_for_the_same_turn(
    client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turn is the store's, not the process's: another server process (its own builder,
    its own lock file descriptor or PostgreSQL session) waits while this one folds, is told to
    retry, and folds once the turn is free (``serve --workers N``, several servers)."""
    fold, first, answers = one_report_folding(client, services, monkeypatch)
    elsewhere = ReportBuilds(wait_seconds=0.2)

    with pytest.raises(ReportsBusy, match="another report is being built") as busy:
        elsewhere.report(services, as_of=date(2026, 1, 15), network_id=None)
    assert busy.value.retry_after == 1

    fold.release.set()
    first.join(30)
    assert answers[0].status_code == 200
    built = elsewhere.report(services, as_of=date(2026, 1, 15), network_id=None)
    assert built.as_of == date(2026, 1, 15)
    assert fold.folds == 2


def test_a_process_that_died_holding_the_turn_does_not_keep_it(
    services: Services, tmp_path: Path
) -> None:
    """SQLite: the kernel lets go of a dead process's lock file; PostgreSQL: its session's."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_TURN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        text=True,
    )
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write(services.settings.model_dump_json() + "\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ReportsBusy):
        ReportBuilds(wait_seconds=0.2).report(services, as_of=date(2026, 1, 15), network_id=None)

    holder.kill()
    holder.wait(30)

    built = ReportBuilds(wait_seconds=5).report(services, as_of=date(2026, 1, 15), network_id=None)
    assert built.as_of == date(2026, 1, 15)


HOLD_THE_TURN = """
import sys, time
from api.bootstrap import bootstrap
from api.report_builds import store_turn
from ledger.settings import LedgerSettings
settings = LedgerSettings.model_validate_json(sys.stdin.readline())
with bootstrap(settings) as services, store_turn(services, 10) as turn:
    print("held" if turn else "busy", flush=True)
    time.sleep(120)
"""
