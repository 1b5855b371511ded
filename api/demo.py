"""A deterministic, clearly labelled demo data set: fictional networks and cities, real rules.

Every demo id starts with ``demo-`` and every demo name ends with "(demo)": nothing here is a
real city's pledge. The demo looks like the field (``api.demo_content``): cities with plausible
invented names spread over seven regions, about 1.5 pledges per city with a long tail, pledges
built from themes (language classes, housing, health access, jobs, legal aid, schooling,
anti-discrimination, data, …) tagged only with the GCM objectives, GCR areas, SDG targets and
priority areas that fit them, indicators counted in units, percentages (some descending) or
qualitative milestones, every stage and outcome, closures that agree with the reported progress,
and a few pledges in every pledge's share that deserve a quality flag (closed as fulfilled below
target or with no report, no baseline, target date passed in silence, no indicator or no target).

The schedule streams: cities are registered first, then pledges are planned one at a time, in
the order they are submitted, each as a short plan of steps (``PledgePlan``: vetting,
amendments, matches, progress reports, errata, the ending). The steps of every pledge under way
wait in one heap by time, so memory holds the pledges under way, never the whole plan, and all
commands reach the ledger in time order through its real rules, with its clock driven to each
command's moment. Its keys (an admin, a validator and one per network) are issued on the log by
the local operator and labelled demo keys; they have no secrets, since the demo acts through the
ledger as those principals.

The store remembers that it holds a demo: a ``demo_loads`` row written before the first event
and completed after the last one. A row left incomplete is a partially loaded demo (the load
was interrupted); ``demo_state()`` reads it without writing, so ``verify`` can say so and
``demo --reset`` can tell a demo store, which it may delete, from any other.
"""

from __future__ import annotations

import gc
import heapq
import random
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, inspect, select

from api.bootstrap import Services
from api.demo_content import (
    FUNDERS,
    NETWORKS,
    REGIONS,
    THEMES,
    DemoNetwork,
    IndicatorSpec,
    Region,
    Theme,
)
from api.errors import DemoRefused
from domain.errors import DomainError
from domain.keys import OPERATOR
from domain.pledge import pledge_stream
from domain.principal import Principal
from domain.reference import DEFAULT_PRIORITY_AREAS, call_stream
from domain.taxonomies import Taxonomies
from domain.values import Language
from ledger.clock import SteppingClock
from ledger.commands import Batch, CommandName
from ledger.reference_seed import register_reference_seed
from ledger.write_path import WriteMode
from projections import build_history, rebuild

DEMO_START = date(2018, 12, 1)
FIRST_PLEDGE = date(2019, 1, 15)
ADMIN = Principal("demo-admin", "admin")
VALIDATOR = Principal("demo-validator", "validator")
PLEDGES_PER_CITY = 1.5
DECLARATION = "marrakech-2018"

# One pledge in every QUALITY_CYCLE is planned to deserve each quality flag (when its dates
# allow): enough that the default demo (200 pledges) shows every flag a few times.
QUALITY_CYCLE = 50
FULFILLED_BELOW_TARGET = 0
FULFILLED_WITHOUT_REPORT = 1
NO_BASELINE = 2
OVERDUE_AND_SILENT = 3
NO_INDICATOR = 4
NO_TARGET = 5


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


def network_key(network_id: str) -> Principal:
    return Principal(f"demo-key-{network_id}", "network", network_id)


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8, 0), tzinfo=UTC) + timedelta(seconds=rng.randrange(36000))


Run = Callable[[Batch], None]


@dataclass(frozen=True, slots=True)
class Planned:
    """One command of the demo: when it happens, what kind it is (for the summary), and how it
    runs into a batch."""

    at: datetime
    kind: str
    run: Run


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


# --- cities -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoCity:
    id: str
    name: str
    country: str
    region: Region
    networks: tuple[str, ...]


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in plain).split())


def _city_name(region: Region, rng: random.Random) -> str:
    return rng.choice(region.prefixes) + rng.choice(region.roots) + rng.choice(region.suffixes)


# A network stream folds every join, copying its member set: beyond a few thousand members
# per network, loading a large demo would spend its time there. Large demos get national
# networks, and the wide networks take a smaller share of the cities.
MEMBERS_PER_NETWORK = 2500
NATIONAL_NETWORKS_FROM = 3000


def demo_networks(city_count: int) -> tuple[DemoNetwork, ...]:
    """The demo's networks: the wide ones, and for a large demo one per country."""
    if city_count < NATIONAL_NETWORKS_FROM:
        return NETWORKS
    national = tuple(
        DemoNetwork(
            f"demo-cities-of-{country.lower()}",
            {"en": f"National Cities for Inclusion, {country} (demo)"},
            (f"country:{country}",),
            1.0,
        )
        for region in REGIONS
        for country in region.countries
    )
    return NETWORKS + national


def plan_cities(
    count: int, networks: tuple[DemoNetwork, ...], rng: random.Random
) -> list[DemoCity]:
    """``count`` cities over the regions (by weight), each a member of networks that take
    members in its region (about ``MEMBERS_PER_NETWORK`` at most each) or, failing those, of
    its national network; names unique, ids ``demo-<country>-<name>``."""
    weights = [region.weight for region in REGIONS]
    total_weight = sum(weights)
    share: dict[str, float] = {}
    for network in networks:
        covered = sum(r.weight for r in REGIONS if not network.regions or r.key in network.regions)
        eligible = max(1.0, count * covered / total_weight)
        share[network.id] = min(network.share, MEMBERS_PER_NETWORK / eligible)
    national = {n.regions[0].removeprefix("country:"): n.id for n in networks if n.share == 1.0}
    used: set[str] = set()
    cities: list[DemoCity] = []
    for _ in range(count):
        region = rng.choices(REGIONS, weights)[0]
        country = rng.choice(region.countries)
        name = _city_name(region, rng)
        base = f"demo-{country.lower()}-{_slug(name)}"
        city_id, copy = base, 1
        while city_id in used:
            copy += 1
            city_id = f"{base}-{copy}"
        if copy > 1:
            name = f"{name} {_roman(copy)}"
        used.add(city_id)
        open_to = [n for n in networks if not n.regions or region.key in n.regions]
        joined = tuple(n.id for n in open_to if rng.random() < share[n.id])
        if not joined:
            regional = [n.id for n in open_to if n.regions] or [n.id for n in open_to]
            joined = (national.get(country) or rng.choice(regional),)
        cities.append(DemoCity(city_id, name, country, region, joined))
    return cities


def _roman(number: int) -> str:
    numerals = ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for value, letters in numerals:
        while number >= value:
            out += letters
            number -= value
    return out


# --- one pledge's plan --------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    """A progress report to file: its period, stage and how far the pledge has got by then."""

    start: date
    end: date
    stage: str
    done: float
    """The share of the way from baseline to target reached at the end of the period."""
    evidence: bool


def corrected_reading(value: Decimal) -> Decimal:
    """The demo's corrected figure: about a tenth less (people counted twice), never below
    zero, and never the figure it corrects (the ledger refuses a correction that changes
    nothing: a reading of 0 is corrected up to 1)."""
    if value == 0:
        return Decimal(1)
    return max(Decimal(0), value - 1 - value // 10)


@dataclass(slots=True)
class PledgePlan:
    """One pledge's life as steps in time order. The plan keeps only small parameters; each
    command's body is built when its step runs, from the plan and what earlier steps returned
    (the pledge's id, its submission's and latest report's event ids)."""

    n: int
    network_id: str
    principal: Principal
    cities: tuple[DemoCity, ...]
    theme: Theme
    title: dict[Language, str]
    language: Language | None
    starts_on: date
    ends_on: date
    gcm_objectives: tuple[int, ...]
    gcr_areas: tuple[str, ...]
    sdg_targets: tuple[str, ...]
    priority_areas: tuple[str, ...]
    indicators: tuple[tuple[IndicatorSpec, Decimal | None, Decimal | None, bool], ...]
    """(spec, baseline value, target value, has a baseline) of each indicator."""
    steps: list[PledgeStep] = field(default_factory=list)
    """The steps still to run, the next one last (``PledgeSteps.build`` plans them in time
    order, then reverses them): each is dropped as it runs, with what its closure holds."""
    pledge_id: str = ""
    submitted_event: str = ""
    last_report_event: str = ""
    calls: tuple[str, ...] = ()
    """The calls to action the pledge answers."""
    last_report_end: date | None = None
    last_report_reading: tuple[str, Decimal] | None = None
    """A numeric indicator of the last report and the value it reported (what an erratum on
    figures corrects)."""
    match_id: str = ""
    """The match offered for this pledge, once the offer is stored."""


PledgeRun = Callable[[Batch, PledgePlan], None]
PledgeStep = tuple[datetime, str, PledgeRun]
"""When a step of a pledge runs, its kind, and what it runs. A plan holds tens of thousands of
these at once in a large load: a bare tuple, and the closure is made as the step is taken."""


class DemoSchedule:
    """Every command of the demo, in time order, planned as it is consumed.

    Iterating yields ``Planned`` commands. Cities, network memberships and declaration
    signatures are planned first (the registry holds one small record per city); pledges are
    planned one by one in the order of their submission dates, and the steps of the pledges
    under way wait in a heap.
    """

    def __init__(
        self,
        pledges: int,
        seed: int,
        today: date,
        taxonomies: Taxonomies,
        priority_areas: tuple[str, ...] = DEFAULT_PRIORITY_AREAS,
    ) -> None:
        self.pledges = pledges
        self.priority_areas = priority_areas
        self.seed = seed
        self.today = today
        self.taxonomies = taxonomies
        rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        city_count = max(12, round(pledges / PLEDGES_PER_CITY))
        self.networks = demo_networks(city_count)
        self.cities = plan_cities(city_count, self.networks, rng)
        self._rng = rng
        self._principals = {n.id: network_key(n.id) for n in self.networks}
        self._members: dict[str, list[int]] = {n.id: [] for n in self.networks}
        for index, city in enumerate(self.cities):
            for network_id in city.networks:
                self._members[network_id].append(index)
        # A coprime stride spreads the busiest cities (the long tail's head) over every region.
        self._stride = _coprime_stride(len(self.cities))
        self._recent: dict[str, deque[str]] = {n.id: deque(maxlen=16) for n in self.networks}
        self.signatures = 0
        self.finished: list[str] = []
        """Streams of pledges whose last step has run (the loader releases them)."""

    # --- the merged stream ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[Planned]:
        def moment(item: Planned) -> datetime:
            return item.at

        merged = heapq.merge(self._registry(), self._signatures(), self._pledges(), key=moment)
        for item in merged:
            if item.at.date() < self.today:
                yield item

    def _registry(self) -> Iterator[Planned]:
        start = datetime.combine(DEMO_START, time(9, 0), tzinfo=UTC)
        for principal in (ADMIN, VALIDATOR):
            yield Planned(start - timedelta(minutes=5), "key issued", _issue_key(principal))
        yield from self._reference_data(start - timedelta(minutes=4))
        for n, network in enumerate(self.networks):
            body = {"id": network.id, "name": network.name}
            at = start + timedelta(seconds=20 * n)
            yield Planned(at, "network registered", _as(ADMIN, "register_network", body))
            yield Planned(
                at + timedelta(seconds=10), "key issued", _issue_key(self._principals[network.id])
            )
        # Half a second apart: even a million pledges' cities are registered within days,
        # before the first signature and the first pledge.
        at = start + timedelta(hours=1)
        for city in self.cities:
            label = f"{city.name} (demo)"
            body = {
                "id": city.id,
                "name": {"en": label, "fr": f"{city.name} (démo)", "es": label},
                "country": city.country,
            }
            yield Planned(at, "city registered", _as(ADMIN, "register_city", body))
            for network_id in city.networks:
                at += timedelta(milliseconds=100)
                join = _as(ADMIN, "join_network", {"city_id": city.id}, target=network_id)
                yield Planned(at, "city joined network", join)
            at += timedelta(milliseconds=500)
        # A few registry corrections: names fixed by events, the earlier names kept in history.
        at += timedelta(days=2)
        for city in self.cities[:3]:
            body = {
                "name": {"es": f"{city.name} (demostración)"},
                "reason": "Spanish name corrected (demo).",
            }
            yield Planned(at, "city corrected", _as(ADMIN, "correct_city", body, target=city.id))
            at += timedelta(minutes=1)
        network = self.networks[0]
        body = {
            "name": {"es": f"{network.name['en']} [es] (demo)"},
            "reason": "Spanish name (demo).",
        }
        yield Planned(
            at, "network corrected", _as(ADMIN, "correct_network", body, target=network.id)
        )

    def _reference_data(self, at: datetime) -> Iterator[Planned]:
        """The reference data the demo uses, registered on the log (ADR 0014): the Marrakech
        declaration, the priority areas and a call to action."""
        areas = self.priority_areas

        def run(batch: Batch) -> None:
            register_reference_data(batch, ADMIN, areas)

        yield Planned(at, "reference data registered", run)

    def _signatures(self) -> Iterator[Planned]:
        """Signatures of the Marrakech declaration over the years, by a network of the city.

        The share of signatories falls with the demo's size (a real declaration has hundreds of
        signatories, not tens of thousands), and so does the cost of a declaration stream that
        every signature folds into."""
        rng = random.Random(self.seed * 7919 + 1)  # noqa: S311 - demo data
        count = len(self.cities)
        share = min(0.6, (400 + 0.05 * count) / count)
        planned: list[Planned] = []
        for city in self.cities:
            if rng.random() >= share:
                continue
            signed = DEMO_START + timedelta(days=7 + int(rng.random() ** 3 * 2000))
            principal = self._principals[city.networks[0]]
            body = {"city_id": city.id, "signed_on": signed.isoformat()}
            at = _moment(max(signed, DEMO_START + timedelta(days=8)), rng)
            run = _as(principal, "sign_declaration", body, target=DECLARATION)
            planned.append(Planned(at, "declaration signed", run))
        planned.sort(key=lambda item: item.at)
        self.signatures = sum(1 for item in planned if item.at.date() < self.today)
        return iter(planned)

    def _pledges(self) -> Iterator[Planned]:
        """Submissions in date order, merged with the later steps of the pledges under way."""
        waiting: list[tuple[datetime, int, PledgePlan]] = []
        for n in range(self.pledges):
            plan = self._plan_pledge(n)
            if plan is None:
                continue
            first = plan.steps[-1][0]
            while waiting and waiting[0][0] <= first:
                yield self._next_step(waiting)
            heapq.heappush(waiting, (first, n, plan))
        while waiting:
            yield self._next_step(waiting)

    def _next_step(self, waiting: list[tuple[datetime, int, PledgePlan]]) -> Planned:
        _, n, plan = heapq.heappop(waiting)
        at, kind, run = plan.steps.pop()
        if plan.steps:
            heapq.heappush(waiting, (plan.steps[-1][0], n, plan))
        last = not plan.steps
        finished = self.finished

        def step(batch: Batch) -> None:
            run(batch, plan)
            if last:  # the pledge's story is over: the loader may let the ledger forget it
                finished.append(pledge_stream(plan.pledge_id))

        return Planned(at, kind, step)

    # --- planning one pledge -------------------------------------------------------------------

    def _submission_moment(self, n: int, rng: random.Random) -> datetime:
        """Submission moments rise with n (stratified draws of a distribution that grows over
        the years), so pledges can be planned one at a time in the order they are submitted."""
        span = max(30, (self.today - FIRST_PLEDGE).days - 30)
        share = (n + rng.random()) / self.pledges
        start = datetime.combine(FIRST_PLEDGE, time(0, 0), tzinfo=UTC)
        return start + timedelta(days=share**0.7 * span)

    def _city_for(self, rng: random.Random) -> int:
        """A long tail: a few cities pledge again and again, most once or not at all."""
        count = len(self.cities)
        return (int(count * rng.random() ** 2.2) * self._stride + self.seed) % count

    def _plan_pledge(self, n: int) -> PledgePlan | None:
        rng = random.Random(self.seed * 1_000_003 + n)  # noqa: S311 - demo data
        submitted_at = self._submission_moment(n, rng)
        submitted_on = submitted_at.date()
        if submitted_on >= self.today:
            return None
        city = self.cities[self._city_for(rng)]
        network_id = rng.choice(city.networks)
        cities = [city]
        if rng.random() < 0.1:
            members = self._members[network_id]
            for _ in range(rng.choice((1, 1, 2))):
                other = self.cities[members[rng.randrange(len(members))]]
                if other not in cities:
                    cities.append(other)
        theme = rng.choices(THEMES, [t.weight for t in THEMES])[0]
        language = city.region.language if rng.random() < 0.7 else None
        title = dict(rng.choice(theme.titles))
        quality = n % QUALITY_CYCLE
        starts_on = submitted_on + timedelta(days=rng.randint(0, 90))
        years = rng.choice((1, 2, 2, 3, 4))
        if quality in (FULFILLED_BELOW_TARGET, FULFILLED_WITHOUT_REPORT, OVERDUE_AND_SILENT):
            # These need a target date already past: the shortest span that allows it.
            room = (self.today - starts_on).days - 200
            years = min(years, max(1, room // 365))
        ends_on = starts_on + timedelta(days=365 * years)
        areas = [a for a in theme.priority_areas if a in self.priority_areas]
        plan = PledgePlan(
            n=n,
            network_id=network_id,
            principal=self._principals[network_id],
            cities=tuple(cities),
            theme=theme,
            title=title,
            language=language,
            starts_on=starts_on,
            ends_on=ends_on,
            gcm_objectives=tuple(
                sorted(theme.gcm_objectives[: rng.randint(1, len(theme.gcm_objectives))])
            ),
            gcr_areas=tuple(sorted(rng.sample(theme.gcr_areas, k=_some(rng, theme.gcr_areas)))),
            sdg_targets=tuple(rng.sample(theme.sdg_targets, k=rng.randint(0, 2))),
            priority_areas=tuple(sorted(rng.sample(areas, k=min(len(areas), rng.randint(0, 2))))),
            indicators=self._indicators(theme, quality, rng),
            calls=(str(DEMO_CALL["id"]),) if n % 3 == 0 and _call_open(submitted_on) else (),
        )
        PledgeSteps(self, plan, rng, quality, submitted_at).build()
        return plan if plan.steps else None

    def _indicators(
        self, theme: Theme, quality: int, rng: random.Random
    ) -> tuple[tuple[IndicatorSpec, Decimal | None, Decimal | None, bool], ...]:
        if quality == NO_INDICATOR:
            return ()
        specs = [theme.indicators[0]] + [s for s in theme.indicators[1:] if rng.random() < 0.5]
        chosen = []
        for spec in specs:
            baseline: Decimal | None = None
            target: Decimal | None = None
            if spec.measure != "qualitative":
                baseline = Decimal(rng.randint(*spec.baseline))
                target = Decimal(_round_nicely(rng.randint(*spec.target)))
                if spec.measure == "percentage":
                    target = min(Decimal(100), max(target, baseline + 5))
                elif not spec.ascending:
                    target = min(target, baseline - 1)
                else:
                    target = max(target, baseline + 1)
            chosen.append((spec, baseline, target, quality != NO_BASELINE))
        return tuple(chosen)

    def remember_pledge(self, network_id: str, pledge_id: str) -> None:
        self._recent[network_id].append(pledge_id)

    def supporting_pledge(self, network_id: str, rng: random.Random) -> tuple[str, str] | None:
        """A recent pledge of another network (as the load has reached it), and its network:
        a match joins two networks' pledges (a network does not answer its own offer)."""
        others = [n.id for n in self.networks if n.id != network_id and self._recent[n.id]]
        if not others:
            return None
        other = rng.choice(others)
        return self._recent[other][-1], other

    def principal_of(self, network_id: str) -> Principal:
        return self._principals[network_id]


def _some(rng: random.Random, pool: tuple[str, ...]) -> int:
    if not pool or rng.random() < 0.35:
        return 0
    return rng.randint(1, min(2, len(pool)))


def _round_nicely(value: int) -> int:
    for step in (1000, 100, 50, 10, 5):
        if value >= step * 4:
            return value // step * step
    return value


def _coprime_stride(count: int) -> int:
    stride = 7919  # a prime: coprime with any count it does not divide
    while count % stride == 0:
        stride += 2
    return stride


# A step's closure holds what its command needs and no more: the plan of a pledge under way
# is kept until its last step, and a bulk load keeps tens of thousands of them at once.


def _submitting(schedule: DemoSchedule) -> PledgeRun:
    def run(batch: Batch, plan: PledgePlan) -> None:
        result = batch.execute("submit_pledge", plan.principal, submission_body(plan))
        plan.pledge_id = result.pledge_id or ""
        plan.submitted_event = result.events[0].event_id
        schedule.remember_pledge(plan.network_id, plan.pledge_id)

    return run


def _offering_from_a_pledge(schedule: DemoSchedule, rng: random.Random) -> PledgeRun:
    """A pledge of another network offers support. ``rng`` is the pledge's own: its draw here
    comes after every draw of the pledge's planning."""

    def run(batch: Batch, plan: PledgePlan) -> None:
        found = schedule.supporting_pledge(plan.network_id, rng)
        if found is None:
            return
        supporting, network_id = found
        body = {
            "kind": "pledge",
            "supporting_pledge_id": supporting,
            "note": "Shared staff (demo).",
        }
        try:
            result = batch.execute(
                "match_pledge", schedule.principal_of(network_id), body, target=plan.pledge_id
            )
        except DomainError:
            return  # the supporting pledge ended meanwhile: no offer
        plan.match_id = result.events[0].event_id

    return run


class PledgeSteps:
    """Plans one pledge's steps. Each ``_plan_*`` adds the steps of one part of its life; a new
    kind of step (translations, two-way matches, errata every N pledges) is one more method
    called from ``build``."""

    def __init__(
        self,
        schedule: DemoSchedule,
        plan: PledgePlan,
        rng: random.Random,
        quality: int,
        submitted_at: datetime,
    ) -> None:
        self.schedule = schedule
        self.plan = plan
        self.rng = rng
        self.quality = quality
        self.today = schedule.today
        self.cursor = submitted_at
        self.cut = False
        self.last_done = 0.0
        """How far along the last planned report says the pledge got."""
        self.achievement = self._achievement()
        # The end date as amendments move it (the plan keeps the submitted one).
        self.ends_on = plan.ends_on

    def _achievement(self) -> float:
        """How far along the way to its targets the pledge gets by its end date."""
        if self.quality == FULFILLED_BELOW_TARGET:
            return self.rng.uniform(0.55, 0.85)
        return min(1.25, max(0.1, self.rng.gauss(0.9, 0.3)))

    def build(self) -> None:
        self._add(self.cursor, "pledge submitted", _submitting(self.schedule))
        self._plan_vetting()
        self._plan_translations()
        self._plan_external_ids()
        self._plan_matches()
        reports = self._plan_reports()
        self._plan_errata()
        self._plan_ending(reports)
        self.plan.steps.reverse()  # the next step is taken from the end

    # --- helpers -------------------------------------------------------------------------------

    def _add(self, at: datetime, kind: str, run: PledgeRun) -> bool:
        """Add a step unless it would happen on or after the demo's today; after one that
        would, nothing more happens to the pledge (its story is cut at today)."""
        if self.cut or at.date() >= self.today:
            self.cut = True
            return False
        self.plan.steps.append((at, kind, run))
        self.cursor = at
        return True

    def _later(self, low: int, high: int) -> datetime:
        return self.cursor + timedelta(
            days=self.rng.randint(low, high), seconds=self.rng.randrange(3600)
        )

    @staticmethod
    def _execute(
        name: CommandName, body: dict[str, Any], *, principal: Principal | None = None
    ) -> PledgeRun:
        return Executing(name, body, principal)

    # --- the parts of a pledge's life ----------------------------------------------------------

    def _plan_vetting(self) -> None:
        """Most pledges are validated, some only after requested changes, some never vetted; a
        validated pledge may have its end date moved (material: vetted again)."""
        rng = self.rng
        roll = rng.random()
        unmeasurable = not self.plan.indicators
        if roll < 0.12 or (unmeasurable and roll < 0.5):
            criteria = ["measurable"] if unmeasurable else ["time_bound"]
            note = (
                "Please add an indicator with a target."
                if unmeasurable
                else "Please give a target date for the first year."
            )
            request = {"decision": "changes_requested", "criteria": criteria, "note": note}
            self._add(
                self._later(5, 40),
                "changes requested",
                self._execute("validate_pledge", request, principal=VALIDATOR),
            )
            reason = "Answering the validator's request (demo)"
            changes: dict[str, Any] = {
                "description": {
                    "en": f"Demo pledge {self.plan.n + 1}, revised after review: "
                    f"{self.plan.theme.action['en']}."
                }
            }
            self._add(
                self._later(3, 30),
                "pledge amended",
                self._execute("amend_pledge", {"changes": changes, "reason": reason}),
            )
            roll = 0.0 if rng.random() < 0.8 else 1.0
        if roll >= 0.88:
            return  # never vetted: it stays awaiting validation
        criteria = ["specific", "relevant", "aligned_with_compacts"]
        if self.plan.indicators:
            criteria += ["measurable", "time_bound"]
        validated = {"decision": "validated", "criteria": criteria}
        self._add(
            self._later(5, 60),
            "pledge validated",
            self._execute("validate_pledge", validated, principal=VALIDATOR),
        )
        if rng.random() < 0.2 and self.ends_on < self.today - timedelta(days=400):
            new_end = self.ends_on + timedelta(days=rng.choice((90, 180, 365)))
            moved = {"changes": {"ends_on": new_end.isoformat()}, "reason": "Funding cycle moved"}
            if self._add(
                self._later(60, 300), "pledge amended", self._execute("amend_pledge", moved)
            ):
                self.ends_on = new_end
                if rng.random() < 0.7:
                    revalidated = {"decision": "validated", "criteria": ["time_bound"]}
                    self._add(
                        self._later(5, 45),
                        "pledge validated",
                        self._execute("validate_pledge", revalidated, principal=VALIDATOR),
                    )

    def _plan_translations(self) -> None:
        """One pledge in eight has its title translated later (a translation, not an
        amendment: it never sends a validated pledge back to validation)."""
        if self.rng.random() >= 0.125:
            return
        description = submission_body(self.plan)["description"]
        missing = [lang for lang in ("fr", "es") if lang not in description]
        if not missing:
            return
        language = self.rng.choice(missing)
        text = {
            "fr": f"Engagement de démonstration {self.plan.n + 1} (traduction).",
            "es": f"Compromiso de demostración {self.plan.n + 1} (traducción).",
        }[language]
        body = {"field": "description", "language": language, "text": text}
        self._add(self._later(2, 60), "pledge translated", self._execute("translate_pledge", body))

    def _plan_external_ids(self) -> None:
        """One pledge in ten also carries the id it has on a forum's platform or in its
        network's own records."""
        roll = self.rng.random()
        if roll >= 0.1:
            return
        n = self.plan.n + 1
        body = (
            {"scheme": "grf", "value": f"GRF-DEMO-{n:06d}"}
            if roll < 0.05
            else {"scheme": self.plan.network_id, "value": f"DEMO/{n:06d}"}
        )
        self._add(self._later(1, 90), "external id added", self._execute("add_external_id", body))

    def _plan_matches(self) -> None:
        """A funder offers support to a few pledges (recorded by a validator, as funders have
        no key); a pledge of another network offers support to fewer. The host's network
        accepts most offers, declines some; a few accepted matches end later."""
        rng = self.rng
        roll = rng.random()
        if roll >= 0.07:
            return
        if roll < 0.04:
            funder = rng.choice(FUNDERS)
            amount = f"{rng.randint(5, 200) * 1000}.00"
            body = {
                "kind": "funder",
                "funder": funder,
                "amount": amount,
                "currency": rng.choice(("EUR", "USD", "CHF")),
                "note": "Co-funding offered (demo).",
            }
            offer = self._offer(body, VALIDATOR)
        else:
            offer = _offering_from_a_pledge(self.schedule, self.rng)
        if not self._add(self._later(1, 60), "match offered", offer):
            return
        answer = rng.random()
        if answer < 0.75:
            accepted = self._answer("accept_match", {"note": "Thank you (demo)."})
            if self._add(self._later(3, 45), "match accepted", accepted) and rng.random() < 0.2:
                ending = self._answer("end_match", {"reason": "The support was delivered (demo)."})
                self._add(self._later(120, 400), "match ended", ending)
        elif answer < 0.9:
            declined = self._answer("decline_match", {"reason": "Already funded (demo)."})
            self._add(self._later(3, 45), "match declined", declined)

    @staticmethod
    def _offer(body: dict[str, Any], principal: Principal) -> PledgeRun:
        def run(batch: Batch, plan: PledgePlan) -> None:
            try:
                result = batch.execute("match_pledge", principal, body, target=plan.pledge_id)
            except DomainError:
                return  # e.g. the pledge ended meanwhile: the offer is not made
            plan.match_id = result.events[0].event_id

        return run

    @staticmethod
    def _answer(name: CommandName, body: dict[str, Any]) -> PledgeRun:
        """The host's network answers (or ends) the pledge's match, if an offer was made."""

        def run(batch: Batch, plan: PledgePlan) -> None:
            if not plan.match_id:
                return
            try:
                batch.execute(
                    name, plan.principal, {**body, "match_id": plan.match_id}, target=plan.pledge_id
                )
            except DomainError:
                return  # e.g. the other side ended it first

        return run

    def _plan_reports(self) -> int:
        """Half-yearly reports from the start date; a third of pledges fall silent after a few,
        some never report at all (and the quality cycle's silent ones)."""
        rng, plan = self.rng, self.plan
        if self.quality in (FULFILLED_WITHOUT_REPORT, OVERDUE_AND_SILENT):
            return 0
        silent_after = rng.randint(0, 5) if rng.random() < 0.33 else 99
        if self.quality == FULFILLED_BELOW_TARGET:
            silent_after = 99
        duration = max(1, (self.ends_on - plan.starts_on).days)
        period_start = plan.starts_on
        filed = 0
        while filed < silent_after:
            period_end = min(period_start + timedelta(days=182), self.ends_on)
            report_day = period_end + timedelta(days=rng.randint(5, 40))
            if report_day >= self.today or period_end <= period_start:
                break
            elapsed = (period_end - plan.starts_on).days / duration
            done = self.achievement * min(1.0, elapsed) * rng.uniform(0.85, 1.0)
            if period_end >= self.ends_on:
                done = self.achievement
            stage = _stage(elapsed, filed, done, rng)
            report = Report(period_start, period_end, stage, done, rng.random() < 0.3)
            self.last_done = done
            at = max(self.cursor, _moment(report_day, rng))
            if not self._add(at, "progress reported", Reporting(report, filed)):
                break
            filed += 1
            period_start = period_end + timedelta(days=1)
            if period_end >= self.ends_on:
                break
        return filed

    def _plan_errata(self) -> None:
        if self.rng.random() < 0.02:

            def erratum(batch: Batch, plan: PledgePlan) -> None:
                corrected = plan.last_report_event or plan.submitted_event
                what = "the figures of this report" if plan.last_report_event else "a date"
                body = {"corrects_event_id": corrected, "note": f"Corrects {what} (demo)."}
                batch.execute("record_erratum", plan.principal, body, target=plan.pledge_id)

            self._add(self._later(1, 30), "erratum recorded", erratum)
        if self.rng.random() < 0.04:

            def correction(batch: Batch, plan: PledgePlan) -> None:
                if plan.last_report_reading is None or plan.last_report_end is None:
                    return
                indicator_id, value = plan.last_report_reading
                body = {
                    "progress_event_id": plan.last_report_event,
                    "indicator_id": indicator_id,
                    "date": plan.last_report_end.isoformat(),
                    "value": str(corrected_reading(value)),
                    "reason": "Some people were counted twice (demo).",
                }
                batch.execute("correct_observation", plan.principal, body, target=plan.pledge_id)

            self._add(self._later(1, 30), "figures corrected", correction)

    def _plan_ending(self, reports: int) -> None:
        """Closed after the end date, with an outcome that matches the last report (but for the
        quality cycle's pledges closed as fulfilled below target or with no report at all);
        some withdrawn; the rest stay open, reporting or silent."""
        rng = self.rng
        if self.quality == OVERDUE_AND_SILENT:
            return
        closing = self.quality in (FULFILLED_BELOW_TARGET, FULFILLED_WITHOUT_REPORT)
        if self.ends_on < self.today and (closing or rng.random() < 0.6):
            day = max(self.cursor.date(), self.ends_on) + timedelta(days=rng.randint(10, 120))
            if closing:
                outcome = "fulfilled"
            elif reports == 0:
                outcome = rng.choice(("partially_fulfilled", "not_fulfilled"))
            else:
                outcome = _outcome(self.last_done)
            note = f"Closed at the end of the pledge (demo): {outcome.replace('_', ' ')}."
            body = {"outcome": outcome, "note": note}
            self._add(_moment(day, rng), "pledge closed", self._execute("close_pledge", body))
        elif rng.random() < 0.04:
            body = {"reason": "The programme lost its funding (demo)."}
            self._add(
                self._later(30, 400), "pledge withdrawn", self._execute("withdraw_pledge", body)
            )


def _stage(elapsed: float, filed: int, done: float, rng: random.Random) -> str:
    if filed == 0 and elapsed < 0.3:
        return rng.choice(("not_started", "planning", "planning"))
    if elapsed >= 1.0:
        return "completed" if done >= 0.5 else "in_progress"
    return "on_hold" if rng.random() < 0.06 else "in_progress"


def _outcome(achievement: float) -> str:
    if achievement >= 1.0:
        return "fulfilled"
    if achievement >= 0.5:
        return "partially_fulfilled"
    return "not_fulfilled"


def _title(plan: PledgePlan) -> dict[str, str]:
    title = {"en": f"{plan.title['en']} (demo)"}
    if plan.language == "fr":
        title["fr"] = f"{plan.title['fr']} (démo)"
    elif plan.language == "es":
        title["es"] = f"{plan.title['es']} (demo)"
    return title


def _city_names(plan: PledgePlan) -> str:
    names = [city.name for city in plan.cities]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def submission_body(plan: PledgePlan) -> dict[str, Any]:
    """The submission command of a planned pledge."""
    action = plan.theme.action
    description = {"en": f"Demo pledge {plan.n + 1}: {_city_names(plan)} will {action['en']}."}
    if plan.language == "fr":
        description["fr"] = f"Engagement de démonstration {plan.n + 1} : {action['fr']}."
    elif plan.language == "es":
        description["es"] = f"Compromiso de demostración {plan.n + 1}: {action['es']}."
    return {
        "network_id": plan.network_id,
        "cities": [city.id for city in plan.cities],
        "title": _title(plan),
        "description": description,
        "gcm_objectives": list(plan.gcm_objectives),
        "gcr_areas": list(plan.gcr_areas),
        "sdg_targets": list(plan.sdg_targets),
        "priority_areas": list(plan.priority_areas),
        "calls": list(plan.calls),
        "starts_on": plan.starts_on.isoformat(),
        "ends_on": plan.ends_on.isoformat(),
        "indicators": [_indicator(plan, *chosen) for chosen in plan.indicators],
    }


def _indicator(
    plan: PledgePlan,
    spec: IndicatorSpec,
    baseline: Decimal | None,
    target: Decimal | None,
    with_baseline: bool,
) -> dict[str, Any]:
    languages: tuple[Language, ...] = ("en", plan.language) if plan.language else ("en",)
    body: dict[str, Any] = {
        "id": spec.id,
        "title": {lang: spec.title[lang] for lang in languages},
        "measure": spec.measure,
        "ascending": spec.ascending,
    }
    start, end = plan.starts_on.isoformat(), plan.ends_on.isoformat()
    if spec.measure == "qualitative":
        if with_baseline:
            body["baseline"] = {"date": start, "comment": "Not in place yet"}
        body["targets"] = [{"date": end, "comment": spec.milestone}]
    else:
        if with_baseline:
            body["baseline"] = {"value": str(baseline), "date": start}
        body["targets"] = [{"value": str(target), "date": end}]
    if plan.n % QUALITY_CYCLE == NO_TARGET:
        body["targets"] = []
    return body


@dataclass(frozen=True, slots=True)
class Reporting:
    """The step that files a report (a callable object, not a closure: a large load keeps
    hundreds of thousands of steps planned)."""

    report: Report
    filed: int
    """How many reports the pledge filed before this one."""

    def __call__(self, batch: Batch, plan: PledgePlan) -> None:
        body = report_body(plan, self.report, self.filed)
        result = batch.execute("report_progress", plan.principal, body, target=plan.pledge_id)
        plan.last_report_event = result.events[0].event_id
        plan.last_report_end = self.report.end
        # The first numeric reading of this report: what an erratum on figures may correct.
        plan.last_report_reading = next(
            (
                (o["indicator_id"], Decimal(o["value"]))
                for o in body["observations"]
                if "value" in o
            ),
            None,
        )


@dataclass(frozen=True, slots=True)
class Executing:
    """The step that runs one command on the pledge, as its network's key unless ``principal``
    is given (a callable object, as ``Reporting``)."""

    name: CommandName
    body: dict[str, Any]
    principal: Principal | None = None

    def __call__(self, batch: Batch, plan: PledgePlan) -> None:
        principal = self.principal or plan.principal
        batch.execute(self.name, principal, self.body, target=plan.pledge_id)


def report_body(plan: PledgePlan, report: Report, filed: int) -> dict[str, Any]:
    end = report.end.isoformat()
    observations = []
    for spec, baseline, target, _ in plan.indicators:
        if spec.measure == "qualitative":
            reached = report.done >= 1.0 and report.stage == "completed"
            comment = spec.milestone if reached else "In preparation"
            observations.append({"indicator_id": spec.id, "date": end, "comment": comment})
            continue
        start, goal = baseline or Decimal(0), target or Decimal(0)  # numbers have both
        value = start + (goal - start) * Decimal(str(round(report.done, 3)))
        if spec.measure == "percentage":
            value = min(Decimal(100), max(Decimal(0), value))
        value = max(Decimal(0), value).quantize(Decimal(1))
        observations.append({"indicator_id": spec.id, "value": str(value), "date": end})
    narrative = {"en": f"Half-year report {filed + 1} (demo): {report.stage.replace('_', ' ')}."}
    if plan.language == "fr":
        narrative["fr"] = f"Rapport semestriel {filed + 1} (démo)."
    elif plan.language == "es":
        narrative["es"] = f"Informe semestral {filed + 1} (demo)."
    evidence = []
    if report.evidence:
        digest = random.Random(f"{plan.n}:{filed}").getrandbits(256)  # noqa: S311 - demo data
        evidence.append(
            {
                "url": f"https://example.org/demo/{plan.n + 1}/report-{filed + 1}.pdf",
                "sha256": f"{digest:064x}",
                "title": "Report to the city council (demo)",
            }
        )
    body: dict[str, Any] = {
        "period": {"start": report.start.isoformat(), "end": end},
        "stage": report.stage,
        "observations": observations,
        "narrative": narrative,
        "evidence": evidence,
    }
    if random.Random(f"support:{plan.n}:{filed}").random() < 0.08:  # noqa: S311 - demo data
        body["support_needed"] = "Interpreters and a partner to run evening classes (demo)."
    return body


# --- registry commands ---------------------------------------------------------------------------


def _issue_key(principal: Principal) -> Run:
    """Issue a demo principal's key on the log, as the local operator. It gets no secret: the
    demo acts through the ledger as that principal, and no one can use the key over HTTP."""
    body = {
        "key_id": principal.key_id,
        "role": principal.role,
        "network_id": principal.network_id,
        "label": "demo key",
    }
    return _as(OPERATOR, "issue_key", body)


def _as(
    principal: Principal, name: CommandName, body: dict[str, Any], *, target: str | None = None
) -> Run:
    def run(batch: Batch) -> None:
        batch.execute(name, principal, body, target=target)

    return run


# --- loading -------------------------------------------------------------------------------------


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

    A bulk load (the ledger's ``WriteMode.BULK_LOAD``): ``batch_size`` commands per commit, the
    log integrated and a checkpoint signed, at the demo's time, after every commit, so bundles
    carry a history; the read models are built once at the end (a rebuild folds far faster than
    catching up batch by batch: benchmarks/RESULTS.md), with ``rebuild_workers`` processes.
    ``progress`` is told the days of the demo's history loaded so far, and how many there are.
    """
    if services.store.max_notification_id():
        raise DemoRefused("the demo loads only into an empty store; this one already has events")
    ledger = services.ledger
    if ledger.mode is not WriteMode.BULK_LOAD:
        raise DemoRefused(
            "the demo is a bulk load: bootstrap it with write_mode=WriteMode.BULK_LOAD",
            field="write_mode",
        )
    clock = ledger.clock
    if not isinstance(clock, SteppingClock):
        raise DemoRefused(
            "the demo drives the ledger's clock: bootstrap it with a SteppingClock", field="clock"
        )
    today = today or datetime.now(UTC).date()
    schedule = DemoSchedule(
        pledges, seed, today, ledger.taxonomies, services.settings.priority_areas
    )
    mark_demo_started(services.engine, pledges=pledges, seed=seed)
    total_days = max(1, (today - DEMO_START).days)
    counts: dict[str, int] = {}
    commands = events = 0
    first: datetime | None = None
    last: datetime | None = None
    batch = ledger.new_batch()
    in_batch = 0
    for item in schedule:
        clock.set(item.at)
        item.run(batch)
        counts[item.kind] = counts.get(item.kind, 0) + 1
        commands += 1
        in_batch += 1
        first = first or item.at
        last = item.at
        if in_batch == batch_size:
            events += batch.event_count
            ledger.commit(batch)
            ledger.release(schedule.finished)
            schedule.finished.clear()
            batch, in_batch = ledger.new_batch(), 0
            if progress is not None:
                progress(min(total_days, (item.at.date() - DEMO_START).days), total_days)
    if in_batch:
        events += batch.event_count
        ledger.commit(batch)
    if progress is not None:
        progress(total_days, total_days)
    planned = (len(schedule.networks), len(schedule.cities), schedule.signatures)
    # What the load kept (the plans and streams of pledges under way, the city registry) is
    # let go before the read models and the history are built: their peaks do not add to it.
    del schedule, batch
    ledger.release_all()
    gc.collect()
    rebuild(services.engine, services.store, workers=rebuild_workers)
    build_history(services.engine, services.store)  # as-of roll-ups read it (ADR 0017)
    mark_demo_finished(services.engine, events=events)
    return DemoSummary(
        networks=planned[0],
        cities=planned[1],
        signatures=planned[2],
        pledges=counts.get("pledge submitted", 0),
        commands=commands,
        events=events,
        first_recorded=first.isoformat() if first else "",
        last_recorded=last.isoformat() if last else "",
        counts=dict(sorted(counts.items())),
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
