"""What a read model's writer is: the ``Projector`` protocol and the batches it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection

from ledger.envelope import Envelope
from projections.counters import RollupCells
from projections.state import Changes, ViewState
from projections.tables import ViewTables


@dataclass(frozen=True, slots=True)
class Notified:
    """An envelope with its notification id (its place in the store's global order)."""

    notification_id: int
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class ProjectionBatch:
    """One batch of envelopes, folded: the state they produced and what they changed."""

    notified: Sequence[Notified]
    state: ViewState
    changes: Changes
    _rollup_change: list[RollupCells] = field(default_factory=list, compare=False, repr=False)

    def rollup_change(self) -> RollupCells:
        """What the batch changed in the roll-up sums (worked out once: the roll-up tables and
        their history both take it in)."""
        if not self._rollup_change:
            delta = RollupCells()
            for pledge_id, before in self.changes.pledges.items():
                delta.change(before, self.state.pledges[pledge_id])
            self._rollup_change.append(delta)
        return self._rollup_change[0]


class Projector(Protocol):
    """Writes one read model.

    ``apply`` writes what one batch changed, inside the batch's transaction; ``load`` writes a
    whole view from a complete fold into empty tables (a rebuild).
    """

    def apply(self, connection: Connection, tables: ViewTables, batch: ProjectionBatch) -> None:
        """Write what ``batch`` changed."""

    def load(self, connection: Connection, tables: ViewTables, state: ViewState) -> None:
        """Write the complete view held by ``state`` into empty tables."""
