"""The command table: one row per command name, each addressing the id its name implies."""

from __future__ import annotations

from typing import get_args

from ledger.commands import COMMANDS, CommandName


def test_every_command_name_has_a_row_in_the_table() -> None:
    assert set(COMMANDS) == set(get_args(CommandName))


def test_pledge_commands_other_than_submission_address_a_pledge() -> None:
    addressed = {name for name, row in COMMANDS.items() if row.target == "pledge_id"}
    pledge_commands = {name for name in COMMANDS if name.endswith("_pledge")}
    assert addressed == pledge_commands - {"submit_pledge"} | {
        "report_progress",
        "record_erratum",
        "add_external_id",
        "remove_external_id",
        "correct_observation",
        "accept_match",
        "decline_match",
        "end_match",
    }
    assert COMMANDS["submit_pledge"].creates_pledge


def test_registry_corrections_address_the_record_they_correct() -> None:
    assert COMMANDS["correct_city"].target == "city_id"
    assert COMMANDS["correct_network"].target == "network_id"
    assert COMMANDS["withdraw_signature"].target == "declaration_id"
