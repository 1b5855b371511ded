"""FastAPI dependency aliases: the wired services of the running app, read from its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.bootstrap import Services
from ledger.settings import LedgerSettings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> LedgerSettings:
    return get_services(request).settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[LedgerSettings, Depends(get_settings)]
