"""Who is calling: the bearer key of a write request turned into its principal.

``PrincipalDep`` is the dependency every write route takes. It reads ``Authorization: Bearer
plk_…``, checks the secret against its hash (``ledger.api_keys``) and the key's state on the log
(issued, not revoked: a revocation by any process is seen on the next request), and answers the
key's ``Principal``. Without a key, or with a malformed, unknown, wrong or revoked one, the
request gets 401 with ``WWW-Authenticate: Bearer``; a key whose role or network may not do what
it asks is refused by the domain (403) when the route runs the command.

Repeated failures from one client address are slowed down: each failure takes a token from
the address's bucket (``AuthFailureLimiter``); an address with no token left gets 429 with
``Retry-After`` until one has refilled, before its key is even looked at.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException

from api.bootstrap import Services
from api.dependencies import get_services
from api.problems import BEARER_CHALLENGE
from domain.keys import InactiveKey
from domain.principal import Principal
from ledger.api_keys import KeyRejected, KeySecrets, authenticate

BEARER = "Bearer"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class AuthFailureLimiter:
    """A token bucket of authentication failures per client address, in bounded memory.

    An address may fail ``burst`` times in a row; after that it may try again once every
    ``refill_seconds``. The ``max_clients`` most recently failing addresses are remembered
    (least recently failing forgotten first), so a flood of addresses cannot exhaust memory.
    ``clock`` (seconds, monotonic) is injectable so that tests need not wait.
    """

    def __init__(
        self,
        *,
        burst: int = 10,
        refill_seconds: float = 6.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._burst = float(burst)
        self._refill = refill_seconds
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds ``client`` must wait before its next attempt, or None if it may try."""
        with self._lock:
            bucket = self._current(client)
            if bucket is None or bucket.tokens >= 1:
                return None
            return max(1, math.ceil((1 - bucket.tokens) * self._refill))

    def failed(self, client: str) -> None:
        """Count one failed authentication of ``client``."""
        with self._lock:
            bucket = self._current(client) or _Bucket(self._burst, self._clock())
            bucket.tokens = max(0.0, bucket.tokens - 1)
            self._buckets[client] = bucket
            self._buckets.move_to_end(client)
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)

    def remembered(self) -> int:
        """How many client addresses the limiter holds."""
        return len(self._buckets)

    def _current(self, client: str) -> _Bucket | None:
        bucket = self._buckets.get(client)
        if bucket is None:
            return None
        now = self._clock()
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated_at) / self._refill)
        bucket.updated_at = now
        return bucket


class Authenticator:
    """Turns an ``Authorization`` header into a principal, counting failures per client."""

    def __init__(self, services: Services, limiter: AuthFailureLimiter | None = None) -> None:
        self._services = services
        self._secrets = KeySecrets(services.engine, services.ledger.clock)
        self.limiter = limiter or AuthFailureLimiter()

    def principal(self, authorization: str | None, client: str) -> Principal:
        wait = self.limiter.retry_after(client)
        if wait is not None:
            raise HTTPException(
                429,
                "too many failed authentications from this address: try again later",
                headers={"Retry-After": str(wait)},
            )
        try:
            # Writes only: the ledger checks the key again, synced with the store, when it
            # executes the command, so a revocation by another process still fails at once.
            return authenticate(
                self._services.ledger, self._secrets, _bearer(authorization), synced=False
            )
        except (KeyRejected, InactiveKey) as error:
            self.limiter.failed(client)
            raise HTTPException(401, error.message, headers=BEARER_CHALLENGE) from error


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise KeyRejected(f"this request needs an API key: Authorization: {BEARER} plk_…")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != BEARER.lower() or not token.strip():
        raise KeyRejected(f"the Authorization header must be '{BEARER} <API key>'")
    return token.strip()


async def get_authenticator(request: Request) -> Authenticator:
    """The app's authenticator, made on first use from the app's services.

    An async dependency runs on the event loop's one thread, so two first requests cannot make
    two authenticators (and two limiters).
    """
    authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
    if authenticator is None:
        authenticator = Authenticator(get_services(request))
        request.app.state.authenticator = authenticator
    return authenticator


AuthenticatorDep = Annotated[Authenticator, Depends(get_authenticator)]


async def authenticated_principal(request: Request, authenticator: AuthenticatorDep) -> Principal:
    """The principal of the request's bearer key. It runs on the event loop, not in the thread
    pool: the secret's hash and the key's state come from memory once read (the ledger checks
    the key again, synced, when it executes the write), so a store read is the rare first one."""
    client = request.client.host if request.client is not None else "unknown"
    return authenticator.principal(request.headers.get("authorization"), client)


PrincipalDep = Annotated[Principal, Depends(authenticated_principal)]
