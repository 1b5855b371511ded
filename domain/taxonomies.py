"""Reference taxonomies: GCM objectives, GCR areas, SDGs, and the configurable priority areas.

The GCM/GCR/SDG titles are public facts shipped inside the package (``domain/data``), so that the
domain never needs a file outside itself. Priority areas are configuration: the roadmap announces
seven priority areas to be agreed with the signatory cities, and their final names are not public,
so the default list below is a neutral working list that deployments replace through settings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from domain.errors import UnknownTaxonomyCode

DEFAULT_PRIORITY_AREAS: tuple[str, ...] = (
    "access-to-services",
    "inclusion-and-social-cohesion",
    "decent-work-and-skills",
    "housing",
    "education",
    "health",
    "anti-discrimination",
)

_SDG_TARGET = re.compile(r"^(?P<goal>[1-9]|1[0-7])(?:\.(?P<target>[1-9][0-9]?|[a-z]))?\Z")
_PRIORITY_AREA = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    code: str
    title: str
    short: str
    kind: str


@dataclass(frozen=True, slots=True)
class Taxonomies:
    """The reference data a pledge's tags are checked against."""

    gcm_objectives: dict[int, TaxonomyEntry]
    gcr_areas: dict[str, TaxonomyEntry]
    sdgs: dict[int, TaxonomyEntry]
    priority_areas: tuple[str, ...]

    def with_priority_areas(self, areas: tuple[str, ...]) -> Taxonomies:
        for area in areas:
            if not _PRIORITY_AREA.match(area):
                raise UnknownTaxonomyCode(
                    f"priority area {area!r} must be a lowercase slug", field="priority_areas"
                )
        return Taxonomies(self.gcm_objectives, self.gcr_areas, self.sdgs, tuple(areas))

    def check_gcm_objective(self, objective: int) -> None:
        if objective not in self.gcm_objectives:
            raise UnknownTaxonomyCode(
                f"GCM objective {objective} does not exist (1 to 23)", field="gcm_objectives"
            )

    def check_gcr_area(self, area: str) -> None:
        if area not in self.gcr_areas:
            raise UnknownTaxonomyCode(f"unknown GCR area {area!r}", field="gcr_areas")

    def check_sdg_target(self, target: str) -> None:
        """An SDG goal ("10") or a target of a goal ("10.7", "10.c").

        The reference data lists the 17 goals; targets are checked for their goal and their form.
        """
        match = _SDG_TARGET.match(target)
        if match is None or int(match["goal"]) not in self.sdgs:
            raise UnknownTaxonomyCode(
                f"unknown SDG goal or target {target!r} (e.g. '10' or '10.7')",
                field="sdg_targets",
            )

    def check_priority_area(self, area: str) -> None:
        if area not in self.priority_areas:
            raise UnknownTaxonomyCode(
                f"unknown priority area {area!r}; configured: {', '.join(self.priority_areas)}",
                field="priority_areas",
            )


def _entry(raw: dict[str, Any], kind: str) -> TaxonomyEntry:
    return TaxonomyEntry(
        code=str(raw["id"]),
        title=str(raw["title"]),
        short=str(raw.get("short", raw["title"])),
        kind=str(raw.get("kind", kind)),
    )


@cache
def reference_taxonomies() -> Taxonomies:
    """The shipped reference data with the default priority areas (read once, then cached)."""
    text = resources.files("domain.data").joinpath("taxonomies.json").read_text("utf-8")
    raw = json.loads(text)
    return Taxonomies(
        gcm_objectives={int(o["id"]): _entry(o, "gcm_objective") for o in raw["gcm_objectives"]},
        gcr_areas={str(a["id"]): _entry(a, "gcr_area") for a in raw["gcr_areas"]},
        sdgs={int(s["id"]): _entry(s, "sdg") for s in raw["sdgs"]},
        priority_areas=DEFAULT_PRIORITY_AREAS,
    )
