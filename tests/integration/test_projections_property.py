"""For random histories written through the real ledger, on SQLite and PostgreSQL:

- the views caught up incrementally (random batch sizes, a new runner each time) equal a full
  rebuild, table for table;
- on every day of the history, the as-of queries computed from the log equal what the live
  views showed at the end of that day.

Histories include two-way matches (offers by either side or a validator for a funder, answers,
endings, pledges ended with live matches) and errata that correct reported figures.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from psycopg import sql

from api.bootstrap import Services, bootstrap
from domain.errors import DomainError
from domain.events import ProgressReported
from domain.principal import Principal
from ledger.clock import SeededIds, SteppingClock
from ledger.commands import Batch
from ledger.reference_seed import register_reference_seed
from ledger.settings import LedgerSettings
from projections import DIMENSIONS, ProjectionRunner, rebuild
from projections.as_of import pledge_as_of, rollups_of, views_as_of
from projections.models import PledgeOut, ReferenceItemOut, RollupOut, SilentPledgeOut
from projections.pledge_page import pledge_page as page_of
from projections.pledges import pledge, silent_pledge, silent_pledges
from projections.registry import REFERENCE_KINDS, reference_items, reference_out
from projections.rollups import rollups
from projections.tables import read_snapshot
from tests.integration.ledger_scenario import issue_keys
from tests.integration.test_projections_runner import view_rows

ADMIN = Principal("admin-1", "admin")
VALIDATOR = Principal("validator-1", "validator")
NETWORKS = ("uclg", "metropolis")
CITIES = {"ma-rabat": "MA", "ma-tangier": "MA", "sn-dakar": "SN"}
FRESHNESS_MONTHS = 6
START = date(2025, 1, 6)
PRINCIPLES = ["people-centred", "gender-responsive"]
CALLS = ("call-2025", "call-later")
AREAS = ("housing", "health", "education")


def key(network_id: str) -> Principal:
    return Principal(f"{network_id}-key", "network", network_id)


@contextmanager
def fresh_store(base: LedgerSettings, clock: SteppingClock) -> Iterator[Services]:
    """A new, empty store for one example, on the backend of ``base``."""
    if base.backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            settings = base.model_copy(
                update={"database_url": f"sqlite:///{Path(directory) / 'ledger.db'}"}
            )
            with bootstrap(settings, clock=clock, ids=SeededIds(11)) as services:
                yield services
        return
    schema = f"p_{uuid.uuid4().hex[:12]}"
    settings = base.model_copy(update={"database_schema": schema})
    try:
        with bootstrap(settings, clock=clock, ids=SeededIds(11)) as services:
            yield services
    finally:
        with psycopg.connect(base.database_url, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


# --- random histories -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    days_later: int
    action: str
    which: int
    amount: int


STEPS = st.lists(
    st.builds(
        Step,
        days_later=st.sampled_from([0, 0, 1, 3, 30, 120, 200]),
        action=st.sampled_from(
            [
                "submit",
                "submit",
                "validate",
                "request_changes",
                "amend_material",
                "amend_text",
                "report",
                "report",
                "match",
                "match_pledge",
                "answer_match",
                "answer_match",
                "end_match",
                "correct",
                "withdraw",
                "close",
                "erratum",
                "leave",
                "amend_tags",
                "register_area",
                "retire_area",
                "register_call",
                "translate",
                "add_external_id",
                "remove_external_id",
                "correct_country",
                "correct_network",
                "sign",
                "withdraw_signature",
                "publish",
            ]
        ),
        which=st.integers(min_value=0, max_value=7),
        amount=st.integers(min_value=0, max_value=4000),
    ),
    min_size=1,
    max_size=30,
)


def pledge_body(step: Step) -> dict[str, Any]:
    network_id = NETWORKS[step.which % 2]
    cities = ["ma-rabat", "sn-dakar"] if network_id == "uclg" else ["ma-tangier"]
    indicators: list[dict[str, Any]] = [
        {
            "id": "people-served",
            "title": {"en": "People served"},
            "measure": "unit",
            "ascending": True,
            "baseline": {"value": "0", "date": "2025-01-01"},
            "targets": [{"value": str(step.amount + 1), "date": "2027-12-31"}],
        }
    ]
    if step.which % 3 == 0:
        indicators.append(
            {
                "id": "satisfaction",
                "title": {"en": "Satisfied users"},
                "measure": "percentage",
                "ascending": step.which % 2 == 0,
                "baseline": {"value": "50", "date": "2025-01-01"},
                "targets": [{"value": "80", "date": "2027-12-31"}],
            }
        )
    return {
        "network_id": network_id,
        "cities": cities[: 1 + step.which % len(cities)],
        "title": {"en": f"Pledge {step.which}"},
        "description": {"en": "A random pledge."},
        "gcm_objectives": [1 + step.which, 16],
        "gcr_areas": ["gcr-objective-1"] if step.which % 2 else [],
        "sdg_targets": ["10.7", "11"][: step.which % 3],
        "priority_areas": ["housing"] if step.which > 4 else [],
        # ADR 0014's tags: the call may have closed, an area may be retired (then the rules
        # refuse the submission and nothing is written).
        "gcm_principles": PRINCIPLES[: step.which % 3],
        "nua_paragraphs": [1 + step.amount % 175] if step.which % 2 else [],
        "calls": [CALLS[step.which % len(CALLS)]] if step.which % 3 == 1 else [],
        "starts_on": "2025-01-01",
        "ends_on": "2027-12-31",
        "indicators": indicators,
    }


def run_step(services: Services, step: Step, pledges: list[tuple[str, str]], today: date) -> None:
    """One command in its own batch; the domain may refuse it (then nothing is written)."""
    with services.ledger.batch() as batch:
        if step.action == "publish":
            # A report publication (its own stream, after the pledges' in stream order): it
            # changes no view, and a rebuild cut into runs must still count it.
            digest = hashlib.sha256(f"{step.amount}/{step.which}/{today}".encode()).hexdigest()
            published = {
                "report_sha256": digest,
                "output_sha256": digest,
                "format": "json",
                "as_of": today - timedelta(days=1),
                "framework": ("gcm", "gcr", "all")[step.which % 3],
                "lang": "en",
                "freshness_months": 12,
                "tree_size": 0,
                "checkpoint_tree_size": 0,
            }
            batch.execute("publish_report", ADMIN, published)
            return
        if step.action == "submit" or not pledges:
            body = pledge_body(step)
            result = batch.execute("submit_pledge", key(body["network_id"]), body)
            assert result.pledge_id is not None
            pledges.append((result.pledge_id, body["network_id"]))
            return
        pledge_id, network_id = pledges[step.which % len(pledges)]
        owner = key(network_id)
        if step.action == "validate":
            batch.execute(
                "validate_pledge",
                VALIDATOR,
                {"decision": "validated", "criteria": ["specific"]},
                target=pledge_id,
            )
        elif step.action == "request_changes":
            batch.execute(
                "validate_pledge",
                VALIDATOR,
                {"decision": "changes_requested", "note": "Be specific"},
                target=pledge_id,
            )
        elif step.action == "amend_material":
            scope = {"gcm_objectives": [1 + (step.amount % 23)], "gcr_areas": []}
            batch.execute(
                "amend_pledge", owner, {"changes": scope, "reason": "Scope"}, target=pledge_id
            )
        elif step.action == "amend_text":
            wording = {"description": {"en": f"Revised {step.amount}"}}
            batch.execute(
                "amend_pledge", owner, {"changes": wording, "reason": "Wording"}, target=pledge_id
            )
        elif step.action == "report":
            observations = [
                {"indicator_id": "people-served", "value": f"{step.amount}.5", "date": today}
            ]
            batch.execute(
                "report_progress",
                owner,
                {
                    "period": {"start": today - timedelta(days=30), "end": today},
                    "stage": ("planning", "in_progress", "on_hold", "completed")[step.which % 4],
                    "observations": observations,
                    "support_needed": "A partner for outreach" if step.amount % 2 else "",
                },
                target=pledge_id,
            )
        elif step.action == "match":
            offer: dict[str, Any] = {"kind": "funder", "funder": "Urban Fund"}
            if step.amount % 2:
                offer |= {"amount": f"{step.amount}.25", "currency": "EUR"}
            # The host's network offers, or a validator for the funder.
            offerer = owner if step.which % 2 else VALIDATOR
            batch.execute("match_pledge", offerer, offer, target=pledge_id)
        elif step.action == "match_pledge":
            # Another network's pledge supports this one; either network offers.
            supporting = [p for p, n in pledges if n != network_id]
            if supporting:
                supporter_id = supporting[step.amount % len(supporting)]
                offerer = owner if step.which % 2 else key(NETWORKS[1 - NETWORKS.index(network_id)])
                batch.execute(
                    "match_pledge",
                    offerer,
                    {"kind": "pledge", "supporting_pledge_id": supporter_id},
                    target=pledge_id,
                )
        elif step.action in ("answer_match", "end_match"):
            answer_match(batch, step, pledge_id, network_id)
        elif step.action == "correct":
            correct_reading(batch, step, pledge_id, owner)
        elif step.action == "withdraw":
            batch.execute("withdraw_pledge", owner, {"reason": "No funding"}, target=pledge_id)
        elif step.action == "close":
            outcome = ("fulfilled", "partially_fulfilled", "not_fulfilled")[step.which % 3]
            batch.execute("close_pledge", owner, {"outcome": outcome}, target=pledge_id)
        elif step.action == "erratum":
            first = sorted(batch.load(f"pledge:{pledge_id}").event_ids)[0]
            batch.execute(
                "record_erratum",
                owner,
                {"corrects_event_id": first, "note": "Typo"},
                target=pledge_id,
            )
        elif step.action == "leave":
            batch.execute("leave_network", ADMIN, {"city_id": "ma-rabat"}, target=network_id)
        elif step.action == "amend_tags":
            tags = {
                "gcm_principles": PRINCIPLES[step.which % 2 :],
                "calls": [CALLS[step.amount % len(CALLS)]] if step.amount % 2 else [],
                "priority_areas": [AREAS[step.amount % len(AREAS)]],
            }
            batch.execute(
                "amend_pledge", owner, {"changes": tags, "reason": "Tags"}, target=pledge_id
            )
        elif step.action == "register_area":
            area = {"id": AREAS[step.which % len(AREAS)], "title": {"en": f"Area {step.which}"}}
            batch.execute("register_priority_area", ADMIN, area)
        elif step.action == "retire_area":
            batch.execute(
                "retire_priority_area",
                ADMIN,
                {"reason": "Merged"},
                target=AREAS[step.which % len(AREAS)],
            )
        elif step.action == "register_call":
            call = {
                "id": CALLS[1],
                "title": {"en": "A later call"},
                "opens_on": today,
                "closes_on": today + timedelta(days=step.amount % 90),
            }
            batch.execute("register_call", ADMIN, call)
        elif step.action == "sign":
            city_id = ("ma-rabat", "sn-dakar", "ma-tangier")[step.which % 3]
            batch.execute(
                "sign_declaration",
                ADMIN,
                {"city_id": city_id, "signed_on": today},
                target="marrakech-2018",
            )
        elif step.action == "translate":
            field = ("title", "description", "narrative")[step.which % 3]
            translation: dict[str, Any] = {
                "field": field,
                "language": "fr",
                "text": f"Texte {step.amount}",
            }
            if field == "narrative":
                reports = [
                    e.event_id
                    for e in services.store.read_stream(f"pledge:{pledge_id}")
                    if e.type == "pledge.progress_reported"
                ]
                translation["progress_event_id"] = reports[-1] if reports else "no-such-report"
            batch.execute("translate_pledge", owner, translation, target=pledge_id)
        elif step.action == "add_external_id":
            scheme = ("grf", "gcm", network_id)[step.which % 3]
            external_id = {"scheme": scheme, "value": f"ID-{step.amount % 3}"}
            batch.execute("add_external_id", owner, external_id, target=pledge_id)
        elif step.action == "remove_external_id":
            scheme = ("grf", "gcm", network_id)[step.which % 3]
            removal = {"scheme": scheme, "value": f"ID-{step.amount % 3}", "reason": "Wrong id"}
            batch.execute("remove_external_id", owner, removal, target=pledge_id)
        elif step.action == "correct_country":
            city_id = tuple(CITIES)[step.which % len(CITIES)]
            country = ("MA", "SN", "TN")[step.amount % 3]
            batch.execute(
                "correct_city", ADMIN, {"country": country, "reason": "Wrong"}, target=city_id
            )
        elif step.action == "correct_network":
            name = {"fr": f"Réseau {step.amount}"}
            batch.execute(
                "correct_network", owner, {"name": name, "reason": "French"}, target=network_id
            )
        elif step.action == "withdraw_signature":
            city_id = tuple(CITIES)[step.which % len(CITIES)]
            withdrawal = {"city_id": city_id, "withdrawn_on": "2020-01-01", "reason": "Council"}
            batch.execute("withdraw_signature", ADMIN, withdrawal, target="marrakech-2018")


def answer_match(batch: Batch, step: Step, pledge_id: str, network_id: str) -> None:
    """Accept or decline (or, for ``end_match``, end) one of the pledge's matches, as the side
    that may; an answer the rules refuse writes nothing, like every other step."""
    matches = batch.pledge(pledge_id).matches
    if not matches:
        return
    match = matches[step.amount % len(matches)]
    other = NETWORKS[1 - NETWORKS.index(network_id)]
    if step.action == "end_match":
        principal = key(network_id) if step.which % 2 else key(other)
        if match.kind == "funder" and not step.which % 2:
            principal = VALIDATOR
        body: dict[str, Any] = {"match_id": match.match_id, "reason": "Finished"}
        batch.execute("end_match", principal, body, target=pledge_id)
        return
    if match.answering_side == "host":
        principal = key(network_id)
    else:
        principal = VALIDATOR if match.kind == "funder" else key(other)
    if step.which % 3:
        batch.execute("accept_match", principal, {"match_id": match.match_id}, target=pledge_id)
    else:
        body = {"match_id": match.match_id, "reason": "Not now"}
        batch.execute("decline_match", principal, body, target=pledge_id)


def correct_reading(batch: Batch, step: Step, pledge_id: str, owner: Principal) -> None:
    """An erratum on one of the pledge's reported observations, chosen by ``step``."""
    observed = [
        (envelope.event_id, observation)
        for envelope in batch.stream_envelopes(f"pledge:{pledge_id}")
        if isinstance(payload := envelope.decode_payload(), ProgressReported)
        for observation in payload.observations
    ]
    if not observed:
        return
    event_id, observation = observed[step.amount % len(observed)]
    batch.execute(
        "correct_observation",
        owner if step.which % 4 else ADMIN,
        {
            "progress_event_id": event_id,
            "indicator_id": observation.indicator_id,
            "date": observation.date,
            "value": str(step.amount // (1 + step.which)),
            "reason": "Counted twice",
        },
        target=pledge_id,
    )


def register(services: Services) -> None:
    with services.ledger.batch() as batch:
        issue_keys(batch, ADMIN, VALIDATOR)
        for network_id in NETWORKS:
            batch.execute(
                "register_network", ADMIN, {"id": network_id, "name": {"en": network_id.upper()}}
            )
        for city_id, country in CITIES.items():
            batch.execute(
                "register_city",
                ADMIN,
                {"id": city_id, "name": {"en": city_id[3:].title()}, "country": country},
            )
        for city_id in ("ma-rabat", "sn-dakar"):
            batch.execute("join_network", ADMIN, {"city_id": city_id}, target="uclg")
        batch.execute("join_network", ADMIN, {"city_id": "ma-tangier"}, target="metropolis")
        issue_keys(batch, *(key(network_id) for network_id in NETWORKS))
        register_reference_seed(batch, ADMIN, ("housing",))
        call = {
            "id": CALLS[0],
            "title": {"en": "Call 2025"},
            "opens_on": START,
            "closes_on": START + timedelta(days=200),
        }
        batch.execute("register_call", ADMIN, call)


# --- what the live views show, and what the log says they showed ----------------------------------


@dataclass
class Snapshot:
    rollups: dict[str, list[RollupOut]]
    pages: dict[str, PledgeOut | None]
    silent: list[SilentPledgeOut]
    reference: dict[str, list[ReferenceItemOut]]


def live_snapshot(services: Services, day: date, pledge_ids: list[str]) -> Snapshot:
    with read_snapshot(services.engine) as connection:
        return Snapshot(
            rollups={
                d: rollups(connection, d, today=day, freshness_months=FRESHNESS_MONTHS)
                for d in DIMENSIONS
            },
            pages={
                p: pledge(connection, p, today=day, freshness_months=FRESHNESS_MONTHS)
                for p in pledge_ids
            },
            silent=silent_pledges(connection, today=day, freshness_months=FRESHNESS_MONTHS),
            reference={kind: reference_items(connection, kind) for kind in REFERENCE_KINDS},
        )


def snapshot_from_log(services: Services, day: date, pledge_ids: list[str]) -> Snapshot:
    state = views_as_of(services.store, day).state
    cells = state.rollup_cells()
    silent = sorted(
        (
            silent_pledge(view)
            for view in state.pledges.values()
            if page_of(view, day, FRESHNESS_MONTHS).freshness.silent
        ),
        key=lambda s: (s.silent_since, s.pledge_id),
    )
    return Snapshot(
        rollups={d: rollups_of(cells, d, day, FRESHNESS_MONTHS) for d in DIMENSIONS},
        pages={
            p: pledge_as_of(
                services.store, p, day, freshness_months=FRESHNESS_MONTHS, hosts=pledge_ids
            )
            for p in pledge_ids
        },
        silent=silent,
        reference={
            kind: [
                reference_out(state.reference[k]) for k in sorted(state.reference) if k[0] == kind
            ]
            for kind in REFERENCE_KINDS
        },
    )


@hypothesis_settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=STEPS,
    batch_sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1),
    workers=st.sampled_from([1, 2]),
)
def test_incremental_views_equal_a_rebuild_and_as_of_queries_equal_the_views_of_the_day(
    settings: LedgerSettings, steps: list[Step], batch_sizes: list[int], workers: int
) -> None:
    clock = SteppingClock(datetime.combine(START, time(8), tzinfo=UTC))
    with fresh_store(settings, clock) as services:
        ProjectionRunner(services.engine, services.store).install()
        register(services)
        pledges: list[tuple[str, str]] = []
        frozen: dict[date, Snapshot] = {}
        day = START
        for n, step in enumerate(steps):
            if step.days_later:
                frozen[day] = live_snapshot(services, day, [p for p, _ in pledges])
                day += timedelta(days=step.days_later)
            clock.set(datetime.combine(day, time(9), tzinfo=UTC) + timedelta(seconds=n))
            with suppress(DomainError):  # refused by the rules: nothing was written
                run_step(services, step, pledges, day)
            batch_size = batch_sizes[n % len(batch_sizes)]
            ProjectionRunner(services.engine, services.store, batch_size=batch_size).catch_up()
        frozen[day] = live_snapshot(services, day, [p for p, _ in pledges])
        incremental = view_rows(services.engine)

        rebuild(services.engine, services.store, workers=workers)

        assert view_rows(services.engine) == incremental
        for frozen_day, snapshot in frozen.items():
            pledge_ids = list(snapshot.pages)
            assert snapshot_from_log(services, frozen_day, pledge_ids) == snapshot, frozen_day
