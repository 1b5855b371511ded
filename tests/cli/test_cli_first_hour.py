"""The first hour of a new user: no silent empty stores, read-only commands that only read.

Only commands that write a ledger create a store or a key; ``verify``, ``report``, ``export``,
``networks`` and ``cities`` refuse a store that does not exist and leave one that does exactly
as it was, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import orjson
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError
from typer.testing import CliRunner, Result

from api.bootstrap import bootstrap, open_for_reading
from api.cli import app
from domain.keys import OPERATOR
from ledger.database import log_checkpoints
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode

runner = CliRunner()
READING_COMMANDS = (
    ["verify"],
    ["report", "--as-of", "2024-06-30"],
    ["networks"],
    ["cities"],
)


@pytest.fixture(autouse=True)
def no_ledger_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes: no LEDGER_* variable of the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("LEDGER_"):
            monkeypatch.delenv(name)


def environment(settings: LedgerSettings) -> dict[str, str]:
    variables = {
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_SIGNING_KEY_FILE": str(settings.key_file),
        "LEDGER_LOG_ORIGIN": settings.log_origin,
    }
    if settings.database_schema:
        variables["LEDGER_DATABASE_SCHEMA"] = settings.database_schema
    return variables


def run(arguments: list[str], env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, arguments, env=env or {})


def folder_contents(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def postgres_counts(settings: LedgerSettings) -> tuple[int, int]:
    """(events, signed checkpoints) of a PostgreSQL store, read outside the code under test."""
    with psycopg.connect(settings.database_url) as connection:
        schema = sql.Identifier(settings.database_schema or "public")
        events = connection.execute(
            sql.SQL("SELECT count(*) FROM {}.ledger_events").format(schema)
        ).fetchone()
        signed = connection.execute(
            sql.SQL("SELECT count(*) FROM {}.log_checkpoints").format(schema)
        ).fetchone()
    assert events is not None
    assert signed is not None
    return int(events[0]), int(signed[0])


@pytest.fixture
def demo_store(tmp_path: Path) -> Path:
    """A SQLite demo store with its default key, made from another working directory."""
    store = tmp_path / "store"
    store.mkdir()
    result = run(["demo", "--pledges", "20", "--seed", "5", "--json"], _sqlite_env(store))
    assert result.exit_code == 0, result.stderr
    return store


def _sqlite_env(folder: Path) -> dict[str, str]:
    return {"LEDGER_DATABASE_URL": f"sqlite:///{folder / 'ledger.db'}"}


@pytest.fixture
def empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


# --- 1. the working directory does not silently decide the store or the key -------------------


@pytest.mark.parametrize("arguments", [*READING_COMMANDS, ["export", "../bundle"], ["checkpoint"]])
def test_reading_commands_refuse_a_missing_store_naming_the_url_and_how_to_point_elsewhere(
    empty_folder: Path, arguments: list[str]
) -> None:
    result = run(arguments)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "no store at sqlite:///./pledge-ledger.db" in result.stderr
    assert "--database-url" in result.stderr
    assert "LEDGER_DATABASE_URL" in result.stderr


@pytest.mark.parametrize(
    "arguments", [*READING_COMMANDS, ["projections", "rebuild"], ["checkpoint"]]
)
def test_reading_commands_create_no_store_and_no_key_in_an_empty_folder(
    empty_folder: Path, arguments: list[str]
) -> None:
    run(arguments)

    assert list(empty_folder.iterdir()) == []


def test_checkpoint_with_nothing_new_says_so_and_reprints_the_latest(demo_store: Path) -> None:
    env = _sqlite_env(demo_store)
    first = run(["checkpoint", "--json"], env)
    again = run(["checkpoint"], env)
    again_json = run(["checkpoint", "--json"], env)

    assert first.exit_code == again.exit_code == again_json.exit_code == 0
    latest = orjson.loads(first.stdout)
    assert again.stdout.startswith(
        f"No new entries since the checkpoint of {latest['tree_size']} entries signed at "
        f"{latest['signed_at']}; it is still the latest:\n"
    )
    assert again.stdout.endswith(latest["checkpoint"])
    assert orjson.loads(again_json.stdout)["new"] is False
    assert orjson.loads(again_json.stdout)["checkpoint"] == latest["checkpoint"]


def test_the_default_key_lives_beside_the_sqlite_file(demo_store: Path, empty_folder: Path) -> None:
    assert (demo_store / "ledger.key").is_file()
    assert list(empty_folder.iterdir()) == []


def test_verifying_a_store_from_another_folder_uses_its_key(
    demo_store: Path, empty_folder: Path
) -> None:
    result = run(["verify"], _sqlite_env(demo_store))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("OK: ")
    assert list(empty_folder.iterdir()) == []


def test_a_store_whose_key_is_missing_is_refused_naming_the_key_file(demo_store: Path) -> None:
    (demo_store / "ledger.key").unlink()

    result = run(["verify"], _sqlite_env(demo_store))

    assert result.exit_code == 1
    assert f"no signing key at {demo_store / 'ledger.key'}" in result.stderr
    assert not (demo_store / "ledger.key").exists()


def test_a_postgresql_schema_that_does_not_exist_is_refused_and_not_created(
    postgres_settings: LedgerSettings,
) -> None:
    for arguments in READING_COMMANDS:
        result = run(arguments, environment(postgres_settings))
        assert result.exit_code == 1, arguments
        assert "no pledge-ledger store at postgresql://" in result.stderr
        assert f"schema {postgres_settings.database_schema}" in result.stderr
    with psycopg.connect(postgres_settings.database_url) as connection:
        found = connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (postgres_settings.database_schema,)
        ).fetchone()
    assert found is None


# --- 2. read-only commands do not write -------------------------------------------------------


def add_an_unsigned_event(settings: LedgerSettings) -> None:
    """Append one event, integrated into the log but not signed: a live store's usual state."""
    # Append only, then integrate: a receipted write would sign it (the tests' checkpoint
    # interval is 0).
    with bootstrap(settings, write_mode=WriteMode.APPEND_ONLY) as services:
        with services.ledger.batch() as batch:
            batch.execute(
                "register_network",
                OPERATOR,
                {"id": "late-network", "name": {"en": "Late"}},
            )
        services.log.integrate()


def test_reading_commands_leave_a_read_only_sqlite_store_unchanged(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_an_unsigned_event(LedgerSettings(database_url=f"sqlite:///{demo_store / 'ledger.db'}"))
    for leftover in demo_store.glob("*.lock"):
        leftover.unlink()
    before = folder_contents(demo_store)
    (demo_store / "ledger.db").chmod(0o444)
    demo_store.chmod(0o555)
    # Tests may run as root, which writes through permission bits: make the folder read as
    # unwritable the way it does for any other user.
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda path, mode, **kw: False if mode & os.W_OK else real_access(path, mode, **kw),
    )
    try:
        results = [run(arguments, _sqlite_env(demo_store)) for arguments in READING_COMMANDS]
        results.append(run(["export", str(tmp_path / "bundle")], _sqlite_env(demo_store)))
    finally:
        demo_store.chmod(0o755)

    for result in results:
        assert result.exit_code == 0, result.stderr
    assert folder_contents(demo_store) == before
    assert stat.S_IMODE((demo_store / "ledger.db").stat().st_mode) == 0o444


def test_verify_signs_nothing_and_says_how_many_events_are_not_covered(
    settings: LedgerSettings,
) -> None:
    env = environment(settings)
    assert run(["demo", "--pledges", "10", "--seed", "2", "--json"], env).exit_code == 0
    add_an_unsigned_event(settings)
    before = signed_sizes(settings)

    text = run(["verify"], env)
    as_json = run(["verify", "--json"], env)

    assert text.exit_code == 0, text.stderr
    assert "1 event(s) recorded after the latest checkpoint are not covered yet" in text.stderr
    assert orjson.loads(as_json.stdout)["unsigned_events"] == 1
    assert signed_sizes(settings) == before


def signed_sizes(settings: LedgerSettings) -> list[int]:
    with bootstrap(settings) as services:
        return [checkpoint.size for checkpoint in services.log.checkpoints()]


def test_report_and_lists_write_nothing_to_a_postgresql_store(
    postgres_settings: LedgerSettings,
) -> None:
    env = environment(postgres_settings)
    assert run(["demo", "--pledges", "10", "--seed", "2", "--json"], env).exit_code == 0
    add_an_unsigned_event(postgres_settings)
    before = postgres_counts(postgres_settings)

    for arguments in READING_COMMANDS:
        result = run(arguments, env)
        assert result.exit_code == 0, (arguments, result.stderr)

    assert postgres_counts(postgres_settings) == before


def test_a_store_opened_for_reading_refuses_writes(settings: LedgerSettings) -> None:
    with bootstrap(settings):
        pass  # creates the store
    with (
        open_for_reading(settings) as reader,
        pytest.raises(SQLAlchemyError, match=r"(?i)read.?only"),
        reader.engine.begin() as connection,
    ):
        connection.execute(delete(log_checkpoints))


def test_a_report_on_events_not_yet_signed_cites_no_checkpoint_and_says_so(
    settings: LedgerSettings,
) -> None:
    env = environment(settings)
    assert run(["demo", "--pledges", "10", "--seed", "2", "--json"], env).exit_code == 0
    add_an_unsigned_event(settings)

    result = run(["report", "--as-of", today(), "--format", "json"], env)

    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["source"]["checkpoint"] is None
    assert "it cites none; `pledge-ledger checkpoint` signs them" in result.stderr


def today() -> str:
    return datetime.now(UTC).date().isoformat()


# --- 3. --trust-key takes the key file -------------------------------------------------------


@pytest.fixture
def bundle(demo_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    assert run(["export", str(target)], _sqlite_env(demo_store)).exit_code == 0
    return target


def test_trust_key_accepts_a_vkey_file(bundle: Path, tmp_path: Path) -> None:
    kept = tmp_path / "published.vkey"
    kept.write_bytes((bundle / "key.vkey").read_bytes())

    result = run(["verify", str(bundle), "--trust-key", str(kept)])

    assert result.exit_code == 0, result.stderr
    assert "with the trusted key" in result.stdout


def test_trust_key_accepts_the_key_text(bundle: Path) -> None:
    text = (bundle / "key.vkey").read_text().strip()

    result = run(["verify", str(bundle), "--trust-key", text, "--json"])

    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["key_trusted"] is True


def test_a_trust_key_file_that_holds_no_key_is_a_usage_error_naming_the_option(
    bundle: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "notes.txt"
    wrong.write_text("not a key\n")

    result = run(["verify", str(bundle), "--trust-key", str(wrong)])

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --trust-key: the file {wrong} is not a verifier key")
    assert result.stderr.count("\n") == 1


def test_a_trust_key_that_is_neither_a_file_nor_a_key_is_a_usage_error(bundle: Path) -> None:
    result = run(["verify", str(bundle), "--trust-key", "missing.vkey"])

    assert result.exit_code == 2
    assert "--trust-key: the key text is not a verifier key" in result.stderr


def test_verify_help_says_what_a_bundle_checked_against_its_own_key_proves() -> None:
    result = run(["verify", "--help"])

    assert "Without --trust-key a bundle is checked only against its own" in result.stdout
    assert "VKEY_FILE" in result.stdout


def test_without_trust_key_the_ok_line_says_only_consistency_was_checked(bundle: Path) -> None:
    result = run(["verify", str(bundle)])

    assert result.exit_code == 0, result.stderr
    assert "the bundle's own key (consistency only: pass --trust-key" in result.stdout


# --- 4. unknown ids are errors; the ids are listed ------------------------------------------


def test_an_unknown_network_is_a_usage_error_pointing_at_the_listing(demo_store: Path) -> None:
    result = run(["report", "--as-of", "2024-06-30", "--network", "nope"], _sqlite_env(demo_store))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--network 'nope' is not a registered id; `pledge-ledger networks`" in result.stderr


def test_networks_lists_the_registered_ids(demo_store: Path) -> None:
    result = run(["networks", "--json"], _sqlite_env(demo_store))

    assert result.exit_code == 0, result.stderr
    ids = [item["network_id"] for item in orjson.loads(result.stdout)]
    assert ids == sorted(ids)
    assert "demo-welcoming-cities" in ids


def test_cities_lists_the_registered_ids_with_their_networks(demo_store: Path) -> None:
    result = run(["cities", "--json"], _sqlite_env(demo_store))

    assert result.exit_code == 0, result.stderr
    listed = orjson.loads(result.stdout)
    assert listed
    assert all(item["city_id"].startswith("demo-") for item in listed)
    assert all(item["networks"] for item in listed)


def test_networks_prints_a_table_by_default(demo_store: Path) -> None:
    result = run(["networks"], _sqlite_env(demo_store))

    assert result.exit_code == 0, result.stderr
    assert "Welcoming Cities Network (demo)" in result.stdout


def test_cities_prints_a_table_with_each_city_s_country(demo_store: Path) -> None:
    listed = orjson.loads(run(["cities", "--json"], _sqlite_env(demo_store)).stdout)
    result = run(["cities"], _sqlite_env(demo_store))

    assert result.exit_code == 0, result.stderr
    assert f"{len(listed)} city(ies)" in result.stdout
    assert listed[0]["city_id"] in result.stdout


def test_verifying_a_directory_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["verify", str(tmp_path / "nowhere")])

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: DIR_OR_URL {tmp_path / 'nowhere'} is neither a directory (an audit bundle from "
        "`export`) nor an http(s) URL\n"
    )
