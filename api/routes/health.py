"""Liveness and readiness: is the process up; can it reach its store, with the log caught up."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.dependencies import ServicesDep

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str


class ReadinessOut(BaseModel):
    status: str
    store_head: int | None = None
    log_size: int | None = None
    detail: str | None = None


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process answers."""
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    response_model_exclude_none=True,
    responses={503: {"model": ReadinessOut, "description": "not ready"}},
)
def readyz(services: ServicesDep) -> ReadinessOut | JSONResponse:
    """Ready when the store answers and every stored event is integrated into the log."""
    try:
        head = services.store.max_notification_id()
        integrated = services.log.integrated_position()
        size = services.log.tree_size()
    except Exception as error:
        out = ReadinessOut(status="unavailable", detail=str(error).splitlines()[0][:200])
        return JSONResponse(out.model_dump(exclude_none=True), status_code=503)
    if integrated < head:
        out = ReadinessOut(
            status="integrating",
            store_head=head,
            log_size=size,
            detail=f"the log has integrated the store up to {integrated} of {head}",
        )
        return JSONResponse(out.model_dump(exclude_none=True), status_code=503)
    return ReadinessOut(status="ready", store_head=head, log_size=size)
