"""The HTTP application: ``create_app(settings)`` wires the services once, mounts the routers.

Nothing is built at import time. The app bootstraps its services when it starts (FastAPI's
lifespan), starts the process's single writer (``ledger.group_commit``) on their ledger, and
when it stops, after uvicorn has let requests in flight finish, closes the writer (which
finishes every write it accepted: nothing is left half-written) and then the services. A test
may hand in services it built itself; the app then starts and stops only its writer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import Response
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bootstrap import Services, bootstrap
from api.caching import cache_validators
from api.pages import install_pages
from api.problems import PROBLEM_RESPONSES, install_problem_handlers, problem
from api.report_builds import ReportBuilds
from api.routes import audit, health, reads, reference, reports, writes
from ledger.errors import ConfigurationError
from ledger.group_commit import GroupCommitter
from ledger.settings import LedgerSettings
from ledger.write_path import WriteMode

# Answers shorter than this are sent as they are: gzip would save less than it costs.
GZIP_MINIMUM_BYTES = 1024

# The largest request body any endpoint accepts: a pledge with many indicators and three
# languages stays far below it; anything larger is refused before it is parsed.
MAX_BODY_BYTES = 256 * 1024


def package_version() -> str:
    try:
        return version("pledge-ledger")
    except PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
        return "0+unknown"


Dispatch = Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]


class BodySizeLimit:
    """Refuse a request body over ``limit`` bytes before the app parses it (pure ASGI, so it
    costs nothing on the way of the reads): a declared ``Content-Length`` is checked at once, a
    chunked body is read up to the limit and replayed, never buffered beyond it."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._refuse(400, scope, receive, send)
            elif int(declared) > self.limit:
                await self._refuse(413, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await self._refuse(413, scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, status: int, scope: Scope, receive: Receive, send: Send) -> None:
        if status == 400:
            answer = problem(400, "malformed_request", "Malformed request", "bad Content-Length")
        else:
            answer = problem(
                413,
                "payload_too_large",
                "Request body too large",
                f"request bodies are at most {self.limit} bytes",
            )
        await answer(scope, receive, send)


class ForMethods:
    """Run an HTTP middleware (``dispatch``) for some methods only: the ETag middleware buffers
    each answer to hash it, which the writes need not pay."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        methods: frozenset[str],
        dispatch: Callable[
            [Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]
        ],
    ) -> None:
        self.app = app
        self.methods = methods
        self.wrapped = BaseHTTPMiddleware(app, dispatch=dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.methods:
            await self.wrapped(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(
    settings: LedgerSettings | None = None,
    *,
    services: Services | None = None,
) -> FastAPI:
    """The API app on ``settings`` (default: the ``LEDGER_*`` environment) or on ``services``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        wired: Services = services if services is not None else bootstrap(settings)
        app.state.services = wired
        try:
            if wired.ledger.mode is not WriteMode.RECEIPTED:
                raise ConfigurationError(
                    "the API answers every write with a receipt: wire its ledger in the "
                    f"receipted write mode, not {wired.ledger.mode.value}",
                    field="write_mode",
                )
            writer = GroupCommitter(wired.ledger, read_models=wired.views).start()
            app.state.writer = writer
            try:
                yield
            finally:
                # Off the event loop: the writer finishes what it accepted, which may take a
                # checkpoint interval.
                await asyncio.to_thread(writer.close)
        finally:
            if owned:
                wired.close()

    app = FastAPI(
        title="Pledge Ledger",
        version=package_version(),
        summary="The public, verifiable ledger of city pledges for migrants and refugees.",
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
    )
    if services is not None:
        app.state.services = services
    install_problem_handlers(app)
    app.state.reports = ReportBuilds()

    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES)
    # Added innermost first: the ETag is taken over the body the route made, before gzip; CORS,
    # outermost, answers preflights and marks every GET as readable from any origin.
    app.add_middleware(ForMethods, methods=frozenset({"GET"}), dispatch=cache_validators)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET"],
        allow_headers=["If-None-Match"],
        expose_headers=["ETag", "Link"],
    )
    app.include_router(health.router)
    app.include_router(reads.router)
    app.include_router(reference.router)
    app.include_router(reports.router)
    app.include_router(audit.router)
    app.include_router(writes.router)
    install_pages(app)
    return app
