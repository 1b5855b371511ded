"""The ledger's exception tree: one root for everything below the domain's rules.

Domain errors (``domain.errors.DomainError``) cross this layer unchanged; these are the
refusals and failures that belong to storage, concurrency and the audit log. Every class has a
stable machine-readable ``code`` and, where one input is at fault, the ``field`` it names, so
that the API maps them to problem+json and the command line prints one line.

This module imports only the standard library, so that the crypto kernels (``ledger.merkle``,
``ledger.note``, ``ledger.tiles``) can root their errors here and still depend on nothing else.

The tree::

    LedgerError
    ├── ConfigurationError          a setting is missing or malformed
    ├── ConcurrencyConflict         the stream is not at the expected version
    ├── IdempotencyKeyReused        the key was first used for another request
    ├── StoreUnavailable            the database is unreachable or refused for a technical reason
    ├── CorruptEvent                a stored event is not a readable canonical envelope
    │   └── NotCanonical            (ledger.canonical)
    ├── MerkleError                 a Merkle argument or proof is wrong (merkle, tiles)
    ├── NoteError                   signed notes and their keys (ledger.note)
    │   ├── InvalidKeyError, MalformedNoteError, UnverifiedNoteError, InvalidSignatureError
    │   ├── CheckpointError, OriginMismatchError (ledger.checkpoint)
    │   └── KeyFileError            (ledger.checkpoint)
    ├── LogError                    the transparency log cannot answer (ledger.log)
    │   ├── LogRewritten            a stored row contradicts what the log signed: nothing is signed
    │   └── ForgedCheckpoint        a stored checkpoint row does not verify: never used or served
    ├── BatchClosed                 a committed batch was used again (ledger.commands)
    ├── BundleError                 writing an audit bundle (ledger.bundle)
    └── ScanFailed                  a worker reading a bundle died (ledger.entry_scan)
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
        super().__init__(message, field="expected_version")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(LedgerError):
    """The idempotency key was first used for a different request."""

    code = "idempotency_key_reused"


class StoreUnavailable(LedgerError):
    """The database could not be reached or refused the operation for a non-business reason."""

    code = "store_unavailable"


class CorruptEvent(LedgerError):
    """A stored event is not a canonical envelope this code can read."""

    code = "corrupt_event"
