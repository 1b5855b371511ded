"""The write endpoints of CONTRACT.md: each answers 201 with the receipt of the event it stored.

Every route hands its command to the process's single writer (``ledger.group_commit``), which
gathers concurrent requests into one commit, one log integration and one checkpoint signature;
each request still gets its own answer. ``Idempotency-Key`` is the ledger's idempotency key (a
retry answers the first receipt, 201 again, with ``Idempotent-Replayed: true``); ``If-Match`` is
the stream version the client saw (a stale one: 409, nothing stored). If-Match is optional: an
amendment names only the fields it changes, so a blind one cannot undo changes to other fields
(ADR 0012).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.auth import PrincipalDep
from api.errors import ApiError
from api.problems import PROBLEM_JSON, ProblemOut, problem, status_of
from api.wire import (
    AmendmentIn,
    CallIn,
    CityCorrectionIn,
    CityIn,
    ClosureIn,
    DeclarationIn,
    ErratumIn,
    ExternalIdIn,
    ExternalIdRemovalIn,
    MatchAcceptanceIn,
    MatchDeclinationIn,
    MatchEndingIn,
    MatchIn,
    MatchWriteOut,
    MemberIn,
    NetworkCorrectionIn,
    NetworkIn,
    PledgeIn,
    PledgeWriteOut,
    PriorityAreaIn,
    ProgressIn,
    RetirementIn,
    SignatureIn,
    SignatureWithdrawalIn,
    TranslationIn,
    ValidationIn,
    WithdrawalIn,
    WriteOut,
    as_command,
)
from domain import pledge as pledges
from domain import registry
from domain.errors import DomainError
from domain.principal import Principal
from ledger.commands import CommandName, parse_command
from ledger.errors import LedgerError
from ledger.group_commit import GroupCommitter, WriteRequest
from ledger.write_path import Written

router = APIRouter(prefix="/api/v1", tags=["writes"])

# The ledger names its inputs; over HTTP two of them are headers.
HEADER_OF_FIELD = {"expected_version": "If-Match", "idempotency_key": "Idempotency-Key"}


class MalformedHeader(ApiError):
    """A request header is not in the form the endpoint accepts (If-Match, Idempotency-Key)."""

    code = "malformed_request"


def get_writer(request: Request) -> GroupCommitter:
    writer: GroupCommitter = request.app.state.writer
    return writer


WriterDep = Annotated[GroupCommitter, Depends(get_writer)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any string of 1 to 256 characters; a retry with it answers the first receipt "
        "and stores nothing again. Reused for another request: 422.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The stream version the client saw (`3` or `"3"`); a stale one gets 409.',
    ),
]

_PROBLEM = {"model": ProblemOut, "content": {PROBLEM_JSON: {}}}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {**_PROBLEM, "description": description}
    for status, description in {
        400: "malformed JSON or header",
        401: "no or an unknown API key",
        403: "the key may not do this (role, network, member cities)",
        404: "an unknown network, city, declaration or pledge",
        409: "stale If-Match, already exists, or not allowed in the pledge's state",
        413: "the body is over the size limit",
        422: "invalid input (the field is named) or an Idempotency-Key reused",
        429: "too many failed authentications from this address: retry after Retry-After",
        503: "the store is unavailable or the server is shutting down",
    }.items()
}


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names: ``3``, ``"3"`` or ``W/"3"``; ``*`` names none."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise MalformedHeader(
            f'If-Match must be the stream version you saw, e.g. 3 or "3", not {if_match!r}',
            field="If-Match",
        )
    return int(value)


def refusal(error: DomainError | LedgerError) -> Response:
    """The problem for a refused write, naming a header where the ledger named its field."""
    status, title = status_of(error)
    field = HEADER_OF_FIELD.get(error.field or "", error.field)
    # 503: the store or the writer is unavailable for now; nothing was stored, so retrying is safe.
    headers = {"retry-after": "1"} if status == 503 else None
    return problem(status, error.code, title, error.message, field=field, headers=headers)


async def write(
    writer: GroupCommitter,
    name: CommandName,
    principal: Principal,
    body: BaseModel,
    *,
    target: str | None = None,
    idempotency_key: str | None = None,
    if_match: str | None = None,
) -> Written | Response:
    request = WriteRequest(
        name,
        principal,
        as_command(name, body),
        target=target,
        idempotency_key=idempotency_key,
        expected_version=expected_version(if_match),
    )
    try:
        return await asyncio.wrap_future(writer.submit(request))
    except (DomainError, LedgerError) as error:
        return refusal(error)


def created(
    written: Written | Response, out: type[WriteOut], location: str | None = None
) -> Response:
    if isinstance(written, Response):
        return written
    headers = {}
    if location is not None:
        headers["location"] = location
    if written.result.replayed:
        headers["idempotent-replayed"] = "true"
    body = out.of(written).model_dump(mode="json")
    return Response(orjson.dumps(body), 201, headers, media_type="application/json")


Route = Callable[..., Coroutine[Any, Any, Response]]


def _post(path: str, out: type[WriteOut], summary: str) -> Callable[[Route], Route]:
    return router.post(
        path,
        status_code=201,
        response_model=out,
        responses=WRITE_PROBLEMS,
        summary=summary,
    )


@_post("/networks", WriteOut, "Register a network (admin)")
async def register_network(
    body: NetworkIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(
        writer, "register_network", principal, body, idempotency_key=idempotency_key
    )
    return created(written, WriteOut)


@_post("/cities", WriteOut, "Register a city (admin)")
async def register_city(
    body: CityIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(writer, "register_city", principal, body, idempotency_key=idempotency_key)
    return created(written, WriteOut)


@_post("/networks/{network_id}/members", WriteOut, "A city joins the network (admin, network)")
async def join_network(
    network_id: str,
    body: MemberIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    written = await write(
        writer,
        "join_network",
        principal,
        body,
        target=network_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post(
    "/declarations/{declaration_id}/signatures",
    WriteOut,
    "A city signs a declaration (admin, network)",
)
async def sign_declaration(
    declaration_id: str,
    body: SignatureIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    written = await write(
        writer,
        "sign_declaration",
        principal,
        body,
        target=declaration_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post("/reference/priority-areas", WriteOut, "Register a priority area (admin)")
async def register_priority_area(
    body: PriorityAreaIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(
        writer, "register_priority_area", principal, body, idempotency_key=idempotency_key
    )
    return created(written, WriteOut)


@_post(
    "/reference/priority-areas/{area_id}/retirement",
    WriteOut,
    "Retire a priority area: new pledges and tag changes may no longer name it (admin)",
)
async def retire_priority_area(
    area_id: str,
    body: RetirementIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    written = await write(
        writer,
        "retire_priority_area",
        principal,
        body,
        target=area_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post("/reference/declarations", WriteOut, "Register a declaration cities may sign (admin)")
async def register_declaration(
    body: DeclarationIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(
        writer, "register_declaration", principal, body, idempotency_key=idempotency_key
    )
    return created(written, WriteOut)


@_post("/reference/calls", WriteOut, "Register a call to action pledges may answer (admin)")
async def register_call(
    body: CallIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(writer, "register_call", principal, body, idempotency_key=idempotency_key)
    return created(written, WriteOut)


@_post("/pledges", PledgeWriteOut, "Submit a pledge for member cities (network)")
async def submit_pledge(
    body: PledgeIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    written = await write(writer, "submit_pledge", principal, body, idempotency_key=idempotency_key)
    if isinstance(written, Response):
        return written
    return created(written, PledgeWriteOut, f"/api/v1/pledges/{written.result.pledge_id}")


async def _pledge_write(
    name: CommandName,
    pledge_id: str,
    body: BaseModel,
    principal: Principal,
    writer: GroupCommitter,
    idempotency_key: str | None,
    if_match: str | None,
    out: type[WriteOut] = PledgeWriteOut,
) -> Response:
    written = await write(
        writer,
        name,
        principal,
        body,
        target=pledge_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, out)


@_post("/pledges/{pledge_id}/amendments", PledgeWriteOut, "Amend a pledge (owning network)")
async def amend_pledge(
    pledge_id: str,
    body: AmendmentIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "amend_pledge", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post("/pledges/{pledge_id}/progress", PledgeWriteOut, "Report progress (owning network)")
async def report_progress(
    pledge_id: str,
    body: ProgressIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "report_progress", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post("/pledges/{pledge_id}/validations", PledgeWriteOut, "Validate a pledge (validator)")
async def validate_pledge(
    pledge_id: str,
    body: ValidationIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "validate_pledge", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/matches",
    MatchWriteOut,
    "Offer a match to the pledge: a supporting pledge or a funder (either side's network; a "
    "validator for a funder)",
)
async def match_pledge(
    pledge_id: str,
    body: MatchIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "match_pledge", pledge_id, body, principal, writer, idempotency_key, if_match, MatchWriteOut
    )


@_post(
    "/pledges/{pledge_id}/matches/{match_id}/acceptance",
    PledgeWriteOut,
    "Accept a match offered to the other side (the side that did not offer it)",
)
async def accept_match(
    pledge_id: str,
    match_id: str,
    body: MatchAcceptanceIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    command = pledges.AcceptMatch(match_id=match_id, note=body.note)
    return await _pledge_write(
        "accept_match", pledge_id, command, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/matches/{match_id}/declination",
    PledgeWriteOut,
    "Decline a match offered to the other side (the side that did not offer it)",
)
async def decline_match(
    pledge_id: str,
    match_id: str,
    body: MatchDeclinationIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    command = pledges.DeclineMatch(match_id=match_id, reason=body.reason)
    return await _pledge_write(
        "decline_match", pledge_id, command, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/matches/{match_id}/ending",
    PledgeWriteOut,
    "End an open offer or an accepted match (either side)",
)
async def end_match(
    pledge_id: str,
    match_id: str,
    body: MatchEndingIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    command = pledges.EndMatch(match_id=match_id, reason=body.reason)
    return await _pledge_write(
        "end_match", pledge_id, command, principal, writer, idempotency_key, if_match
    )


@_post("/pledges/{pledge_id}/withdrawal", PledgeWriteOut, "Withdraw a pledge (owning network)")
async def withdraw_pledge(
    pledge_id: str,
    body: WithdrawalIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "withdraw_pledge", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post("/pledges/{pledge_id}/closure", PledgeWriteOut, "Close a pledge (owning network)")
async def close_pledge(
    pledge_id: str,
    body: ClosureIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "close_pledge", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/errata",
    PledgeWriteOut,
    "Correct an earlier event of the pledge (owning network, validator, admin); with "
    "`observation`, supersede that observation's value (owning network, admin)",
)
async def record_erratum(
    pledge_id: str,
    body: ErratumIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    command = body.command()
    name: CommandName = (
        "record_erratum" if isinstance(command, pledges.RecordErratum) else "correct_observation"
    )
    return await _pledge_write(
        name, pledge_id, command, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/translations",
    PledgeWriteOut,
    "Translate a pledge's title, description or a report's narrative (owning network)",
)
async def translate_pledge(
    pledge_id: str,
    body: TranslationIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """A translation is never material: a validated pledge stays validated."""
    return await _pledge_write(
        "translate_pledge", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/external-ids",
    PledgeWriteOut,
    "Record an id the pledge has elsewhere: grf, gcm or its network's reference (owning network)",
)
async def add_external_id(
    pledge_id: str,
    body: ExternalIdIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """An id names one pledge: one that another pledge carries is refused (409)."""
    return await _pledge_write(
        "add_external_id", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post(
    "/pledges/{pledge_id}/external-ids/removal",
    PledgeWriteOut,
    "Remove an external id from the pledge, with the reason (owning network)",
)
async def remove_external_id(
    pledge_id: str,
    body: ExternalIdRemovalIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    return await _pledge_write(
        "remove_external_id", pledge_id, body, principal, writer, idempotency_key, if_match
    )


@_post(
    "/cities/{city_id}/corrections",
    WriteOut,
    "Correct or translate a city's registry entry (admin)",
)
async def correct_city(
    city_id: str,
    body: CityCorrectionIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Names per language (an empty text removes one) and/or the country; pledges naming the
    city count under a corrected country from then on. The city's history keeps every version."""
    written = await write(
        writer,
        "correct_city",
        principal,
        body,
        target=city_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post(
    "/networks/{network_id}/corrections",
    WriteOut,
    "Correct or translate a network's names (admin, that network)",
)
async def correct_network(
    network_id: str,
    body: NetworkCorrectionIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    written = await write(
        writer,
        "correct_network",
        principal,
        body,
        target=network_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post(
    "/networks/{network_id}/members/{city_id}/departure",
    WriteOut,
    "A member city leaves the network (admin, that network)",
)
async def leave_network(
    network_id: str,
    city_id: str,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """The city stays in the network's history; its pledges keep their cities."""
    command = parse_command(registry.LeaveNetwork, {"city_id": city_id})
    written = await write(
        writer,
        "leave_network",
        principal,
        command,
        target=network_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)


@_post(
    "/declarations/{declaration_id}/signatures/{city_id}/withdrawal",
    WriteOut,
    "A city withdraws its signature of a declaration (admin, network)",
)
async def withdraw_signature(
    declaration_id: str,
    city_id: str,
    body: SignatureWithdrawalIn,
    principal: PrincipalDep,
    writer: WriterDep,
    idempotency_key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """The signature stays in the declaration's history; the signatories no longer list it."""
    command = parse_command(
        registry.WithdrawSignature,
        {"city_id": city_id, "withdrawn_on": body.withdrawn_on, "reason": body.reason},
    )
    written = await write(
        writer,
        "withdraw_signature",
        principal,
        command,
        target=declaration_id,
        idempotency_key=idempotency_key,
        if_match=if_match,
    )
    return created(written, WriteOut)
