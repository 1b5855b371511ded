"""A deterministic, clearly labelled demo data set: fictional networks and cities, real rules.

Every demo id starts with ``demo-`` and every demo name ends with "(demo)": nothing here is a
real city's pledge. The generator plans each pledge's whole life first (submission, validation,
amendments, progress reports, silence, matches, errata, withdrawal or closure), then replays all
commands of all pledges in time order through the real ledger, driving its clock, so the demo
passes through exactly the rules production data does. Its keys (an admin, a validator and one
per network) are issued on the log by the local operator and labelled demo keys; they have no
secrets, since the demo acts through the ledger as those principals.

The store remembers that it holds a demo: a ``demo_loads`` row written before the first event
and completed after the last one. A row left incomplete is a partially loaded demo (the load
was interrupted); ``demo_state()`` reads it without writing, so ``verify`` can say so and
``demo --reset`` can tell a demo store, which it may delete, from any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, inspect, select

from api.bootstrap import Services
from api.errors import DemoRefused
from domain.keys import OPERATOR
from domain.principal import Principal
from domain.reference import call_stream
from domain.taxonomies import Taxonomies
from ledger.clock import SteppingClock
from ledger.commands import Batch
from ledger.reference_seed import register_reference_seed
from ledger.write_path import WriteMode
from projections import build_history, rebuild

DEMO_START = date(2018, 12, 1)
FIRST_PLEDGE = date(2019, 1, 15)
ADMIN = Principal("demo-admin", "admin")
VALIDATOR = Principal("demo-validator", "validator")


def network_key(network_id: str) -> Principal:
    return Principal(f"demo-key-{network_id}", "network", network_id)


NETWORKS: tuple[tuple[str, dict[str, str]], ...] = (
    (
        "demo-welcoming-cities",
        {
            "en": "Welcoming Cities Network (demo)",
            "fr": "Réseau des villes accueillantes (démo)",
            "es": "Red de Ciudades Acogedoras (demo)",
        },
    ),
    (
        "demo-coastal-mayors",
        {"en": "Coastal Mayors Forum (demo)", "fr": "Forum des maires côtiers (démo)"},
    ),
    (
        "demo-inland-alliance",
        {"en": "Inland Cities Alliance (demo)", "es": "Alianza de Ciudades del Interior (demo)"},
    ),
    ("demo-new-neighbours", {"en": "New Neighbours Network (demo)"}),
)
COUNTRIES = (
    "MA",
    "SN",
    "KE",
    "CO",
    "MX",
    "EC",
    "ES",
    "IT",
    "DE",
    "TR",
    "JO",
    "LB",
    "UG",
    "BR",
    "CA",
    "PH",
)
SYLLABLES = (
    "ma",
    "ri",
    "lo",
    "san",
    "ve",
    "ta",
    "ka",
    "no",
    "bel",
    "dor",
    "mi",
    "sa",
    "lu",
    "ren",
    "ko",
    "ha",
)

TITLES = (
    ("One-stop welcome centre for newcomers", "Guichet unique d'accueil des nouveaux arrivants"),
    ("Language classes for adult newcomers", "Cours de langue pour adultes nouvellement arrivés"),
    ("Legal aid desk for migrants", "Permanence d'aide juridique pour les migrants"),
    ("Access to municipal health services", "Accès aux services municipaux de santé"),
    ("Recognition of foreign qualifications", "Reconnaissance des qualifications étrangères"),
    ("Anti-discrimination campaign in schools", "Campagne contre les discriminations à l'école"),
    ("Emergency shelter for displaced families", "Hébergement d'urgence pour familles déplacées"),
    ("Local data on migrant inclusion", "Données locales sur l'inclusion des migrants"),
)


@dataclass(order=True)
class PlannedCommand:
    at: datetime
    sequence: int
    run: Callable[[Batch, dict[int, str]], Any] = field(compare=False)


@dataclass
class DemoSummary:
    networks: int
    cities: int
    signatures: int
    pledges: int
    commands: int
    events: int
    first_recorded: str
    last_recorded: str
    counts: dict[str, int]


def _issue_demo_key(principal: Principal, batch: Batch, _: dict[int, str]) -> None:
    """Issue a demo principal's key on the log, as the local operator. It gets no secret: the
    demo acts through the ledger as that principal, and no one can use the key over HTTP."""
    body = {
        "key_id": principal.key_id,
        "role": principal.role,
        "network_id": principal.network_id,
        "label": "demo key",
    }
    batch.execute("issue_key", OPERATOR, body)


DEMO_CALL = {
    "id": "demo-call-imrf-2022",
    "title": {
        "en": "Call to action for the IMRF 2022 (demo)",
        "fr": "Appel à l'action pour le FEMI 2022 (démo)",
    },
    "opens_on": "2019-01-01",
    "closes_on": "2022-05-20",
}
"""A demo call to action; one pledge in three submitted while it is open answers it."""


def register_reference_data(
    batch: Batch, principal: Principal, priority_areas: tuple[str, ...]
) -> None:
    """Register the reference data the demo uses, by events: the seed (the Marrakech Mayors
    Declaration, the priority areas) and the demo's call to action."""
    register_reference_seed(batch, principal, priority_areas)
    if batch.load(call_stream(str(DEMO_CALL["id"]))).version == 0:
        batch.execute("register_call", principal, DEMO_CALL)


def _call_open(day: date) -> bool:
    return str(DEMO_CALL["opens_on"]) <= day.isoformat() <= str(DEMO_CALL["closes_on"])


def _register_network(body: dict[str, Any], batch: Batch, _: dict[int, str]) -> None:
    batch.execute("register_network", ADMIN, body)


def _register_city(body: dict[str, Any], batch: Batch, _: dict[int, str]) -> None:
    batch.execute("register_city", ADMIN, body)


def _join_network(network_id: str, body: dict[str, Any], batch: Batch, _: dict[int, str]) -> None:
    batch.execute("join_network", ADMIN, body, target=network_id)


def _sign_declaration(
    principal: Principal, body: dict[str, Any], batch: Batch, _: dict[int, str]
) -> None:
    batch.execute("sign_declaration", principal, body, target="marrakech-2018")


def _report_progress(
    principal: Principal, n: int, body: dict[str, Any], batch: Batch, ids: dict[int, str]
) -> None:
    batch.execute("report_progress", principal, body, target=ids[n])


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(36000))


def _city_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


class DemoPlan:
    """All commands of the demo, in the order they happen."""

    def __init__(
        self,
        pledges: int,
        seed: int,
        today: date,
        taxonomies: Taxonomies,
        priority_areas: tuple[str, ...],
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        self.today = today
        self.taxonomies = taxonomies
        self.priority_areas = priority_areas
        self.commands: list[PlannedCommand] = []
        self.sequence = 0
        self.counts: dict[str, int] = {}
        self.city_ids: list[str] = []
        self.members: dict[str, list[str]] = {network_id: [] for network_id, _ in NETWORKS}
        self.signatures = 0
        self._plan_registry(max(8, pledges // 15))
        for n in range(pledges):
            self._plan_pledge(n)
        self.commands.sort()

    def _add(self, at: datetime, kind: str, run: Callable[[Batch, dict[int, str]], Any]) -> None:
        if at.date() >= self.today:
            return  # planned after the demo's "today": it has not happened yet
        self.sequence += 1
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.commands.append(PlannedCommand(at, self.sequence, run))

    def _plan_registry(self, city_count: int) -> None:
        rng = self.rng
        start = datetime.combine(DEMO_START, time(9, 0), tzinfo=UTC)
        for principal in (ADMIN, VALIDATOR):
            self._add(
                start - timedelta(minutes=5), "key issued", partial(_issue_demo_key, principal)
            )
        self._add(
            start - timedelta(minutes=2),
            "reference data registered",
            lambda batch, _: register_reference_data(batch, ADMIN, self.priority_areas),
        )
        for n, (network_id, network_name) in enumerate(NETWORKS):
            body = {"id": network_id, "name": network_name}
            self._add(
                start + timedelta(minutes=n),
                "network registered",
                partial(_register_network, body),
            )
            self._add(
                start + timedelta(minutes=n, seconds=30),
                "key issued",
                partial(_issue_demo_key, network_key(network_id)),
            )
        used: set[str] = set()
        for n in range(city_count):
            country = rng.choice(COUNTRIES)
            name = _city_name(rng)
            city_id = f"demo-{country.lower()}-{name.lower()}"
            while city_id in used:
                name = _city_name(rng)
                city_id = f"demo-{country.lower()}-{name.lower()}-{n}"
            used.add(city_id)
            self.city_ids.append(city_id)
            label = f"{name} (demo)"
            body = {
                "id": city_id,
                "name": {"en": label, "fr": label.replace("demo", "démo")},
                "country": country,
            }
            at = start + timedelta(hours=1, seconds=n)
            self._add(at, "city registered", partial(_register_city, body))
            networks = rng.sample([nid for nid, _ in NETWORKS], k=rng.choice((1, 1, 2)))
            for network_id in networks:
                self.members[network_id].append(city_id)
                join = {"city_id": city_id}
                self._add(
                    at + timedelta(hours=2),
                    "city joined network",
                    partial(_join_network, network_id, join),
                )
            if rng.random() < 0.6:
                signed = DEMO_START + timedelta(days=7 + int(rng.random() ** 3 * 2000))
                network = networks[0]
                principal = network_key(network)
                sign = {"city_id": city_id, "signed_on": signed.isoformat()}
                self.signatures += 1
                self._add(
                    _moment(max(signed, DEMO_START + timedelta(days=8)), rng),
                    "declaration signed",
                    partial(_sign_declaration, principal, sign),
                )

    def _plan_pledge(self, n: int) -> None:
        rng = self.rng
        network_id = rng.choice([nid for nid, members in self.members.items() if members])
        principal = network_key(network_id)
        members = self.members[network_id]
        cities = rng.sample(members, k=min(len(members), rng.choice((1, 1, 1, 2))))
        span_days = max(30, (self.today - FIRST_PLEDGE).days - 30)
        submitted_on = FIRST_PLEDGE + timedelta(days=int(rng.random() ** 0.7 * span_days))
        starts_on = submitted_on + timedelta(days=rng.randint(0, 90))
        ends_on = starts_on + timedelta(days=rng.choice((365, 730, 1095, 1460)))
        title_en, title_fr = rng.choice(TITLES)
        objectives = sorted(rng.sample(range(1, 24), k=rng.randint(1, 3)))
        gcr = sorted(rng.sample(sorted(self.taxonomies.gcr_areas), k=rng.choice((0, 0, 1))))
        # Capped by the configured list, which may hold a single area; the draw stays the same.
        wanted = rng.choice((0, 1, 1, 2))
        areas = self.priority_areas
        priority = sorted(rng.sample(areas, k=min(wanted, len(areas))))
        target = rng.choice((500, 1000, 2500, 5000, 12000))
        indicators: list[dict[str, Any]] = [
            {
                "id": "people-served",
                "title": {"en": "People served", "fr": "Personnes accompagnées"},
                "measure": "unit",
                "ascending": True,
                "baseline": {"value": "0", "date": starts_on.isoformat()},
                "targets": [{"value": str(target), "date": ends_on.isoformat()}],
            }
        ]
        with_rate = rng.random() < 0.4
        if with_rate:
            indicators.append(
                {
                    "id": "satisfaction-rate",
                    "title": {"en": "Users satisfied (%)"},
                    "measure": "percentage",
                    "ascending": True,
                    "baseline": {"value": "50", "date": starts_on.isoformat()},
                    "targets": [{"value": "80", "date": ends_on.isoformat()}],
                }
            )
        body = {
            "network_id": network_id,
            "cities": cities,
            "title": {"en": f"{title_en} (demo)", "fr": f"{title_fr} (démo)"},
            "description": {
                "en": f"Demo pledge {n + 1}: {title_en.lower()} for newcomers and residents alike."
            },
            "gcm_objectives": objectives,
            "gcr_areas": gcr,
            "sdg_targets": rng.sample(
                ["10.7", "11.1", "4.5", "8.8", "16.9", "5.1"], k=rng.randint(0, 2)
            ),
            "priority_areas": priority,
            "calls": [DEMO_CALL["id"]] if n % 3 == 0 and _call_open(submitted_on) else [],
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "indicators": indicators,
        }

        def submit(b: Batch, ids: dict[int, str], body: dict[str, Any] = body) -> None:
            ids[n] = b.execute("submit_pledge", principal, body).pledge_id or ""

        cursor = _moment(submitted_on, rng)
        self._add(cursor, "pledge submitted", submit)

        def later(days_low: int, days_high: int) -> datetime:
            nonlocal cursor
            cursor = cursor + timedelta(
                days=rng.randint(days_low, days_high), seconds=rng.randrange(3600)
            )
            return cursor

        def fits() -> bool:
            return cursor.date() < self.today

        # Vetting: most are validated, some only after requested changes, some never looked at.
        roll = rng.random()
        if roll < 0.15:
            self._add(
                later(5, 40),
                "changes requested",
                lambda b, ids: b.execute(
                    "validate_pledge",
                    VALIDATOR,
                    {
                        "decision": "changes_requested",
                        "criteria": ["measurable"],
                        "note": "Please add a measurable target for the second year.",
                    },
                    target=ids[n],
                ),
            )
            self._add(
                later(3, 30),
                "pledge amended",
                lambda b, ids: b.execute(
                    "amend_pledge",
                    principal,
                    {
                        "changes": {
                            "description": {"en": f"Demo pledge {n + 1}, revised after review."}
                        },
                        "reason": "Answering the validator's request",
                    },
                    target=ids[n],
                ),
            )
            roll = 0.0 if rng.random() < 0.8 else 1.0
        if roll < 0.85:
            self._add(
                later(5, 60),
                "pledge validated",
                lambda b, ids: b.execute(
                    "validate_pledge",
                    VALIDATOR,
                    {"decision": "validated", "criteria": ["specific", "measurable", "time_bound"]},
                    target=ids[n],
                ),
            )
            if rng.random() < 0.25:
                new_end = ends_on + timedelta(days=rng.choice((90, 180, 365)))
                self._add(
                    later(60, 300),
                    "pledge amended",
                    lambda b, ids: b.execute(
                        "amend_pledge",
                        principal,
                        {
                            "changes": {"ends_on": new_end.isoformat()},
                            "reason": "Funding cycle moved",
                        },
                        target=ids[n],
                    ),
                )
                if rng.random() < 0.7:
                    self._add(
                        later(5, 45),
                        "pledge validated",
                        lambda b, ids: b.execute(
                            "validate_pledge",
                            VALIDATOR,
                            {"decision": "validated", "criteria": ["specific", "time_bound"]},
                            target=ids[n],
                        ),
                    )
        if rng.random() < 0.05:
            funder = rng.choice(("Demo Urban Fund", "Demo Solidarity Foundation"))
            self._add(
                later(1, 60),
                "pledge matched",
                lambda b, ids: b.execute(
                    "match_pledge", principal, {"kind": "funder", "funder": funder}, target=ids[n]
                ),
            )

        # Progress: half-yearly reports; a third of pledges fall silent at some point.
        silent_after = rng.randint(0, 6) if rng.random() < 0.35 else 99
        served = 0
        period_start = starts_on
        reports = 0
        while reports < silent_after:
            period_end = min(period_start + timedelta(days=182), ends_on)
            report_day = period_end + timedelta(days=rng.randint(5, 40))
            if report_day >= self.today or period_end <= period_start:
                break
            served += rng.randint(0, target // 4)
            observations = [
                {
                    "indicator_id": "people-served",
                    "value": str(served),
                    "date": period_end.isoformat(),
                }
            ]
            if with_rate:
                observations.append(
                    {
                        "indicator_id": "satisfaction-rate",
                        "value": str(rng.randint(40, 95)),
                        "date": period_end.isoformat(),
                    }
                )
            stage = "in_progress" if period_end < ends_on else "completed"
            report = {
                "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
                "stage": stage if rng.random() > 0.05 else "on_hold",
                "observations": observations,
                "narrative": {"en": f"Half-year report {reports + 1} (demo)."},
                "evidence": [
                    {
                        "url": f"https://example.org/demo/{n + 1}/report-{reports + 1}.pdf",
                        "sha256": f"{rng.getrandbits(256):064x}",
                    }
                ]
                if rng.random() < 0.3
                else [],
            }
            cursor = max(cursor, _moment(report_day, rng))
            self._add(
                cursor,
                "progress reported",
                partial(_report_progress, principal, n, report),
            )
            reports += 1
            period_start = period_end + timedelta(days=1)
            if period_end >= ends_on:
                break

        # Ending: closed after the end date, some withdrawn; errata here and there.
        if rng.random() < 0.02:

            def erratum(b: Batch, ids: dict[int, str]) -> None:
                first = next(iter(sorted(b.load(f"pledge:{ids[n]}").event_ids)))
                b.execute(
                    "record_erratum",
                    principal,
                    {
                        "corrects_event_id": first,
                        "note": "Corrects the number of people served (demo).",
                    },
                    target=ids[n],
                )

            self._add(later(1, 30), "erratum recorded", erratum)
        ending = rng.random()
        if ends_on < self.today and ending < 0.6:
            closing_day = max(cursor.date(), ends_on) + timedelta(days=rng.randint(10, 120))
            if closing_day < self.today:
                outcome = rng.choice(
                    ("fulfilled", "fulfilled", "partially_fulfilled", "not_fulfilled")
                )
                cursor = _moment(closing_day, rng)
                self._add(
                    cursor,
                    "pledge closed",
                    lambda b, ids: b.execute(
                        "close_pledge",
                        principal,
                        {"outcome": outcome, "note": "Closed at the end of the pledge (demo)."},
                        target=ids[n],
                    ),
                )
        elif ending > 0.96:
            later(30, 400)
            if fits():
                self._add(
                    cursor,
                    "pledge withdrawn",
                    lambda b, ids: b.execute(
                        "withdraw_pledge",
                        principal,
                        {"reason": "The programme lost its funding (demo)."},
                        target=ids[n],
                    ),
                )


def load_demo(
    services: Services,
    *,
    pledges: int = 200,
    seed: int = 2018,
    today: date | None = None,
    batch_size: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    rebuild_workers: int = 1,
) -> DemoSummary:
    """Load the demo into an empty store, replaying its commands in time order.

    A bulk load (the ledger's ``WriteMode.BULK_LOAD``): the log is integrated and a checkpoint
    signed, at the demo's time, after every batch, so bundles carry a history; the read models
    are built once at the end (a rebuild folds far faster than catching up batch by batch:
    benchmarks/RESULTS.md), with ``rebuild_workers`` processes, then the roll-ups' history
    that as-of queries read (``projections.build_history``).
    """
    if services.store.max_notification_id():
        raise DemoRefused("the demo loads only into an empty store; this one already has events")
    if services.ledger.mode is not WriteMode.BULK_LOAD:
        raise DemoRefused(
            "the demo is a bulk load: bootstrap it with write_mode=WriteMode.BULK_LOAD",
            field="write_mode",
        )
    clock = services.ledger.clock
    if not isinstance(clock, SteppingClock):
        raise DemoRefused(
            "the demo drives the ledger's clock: bootstrap it with a SteppingClock", field="clock"
        )
    today = today or datetime.now(UTC).date()
    plan = DemoPlan(
        pledges, seed, today, services.ledger.taxonomies, services.settings.priority_areas
    )
    mark_demo_started(services.engine, pledges=pledges, seed=seed)
    ids: dict[int, str] = {}
    total = len(plan.commands)
    done = 0
    events = 0
    for start in range(0, total, batch_size):
        with services.ledger.batch() as batch:
            for command in plan.commands[start : start + batch_size]:
                clock.set(command.at)
                command.run(batch, ids)
            events += batch.event_count
        done = min(total, start + batch_size)
        if progress is not None:
            progress(done, total)
    rebuild(services.engine, services.store, workers=rebuild_workers)
    build_history(services.engine, services.store)  # as-of roll-ups read it (ADR 0017)
    mark_demo_finished(services.engine, events=events)
    return DemoSummary(
        networks=len(NETWORKS),
        cities=len(plan.city_ids),
        signatures=plan.signatures,
        pledges=plan.counts.get("pledge submitted", 0),
        commands=total,
        events=events,
        first_recorded=plan.commands[0].at.isoformat() if plan.commands else "",
        last_recorded=plan.commands[-1].at.isoformat() if plan.commands else "",
        counts=dict(sorted(plan.counts.items())),
    )


def demo_clock() -> SteppingClock:
    return SteppingClock(datetime.combine(DEMO_START, time(0, 0), tzinfo=UTC))


# --- the store's record of its demo -----------------------------------------------------------

_demo_metadata = MetaData()
demo_loads = Table(
    "demo_loads",
    _demo_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("pledges", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_events", BigInteger, nullable=True),
)


@dataclass(frozen=True, slots=True)
class DemoState:
    """What the store says about the demo loaded into it."""

    pledges: int
    seed: int
    started_at: str
    finished_events: int | None
    """How many events the finished demo stored; None while (or if) the load is incomplete."""

    @property
    def partial(self) -> bool:
        return self.finished_events is None


def mark_demo_started(engine: Engine, *, pledges: int, seed: int) -> None:
    _demo_metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(demo_loads.delete())
        connection.execute(
            demo_loads.insert().values(
                id=1,
                pledges=pledges,
                seed=seed,
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
                finished_events=None,
            )
        )


def mark_demo_finished(engine: Engine, *, events: int) -> None:
    with engine.begin() as connection:
        connection.execute(demo_loads.update().values(finished_events=events))


def demo_state(engine: Engine) -> DemoState | None:
    """The store's demo record, or None if no demo was ever loaded into it (reads only)."""
    if not inspect(engine).has_table(demo_loads.name):
        return None
    with engine.connect() as connection:
        row = connection.execute(select(demo_loads)).first()
    if row is None:
        return None
    return DemoState(
        pledges=int(row.pledges),
        seed=int(row.seed),
        started_at=row.started_at,
        finished_events=None if row.finished_events is None else int(row.finished_events),
    )
