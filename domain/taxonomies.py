"""Reference taxonomies shipped with the package: GCM objectives and guiding principles, GCR areas,
SDGs and their targets, New Urban Agenda paragraphs.

These are public facts (the compacts, the 2030 Agenda, the New Urban Agenda), shipped inside the
package (``domain/data/taxonomies.json``, a copy of ``shared/reference/taxonomies.json`` plus the
SDG target ids and the NUA paragraph range) so that the domain never needs a file outside itself.
Reference data that an institution decides (priority areas, declarations, calls to action) is not
here: it is registered by events on the log (``domain.reference``, ADR 0014).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from domain.errors import UnknownTaxonomyCode
from domain.values import LANGUAGES, Language


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    code: str
    title: str
    short: str
    kind: str
    # Labels by language where the reference data has them (always "en"): the short label, or
    # the title for entries that have no short label.
    labels: tuple[tuple[Language, str], ...] = ()

    def label(self, language: Language) -> str:
        """The entry's label in ``language``, else in English."""
        return dict(self.labels).get(language) or self.short


@dataclass(frozen=True, slots=True)
class Taxonomies:
    """The shipped reference data a pledge's tags are checked against."""

    gcm_objectives: dict[int, TaxonomyEntry]
    gcr_areas: dict[str, TaxonomyEntry]
    sdgs: dict[int, TaxonomyEntry]
    sdg_targets: frozenset[str]
    gcm_principles: dict[str, TaxonomyEntry]
    nua_paragraphs: range

    def check_gcm_objective(self, objective: int) -> None:
        if objective not in self.gcm_objectives:
            raise UnknownTaxonomyCode(
                f"GCM objective {objective} does not exist (1 to 23)", field="gcm_objectives"
            )

    def check_gcr_area(self, area: str) -> None:
        if area not in self.gcr_areas:
            raise UnknownTaxonomyCode(f"unknown GCR area {area!r}", field="gcr_areas")

    def check_sdg_target(self, target: str) -> None:
        """An SDG goal ("10") or one of the 169 targets of the 2030 Agenda ("10.7", "10.c")."""
        known = target in self.sdg_targets or (target.isdigit() and int(target) in self.sdgs)
        if not known or target != target.strip() or target.startswith("0"):
            raise UnknownTaxonomyCode(
                f"unknown SDG goal or target {target!r} (a goal such as '10' or one of its "
                "targets such as '10.7' or '10.c')",
                field="sdg_targets",
            )

    def check_gcm_principle(self, principle: str) -> None:
        if principle not in self.gcm_principles:
            raise UnknownTaxonomyCode(
                f"unknown GCM guiding principle {principle!r}; the ten are: "
                f"{', '.join(self.gcm_principles)}",
                field="gcm_principles",
            )

    def check_nua_paragraph(self, paragraph: int) -> None:
        if paragraph not in self.nua_paragraphs:
            first, last = self.nua_paragraphs[0], self.nua_paragraphs[-1]
            raise UnknownTaxonomyCode(
                f"New Urban Agenda paragraph {paragraph} does not exist ({first} to {last})",
                field="nua_paragraphs",
            )


def _entry(raw: dict[str, Any], kind: str) -> TaxonomyEntry:
    title = str(raw["title"])
    short = str(raw.get("short", title))
    labels: dict[Language, str] = {"en": short}
    for language in LANGUAGES[1:]:
        text = raw.get(f"short_{language}") or raw.get(f"title_{language}")
        if text:
            labels[language] = str(text)
    return TaxonomyEntry(
        code=str(raw["id"]),
        title=title,
        short=short,
        kind=str(raw.get("kind", kind)),
        labels=tuple(labels.items()),
    )


@cache
def reference_taxonomies() -> Taxonomies:
    """The shipped reference data (read once, then cached)."""
    text = resources.files("domain.data").joinpath("taxonomies.json").read_text("utf-8")
    raw = json.loads(text)
    nua = raw["nua_paragraphs"]
    return Taxonomies(
        gcm_objectives={int(o["id"]): _entry(o, "gcm_objective") for o in raw["gcm_objectives"]},
        gcr_areas={str(a["id"]): _entry(a, "gcr_area") for a in raw["gcr_areas"]},
        sdgs={int(s["id"]): _entry(s, "sdg") for s in raw["sdgs"]},
        sdg_targets=frozenset(str(t) for t in raw["sdg_targets"]),
        gcm_principles={
            str(p["id"]): _entry(p, "gcm_guiding_principle") for p in raw["gcm_guiding_principles"]
        },
        nua_paragraphs=range(int(nua["first"]), int(nua["last"]) + 1),
    )
