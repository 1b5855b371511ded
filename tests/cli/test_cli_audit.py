"""The audit trail from the command line: demo, checkpoint, export, verify (SQLite file)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from api.cli import app
from ledger.note import generate_signer


@dataclass(frozen=True)
class Cli:
    database: Path
    key_file: Path

    def run(self, *args: str) -> Result:
        runner = CliRunner()
        env = {
            "LEDGER_SIGNING_KEY_FILE": str(self.key_file),
            "LEDGER_LOG_ORIGIN": "test.pledge-ledger/log",
            "LEDGER_CHECKPOINT_INTERVAL_SECONDS": "0",
        }
        return runner.invoke(app, [*args, "--database-url", f"sqlite:///{self.database}"], env=env)

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return orjson.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "x.db", tmp_path / "keys" / "ledger.key")


@pytest.fixture
def loaded(cli: Cli) -> Cli:
    demo = cli.run("demo", "--pledges", "30", "--seed", "7")
    assert demo.exit_code == 0, demo.stderr
    return cli


def test_demo_checkpoint_export_verify_round_trip_exits_zero(loaded: Cli, tmp_path: Path) -> None:
    checkpoint = loaded.run("checkpoint")
    export = loaded.run("export", str(tmp_path / "bundle"))
    verify = loaded.run("verify", str(tmp_path / "bundle"))

    assert checkpoint.exit_code == 0, checkpoint.stderr
    assert export.exit_code == 0, export.stderr
    assert verify.exit_code == 0, verify.stderr
    assert verify.stdout.startswith("OK: ")


def test_verify_with_the_trusted_key_exits_zero(loaded: Cli, tmp_path: Path) -> None:
    vkey = loaded.json("checkpoint")["vkey"]
    loaded.run("export", str(tmp_path / "bundle"))

    verify = loaded.run("verify", str(tmp_path / "bundle"), "--trust-key", vkey)

    assert verify.exit_code == 0, verify.stderr
    assert "the trusted key" in verify.stdout


def test_verify_trusting_another_key_exits_one_naming_the_key_file(
    loaded: Cli, tmp_path: Path
) -> None:
    loaded.run("export", str(tmp_path / "bundle"))
    other = generate_signer("test.pledge-ledger/log").vkey

    verify = loaded.run("verify", str(tmp_path / "bundle"), "--trust-key", other)

    assert verify.exit_code == 1
    (message,) = written_lines(verify.stderr)
    assert message.startswith("FAILED: key.vkey: ")


def tamper_middle_entry(bundle: Path) -> tuple[int, str]:
    """Change one entry of an exported bundle (still canonical JSON); its index and event id."""
    lines = (bundle / "entries.jsonl").read_bytes().splitlines(keepends=True)
    index = len(lines) // 2
    event_id = orjson.loads(lines[index])["event_id"]
    lines[index] = lines[index].replace(b'"recorded_by":"', b'"recorded_by":"x', 1)
    (bundle / "entries.jsonl").write_bytes(b"".join(lines))
    return index, event_id


def written_lines(stream: str) -> list[str]:
    return [line for line in stream.splitlines() if line.strip()]


def test_tampered_bundle_exits_one_naming_the_entry_on_stderr(loaded: Cli, tmp_path: Path) -> None:
    loaded.run("export", str(tmp_path / "bundle"))
    index, event_id = tamper_middle_entry(tmp_path / "bundle")

    verify = loaded.run("verify", str(tmp_path / "bundle"))

    assert verify.exit_code == 1
    assert verify.stdout == ""
    (message,) = written_lines(verify.stderr)
    assert message.startswith(f"FAILED: entry {index} (event {event_id}): ")


def test_tampered_bundle_writes_exactly_one_line_to_stderr(loaded: Cli, tmp_path: Path) -> None:
    loaded.run("export", str(tmp_path / "bundle"))
    tamper_middle_entry(tmp_path / "bundle")

    verify = loaded.run("verify", str(tmp_path / "bundle"))

    assert verify.exit_code == 1
    assert len(verify.stderr.splitlines()) == 1, repr(verify.stderr)


def test_verify_without_a_directory_verifies_the_store(loaded: Cli) -> None:
    verify = loaded.run("verify")

    assert verify.exit_code == 0, verify.stderr
    assert verify.stdout.startswith("OK: ")


def test_verify_without_a_directory_names_a_row_rewritten_in_the_store(loaded: Cli) -> None:
    with closing(sqlite3.connect(loaded.database)) as connection, connection:
        rowid, state = connection.execute(
            "SELECT rowid, state FROM stored_events ORDER BY rowid LIMIT 1 OFFSET 10"
        ).fetchone()
        changed = bytes(state).replace(b'"recorded_by":"', b'"recorded_by":"x', 1)
        connection.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (changed, rowid))
    event_id = orjson.loads(state)["event_id"]

    verify = loaded.run("verify")

    assert verify.exit_code == 1
    (message,) = written_lines(verify.stderr)
    assert message.startswith(f"FAILED: leaf 10 (event {event_id}): ")


def test_every_audit_command_prints_json_with_json(cli: Cli, tmp_path: Path) -> None:
    demo = cli.json("demo", "--pledges", "20", "--seed", "3")
    checkpoint = cli.json("checkpoint")
    export = cli.json("export", str(tmp_path / "bundle"))
    verify = cli.json("verify", str(tmp_path / "bundle"))
    store = cli.json("verify")

    assert demo["demo"] is True
    assert checkpoint["tree_size"] == demo["events"]
    assert checkpoint["checkpoint"].splitlines()[1] == str(demo["events"])
    assert export["entries"] == export["tree_size"] == demo["events"]
    assert verify["ok"] is True
    assert verify["failure"] is None
    assert verify["entries"] == store["entries"] == demo["events"]


def test_failed_verification_prints_json_naming_the_entry(loaded: Cli, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    loaded.run("export", str(bundle))
    lines = (bundle / "entries.jsonl").read_bytes().splitlines(keepends=True)
    (bundle / "entries.jsonl").write_bytes(b"".join(lines[:-3]))

    verify = loaded.run("verify", str(bundle), "--json")

    assert verify.exit_code == 1
    report = orjson.loads(verify.stdout)
    assert report["ok"] is False
    assert report["failure"]["where"] == f"entry {len(lines) - 3}"


def test_export_refuses_a_directory_that_is_not_empty(loaded: Cli, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = loaded.run("export", str(target))
    assert result.exit_code == 1
    assert "is not an empty directory" in result.stderr
    assert (target / "notes.txt").read_text() == "mine"
