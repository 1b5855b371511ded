"""RFC 9457 problem details: the one table that maps every layer's errors to HTTP statuses.

The layers below know nothing of HTTP; their errors carry a stable ``code`` and the ``field`` at
fault. Here each code gets its status, and each error becomes an ``application/problem+json``
body: ``type`` (a URN built from the code, stable for scripts), ``title``, ``status``,
``detail`` (the error's one line) and ``field`` where one input is at fault.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import ApiError
from domain.errors import DomainError
from ledger.errors import LedgerError
from projections.errors import ProjectionError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pledge-ledger"'}

# code -> (status, title). A code missing here falls back to its class's nearest listed base.
STATUS_BY_CODE: dict[str, tuple[int, str]] = {
    # the domain's refusals
    "domain_error": (422, "The request breaks a rule of the ledger"),
    "invalid_input": (422, "Invalid input"),
    "personal_data": (422, "Personal data is not accepted on the public log"),
    "unknown_taxonomy_code": (422, "Unknown taxonomy code"),
    "not_found": (404, "Not found"),
    "already_exists": (409, "Already exists"),
    "not_permitted": (403, "Not permitted"),
    "inactive_key": (401, "The API key is not active"),
    "invalid_transition": (409, "Not allowed in the pledge's current state"),
    # the ledger's
    "ledger_error": (500, "Ledger error"),
    "configuration_error": (500, "The server is misconfigured"),
    "concurrency_conflict": (409, "The stream moved on since the version you sent"),
    "key_rejected": (401, "Authentication required"),
    "idempotency_key_reused": (422, "This Idempotency-Key was used for another request"),
    "store_unavailable": (503, "The store is unavailable"),
    "writer_unavailable": (503, "The server takes no writes now: retry"),
    "batch_closed": (500, "A committed batch was given another command"),
    "corrupt_event": (500, "A stored event is corrupt"),
    "not_canonical": (500, "A stored event is not canonical"),
    "merkle_error": (400, "Invalid tree size or index"),
    "log_error": (400, "The log cannot answer this request"),
    "log_rewritten": (500, "The store contradicts what the log signed"),
    "forged_checkpoint": (500, "A stored checkpoint does not verify"),
    "bundle_error": (500, "The audit bundle cannot be written"),
    "reports_busy": (503, "Another report is being built: retry later"),
    "scan_failed": (500, "A worker process reading the log died"),
    # signed notes and checkpoints are the server's own: a bad one is an alarm, not bad input
    "note_error": (500, "Signed note error"),
    "invalid_key": (500, "The log's key is invalid"),
    "malformed_note": (500, "A signed note is malformed"),
    "unverified_note": (500, "A signed note carries no trusted signature"),
    "key_hash_mismatch": (500, "A signed note names another key"),
    "invalid_signature": (500, "A signed note's signature does not verify"),
    "invalid_checkpoint": (500, "A checkpoint is malformed"),
    "origin_mismatch": (500, "A checkpoint belongs to another log"),
    "key_file_error": (500, "The signing key file cannot be used"),
    # the read side's
    "projection_error": (500, "Read model error"),
    "invalid_query": (400, "Invalid query"),
    "rebuild_failed": (500, "Rebuilding the read models failed"),
    # the api's own
    "api_error": (400, "Bad request"),
    "demo_refused": (409, "The demo cannot load into this store"),
    "store_not_found": (503, "The configured store does not exist"),
    "malformed_request": (400, "Malformed request"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Not permitted"),
    "too_many_requests": (429, "Too many requests"),
    "payload_too_large": (413, "Request body too large"),
    "precondition_failed": (412, "The stream moved on since the version you sent"),
    "http_error": (400, "HTTP error"),
    "internal_error": (500, "Internal error"),
    "remote_log_error": (502, "The ledger server cannot be read"),
}


class ProblemOut(BaseModel):
    """An RFC 9457 problem (``application/problem+json``): every refusal and failure."""

    model_config = ConfigDict(frozen=True)

    type: str
    """A stable URN per error code, ``urn:pledge-ledger:problem:<code>``."""
    title: str
    status: int
    detail: str
    """One line: what is wrong and, where it helps, what to send instead."""
    code: str
    field: str | None = None
    """The offending body field (dotted path), query parameter or header, if one is at fault."""


def _problem_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": ProblemOut.model_json_schema()}},
    }


# Declared on every operation (FastAPI's app-wide ``responses``): any request may be refused
# with one of these, always as problem+json, so the OpenAPI document says so.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("Malformed request or query"),
    404: _problem_response("Not found"),
    413: _problem_response("Request body too large"),
    422: _problem_response("Invalid input"),
    500: _problem_response("Internal error (an integrity alarm names what failed)"),
    503: _problem_response("The store is unavailable"),
}

LayerError = DomainError | LedgerError | ProjectionError | ApiError
LAYER_ROOTS = (DomainError, LedgerError, ProjectionError, ApiError)


def status_of(error: LayerError) -> tuple[int, str]:
    """The status and title of an error: its own code's, else its nearest base class's."""
    for cls in type(error).__mro__:
        code = getattr(cls, "code", None)
        if isinstance(code, str) and code in STATUS_BY_CODE:
            return STATUS_BY_CODE[code]
    return 500, "Internal error"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:pledge-ledger:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if field:
        body["field"] = field
    if extra:
        body.update(extra)
    return Response(
        content=orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def problem_from(error: LayerError, *, headers: dict[str, str] | None = None) -> Response:
    status, title = status_of(error)
    return problem(
        status, error.code, title, error.message, field=error.field, headers=retry(error, headers)
    )


def retry(error: LayerError, headers: dict[str, str] | None = None) -> dict[str, str] | None:
    """``headers``, with ``Retry-After`` when the error says how long to wait."""
    wait = getattr(error, "retry_after", None)
    if isinstance(wait, int):
        return {**(headers or {}), "Retry-After": str(wait)}
    return headers


def _validation_field(errors: list[Any]) -> tuple[str | None, str]:
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ())]
    if location and location[0] in {"body", "query", "path", "header"}:
        location = location[1:]
    message = str(first.get("msg", "invalid request"))
    message = message.removeprefix("Value error, ")
    return (".".join(location) or None), message


def install_problem_handlers(app: FastAPI) -> None:
    """Every error leaves as problem+json; nothing else escapes as an HTML or plain-text page."""

    async def layer_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, LAYER_ROOTS)
        # A 401 names the scheme the client must authenticate with (RFC 9110, 11.6.1).
        unauthenticated = status_of(error)[0] == 401
        return problem_from(error, headers=BEARER_CHALLENGE if unauthenticated else None)

    async def validation_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        errors = list(error.errors())
        field, message = _validation_field(errors)
        kind = str(errors[0].get("type", "")) if errors else ""
        if kind == "json_invalid":
            # pydantic locates bad JSON by character offset, which is no field of the request
            position = f" (at character {field})" if field is not None else ""
            return problem(400, "malformed_request", "Malformed request", f"{message}{position}")
        if kind == "model_attributes_type" or (kind == "missing" and field is None):
            return problem(400, "malformed_request", "Malformed request", message, field=field)
        return problem(422, "invalid_input", "Invalid input", message, field=field)

    async def http_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        code = {
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            429: "too_many_requests",
        }.get(error.status_code, "http_error")
        return problem(
            error.status_code,
            code,
            STATUS_BY_CODE.get(code, (error.status_code, "HTTP error"))[1]
            if code in STATUS_BY_CODE
            else "HTTP error",
            str(error.detail),
            headers=dict(error.headers) if error.headers else None,
        )

    async def unexpected_error(_: Request, error: Exception) -> Response:
        # A bug or a library error no layer translated: logged with its traceback, answered as a
        # problem without its details (they may name tables, paths or values).
        logger.error("unhandled error", exc_info=error)
        return problem(
            500, "internal_error", "Internal error", "the server failed; the error was logged"
        )

    for root in LAYER_ROOTS:
        app.add_exception_handler(root, layer_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
