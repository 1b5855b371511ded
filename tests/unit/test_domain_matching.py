"""Two-way matching and errata that correct figures (ADR 0015): every rule and every refusal.

A match lives on its host pledge's stream: one side offers, the other accepts or declines,
either ends it. A funder has no key: a validator answers or offers for it. An erratum supersedes
one observation, named by its progress report, indicator and date, with a corrected value.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from domain.events import (
    MatchAccepted,
    MatchDeclined,
    MatchEnded,
    NewEvent,
    Observation,
    ObservationCorrected,
    invalid_input_from,
)
from domain.pledge import (
    AcceptMatch,
    CorrectObservation,
    DeclineMatch,
    EndMatch,
    MatchPledge,
    PledgeState,
    accept_match,
    correct_observation,
    decline_match,
    end_match,
    match_pledge,
)
from domain.principal import Principal
from tests.unit.domain_builders import (
    OTHER_NETWORK_ID,
    OTHER_PLEDGE_ID,
    PERCENTAGE_INDICATOR,
    QUALITATIVE_INDICATOR,
    UNIT_INDICATOR,
    admin,
    closed,
    fold,
    network_key,
    other_network_key,
    submitted,
    validated,
    validator,
    withdrawn,
)

MATCH = "match-1"
REPORT = "report-event-1"
ON = date(2025, 6, 30)


def host() -> PledgeState:
    return validated()


def supporter(**overrides: Any) -> PledgeState:
    return submitted(pledge_id=OTHER_PLEDGE_ID, network_id=OTHER_NETWORK_ID, **overrides)


def offered(
    state: PledgeState | None = None,
    principal: Principal | None = None,
    supporting: PledgeState | None = None,
    **command: Any,
) -> PledgeState:
    """The host with an open pledge match (offered by the host's network unless told)."""
    state = state or host()
    body = command or {"kind": "pledge", "supporting_pledge_id": OTHER_PLEDGE_ID}
    support = supporting if supporting is not None else supporter()
    if body["kind"] == "funder" and supporting is None:
        support = None  # type: ignore[assignment]
    events = match_pledge(
        state, MatchPledge.model_validate(body), support, principal or network_key(), MATCH
    )
    return fold(state, events)


def accept(
    state: PledgeState, principal: Principal, supporting: PledgeState | None = None
) -> list[NewEvent]:
    return accept_match(state, AcceptMatch(match_id=MATCH), supporting, principal)


def decline(
    state: PledgeState, principal: Principal, supporting: PledgeState | None = None
) -> list[NewEvent]:
    command = DeclineMatch(match_id=MATCH, reason="Not this year")
    return decline_match(state, command, supporting, principal)


def end(
    state: PledgeState, principal: Principal, supporting: PledgeState | None = None
) -> list[NewEvent]:
    return end_match(state, EndMatch(match_id=MATCH, reason="Done"), supporting, principal)


# --- offers ---------------------------------------------------------------------------------------


def test_the_other_side_accepts_an_offer() -> None:
    state = offered()
    [event] = accept(state, other_network_key(), supporter())
    assert event.payload == MatchAccepted(match_id=MATCH)
    assert fold(state, [event]).matches[0].status == "accepted"


def test_the_host_accepts_an_offer_of_the_supporting_side() -> None:
    state = offered(principal=other_network_key())
    [event] = accept(state, network_key(), supporter())
    assert fold(state, [event]).matches[0].status == "accepted"


def test_accepting_your_own_offer_is_refused() -> None:
    with pytest.raises(NotPermitted, match="offered match"):
        accept(offered(), network_key(), supporter())


def test_declining_your_own_offer_is_refused() -> None:
    with pytest.raises(NotPermitted, match="offered match"):
        decline(offered(), network_key(), supporter())


def test_a_third_network_may_not_answer() -> None:
    with pytest.raises(NotPermitted):
        accept(offered(), network_key("third-network"), supporter())


def test_accepting_a_match_twice_is_refused() -> None:
    state = offered()
    state = fold(state, accept(state, other_network_key(), supporter()))
    with pytest.raises(InvalidTransition, match="is accepted"):
        accept(state, other_network_key(), supporter())


def test_accepting_a_declined_match_is_refused() -> None:
    state = offered()
    state = fold(state, decline(state, other_network_key(), supporter()))
    assert state.matches[0].status == "declined"
    with pytest.raises(InvalidTransition, match="is declined"):
        accept(state, other_network_key(), supporter())


def test_accepting_an_ended_match_is_refused() -> None:
    state = offered()
    state = fold(state, end(state, network_key(), supporter()))
    with pytest.raises(InvalidTransition, match="is ended"):
        accept(state, other_network_key(), supporter())


def test_accepting_an_unknown_match_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        accept_match(host(), AcceptMatch(match_id="nope"), None, other_network_key())
    assert caught.value.field == "match_id"


def test_either_side_ends_an_accepted_match() -> None:
    state = offered()
    state = fold(state, accept(state, other_network_key(), supporter()))
    for principal in (network_key(), other_network_key()):
        [event] = end(state, principal, supporter())
        assert event.payload == MatchEnded(match_id=MATCH, reason="Done")


def test_ending_a_match_twice_is_refused() -> None:
    state = offered()
    state = fold(state, end(state, other_network_key(), supporter()))
    with pytest.raises(InvalidTransition, match="already ended"):
        end(state, network_key(), supporter())


def test_an_outsider_may_not_end_a_match() -> None:
    with pytest.raises(NotPermitted):
        end(offered(), network_key("third-network"), supporter())


def test_a_validator_answers_for_a_funder() -> None:
    state = offered(kind="funder", funder="City Fund", amount="10000", currency="EUR")
    [event] = accept(state, validator())
    assert fold(state, [event]).matches[0].status == "accepted"


def test_the_host_answers_a_funders_offer_a_validator_recorded() -> None:
    state = offered(principal=validator(), kind="funder", funder="City Fund")
    [event] = decline(state, network_key())
    assert event.payload == MatchDeclined(match_id=MATCH, reason="Not this year")
    with pytest.raises(NotPermitted, match="offered match"):
        accept(state, validator())


def test_a_network_may_not_answer_for_a_funder() -> None:
    state = offered(kind="funder", funder="City Fund")
    with pytest.raises(NotPermitted):
        accept(state, other_network_key())


# --- withdrawn and closed pledges -----------------------------------------------------------------


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_a_host_that_ends_ends_its_live_matches(ended: Any) -> None:
    state = ended(offered())
    assert [m.status for m in state.matches] == ["ended"]
    with pytest.raises(InvalidTransition):
        accept(state, other_network_key(), supporter())


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_an_ended_supporting_pledge_cannot_be_offered(ended: Any) -> None:
    gone = ended(supporter())
    with pytest.raises(InvalidTransition, match=gone.status):
        offered(supporting=gone)


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_a_match_with_an_ended_supporting_pledge_cannot_be_accepted(ended: Any) -> None:
    state = offered(principal=other_network_key())
    with pytest.raises(InvalidTransition, match="cannot be accepted"):
        accept(state, network_key(), ended(supporter()))


def test_a_match_with_an_ended_supporting_pledge_may_still_be_ended() -> None:
    state = offered()
    state = fold(state, accept(state, other_network_key(), supporter()))
    [event] = end(state, network_key(), withdrawn(supporter()))
    assert event.type == "pledge.match_ended"


# --- what an offer must say -----------------------------------------------------------------------


def test_one_network_owning_both_pledges_cannot_match_them() -> None:
    own = submitted(pledge_id=OTHER_PLEDGE_ID)
    with pytest.raises(InvalidInput, match="two parties"):
        offered(supporting=own)


def test_a_second_offer_to_the_same_party_while_one_is_live_is_refused() -> None:
    with pytest.raises(InvalidTransition, match="already offered"):
        offered(offered())


def test_a_new_offer_after_a_declined_one_is_allowed() -> None:
    state = offered()
    state = fold(state, decline(state, other_network_key(), supporter()))
    events = match_pledge(
        state,
        MatchPledge(kind="pledge", supporting_pledge_id=OTHER_PLEDGE_ID),
        supporter(),
        network_key(),
        "match-2",
    )
    assert [m.status for m in fold(state, events).matches] == ["declined", "offered"]


@pytest.mark.parametrize("amount", ["12.5.0", "1e6", "ten", "", " 10"])
def test_a_funder_amount_that_is_not_a_decimal_string_is_refused(amount: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MatchPledge.model_validate(
            {"kind": "funder", "funder": "Fund", "amount": amount, "currency": "EUR"}
        )
    assert invalid_input_from(caught.value).field == "amount"


def test_a_funder_amount_as_a_json_number_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        MatchPledge.model_validate(
            {"kind": "funder", "funder": "Fund", "amount": 100, "currency": "EUR"}
        )
    assert invalid_input_from(caught.value).field == "amount"


@pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", "XAU", "ABC", "€"])
def test_a_currency_that_is_not_iso_4217_alpha_3_is_refused(currency: str) -> None:
    with pytest.raises(ValidationError) as caught:
        MatchPledge.model_validate(
            {"kind": "funder", "funder": "Fund", "amount": "100", "currency": currency}
        )
    assert invalid_input_from(caught.value).field == "currency"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"amount": "100"}, "currency"), ({"currency": "EUR"}, "amount")],
    ids=["amount_alone", "currency_alone"],
)
def test_an_amount_and_its_currency_come_together(body: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        offered(None, None, None, kind="funder", funder="Fund", **body)
    assert caught.value.field == field


@pytest.mark.parametrize("amount", ["0", "-5"])
def test_a_funder_amount_is_positive(amount: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        offered(kind="funder", funder="Fund", amount=amount, currency="USD")
    assert caught.value.field == "amount"


def test_a_pledge_match_names_no_amount() -> None:
    with pytest.raises(InvalidInput) as caught:
        offered(kind="pledge", supporting_pledge_id=OTHER_PLEDGE_ID, amount="5", currency="USD")
    assert caught.value.field == "amount"


# --- errata that correct figures ------------------------------------------------------------------


def indicators_pledge() -> PledgeState:
    """A validated pledge with a unit, a percentage and a qualitative indicator."""
    return validated()


def reported_observation(indicator_id: str = UNIT_INDICATOR, **fields: Any) -> Observation:
    data = {"indicator_id": indicator_id, "date": ON, "value": "42", **fields}
    return Observation.model_validate(data)


def correct(
    state: PledgeState,
    observed: Observation | None,
    current: ObservationCorrected | None = None,
    principal: Principal | None = None,
    **command: Any,
) -> list[NewEvent]:
    body = {
        "progress_event_id": REPORT,
        "indicator_id": UNIT_INDICATOR,
        "date": "2025-06-30",
        "value": "40",
        "reason": "Double-counted a family",
        **command,
    }
    parsed = CorrectObservation.model_validate(body)
    return correct_observation(state, parsed, observed, current, principal or network_key())


def test_an_erratum_supersedes_an_observation_with_the_value_it_replaces() -> None:
    [event] = correct(indicators_pledge(), reported_observation())
    assert event.type == "pledge.observation_corrected"
    assert event.payload == ObservationCorrected(
        progress_event_id=REPORT,
        indicator_id=UNIT_INDICATOR,
        date=ON,
        previous_value="42",
        value="40",
        reason="Double-counted a family",
    )


def test_a_second_erratum_supersedes_the_first_correction() -> None:
    first = ObservationCorrected(
        progress_event_id=REPORT, indicator_id=UNIT_INDICATOR, date=ON, previous_value="42",
        value="40", reason="first",
    )  # fmt: skip
    [event] = correct(indicators_pledge(), reported_observation(), first, value="41")
    assert isinstance(event.payload, ObservationCorrected)
    assert (event.payload.previous_value, event.payload.value) == ("40", "41")


def test_an_erratum_naming_an_observation_that_does_not_exist_is_refused() -> None:
    with pytest.raises(NotFound) as caught:
        correct(indicators_pledge(), None)
    assert caught.value.field == "progress_event_id"


def test_an_erratum_with_a_value_on_a_qualitative_indicator_is_refused() -> None:
    observed = reported_observation(QUALITATIVE_INDICATOR, value=None, comment="Drafted")
    with pytest.raises(InvalidInput, match="qualitative") as caught:
        correct(indicators_pledge(), observed, indicator_id=QUALITATIVE_INDICATOR, value="3")
    assert caught.value.field == "value"


def test_an_erratum_on_a_qualitative_indicator_corrects_its_comment() -> None:
    observed = reported_observation(QUALITATIVE_INDICATOR, value=None, comment="Drafted")
    [event] = correct(
        indicators_pledge(), observed, indicator_id=QUALITATIVE_INDICATOR, value=None,
        comment="Adopted by the council",
    )  # fmt: skip
    assert isinstance(event.payload, ObservationCorrected)
    assert (event.payload.value, event.payload.comment) == (None, "Adopted by the council")


def test_an_erratum_on_a_qualitative_indicator_without_a_comment_is_refused() -> None:
    observed = reported_observation(QUALITATIVE_INDICATOR, value=None, comment="Drafted")
    with pytest.raises(InvalidInput) as caught:
        correct(indicators_pledge(), observed, indicator_id=QUALITATIVE_INDICATOR, value=None)
    assert caught.value.field == "comment"


def test_an_erratum_without_a_value_on_a_unit_indicator_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        correct(indicators_pledge(), reported_observation(), value=None)
    assert caught.value.field == "value"


def test_a_percentage_correction_stays_within_0_and_100() -> None:
    observed = reported_observation(PERCENTAGE_INDICATOR, value="50")
    with pytest.raises(InvalidInput) as caught:
        correct(indicators_pledge(), observed, indicator_id=PERCENTAGE_INDICATOR, value="101")
    assert caught.value.field == "value"


def test_an_erratum_that_changes_nothing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="nothing to correct"):
        correct(indicators_pledge(), reported_observation(), value="42")


def test_only_the_owning_network_or_an_admin_corrects_figures() -> None:
    assert correct(indicators_pledge(), reported_observation(), principal=admin())
    for principal in (validator(), other_network_key()):
        with pytest.raises(NotPermitted):
            correct(indicators_pledge(), reported_observation(), principal=principal)


@pytest.mark.parametrize("ended", [withdrawn, closed], ids=["withdrawn", "closed"])
def test_figures_of_an_ended_pledge_may_still_be_corrected(ended: Any) -> None:
    [event] = correct(ended(indicators_pledge()), reported_observation())
    assert event.type == "pledge.observation_corrected"
