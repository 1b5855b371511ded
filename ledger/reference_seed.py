"""The seed of a deployment's reference data, recorded as events (ADR 0014).

A new store, or one written before reference data lived on the log, starts from the Marrakech
Mayors Declaration and a working list of priority areas (``LEDGER_PRIORITY_AREAS``, by default
``domain.reference.DEFAULT_PRIORITY_AREAS``). Seeding registers each item that has no stream
yet, so it is safe to run again: an item an admin registered or retired is left as it is, and
removing an area from the setting retires nothing (an admin retires it on the log).
"""

from __future__ import annotations

from collections.abc import Iterable

from domain import reference
from domain.principal import Principal
from domain.registry import declaration_stream
from ledger.commands import Batch


def register_reference_seed(
    batch: Batch, principal: Principal, priority_areas: Iterable[str]
) -> tuple[str, ...]:
    """Stage the registration of every seed item not on the log yet; answer their streams."""
    registered: list[str] = []
    for declaration in reference.SEED_DECLARATIONS:
        state = batch.load(declaration_stream(declaration.id)).state
        if state is None or not state.registered:
            batch.execute("register_declaration", principal, declaration)
            registered.append(declaration_stream(declaration.id))
    for area_id in priority_areas:
        stream = reference.priority_area_stream(area_id)
        if batch.load(stream).version == 0:
            batch.execute(
                "register_priority_area", principal, reference.seed_priority_area(area_id)
            )
            registered.append(stream)
    return tuple(registered)
