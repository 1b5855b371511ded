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

from api.bootstrap import Services, bootstrap
from api.caching import cache_validators
from api.problems import PROBLEM_RESPONSES, install_problem_handlers, problem
from api.routes import audit, health, reads, writes
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

    @app.middleware("http")
    async def limit_body_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return problem(400, "malformed_request", "Malformed request", "bad Content-Length")
            if int(declared) > MAX_BODY_BYTES:
                return problem(
                    413,
                    "payload_too_large",
                    "Request body too large",
                    f"request bodies are at most {MAX_BODY_BYTES} bytes",
                )
        elif request.method in {"POST", "PUT", "PATCH"}:
            body = await request.body()  # chunked: starlette buffers it; refuse if too large
            if len(body) > MAX_BODY_BYTES:
                return problem(
                    413,
                    "payload_too_large",
                    "Request body too large",
                    f"request bodies are at most {MAX_BODY_BYTES} bytes",
                )
        return await call_next(request)

    # Added innermost first: the ETag is taken over the body the route made, before gzip; CORS,
    # outermost, answers preflights and marks every GET as readable from any origin.
    app.middleware("http")(cache_validators)
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
    app.include_router(audit.router)
    app.include_router(writes.router)
    return app
