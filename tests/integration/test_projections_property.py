"""For random histories written through the real ledger, on SQLite and PostgreSQL:

- the views caught up incrementally (random batch sizes, a new runner each time) equal a full
  rebuild, table for table;
- on every day of the history, the as-of queries computed from the log equal what the live
  views showed at the end of that day.
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
from domain.principal import Principal
from ledger.clock import SeededIds, SteppingClock
from ledger.settings import LedgerSettings
from projections import DIMENSIONS, ProjectionRunner, rebuild
from projections.as_of import pledge_as_of, rollups_of, views_as_of
from projections.models import PledgeOut, RollupOut, SilentPledgeOut
from projections.pledge_page import pledge_page as page_of
from projections.pledges import pledge, silent_pledge, silent_pledges
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
                "withdraw",
                "close",
                "erratum",
                "leave",
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
                },
                target=pledge_id,
            )
        elif step.action == "match":
            batch.execute(
                "match_pledge", owner, {"kind": "funder", "funder": "Urban Fund"}, target=pledge_id
            )
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


# --- what the live views show, and what the log says they showed ----------------------------------


@dataclass
class Snapshot:
    rollups: dict[str, list[RollupOut]]
    pages: dict[str, PledgeOut | None]
    silent: list[SilentPledgeOut]


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
            p: pledge_as_of(services.store, p, day, freshness_months=FRESHNESS_MONTHS)
            for p in pledge_ids
        },
        silent=silent,
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
