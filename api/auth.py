"""PLACEHOLDER for part B of issue 10 (API keys on the log): replaced wholesale at merge.

The write routes take their principal from ``PrincipalDep`` and nothing else, so that part B's
real dependency (keys issued and revoked on the log, hashed secrets, 401/403, slowed-down
failures) drops in here without touching them. Until then this placeholder knows only the keys
an operator lists in ``LEDGER_PLACEHOLDER_API_KEYS``, a JSON object from secret to principal::

    {"<secret>": {"key_id": "admin-1", "role": "admin"},
     "<secret>": {"key_id": "uclg-1", "role": "network", "network_id": "uclg"}}

Without that variable every write is refused with 401. Secrets are compared in constant time.
"""

from __future__ import annotations

import hmac
import os
from typing import Annotated

import orjson
from fastapi import Depends, HTTPException, Request

from domain.errors import DomainError
from domain.principal import Principal

PLACEHOLDER_KEYS_VARIABLE = "LEDGER_PLACEHOLDER_API_KEYS"


def placeholder_keys() -> dict[str, Principal]:
    """The principals the operator listed, by secret (read when a request asks)."""
    raw = os.environ.get(PLACEHOLDER_KEYS_VARIABLE)
    if not raw:
        return {}
    try:
        listed = orjson.loads(raw)
        return {
            secret: Principal(entry["key_id"], entry["role"], entry.get("network_id"))
            for secret, entry in listed.items()
        }
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, DomainError) as error:
        raise HTTPException(
            500, f"{PLACEHOLDER_KEYS_VARIABLE} is not a JSON object of principals"
        ) from error


def _unauthenticated(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request) -> Principal:
    """The principal behind ``Authorization: Bearer <secret>``; 401 without a known secret."""
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthenticated("writes need Authorization: Bearer <key>")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _unauthenticated("Authorization must be Bearer <key>")
    found: Principal | None = None
    for known, principal in placeholder_keys().items():
        if hmac.compare_digest(known.encode(), secret.strip().encode()):
            found = principal
    if found is None:
        raise _unauthenticated("unknown API key")
    return found


PrincipalDep = Annotated[Principal, Depends(current_principal)]
