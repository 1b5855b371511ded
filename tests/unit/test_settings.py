"""Settings: every malformed value is refused with a reason, and eventsourcing gets a full env."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ledger.errors import ConfigurationError
from ledger.settings import LedgerSettings


def test_a_schema_name_with_punctuation_is_refused() -> None:
    with pytest.raises(ValidationError, match="schema names"):
        LedgerSettings(database_schema="pledges; drop table x")


@pytest.mark.parametrize("name", ["Pledges", "pledgés", "1pledges", "p" * 64, "pledges\n"])
def test_a_schema_name_postgresql_would_fold_or_refuse_is_refused(name: str) -> None:
    # Upper case would be folded where the name is unquoted and kept where it is quoted.
    with pytest.raises(ValidationError, match="schema names"):
        LedgerSettings(database_schema=name)


def test_a_plain_schema_name_is_taken() -> None:
    assert LedgerSettings(database_schema="t_0a9_ledger").database_schema == "t_0a9_ledger"


def test_a_log_origin_with_a_space_is_refused() -> None:
    with pytest.raises(ValidationError, match="one token"):
        LedgerSettings(log_origin="my log")


def test_a_database_that_is_neither_sqlite_nor_postgresql_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:///PATH or postgresql://"):
        LedgerSettings(database_url="mysql://localhost/x").eventsourcing_env()


def test_an_in_memory_sqlite_database_is_refused_the_ledger_needs_a_file() -> None:
    with pytest.raises(ConfigurationError, match="needs a file"):
        LedgerSettings(database_url="sqlite:///:memory:").eventsourcing_env()


def test_eventsourcing_gets_a_complete_postgres_env_that_never_enables_db_functions() -> None:
    env = LedgerSettings(
        database_url="postgresql://ledger:secret@db.example:6432/pledges", database_schema="p"
    ).eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == (
        "db.example",
        "6432",
        "pledges",
    )
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("ledger", "secret")
    assert env["POSTGRES_SCHEMA"] == "p"
    assert env["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"
    assert int(env["POSTGRES_LOCK_TIMEOUT"]) > 0
    assert env["ORIGINATOR_ID_TYPE"] == "text"


def test_environment_variables_with_the_ledger_prefix_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_FRESHNESS_MONTHS", "6")
    monkeypatch.setenv("LEDGER_PRIORITY_AREAS", '["housing", "health"]')
    settings = LedgerSettings()
    assert settings.freshness_months == 6
    assert settings.priority_areas == ("housing", "health")


def test_the_default_signing_key_sits_beside_the_sqlite_file() -> None:
    settings = LedgerSettings(database_url="sqlite:////srv/ledger/pledges.db")
    assert settings.key_file == Path("/srv/ledger/pledges.key")


def test_a_sqlite_file_named_key_gets_a_key_file_of_its_own() -> None:
    settings = LedgerSettings(database_url="sqlite:////srv/ledger/store.key")
    assert settings.key_file == Path("/srv/ledger/store.key.key")


def test_a_signing_key_file_setting_wins_over_the_default() -> None:
    settings = LedgerSettings(database_url="sqlite:///x.db", signing_key_file=Path("/k/x.key"))
    assert settings.key_file == Path("/k/x.key")


def test_a_postgresql_store_without_a_key_file_setting_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="required for a PostgreSQL store"):
        _ = LedgerSettings(database_url="postgresql://postgres@127.0.0.1/x").key_file


@pytest.mark.parametrize(
    "url", ["postgresql://u@h:port/x", "postgresql://u@h:0/x", "postgresql://u@h:70000/x"]
)
def test_a_database_url_with_a_bad_port_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        _ = LedgerSettings(database_url=url).url
    assert refused.value.field == "database_url"
    assert "invalid literal" not in str(refused.value)


@pytest.mark.parametrize("areas", [(), ("housing", "housing"), ("Housing",), ("a b",)])
def test_malformed_priority_areas_are_refused_when_the_settings_are_read(
    areas: tuple[str, ...],
) -> None:
    with pytest.raises(ValidationError, match="priority_areas"):
        LedgerSettings(priority_areas=areas)


def test_settings_for_reading_open_sqlite_read_only_and_create_no_table(tmp_path: Path) -> None:
    settings = LedgerSettings(database_url=f"sqlite:///{tmp_path / 'x.db'}").for_reading()
    env = settings.eventsourcing_env()
    assert env["SQLITE_DBNAME"] == f"file:{tmp_path / 'x.db'}?mode=ro"
    assert env["CREATE_TABLE"] == "n"
    assert settings.sqlalchemy_url().query["uri"] == "true"
