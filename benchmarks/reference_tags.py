"""What ADR 0014 costs: checking tags against the log's reference data, and the serializer that
keeps the added pledge fields out of old canonical bytes (``exclude_if``).

Two figures, each beside a floor measured in the same run:

- serialising a pledge's content (``model_dump(mode="json")``, what sealing and the read models
  do) with the ``exclude_if`` that drops the added fields while empty, against the same model
  without it;
- submitting pledges through the ledger (parse, decide, seal, append; one batch of ``--pledges``
  commands, SQLite, APPEND_ONLY) naming two priority areas and a call, against the same pledges
  naming none: the difference is loading those streams (cached after the first) and checking.

    python -m benchmarks.reference_tags
    python -m benchmarks.reference_tags --pledges 5000 --repeat 20000
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import create_model

from api.bootstrap import bootstrap
from benchmarks.machine import machine
from domain.events import Model, PledgeContent, PledgeFields
from domain.keys import OPERATOR
from domain.principal import Principal
from ledger.clock import SteppingClock
from ledger.reference_seed import register_reference_seed
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode

NETWORK = Principal("bench-network", "network", "bench")
CONTENT: dict[str, Any] = {
    "cities": ["bench-city"],
    "title": {"en": "Welcome centre", "fr": "Centre d'accueil"},
    "description": {"en": "Orientation, language classes and legal aid."},
    "gcm_objectives": [15, 16],
    "gcr_areas": ["gcr-objective-2"],
    "sdg_targets": ["10.7", "11.1"],
    "starts_on": "2026-01-01",
    "ends_on": "2028-12-31",
    "indicators": [
        {
            "id": "people-served",
            "title": {"en": "People served"},
            "measure": "unit",
            "baseline": {"value": "0", "date": "2026-01-01"},
            "targets": [{"value": "5000", "date": "2028-12-31"}],
        }
    ],
}


def per_second(run: Callable[[], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        run()
    return repeat / (time.perf_counter() - start)


def serialisation(repeat: int) -> tuple[float, float]:
    """(dumps/s with the added fields' exclude_if, dumps/s of the same fields without it)."""
    fields: dict[str, Any] = {}
    for name, info in PledgeFields.model_fields.items():
        plain_info = copy.copy(info)
        plain_info.exclude_if = None
        fields[name] = (info.annotation, plain_info)
    plain_model = create_model("PlainContent", __base__=Model, **fields)  # the floor
    content = PledgeContent.model_validate(CONTENT)
    plain = plain_model.model_validate(CONTENT)
    assert set(plain.model_dump(mode="json")) > set(content.model_dump(mode="json"))
    return (
        per_second(lambda: content.model_dump(mode="json"), repeat),
        per_second(lambda: plain.model_dump(mode="json"), repeat),
    )


def submissions(pledges: int, tagged: bool) -> float:
    """Submissions per second through one batch of the ledger, with or without reference tags."""
    with tempfile.TemporaryDirectory() as directory:
        settings = LedgerSettings(
            database_url=f"sqlite:///{Path(directory) / 'bench.db'}",
            signing_key_file=Path(directory) / "bench.key",
        )
        clock = SteppingClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
        with bootstrap(settings, clock=clock, write_mode=WriteMode.APPEND_ONLY) as services:
            with services.ledger.batch() as batch:
                batch.execute("register_network", OPERATOR, {"id": "bench", "name": {"en": "B"}})
                batch.execute(
                    "register_city",
                    OPERATOR,
                    {"id": "bench-city", "name": {"en": "Bench"}, "country": "MA"},
                )
                batch.execute("join_network", OPERATOR, {"city_id": "bench-city"}, target="bench")
                batch.execute(
                    "issue_key",
                    OPERATOR,
                    {"key_id": NETWORK.key_id, "role": "network", "network_id": "bench"},
                )
                register_reference_seed(batch, OPERATOR, ("housing", "health"))
                batch.execute(
                    "register_call",
                    OPERATOR,
                    {
                        "id": "bench-call",
                        "title": {"en": "Call"},
                        "opens_on": "2026-01-01",
                        "closes_on": "2026-12-31",
                    },
                )
            tags = (
                {"priority_areas": ["housing", "health"], "calls": ["bench-call"]} if tagged else {}
            )
            body = {"network_id": "bench", **CONTENT, **tags}
            start = time.perf_counter()
            with services.ledger.batch() as batch:
                for _ in range(pledges):
                    batch.execute("submit_pledge", NETWORK, body)
            return pledges / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    print(f"machine: {machine()}; load average: {os.getloadavg()}")
    with_serializer, floor = serialisation(args.repeat)
    print(
        f"content model_dump(json): {with_serializer:,.0f}/s with the added fields' exclude_if, "
        f"{floor:,.0f}/s without (floor); ratio floor/with = {floor / with_serializer:.2f}"
    )
    untagged = submissions(args.pledges, tagged=False)
    tagged = submissions(args.pledges, tagged=True)
    print(
        f"submissions through the ledger ({args.pledges} in one batch): "
        f"{tagged:,.0f}/s naming 2 areas and a call, {untagged:,.0f}/s naming none (floor); "
        f"ratio floor/tagged = {untagged / tagged:.2f}"
    )


if __name__ == "__main__":
    main()
