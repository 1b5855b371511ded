"""External ids: the ids a pledge has on other platforms, recorded by events, each held by one
pledge at a time.

A pledge's external id is ``scheme:value``. The schemes are ``grf`` (its Global Refugee Forum
pledge id), ``gcm`` (its GCM pledging platform id) and the id of the pledge's own network (that
network's reference for it, e.g. ``uclg:P-2024-017``): a network names only its own references.

Uniqueness across pledges is a rule over many streams, so each id has a stream of its own, the
*claim* (``extid:<SHA-256 of scheme:value>``): adding an id to a pledge writes
``pledge.external_id_added`` to the pledge and ``extid.claimed`` to the claim in one append, and
removing it writes ``pledge.external_id_removed`` and ``extid.released``. Two pledges claiming
one id at once collide on the claim stream's version, so the store itself refuses the second.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import ValidationError

from domain.authority import require_authority
from domain.errors import AlreadyExists, InvalidInput, NotFound
from domain.events import (
    ExternalIdAdded,
    ExternalIdClaimed,
    ExternalIdReleased,
    ExternalIdRemoved,
    Model,
    NewEvent,
    Payload,
    invalid_input_from,
    refusing_invalid_input,
)
from domain.pledge import Command, PledgeState
from domain.principal import Principal
from domain.values import ExternalIdScheme, ExternalIdValue, Reason

PLATFORM_SCHEMES: dict[str, str] = {
    "grf": "Global Refugee Forum pledge id",
    "gcm": "GCM pledging platform id",
}


def external_id_key(scheme: str, value: str) -> str:
    """The id as written in queries and pages: ``scheme:value``."""
    return f"{scheme}:{value}"


def external_id_digest(scheme: str, value: str) -> str:
    """SHA-256 hex of ``scheme:value``: the claim stream's name, and the read model's key."""
    return hashlib.sha256(external_id_key(scheme, value).encode()).hexdigest()


def claim_stream(scheme: str, value: str) -> str:
    return f"extid:{external_id_digest(scheme, value)}"


def parse_external_id(text: str) -> tuple[str, str]:
    """``SCHEME:ID`` split into its scheme and value, each checked (``InvalidInput`` if not)."""
    scheme, colon, value = text.partition(":")
    if not colon:
        raise InvalidInput(
            f"an external id is written SCHEME:ID (such as grf:12345), not {text!r}",
            field="external_id",
        )
    try:
        checked = _ExternalId(scheme=scheme, value=value)
    except ValidationError as error:
        refused = invalid_input_from(error)
        raise InvalidInput(
            f"{text!r} is not an external id: its {refused.field} {refused.message}",
            field="external_id",
        ) from error
    return checked.scheme, checked.value


class _ExternalId(Model):
    scheme: ExternalIdScheme
    value: ExternalIdValue


@dataclass(frozen=True, slots=True)
class ClaimState:
    """Which pledge holds the id now (None: released)."""

    scheme: str
    value: str
    pledge_id: str | None


def evolve_claim(state: ClaimState | None, payload: Payload) -> ClaimState:
    if isinstance(payload, ExternalIdClaimed):
        return ClaimState(payload.scheme, payload.value, payload.pledge_id)
    if isinstance(payload, ExternalIdReleased):
        return ClaimState(payload.scheme, payload.value, None)
    raise InvalidInput(f"{type(payload).__name__} does not belong to a claim", field="type")


class AddExternalId(Command):
    scheme: ExternalIdScheme
    value: ExternalIdValue


class RemoveExternalId(Command):
    scheme: ExternalIdScheme
    value: ExternalIdValue
    reason: Reason


def _require_owner(state: PledgeState, principal: Principal, event_type: str, action: str) -> None:
    require_authority(
        principal,
        event_type,
        action=f"{action} (only network {state.network_id}, which submitted pledge "
        f"{state.pledge_id}, may)",
        networks=(state.network_id,),
    )


def _check_scheme(state: PledgeState, scheme: str) -> None:
    if scheme not in PLATFORM_SCHEMES and scheme != state.network_id:
        raise InvalidInput(
            f"scheme {scheme!r} is not grf, gcm or the pledge's network ({state.network_id}): "
            "a network records only its own references",
            field="scheme",
        )


@refusing_invalid_input
def add_external_id(
    state: PledgeState, command: AddExternalId, claim: ClaimState | None, principal: Principal
) -> list[NewEvent]:
    """Record an id the pledge has elsewhere; refused if any pledge (this one too) holds it.

    Allowed on an ended pledge too: an id names the pledge, it changes nothing it promised.
    """
    _require_owner(state, principal, "pledge.external_id_added", "record its external ids")
    _check_scheme(state, command.scheme)
    key = external_id_key(command.scheme, command.value)
    if claim is not None and claim.pledge_id is not None:
        if claim.pledge_id == state.pledge_id:
            raise AlreadyExists(f"pledge {state.pledge_id} already carries {key}", field="value")
        raise AlreadyExists(
            f"{key} is already the id of pledge {claim.pledge_id}: an external id names one "
            "pledge (remove it there first)",
            field="value",
        )
    cities = tuple(state.content.cities)
    return [
        NewEvent(ExternalIdAdded(scheme=command.scheme, value=command.value), cities),
        NewEvent(
            ExternalIdClaimed(
                scheme=command.scheme, value=command.value, pledge_id=state.pledge_id
            ),
            cities,
            stream_id=claim_stream(command.scheme, command.value),
        ),
    ]


@refusing_invalid_input
def remove_external_id(
    state: PledgeState, command: RemoveExternalId, claim: ClaimState | None, principal: Principal
) -> list[NewEvent]:
    """Remove an id the pledge carries (it was wrong, or the other platform dropped it)."""
    _require_owner(state, principal, "pledge.external_id_removed", "remove its external ids")
    if claim is None or claim.pledge_id != state.pledge_id:
        raise NotFound(
            f"pledge {state.pledge_id} does not carry "
            f"{external_id_key(command.scheme, command.value)}",
            field="value",
        )
    cities = tuple(state.content.cities)
    return [
        NewEvent(
            ExternalIdRemoved(scheme=command.scheme, value=command.value, reason=command.reason),
            cities,
        ),
        NewEvent(
            ExternalIdReleased(
                scheme=command.scheme, value=command.value, pledge_id=state.pledge_id
            ),
            cities,
            stream_id=claim_stream(command.scheme, command.value),
        ),
    ]
