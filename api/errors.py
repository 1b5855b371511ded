"""The outer layer's exception tree: refusals that belong to the command line, the demo loader
and (later) the HTTP API itself, beside the layers' own roots that cross unchanged.

    ApiError
    ├── DemoRefused      the demo loads only into an empty store, driven by a stepping clock
    └── StoreNotFound    a command that only reads was pointed at a store that does not exist
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
