"""The outer layer's exception tree: refusals that belong to the command line, the demo loader
and (later) the HTTP API itself, beside the layers' own roots that cross unchanged.

    ApiError
    ├── DemoRefused      the demo loads only into an empty store, driven by a stepping clock
    ├── StoreNotFound    a command that only reads was pointed at a store that does not exist
    ├── UnknownResource  a read names an id (pledge, network, event) the ledger does not hold
    ├── RemoteLogError   ``verify URL``: the server cannot be read as a ledger (unreachable,
    │                    not a ledger, an answer over its size limit)
    └── ReportsBusy      a report is being built for this store: retry later
"""

from __future__ import annotations


class ApiError(Exception):
    """Root of the api layer's own errors."""

    code = "api_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class DemoRefused(ApiError):
    """The demo cannot load into this store (not empty, or not driven by a stepping clock)."""

    code = "demo_refused"


class StoreNotFound(ApiError):
    """No store (or no signing key) where the settings point: only writing commands create one."""

    code = "store_not_found"


class UnknownResource(ApiError):
    """A read names an id the ledger does not hold; ``field`` says which id."""

    code = "not_found"


class RemoteLogError(ApiError):
    """A ledger server cannot be read: refused connection, timeout, wrong answer, too large."""

    code = "remote_log_error"


class ReportsBusy(ApiError):
    """Another report is being folded for this store (one at a time): retry after a while."""

    code = "reports_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
