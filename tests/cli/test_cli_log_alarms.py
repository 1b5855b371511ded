"""The log's alarms and the auditor's known checkpoints, from the command line (SQLite file)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from api.bootstrap import bootstrap
from api.cli import app
from ledger.database import subtree_key
from ledger.settings import LedgerSettings
from tests.integration.synthetic_log import synthetic_envelope


class Cli:
    def __init__(self, directory: Path) -> None:
        self.database = directory / "x.db"
        self.key_file = directory / "keys" / "ledger.key"

    def run(self, *args: str) -> Result:
        env = {
            "LEDGER_SIGNING_KEY_FILE": str(self.key_file),
            "LEDGER_LOG_ORIGIN": "test.pledge-ledger/log",
            "LEDGER_CHECKPOINT_INTERVAL_SECONDS": "0",
        }
        return CliRunner().invoke(
            app, [*args, "--database-url", f"sqlite:///{self.database}"], env=env
        )

    def append_events(self, count: int) -> None:
        """Store well-formed events straight into the event store, as another writer would."""
        settings = LedgerSettings(
            database_url=f"sqlite:///{self.database}",
            signing_key_file=self.key_file,
            log_origin="test.pledge-ledger/log",
        )
        with bootstrap(settings) as services:
            services.store.append(
                [synthetic_envelope(n, streams=1, stream=9000 + n, version=1) for n in range(count)]
            )

    def sql(self, statement: str, *parameters: object) -> None:
        with closing(sqlite3.connect(self.database)) as connection, connection:
            connection.execute(statement, parameters)


@pytest.fixture
def loaded(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path)
    demo = cli.run("demo", "--pledges", "20", "--seed", "4")
    assert demo.exit_code == 0, demo.stderr
    return cli


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_checkpoint_refuses_to_sign_over_a_forged_subtree_row_naming_it(loaded: Cli) -> None:
    size = orjson.loads(loaded.run("checkpoint", "--json").stdout)["tree_size"]
    level = size.bit_length() - 1  # the largest subtree on the right edge
    loaded.sql(
        "UPDATE log_subtrees SET hash = ? WHERE node = ?", b"\x66" * 32, subtree_key(level, 0)
    )
    loaded.append_events(1)

    result = loaded.run("checkpoint")

    assert result.exit_code == 1
    (message,) = lines(result.stderr)
    assert message.startswith("error: ALARM, nothing signed: ")
    assert f"subtree (level {level}, index 0)" in message


def test_checkpoint_names_a_forged_checkpoint_row_and_signs_the_true_tree(loaded: Cli) -> None:
    size = orjson.loads(loaded.run("checkpoint", "--json").stdout)["tree_size"]
    loaded.sql(
        "INSERT INTO log_checkpoints (tree_size, root_hash, signed_at, note) VALUES (?, ?, ?, ?)",
        10**9,
        b"\x66" * 32,
        "2026-01-01T00:00:00.000000Z",
        "garbage\n",
    )

    result = loaded.run("checkpoint")

    assert result.exit_code == 0, result.stderr
    # The forged row neither stalls nor replaces the true tree's checkpoint, which is printed.
    assert result.stdout.startswith(f"No new entries since the checkpoint of {size} entries")
    assert "alarm: ignored checkpoint row of size 1000000000" in result.stderr


def test_verify_with_the_checkpoint_kept_last_time_exits_zero(loaded: Cli, tmp_path: Path) -> None:
    known = tmp_path / "known"
    known.write_text(orjson.loads(loaded.run("checkpoint", "--json").stdout)["checkpoint"])

    result = loaded.run("verify", "--known-checkpoint", str(known))

    assert result.exit_code == 0, result.stderr
    assert "consistent with 1 known checkpoint(s)" in result.stdout


def test_verify_names_the_known_checkpoint_a_truncated_store_contradicts(
    loaded: Cli, tmp_path: Path
) -> None:
    signed = orjson.loads(loaded.run("checkpoint", "--json").stdout)
    known = tmp_path / "known"
    known.write_text(signed["checkpoint"])
    last = signed["tree_size"] - 1
    loaded.sql("DELETE FROM stored_events WHERE rowid = (SELECT MAX(rowid) FROM stored_events)")
    loaded.sql("DELETE FROM log_leaves WHERE leaf_index = ?", last)
    loaded.sql(
        "DELETE FROM log_subtrees WHERE ((node & ((1 << 48) - 1)) + 1) << (node >> 48) > ?", last
    )
    loaded.sql("DELETE FROM log_checkpoints WHERE tree_size > ?", last)
    loaded.sql(
        "UPDATE log_position SET tree_size = ?, notification_id = "
        "(SELECT notification_id FROM log_leaves WHERE leaf_index = ?)",
        last,
        last - 1,
    )
    # The operator holds the key: it signs the shortened log, which then holds together.
    assert loaded.run("checkpoint").exit_code == 0

    result = loaded.run("verify", "--known-checkpoint", str(known))

    assert result.exit_code == 1
    (message,) = lines(result.stderr)
    assert message.startswith(f"FAILED: {known}: ")
    assert "truncated" in message


def test_verify_refuses_a_known_checkpoint_file_it_cannot_read(loaded: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = loaded.run("verify", "--known-checkpoint", str(missing))

    assert result.exit_code == 2
    (message,) = lines(result.stderr)
    assert message.startswith(f"error: --known-checkpoint {missing}: ")
