"""The read side's exception tree: one root for what the projections refuse or fail at.

Every class has a stable ``code`` and, where one input is at fault, the ``field`` it names,
as in ``domain.errors`` and ``ledger.errors``; errors of the layers below cross unchanged.

The tree::

    ProjectionError
    ├── InvalidQuery     a query names an unknown dimension, format, scope or an impossible range
    └── RebuildFailed    a rebuild worker failed; the live views were left as they were
"""

from __future__ import annotations


class ProjectionError(Exception):
    """Root of the projection layer's errors."""

    code = "projection_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidQuery(ProjectionError):
    """A read-side query was asked with an argument it cannot answer."""

    code = "invalid_query"


class RebuildFailed(ProjectionError):
    """A rebuild worker failed; the live views were left as they were."""

    code = "rebuild_failed"
