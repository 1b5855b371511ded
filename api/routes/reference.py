"""Public reads of the reference data: what the log registered (priority areas, declarations,
calls to action) and the taxonomies shipped with the package, with their labels in en/fr/es.

The writes (``POST`` on the same paths, admin) are in ``api.routes.writes``, through the one
write path; ADR 0014 says why these lists live on the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path

from api.dependencies import ServicesDep
from domain.taxonomies import TaxonomyEntry, reference_taxonomies
from projections import read_snapshot
from projections.models import ReferenceItemOut, TaxonomyEntryOut
from projections.registry import reference_items

router = APIRouter(prefix="/api/v1/reference", tags=["reference data"])

Taxonomy = Literal["gcm-objectives", "gcm-guiding-principles", "gcr-areas", "sdgs"]


def _items(services: ServicesDep, kind: str) -> list[ReferenceItemOut]:
    with read_snapshot(services.engine) as connection:
        return reference_items(connection, kind)


@router.get("/priority-areas", response_model=list[ReferenceItemOut])
def priority_areas(services: ServicesDep) -> list[ReferenceItemOut]:
    """Every priority area registered on the log, retired ones marked, by id."""
    return _items(services, "priority_area")


@router.get("/declarations", response_model=list[ReferenceItemOut])
def declarations(services: ServicesDep) -> list[ReferenceItemOut]:
    """Every declaration registered on the log, with its adoption date, by id."""
    return _items(services, "declaration")


@router.get("/calls", response_model=list[ReferenceItemOut])
def calls(services: ServicesDep) -> list[ReferenceItemOut]:
    """Every call to action registered on the log, with the dates it takes answers, by id."""
    return _items(services, "call")


def _entry_out(entry: TaxonomyEntry) -> TaxonomyEntryOut:
    return TaxonomyEntryOut(
        code=entry.code, title=entry.title, kind=entry.kind, labels=dict(entry.labels)
    )


@router.get("/taxonomies/{taxonomy}", response_model=list[TaxonomyEntryOut])
def taxonomy(taxonomy: Annotated[Taxonomy, Path()]) -> list[TaxonomyEntryOut]:
    """A shipped taxonomy's entries with their labels in en/fr/es (where the sources have them).

    SDG targets are checked against the 169 targets of the 2030 Agenda, listed under
    ``/reference/sdg-targets``.
    """
    taxonomies = reference_taxonomies()
    taxonomies_by_name: dict[str, Mapping[Any, TaxonomyEntry]] = {
        "gcm-objectives": taxonomies.gcm_objectives,
        "gcm-guiding-principles": taxonomies.gcm_principles,
        "gcr-areas": taxonomies.gcr_areas,
        "sdgs": taxonomies.sdgs,
    }
    entries = taxonomies_by_name[taxonomy]
    return [_entry_out(entry) for entry in entries.values()]


@router.get("/sdg-targets", response_model=list[str])
def sdg_targets() -> list[str]:
    """The 169 SDG target ids a pledge's ``sdg_targets`` may name (besides the 17 goals)."""

    def order(target: str) -> tuple[int, int, str]:
        goal, _, rest = target.partition(".")
        return (int(goal), 0, rest.zfill(2)) if rest.isdigit() else (int(goal), 1, rest)

    return sorted(reference_taxonomies().sdg_targets, key=order)
