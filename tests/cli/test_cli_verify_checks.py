"""``verify`` cannot be talked out of its checks: roll-ups and read models (SQLite file).

A broken ``rollups.json`` used to make the verifier skip the roll-ups and exit 0 with forged
figures; a bundle must now carry valid roll-ups unless the auditor says ``--no-rollups``, and
then the output says they were not checked. ``verify`` of the live store and ``projections
check`` compare every read model with a rebuild from the log.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console
from typer.testing import Result

import api.cli as cli_module
from ledger import entry_scan
from tests.cli.test_cli_audit import Cli, written_lines
from tests.integration.test_tamper_bundle import memory_capped


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, Path]:
    home = tmp_path_factory.mktemp("verify-checks")
    cli = Cli(home / "x.db", home / "keys" / "ledger.key")
    demo = cli.run("demo", "--pledges", "12", "--seed", "5")
    assert demo.exit_code == 0, demo.stderr
    export = cli.run("export", str(home / "bundle"))
    assert export.exit_code == 0, export.stderr
    return cli, home / "bundle"


@pytest.fixture
def bundle(exported: tuple[Cli, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(exported[1], copy)
    return copy


@pytest.fixture
def cli(exported: tuple[Cli, Path]) -> Cli:
    return exported[0]


def published(bundle: Path) -> dict[str, Any]:
    document = orjson.loads((bundle / "rollups.json").read_bytes())
    assert isinstance(document, dict)
    return document


def publish(bundle: Path, document: Any) -> None:
    (bundle / "rollups.json").write_bytes(orjson.dumps(document))


def failure_line(result: Result) -> str:
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    (line,) = written_lines(result.stderr)
    return line


# --- roll-ups -----------------------------------------------------------------------------------


def test_valid_rollups_are_replayed(cli: Cli, bundle: Path) -> None:
    result = cli.run("verify", str(bundle))

    assert result.exit_code == 0, result.stderr
    assert "roll-ups replayed" in result.stdout


def test_forged_figure_in_valid_rollups_fails(cli: Cli, bundle: Path) -> None:
    document = published(bundle)
    document["rollups"]["network"][0]["pledges"] += 1
    publish(bundle, document)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line.startswith("FAILED: rollups.json: differs from the replay")
    assert "$.rollups.network[0].pledges" in line


def test_the_last_city_forged_added_or_dropped_is_named(cli: Cli, bundle: Path) -> None:
    # The replay's cities are made one at a time as they are compared (never all at once).
    document = published(bundle)
    cities = document["rollups"]["city"]
    last = len(cities) - 1
    cities[last]["pledges"] += 1
    publish(bundle, document)

    forged = failure_line(cli.run("verify", str(bundle)))

    cities[last]["pledges"] -= 1
    cities.append(dict(cities[last]))  # every city right, then one more
    publish(bundle, document)
    added = failure_line(cli.run("verify", str(bundle)))

    del cities[last:]
    publish(bundle, document)
    dropped = failure_line(cli.run("verify", str(bundle)))

    assert f"$.rollups.city[{last}].pledges" in forged
    assert f"$.rollups.city (length more than {last + 1} != {last + 1})" in added
    assert f"$.rollups.city (length {last} != {last + 1})" in dropped


SHAPE = (
    "FAILED: rollups.json: is not a roll-ups document in canonical JSON: it must begin "
    '{"as_of":…,"format":…,"freshness_months":…,"rollups":{ and end },"tree_size":…} '
    "(RFC 8785, as the ledger writes it)"
)


@pytest.mark.parametrize(
    "text",
    [
        b"\x00\x01 this is not JSON",
        b"[" * 100_000 + b"]" * 100_000,
        b"",
    ],
    ids=["garbage", "nested beyond any parser", "empty"],
)
def test_rollups_that_are_not_a_canonical_document_fail_on_one_line(
    cli: Cli, bundle: Path, text: bytes
) -> None:
    (bundle / "rollups.json").write_bytes(text)

    assert failure_line(cli.run("verify", str(bundle))) == SHAPE


def test_rollups_with_a_canonical_head_but_not_its_tail_fail(cli: Cli, bundle: Path) -> None:
    with open(bundle / "rollups.json", "ab") as handle:
        handle.write(b"\n")  # the head still matches: only the tail's check can refuse it

    assert failure_line(cli.run("verify", str(bundle))) == SHAPE


def test_rollups_that_are_not_an_object_fail(cli: Cli, bundle: Path) -> None:
    publish(bundle, [published(bundle)])

    assert failure_line(cli.run("verify", str(bundle))) == SHAPE


def test_the_same_rollups_not_in_canonical_form_fail(cli: Cli, bundle: Path) -> None:
    (bundle / "rollups.json").write_bytes(
        orjson.dumps(published(bundle), option=orjson.OPT_INDENT_2)
    )

    assert failure_line(cli.run("verify", str(bundle))) == SHAPE


def test_a_rollup_with_its_names_out_of_canonical_order_is_named(cli: Cli, bundle: Path) -> None:
    document = published(bundle)
    first = document["rollups"]["network"][0]
    document["rollups"]["network"][0] = dict(reversed(first.items()))  # equal, not canonical
    publish(bundle, document)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line == (
        "FAILED: rollups.json: differs from the replay of the entries at "
        "$.rollups.network[0] (not in canonical form)"
    )


def test_a_value_nested_beyond_the_parser_inside_a_rollup_fails_on_one_line(
    cli: Cli, bundle: Path
) -> None:
    document = published(bundle)
    count = document["rollups"]["network"][0]["pledges"]
    text = (bundle / "rollups.json").read_bytes()
    at = text.index(b'"network":[')
    nested = b"[" * 100_000 + b"]" * 100_000
    forged = text[:at] + text[at:].replace(f'"pledges":{count}'.encode(), b'"pledges":' + nested, 1)
    (bundle / "rollups.json").write_bytes(forged)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line.startswith(
        "FAILED: rollups.json: differs from the replay of the entries at $.rollups.network[0] "
        "(not JSON at byte "
    )
    assert line.endswith(": nested too deeply)")


def test_a_second_document_after_the_first_is_named(cli: Cli, bundle: Path) -> None:
    text = (bundle / "rollups.json").read_bytes()
    (bundle / "rollups.json").write_bytes(text + text)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line == (
        "FAILED: rollups.json: differs from the replay of the entries at $ (bytes follow the "
        f"end of the document, from byte {len(text):,})"
    )


@pytest.mark.parametrize(
    ("months", "shown"),
    [("12", '"12"'), (1_000_000_000, "1000000000"), (0, "0"), (True, "true"), (1.5, "1.5")],
    ids=["string", "huge", "zero", "boolean", "fraction"],
)
def test_rollups_with_a_bad_freshness_window_fail_naming_the_field(
    cli: Cli, bundle: Path, months: Any, shown: str
) -> None:
    document = published(bundle)
    document["freshness_months"] = months
    publish(bundle, document)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line == (
        "FAILED: rollups.json: freshness_months must be a whole number of months from 1 to "
        f"120, not {shown}"
    )


def test_rollups_without_a_freshness_window_fail(cli: Cli, bundle: Path) -> None:
    document = published(bundle)
    del document["freshness_months"]
    publish(bundle, document)

    assert failure_line(cli.run("verify", str(bundle))) == SHAPE


def test_rollups_for_another_tree_size_fail_naming_the_field(cli: Cli, bundle: Path) -> None:
    document = published(bundle)
    size = document["tree_size"]
    document["tree_size"] = size - 1
    publish(bundle, document)

    line = failure_line(cli.run("verify", str(bundle)))

    assert line == (
        f"FAILED: rollups.json: tree_size must be the latest checkpoint's size {size}, "
        f"not {size - 1}"
    )


def test_rollups_of_any_size_are_read_only_as_far_as_they_match(cli: Cli, bundle: Path) -> None:
    # No size limit: a valid head, then a hole of 8 GiB (sparse: nothing is written), then a
    # valid tail. The file is compared in order and fails where it stops matching.
    text = (bundle / "rollups.json").read_bytes()
    cut = text.index(b'"rollups":{') + len(b'"rollups":{')
    tail = text[text.rindex(b'},"tree_size":') :]
    with open(bundle / "rollups.json", "wb") as handle:
        handle.write(text[:cut])
        handle.seek(8 << 30, os.SEEK_CUR)
        handle.write(tail)
    started = time.monotonic()

    with memory_capped():
        line = failure_line(cli.run("verify", str(bundle)))

    assert line.startswith("FAILED: rollups.json: differs from the replay of the entries at ")
    assert "$.rollups.all (missing, or not in its canonical place at byte" in line
    assert time.monotonic() - started < 60


def test_rollups_linked_to_dev_zero_are_refused(cli: Cli, bundle: Path) -> None:
    (bundle / "rollups.json").unlink()
    (bundle / "rollups.json").symlink_to("/dev/zero")

    with memory_capped():
        line = failure_line(cli.run("verify", str(bundle)))

    assert line == "FAILED: rollups.json: is a symbolic link, not a file of the bundle"


def test_missing_rollups_fail_without_no_rollups(cli: Cli, bundle: Path) -> None:
    (bundle / "rollups.json").unlink()

    line = failure_line(cli.run("verify", str(bundle)))

    assert line.startswith("FAILED: rollups.json: missing")


def test_no_rollups_verifies_the_log_and_says_the_rollups_were_not_checked(
    cli: Cli, bundle: Path
) -> None:
    (bundle / "rollups.json").write_bytes(b"garbage")

    result = cli.run("verify", str(bundle), "--no-rollups")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    assert "the roll-ups were NOT checked (--no-rollups)" in result.stdout


def test_no_rollups_json_reports_rollups_unchecked(cli: Cli, bundle: Path) -> None:
    (bundle / "rollups.json").unlink()

    report = cli.json("verify", str(bundle), "--no-rollups")

    assert report["ok"] is True
    assert report["rollups_checked"] is False


# --- read models of the live store --------------------------------------------------------------


@pytest.fixture
def store(exported: tuple[Cli, Path], tmp_path: Path) -> Cli:
    """A private copy of the exported store, to tamper with."""
    cli = exported[0]
    copy = Cli(tmp_path / "x.db", cli.key_file)
    shutil.copyfile(cli.database, copy.database)
    return copy


def set_first_pledge_status(store: Cli, status: str) -> str:
    with closing(sqlite3.connect(store.database)) as connection, connection:
        (pledge_id,) = connection.execute(
            "SELECT pledge_id FROM projection_pledges ORDER BY pledge_id LIMIT 1"
        ).fetchone()
        connection.execute(
            "UPDATE projection_pledges SET status = ? WHERE pledge_id = ?", (status, pledge_id)
        )
    return str(pledge_id)


def test_projections_check_passes_on_untouched_views(store: Cli) -> None:
    result = store.run("projections", "check")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK: ")


def test_projections_check_names_a_status_edited_by_sql(store: Cli) -> None:
    pledge_id = set_first_pledge_status(store, "forged")

    line = failure_line(store.run("projections", "check"))

    assert line.startswith(
        f"FAILED: projection_pledges row pledge_id={pledge_id}: status is 'forged' in the live view"
    )


def test_projections_check_json_names_the_row(store: Cli) -> None:
    pledge_id = set_first_pledge_status(store, "forged")

    result = store.run("projections", "check", "--json")

    assert result.exit_code == 1
    report = orjson.loads(result.stdout)
    assert report["ok"] is False
    assert report["mismatch"]["key"] == {"pledge_id": pledge_id}
    assert report["mismatch"]["column"] == "status"
    assert report["mismatch"]["live"] == "forged"


def test_verify_of_the_store_fails_on_a_status_edited_by_sql(store: Cli) -> None:
    pledge_id = set_first_pledge_status(store, "forged")

    line = failure_line(store.run("verify"))

    assert line.startswith(f"FAILED: projection_pledges row pledge_id={pledge_id}: status")


def test_verify_of_the_store_reports_the_views_in_json(store: Cli) -> None:
    report = store.json("verify")

    assert report["ok"] is True
    assert report["rollups_checked"] is True
    assert report["views"]["ok"] is True
    assert report["views"]["mismatch"] is None


# --- the worker processes -----------------------------------------------------------------------


def test_a_worker_killed_mid_verify_is_one_line_and_a_failure(
    cli: Cli, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounds = entry_scan.chunk_bounds

    def killed(*_: object) -> None:  # what the kernel's OOM killer does to a worker
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(entry_scan, "start_method", lambda: "fork")  # the patches are inherited
    monkeypatch.setattr(entry_scan, "chunk_bounds", lambda d, s, _=0: bounds(d, s, 2048))
    monkeypatch.setattr(entry_scan, "scan_chunk", killed)

    result = cli.run("verify", str(bundle), "--workers", "2")

    assert result.exit_code != 0
    assert result.stdout == ""
    (line,) = written_lines(result.stderr)
    assert "a worker process reading the entries was killed by signal 9" in line


def test_the_progress_bar_draws_without_a_thread_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(cli_module, "err_console", Console(file=screen, force_terminal=True))
    threads = threading.active_count()

    with cli_module.progress_bar("verifying", enabled=True) as update:
        update(5, 10)
        assert threading.active_count() == threads  # the verifier may fork here
        update(10, 10)

    assert "verifying" in screen.getvalue()
    assert "10/10" in screen.getvalue()
