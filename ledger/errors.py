"""The ledger's exception tree: one root for everything below the domain's rules.

Domain errors (``domain.errors.DomainError``) cross this layer unchanged; these are the
refusals and failures that belong to storage, concurrency and the audit log.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of the ledger layer's errors."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class ConfigurationError(LedgerError):
    """A setting is missing or malformed (database URL, key file, origin...)."""

    code = "configuration_error"


class ConcurrencyConflict(LedgerError):
    """The stream moved on since the client (or this process) read it: nothing was stored."""

    code = "concurrency_conflict"

    def __init__(self, message: str, *, stream_id: str, expected: int | None, actual: int) -> None:
        super().__init__(message, field="If-Match")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(LedgerError):
    """The idempotency key was first used for a different request."""

    code = "idempotency_key_reused"


class StreamNotFound(LedgerError):
    """The named pledge (or other stream) has no events."""

    code = "not_found"


class StoreUnavailable(LedgerError):
    """The database could not be reached or refused the operation for a non-business reason."""

    code = "store_unavailable"


class CorruptEvent(LedgerError):
    """A stored event is not a canonical envelope this code can read."""

    code = "corrupt_event"
