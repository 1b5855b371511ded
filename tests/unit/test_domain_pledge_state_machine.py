"""Property: any sequence of lifecycle commands keeps the pledge state machine's invariants.

Hypothesis draws sequences of commands (each valid in itself) and runs them through the decision
functions, folding the accepted events with ``evolve_pledge``. The expected behaviour comes from
the state table in ``domain.pledge``'s docstring, written out again below as an oracle, so the
fold is checked against the documented machine rather than against itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidTransition, NotFound
from domain.events import NewEvent, Outcome, Payload, PledgeValidated
from domain.pledge import (
    ENDED,
    LIVE_MATCH,
    STATUSES,
    AcceptMatch,
    AmendPledge,
    ClosePledge,
    EndMatch,
    MatchPledge,
    PledgeState,
    RecordErratum,
    Status,
    ValidatePledge,
    WithdrawPledge,
    accept_match,
    amend_pledge,
    close_pledge,
    end_match,
    evolve_pledge,
    match_pledge,
    record_erratum,
    report_progress,
    vet_pledge,
    withdraw_pledge,
)
from domain.registry import CityState, NetworkState
from domain.taxonomies import reference_taxonomies
from tests.unit.domain_builders import (
    TODAY,
    fold,
    network_key,
    progress_command,
    reference_tags,
    submit,
    submitted,
    validator,
)

ACTIONS = (
    "amend_material",
    "amend_non_material",
    "validate",
    "request_changes",
    "report",
    "match",
    "withdraw",
    "close",
    "erratum",
    "accept_match",
    "end_match",
)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
FIRST_EVENT_ID = "event-0"

NETWORK = NetworkState("cities-for-all", {"en": "Cities for all"}, frozenset({"rabat"}))
CITIES: dict[str, CityState | None] = {"rabat": CityState("rabat", {"en": "Rabat"}, "MA")}


def decide(action: str, state: PledgeState, step: int) -> list[NewEvent]:
    """Run one command; every command is valid in itself, so only the lifecycle may refuse it."""
    owner = network_key(state.network_id)
    taxonomies = reference_taxonomies()
    commands: dict[str, Callable[[], list[NewEvent]]] = {
        "amend_material": lambda: amend_pledge(
            state,
            AmendPledge.model_validate(
                {"changes": {"title": {"en": f"Title {step}"}}, "reason": "retitled"}
            ),
            NETWORK,
            CITIES,
            owner,
            taxonomies,
            reference_tags(),
        ),
        "amend_non_material": lambda: amend_pledge(
            state,
            AmendPledge.model_validate(
                {"changes": {"description": {"en": f"Description {step}"}}, "reason": "clarified"}
            ),
            NETWORK,
            CITIES,
            owner,
            taxonomies,
            reference_tags(),
        ),
        "validate": lambda: vet_pledge(
            state, ValidatePledge(decision="validated", criteria=("specific",)), validator()
        ),
        "request_changes": lambda: vet_pledge(
            state, ValidatePledge(decision="changes_requested", note=f"Fix {step}"), validator()
        ),
        "report": lambda: report_progress(state, progress_command(), owner, TODAY),
        "match": lambda: match_pledge(
            state, MatchPledge(kind="funder", funder=f"Fund {step}"), None, owner, f"m-{step}"
        ),
        # a validator answers for the funder; the first match still open, if any
        "accept_match": lambda: accept_match(
            state, AcceptMatch(match_id=_first_match(state, "offered")), None, validator()
        ),
        "end_match": lambda: end_match(
            state, EndMatch(match_id=_first_match(state, "accepted"), reason="done"), None, owner
        ),
        "withdraw": lambda: withdraw_pledge(state, WithdrawPledge(reason="stopped"), owner),
        "close": lambda: close_pledge(
            state, ClosePledge(outcome=OUTCOMES[step % len(OUTCOMES)]), owner, TODAY
        ),
        "erratum": lambda: record_erratum(
            state,
            RecordErratum(corrects_event_id=FIRST_EVENT_ID, note="typo"),
            frozenset({FIRST_EVENT_ID}),
            owner,
        ),
    }
    return commands[action]()


def _first_match(state: PledgeState, status: str) -> str:
    return next((m.match_id for m in state.matches if m.status == status), "no-such-match")


def accepted_in(action: str, status: Status) -> bool:
    """The documented machine: which commands each status accepts."""
    if status in ENDED:
        return action == "erratum"
    if action in ("validate", "request_changes"):
        return status == "awaiting_validation"
    return True


def status_after(action: str, status: Status) -> Status:
    """The documented machine: where an accepted command leads."""
    match action:
        case "amend_material":
            return "awaiting_validation"
        case "amend_non_material":
            return "awaiting_validation" if status == "changes_requested" else status
        case "validate":
            return "validated"
        case "request_changes":
            return "changes_requested"
        case "withdraw":
            return "withdrawn"
        case "close":
            return "closed"
        case _:
            return status


def replay(payloads: list[Payload]) -> PledgeState | None:
    state: PledgeState | None = None
    for payload in payloads:
        state = evolve_pledge(state, payload)
    return state


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS), max_size=16))
def test_lifecycle_commands_keep_the_state_machine_invariants(actions: list[str]) -> None:
    payloads: list[Payload] = [event.payload for event in submit()]
    state = fold(None, payloads)
    for step, action in enumerate(actions):
        before = state.status
        if action in ("accept_match", "end_match"):
            wanted = "offered" if action == "accept_match" else "accepted"
            if not any(m.status == wanted for m in state.matches):
                # An ended pledge ended its live matches: nothing is left to answer or end.
                with pytest.raises(NotFound):
                    decide(action, state, step)
                continue
        if not accepted_in(action, before):
            with pytest.raises(InvalidTransition):
                decide(action, state, step)
            continue
        events = decide(action, state, step)
        for event in events:
            state = evolve_pledge(state, event.payload)
            payloads.append(event.payload)

        assert state.status == status_after(action, before)
        assert state.status in STATUSES
        assert state.ended == (state.status in ENDED)
        assert (state.outcome is not None) == (state.status == "closed")
        assert state.ever_validated == any(isinstance(p, PledgeValidated) for p in payloads)
        if state.ended:
            assert all(m.status not in LIVE_MATCH for m in state.matches)
        assert len({m.match_id for m in state.matches}) == len(state.matches)
    assert replay(payloads) == state


def run(actions: list[str]) -> PledgeState:
    """Fold the accepted commands of ``actions``, skipping those the lifecycle refuses."""
    state = submitted()
    for step, action in enumerate(actions):
        try:
            state = fold(state, decide(action, state, step))
        except (InvalidTransition, NotFound):  # NotFound: no match to accept or end
            continue
    return state


@settings(max_examples=100, deadline=None)
@given(
    history=st.lists(st.sampled_from(ACTIONS), max_size=12),
    ending=st.sampled_from(["withdraw", "close"]),
)
def test_after_a_pledge_ends_only_an_erratum_is_accepted(history: list[str], ending: str) -> None:
    state = run([*history, ending])
    assert state.ended
    for step, action in enumerate(ACTIONS, start=len(history) + 1):
        if action == "erratum":
            assert fold(state, decide(action, state, step)) == state
        elif action in ("accept_match", "end_match"):
            # The ending ended every live match: none is left to accept or end.
            with pytest.raises(NotFound):
                decide(action, state, step)
        else:
            with pytest.raises(InvalidTransition):
                decide(action, state, step)
