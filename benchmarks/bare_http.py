"""The ceiling any HTTP write endpoint on this machine stays under: FastAPI validating the body.

``benchmarks.http`` serves this app with the same uvicorn settings as the ledger and drives it
with the same requests: it parses the JSON body into the same command model the ledger's
endpoint takes (``domain.registry.RegisterCity``), checks the bearer header is there, and
answers 201 with a small JSON body, storing nothing. What the ledger does on top (decide, seal,
append, integrate, catch up the views, sign, prove) is the difference.

    uvicorn benchmarks.bare_http:app --host 127.0.0.1 --port 8100
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, HTTPException
from fastapi.responses import ORJSONResponse

from domain.registry import RegisterCity

app = FastAPI(title="bare validation ceiling")


@app.post("/api/v1/cities", status_code=201, response_class=ORJSONResponse)
def register_city(
    body: RegisterCity, authorization: Annotated[str | None, Header()] = None
) -> dict[str, str]:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(status_code=401, detail="a bearer key is required")
    return {"city_id": body.id}


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
