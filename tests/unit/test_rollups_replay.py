"""The verifier's compact roll-ups fold is held equal to the domain's fold (the read models').

``projections.rollups_replay`` keeps per pledge only what the roll-ups need; the document it
gives must be, byte for byte, what ``recompute_rollups_document`` (every read model folded with
``ViewState``) gives on the same entries.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.events import (
    CityRegistered,
    PledgeAmended,
    PledgeChanges,
    PledgeMatched,
    PledgeValidated,
    ProgressReported,
)
from ledger.envelope import Envelope
from projections.counters import DIMENSIONS
from projections.reports import recompute_rollups_document
from projections.rollups_replay import RollupsReplay
from tests.unit.test_projections_fold import OPERATIONS, START, Log, _random_log, indicator


def compact_document(envelopes: list[Envelope], freshness_months: int) -> dict[str, Any]:
    replay = RollupsReplay()
    fold = replay.fold(freshness_months)
    for envelope in envelopes:
        facts = replay.extract(
            envelope.type,
            envelope.stream_id,
            envelope.recorded_at,
            envelope.decode_payload(),
            envelope.event_id,
        )
        fold.add(facts)
    last = envelopes[-1].recorded_at if envelopes else None
    return fold.document(len(envelopes), last)


def sealed_document(envelopes: list[Envelope], freshness_months: int) -> dict[str, Any]:
    """``compact_document`` through ``extract_sealed`` (stored envelopes, decoded only when the
    facts are in their payloads), as ``projections.history`` folds the log."""
    replay = RollupsReplay()
    fold = replay.fold(freshness_months)
    for envelope in envelopes:
        fold.add(replay.extract_sealed(envelope))
    last = envelopes[-1].recorded_at if envelopes else None
    return fold.document(len(envelopes), last)


def spent_document(
    envelopes: list[Envelope], freshness_months: int, batch: int = 16_384
) -> dict[str, Any]:
    """``compact_document`` through ``finish`` (what the verifier compares, one dimension at a
    time): the same document, and the fold keeps no pledge afterwards."""
    replay = RollupsReplay()
    fold = replay.fold(freshness_months)
    for envelope in envelopes:
        fold.add(replay.extract_sealed(envelope))
    last = envelopes[-1].recorded_at if envelopes else None
    document = fold.finish(len(envelopes), last, batch=batch)
    assert not fold.pledges
    rollups = document["rollups"]
    assert set(rollups) == set(DIMENSIONS)
    listed = {d: list(rollups[d]) for d in rollups}
    assert listed == {d: list(rollups[d]) for d in rollups}  # made again, the same, each time
    assert all(len(rollups[d]) == len(listed[d]) for d in rollups)
    assert all(rollups[d][-1:] == listed[d][-1:] for d in rollups)
    return {**document, "rollups": listed}


def domain_document(envelopes: list[Envelope], freshness_months: int) -> dict[str, Any]:
    return recompute_rollups_document(
        [e.raw for e in envelopes], tree_size=len(envelopes), freshness_months=freshness_months
    )


@settings(max_examples=80, deadline=None)
@given(operations=OPERATIONS, freshness_months=st.sampled_from([1, 3, 12, 120]))
# A figure corrected on the latest reading: the erratum names the report by its event id.
@example(operations=[("submit", 0, 0), ("report", 0, 0), ("correct", 0, 1)], freshness_months=12)
def test_compact_fold_gives_the_document_of_the_domain_fold(
    operations: list[tuple[str, int, int]], freshness_months: int
) -> None:
    log = _random_log(operations)

    expected = domain_document(log.envelopes, freshness_months)
    assert compact_document(log.envelopes, freshness_months) == expected
    assert sealed_document(log.envelopes, freshness_months) == expected
    assert spent_document(log.envelopes, freshness_months) == expected
    assert spent_document(log.envelopes, freshness_months, batch=1) == expected
    assert spent_document(log.envelopes, freshness_months, batch=2) == expected


@settings(max_examples=40, deadline=None)
@given(
    late=st.lists(
        st.tuples(
            st.integers(min_value=-200, max_value=200),  # period end, days from the start
            st.integers(min_value=-200, max_value=200),  # observation date, days from the start
            st.sampled_from(["10", "4999", "5000", "6000.25", None]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_late_reports_and_observations_fold_as_the_domain_folds_them(
    late: list[tuple[int, int, str | None]],
) -> None:
    log = Log().registry()
    log.submit(
        "p1",
        indicators=[indicator(), indicator("rate", "percentage", ascending=False, target="20")],
    )
    for step, (period_days, observed_days, value) in enumerate(late):
        log.on(START + timedelta(days=400 + step))
        end = START + timedelta(days=period_days + 365)
        observed = START + timedelta(days=observed_days + 365)
        log.pledge(
            "p1",
            ProgressReported.model_validate(
                {
                    "period": {"start": (end - timedelta(days=30)).isoformat(), "end": end},
                    "stage": ["planning", "in_progress", "on_hold"][step % 3],
                    "observations": [
                        {"indicator_id": "people-served", "value": value, "date": observed},
                        {"indicator_id": "rate", "value": "25", "date": observed},
                    ],
                }
            ),
        )

    assert compact_document(log.envelopes, 12) == domain_document(log.envelopes, 12)


def test_a_city_registered_after_a_pledge_counts_its_country_only_from_an_amendment() -> None:
    log = Log().registry()
    log.submit("p1", cities=["rabat", "fez"])
    log.add("city:fez", CityRegistered(city_id="fez", name={"en": "Fez"}, country="MA"))
    log.add("city:dakar", CityRegistered(city_id="dakar", name={"en": "Dakar"}, country="SN"))
    log.submit("p2", cities=["fez"])
    changes = PledgeChanges.model_validate({"cities": ["fez", "dakar"]})
    log.pledge("p1", PledgeAmended(changes=changes, reason="More cities", material=False))
    log.pledge("p2", PledgeMatched(kind="pledge", supporting_pledge_id="p1"))

    document = compact_document(log.envelopes, 12)

    assert document == domain_document(log.envelopes, 12)
    countries = {r["key"]: r["pledges"] for r in document["rollups"]["country"]}
    assert countries == {"MA": 2, "SN": 1}


def test_a_pledge_submitted_again_starts_over_as_in_the_domain_fold() -> None:
    log = Log().registry()
    log.submit("p1")
    log.pledge("p1", PledgeValidated(criteria=("specific",)))
    log.on(START + timedelta(days=30)).report("p1", {"people-served": "6000"})
    log.submit("p1", gcm_objectives=[3])

    document = compact_document(log.envelopes, 12)

    assert document == domain_document(log.envelopes, 12)
    assert [r["key"] for r in document["rollups"]["gcm_objective"]] == ["3"]
    assert document["rollups"]["all"][0]["ever_validated"] == 0


def test_a_pledge_event_before_its_submission_cannot_be_replayed() -> None:
    log = Log().registry()
    log.pledge("p1", PledgeValidated(criteria=("specific",)))
    replay = RollupsReplay()
    fold = replay.fold(12)
    for envelope in log.envelopes[:-1]:
        fold.add(
            replay.extract(
                envelope.type,
                envelope.stream_id,
                envelope.recorded_at,
                envelope.decode_payload(),
                envelope.event_id,
            )
        )
    last = log.envelopes[-1]
    facts = replay.extract(
        last.type, last.stream_id, last.recorded_at, last.decode_payload(), last.event_id
    )

    with pytest.raises(InvalidInput, match="before the pledge was submitted"):
        fold.add(facts)


def test_an_empty_log_gives_the_empty_document() -> None:
    assert compact_document([], 12) == domain_document([], 12)
    assert compact_document([], 12)["as_of"] is None


def test_the_document_is_judged_on_the_day_of_the_last_entry() -> None:
    log = Log().registry()
    log.submit("p1")
    log.on(date(2026, 3, 1)).add(
        "city:oran", CityRegistered(city_id="oran", name={"en": "Oran"}, country="DZ")
    )

    document = compact_document(log.envelopes, 12)

    assert document["as_of"] == "2026-03-01"
    assert document == domain_document(log.envelopes, 12)
