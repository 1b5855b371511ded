"""``pledge-ledger keys issue / list / revoke`` on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import Result

from api.bootstrap import bootstrap
from domain.events import NewEvent, PledgeWithdrawn
from domain.keys import OPERATOR
from ledger.api_keys import KeySecrets, authenticate, revoke_key
from ledger.settings import LedgerSettings
from tests.cli.test_cli_first_hour import environment, run
from tests.conftest import sqlite_settings
from tests.integration.ledger_scenario import UCLG, register_basics, submit_pledge
from tests.integration.test_verify_authority import append_forged


def issue(env: dict[str, str], *options: str) -> Result:
    return run(["keys", "issue", *options, "--json"], env)


def test_issue_prints_the_secret_once_and_it_authenticates(settings: LedgerSettings) -> None:
    env = environment(settings)
    result = issue(env, "--role", "validator", "--label", "vetting desk")
    assert result.exit_code == 0, result.stderr
    printed = orjson.loads(result.stdout)

    with bootstrap(settings) as services:
        secrets = KeySecrets(services.engine, services.ledger.clock)
        principal = authenticate(services.ledger, secrets, printed["secret"])

    assert printed["key_id"] == principal.key_id
    assert principal.role == "validator"


def test_list_shows_keys_and_revocations_but_never_a_secret(settings: LedgerSettings) -> None:
    env = environment(settings)
    printed = orjson.loads(issue(env, "--role", "admin").stdout)
    revoked = run(["keys", "revoke", printed["key_id"], "--reason", "Rotated"], env)
    assert revoked.exit_code == 0, revoked.stderr

    listed = run(["keys", "list", "--json"], env)

    assert listed.exit_code == 0, listed.stderr
    (record,) = orjson.loads(listed.stdout)
    assert record["key_id"] == printed["key_id"]
    assert record["revoked_at"] is not None
    assert record["revocation_reason"] == "Rotated"
    # The secret's own part (base64url: it may hold "_" itself, so split on the key id).
    encoded = printed["secret"].removeprefix(f"plk_{printed['key_id']}_")
    assert len(encoded) > 20
    assert encoded not in listed.stdout


def test_a_network_key_without_network_is_refused_naming_the_option(
    settings: LedgerSettings,
) -> None:
    result = issue(environment(settings), "--role", "network")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --network: a network key names its network"


def test_a_network_key_for_an_unknown_network_is_refused_and_nothing_listed(
    settings: LedgerSettings,
) -> None:
    env = environment(settings)
    result = issue(env, "--role", "network", "--network", "nowhere")
    assert result.exit_code == 1
    assert "--network: network nowhere is not registered" in result.stderr
    assert orjson.loads(run(["keys", "list", "--json"], env).stdout) == []


def test_an_unknown_role_is_a_usage_error(tmp_path: Path) -> None:
    result = issue(environment(sqlite_settings(tmp_path)), "--role", "owner")
    assert result.exit_code == 2
    assert "--role" in result.stderr


def test_revoking_a_key_never_issued_is_refused_naming_it(settings: LedgerSettings) -> None:
    env = environment(settings)
    assert issue(env, "--role", "admin").exit_code == 0
    result = run(["keys", "revoke", "k-0000000000000000"], env)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: KEY_ID: key k-0000000000000000 was never issued"


def test_revoking_twice_is_refused(settings: LedgerSettings) -> None:
    env = environment(settings)
    key_id = orjson.loads(issue(env, "--role", "admin").stdout)["key_id"]
    assert run(["keys", "revoke", key_id], env).exit_code == 0
    result = run(["keys", "revoke", key_id], env)
    assert result.exit_code == 1
    assert "already revoked" in result.stderr


def test_list_creates_no_store(tmp_path: Path) -> None:
    result = run(["keys", "list"], environment(sqlite_settings(tmp_path)))
    assert result.exit_code == 1
    assert "no store" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_revoke_creates_no_store(tmp_path: Path) -> None:
    result = run(["keys", "revoke", "k-1"], environment(sqlite_settings(tmp_path)))
    assert result.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_the_demo_keys_are_listed_as_demo_keys(tmp_path: Path) -> None:
    env = environment(sqlite_settings(tmp_path))
    assert run(["demo", "--pledges", "5", "--json"], env).exit_code == 0

    records = orjson.loads(run(["keys", "list", "--json"], env).stdout)

    assert {record["label"] for record in records} == {"demo key"}
    assert {record["issued_by"] for record in records} == {"operator"}
    assert "demo-admin" in {record["key_id"] for record in records}


def test_verify_of_the_store_names_an_event_recorded_after_its_keys_revocation(
    settings: LedgerSettings,
) -> None:
    with bootstrap(settings) as services:
        register_basics(services)
        pledge_id = submit_pledge(services)
        revoke_key(services.ledger, OPERATOR, UCLG.key_id, "Leaked")
        withdrawal = NewEvent(PledgeWithdrawn(reason="Too late"))
        leaf, event_id = append_forged(services, withdrawal, f"pledge:{pledge_id}", 2, UCLG.key_id)
        services.log.sign(wait=False, force=True)

    result = run(["verify", "--json"], environment(settings))

    assert result.exit_code == 1
    failure = orjson.loads(result.stdout)["failure"]
    assert failure["where"] == f"entry {leaf} (event {event_id})"
    assert "after its revocation" in failure["problem"]
