"""A roll-up as JSON values (``rollup_json``) is what its validated model dumps, in canonical
bytes too: the verifier and the published roll-ups use the values, the API the model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.events import OUTCOMES, STAGES
from domain.pledge import STATUSES
from ledger.canonical import canonical_bytes
from projections.counters import (
    EVER_VALIDATED,
    PLEDGES,
    UNREPORTED,
    IndicatorTotals,
    RollupCells,
    build_rollup,
    rollup_json,
)
from projections.models import RollupOut

NAMES = [
    PLEDGES,
    EVER_VALIDATED,
    *(f"status:{s}" for s in STATUSES),
    *(f"stage:{s}" for s in (*STAGES, UNREPORTED)),
    *(f"outcome:{o}" for o in OUTCOMES),
]
AMOUNTS = st.decimals(min_value=-(10**9), max_value=10**12, places=3, allow_nan=False)
TOTALS = st.builds(
    IndicatorTotals,
    pledges=st.integers(0, 10**6),
    reported=st.integers(0, 10**6),
    met_target=st.integers(0, 10**6),
    baseline=AMOUNTS,
    latest=AMOUNTS,
    target=AMOUNTS,
)
INDICATORS = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=12), st.sampled_from(["unit", "percentage", "qualitative"])
    ),
    unique=True,
    max_size=5,
).flatmap(
    lambda keys: st.tuples(*(st.tuples(st.just(k), TOTALS) for k in keys)).map(
        lambda pairs: [(k[0], k[1], totals) for k, totals in pairs]
    )
)


@given(
    st.dictionaries(st.sampled_from(NAMES), st.integers(0, 10**6)),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    INDICATORS,
    st.dates(date(2018, 1, 1), date(2100, 12, 31)),
    st.integers(1, 120),
    st.text(max_size=20),
)
def test_the_values_are_what_the_model_dumps(
    counters: dict[str, int],
    fresh: int,
    silent: int,
    indicators: list[tuple[str, str, IndicatorTotals]],
    today: date,
    months: int,
    key: str,
) -> None:
    made = rollup_json("city", key, counters, fresh, silent, indicators, today, months)
    model = build_rollup("city", key, counters, fresh, silent, indicators, today, months)

    assert isinstance(model, RollupOut)
    assert model.model_dump(mode="json") == made
    assert canonical_bytes(model.model_dump(mode="json")) == canonical_bytes(made)
    assert RollupOut.model_validate(made) == model


def test_cells_give_the_same_roll_up_as_values_and_as_a_model() -> None:
    cells = RollupCells()
    group = ("network", "uclg")
    cells.counters[group] = {PLEDGES: 3, "status:validated": 2, "status:closed": 1}
    cells.freshness[group] = {("reported", date(2026, 5, 1)): 2, ("open", date(2025, 1, 1)): 1}
    cells.indicators[group] = {
        ("served", "unit"): IndicatorTotals(2, 1, 1, Decimal("1.50"), Decimal("10"), Decimal("20"))
    }
    today = date(2026, 6, 1)

    made = cells.rollup_json("network", "uclg", today, 12)
    model = cells.rollup("network", "uclg", today, 12)

    assert model is not None
    assert made == model.model_dump(mode="json")
    assert made["share_validated"] == "1"
    assert made["indicators"][0]["baseline_total"] == "1.5"  # decimal_text: no trailing zeros
    assert cells.rollup_json("network", "other", today, 12) is None


def test_a_page_of_roll_ups_is_keyed_by_code_point_on_every_backend() -> None:
    """PostgreSQL sorts by the column's collation (a linguistic one puts "ma-zz" after
    "maaa"): a page's keys are compared under "C", so pages follow Python's order."""
    from sqlalchemy.dialects import postgresql, sqlite

    from projections.rollups import page_keys
    from projections.tables import live_tables

    counters = live_tables().rollup_counters
    on_postgres_dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    on_sqlite_dialect = sqlite.dialect()
    query = page_keys(counters, "city", "ma-zz", 10, "postgresql")
    on_postgres = str(query.compile(dialect=on_postgres_dialect))
    on_sqlite = str(
        page_keys(counters, "city", None, 10, "sqlite").compile(dialect=on_sqlite_dialect)
    )

    assert on_postgres.count('COLLATE "C"') == 2  # the order and the comparison with the cursor
    assert "ORDER BY" in on_postgres
    assert "LIMIT" in on_postgres
    assert 'COLLATE "BINARY"' in on_sqlite
