"""HTTP caching of the public reads: a strong ETag on every GET answer, and its Cache-Control.

The ETag is the SHA-256 of the body as the route produced it (before gzip), so two requests
that would get the same bytes share one tag and a client sending it back in ``If-None-Match``
gets ``304 Not Modified`` without the body. ``If-None-Match`` is compared weakly, as RFC 9110
says it must be, so a tag seen on a gzipped answer revalidates the same content.

Each route says how long its answer may be kept (``Cache-Control``); what does not say gets
``LIVE`` when it succeeded and ``NO_STORE`` otherwise, and the health probes are never cached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response

LIVE = "public, max-age=5"
"""Read models and lists: they change with every write, so caches keep them for seconds."""
IMMUTABLE = "public, max-age=31536000, immutable"
"""Full hash tiles and full entry bundles: their bytes can never change."""
REVALIDATE = "no-cache"
"""The checkpoint: a cache may keep it but must ask again before each use."""
NO_STORE = "no-store"
"""Errors and health probes."""

UNCACHED_PATHS = frozenset({"/healthz", "/readyz"})


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest() + '"'


def matches(if_none_match: str, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison: a ``W/`` prefix is ignored)."""
    bare = tag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == bare:
            return True
    return False


async def cache_validators(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Give a GET answer its ETag and Cache-Control; answer 304 when the client has it."""
    response = await call_next(request)
    if request.method != "GET":
        return response
    if request.url.path in UNCACHED_PATHS or response.status_code != 200:
        if "cache-control" not in response.headers:
            response.headers["cache-control"] = NO_STORE
        return response
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    headers = dict(response.headers)
    headers.setdefault("cache-control", LIVE)
    tag = headers.get("etag") or entity_tag(body)  # a kept page brings its own
    headers["etag"] = tag
    if matches(request.headers.get("if-none-match", ""), tag):
        kept = {k: v for k, v in headers.items() if k in {"etag", "cache-control", "vary"}}
        return Response(status_code=304, headers=kept)
    return Response(content=body, status_code=200, headers=headers)
