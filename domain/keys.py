"""API keys: their public history (issued, revoked) and the rules around it.

Each key is a stream ``apikey:<key_id>``. Its events hold the key id, its role, its network and
an optional label, never its secret (the ledger keeps only a hash of that, off the log). Because
the history is public, an auditor can check that every event was recorded by a key that was
active, and allowed to act for that network, when it was recorded.

The local operator, the person running the command line on the machine that holds the store and
the signing key, is already fully trusted: its principal is the reserved key id ``operator``
with the admin role, the only key id that is never issued on the log.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from pydantic import Field

from domain.authority import require_authority
from domain.errors import AlreadyExists, InvalidInput, NotFound, NotPermitted
from domain.events import KeyIssued, KeyRevoked, Model, NewEvent, Payload, refusing_invalid_input
from domain.principal import Principal, Role
from domain.registry import NetworkState
from domain.values import Reason, Slug, Text

OPERATOR_KEY_ID = "operator"
OPERATOR = Principal(OPERATOR_KEY_ID, "admin")
"""The local operator's principal: trusted by whoever runs the ledger, never issued on the log."""

DEFAULT_REVOCATION_REASON = "no reason given"


class InactiveKey(NotPermitted):
    """The principal's key was never issued, was revoked, or does not match what was issued."""

    code = "inactive_key"


def key_stream(key_id: str) -> str:
    return f"apikey:{key_id}"


@dataclass(frozen=True, slots=True)
class KeyState:
    key_id: str
    role: Role
    network_id: str | None
    label: str
    revoked: bool = False
    revocation_reason: str | None = None

    def principal(self) -> Principal:
        return Principal(self.key_id, self.role, self.network_id)


def evolve_key(state: KeyState | None, payload: Payload) -> KeyState:
    if isinstance(payload, KeyIssued):
        return KeyState(payload.key_id, payload.role, payload.network_id, payload.label)
    if state is None:
        raise InvalidInput("key event before the key was issued", field="type")
    if isinstance(payload, KeyRevoked):
        return replace(state, revoked=True, revocation_reason=payload.reason)
    raise InvalidInput(f"{type(payload).__name__} does not belong to an API key", field="type")


# --- commands -------------------------------------------------------------------------------------

KeyLabel = Annotated[Text, Field(max_length=100)]


class IssueKey(Model):
    key_id: Slug
    role: Role
    network_id: Slug | None = None
    label: KeyLabel = ""


class RevokeKey(Model):
    reason: Reason = DEFAULT_REVOCATION_REASON


# --- decisions ------------------------------------------------------------------------------------


@refusing_invalid_input
def issue_key(
    command: IssueKey,
    existing: KeyState | None,
    network: NetworkState | None,
    principal: Principal,
) -> list[NewEvent]:
    """Issue a key; ``network`` is the state of the network a network key is for (else None)."""
    require_authority(principal, "apikey.issued", action="issue API keys")
    if command.key_id == OPERATOR_KEY_ID:
        raise InvalidInput(
            f"{OPERATOR_KEY_ID} is the local operator's reserved key id", field="key_id"
        )
    if existing is not None:
        raise AlreadyExists(f"key {command.key_id} was already issued", field="key_id")
    if command.role == "network":
        if command.network_id is None:
            raise InvalidInput("a network key names its network", field="network_id")
        if network is None:
            raise NotFound(f"network {command.network_id} is not registered", field="network_id")
    elif command.network_id is not None:
        raise InvalidInput(
            f"only a network key names a network, not a {command.role} key", field="network_id"
        )
    payload = KeyIssued(
        key_id=command.key_id,
        role=command.role,
        network_id=command.network_id,
        label=command.label,
    )
    return [NewEvent(payload)]


@refusing_invalid_input
def revoke_key(
    key_id: str, command: RevokeKey, state: KeyState | None, principal: Principal
) -> list[NewEvent]:
    require_authority(principal, "apikey.revoked", action="revoke API keys")
    if state is None:
        raise NotFound(f"key {key_id} was never issued", field="key_id")
    if state.revoked:
        raise InvalidInput(f"key {key_id} is already revoked", field="key_id")
    return [NewEvent(KeyRevoked(key_id=key_id, reason=command.reason))]


def check_active(principal: Principal, state: KeyState | None) -> None:
    """Refuse a principal that is not the operator and not an issued, unrevoked key with the
    same role and network; ``state`` is the key's stream state (None if never issued)."""
    if principal.key_id == OPERATOR_KEY_ID:
        if principal != OPERATOR:
            raise InactiveKey(f"the {OPERATOR_KEY_ID} principal is an admin of no network")
        return
    if state is None:
        raise InactiveKey(f"key {principal.key_id} was never issued")
    if state.revoked:
        raise InactiveKey(f"key {principal.key_id} was revoked")
    if state.principal() != principal:
        raise InactiveKey(
            f"key {principal.key_id} was issued as {_described(state.principal())}, "
            f"not as {_described(principal)}"
        )


def _described(principal: Principal) -> str:
    if principal.network_id is None:
        return f"a {principal.role} key"
    return f"a network key of {principal.network_id}"
