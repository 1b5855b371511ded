"""API keys on the ledger: issuing one (its secret shown once), revoking it, checking a secret.

A key's history is public: ``issue_key`` and ``revoke_key`` write ``apikey.issued`` and
``apikey.revoked`` events through the one write path. Its secret is not: 32 random bytes, shown
once to whoever issued the key as ``plk_<key_id>_<base64url secret>`` (so the key id is read
from the token without a lookup), and kept only as its SHA-256 in the private
``api_key_secrets`` table, which is neither on the log nor in an export. A presented secret is
compared with ``hmac.compare_digest``.

``authenticate`` turns a presented token into the key's principal. It reads the key's state
through the ledger's stream cache, which is brought up to the store's position first, so a key
revoked by another process is refused on its next request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from domain import keys
from domain.keys import KeyState, key_stream
from domain.principal import Principal, Role
from domain.values import check_slug
from ledger.clock import Clock, format_timestamp
from ledger.database import api_key_secrets
from ledger.errors import LedgerError, StoreUnavailable
from ledger.store import EventStore
from ledger.write_path import Ledger, Written

TOKEN_PREFIX = "plk_"  # noqa: S105 - the public prefix of every key, not a secret
SECRET_BYTES = 32
_SECRET_CHARACTERS = 43  # base64url of 32 bytes, without padding
_TOKEN_LIMIT = len(TOKEN_PREFIX) + 64 + 1 + _SECRET_CHARACTERS


class KeyRejected(LedgerError):
    """A presented key is malformed, unknown, or its secret is wrong."""

    code = "key_rejected"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just issued: its token (the secret, shown once) and the write that recorded it."""

    key_id: str
    role: Role
    network_id: str | None
    token: str
    written: Written


def new_key_id() -> str:
    """A fresh key id: ``k-`` and 16 hex digits (a slug, so it never holds the token's ``_``)."""
    return f"k-{secrets.token_hex(8)}"


def token_of(key_id: str, secret: bytes) -> str:
    return f"{TOKEN_PREFIX}{key_id}_{base64.urlsafe_b64encode(secret).rstrip(b'=').decode()}"


def parse_token(token: str) -> tuple[str, bytes]:
    """The key id and secret of ``plk_<key_id>_<base64url secret>``; refuses a malformed one."""
    if len(token) > _TOKEN_LIMIT or not token.startswith(TOKEN_PREFIX):
        raise KeyRejected(f"an API key has the form {TOKEN_PREFIX}<key id>_<secret>")
    key_id, separator, encoded = token[len(TOKEN_PREFIX) :].partition("_")
    try:
        check_slug(key_id)
    except ValueError as error:
        raise KeyRejected(f"the API key's id is malformed: {error}") from error
    if not separator or len(encoded) != _SECRET_CHARACTERS:
        raise KeyRejected(f"the API key's secret is not {_SECRET_CHARACTERS} base64url characters")
    try:
        secret = base64.urlsafe_b64decode(encoded + "=")
    except (binascii.Error, ValueError) as error:
        raise KeyRejected("the API key's secret is not base64url") from error
    if len(secret) != SECRET_BYTES or token_of(key_id, secret) != token:
        raise KeyRejected("the API key's secret is not base64url of 32 bytes")
    return key_id, secret


class KeySecrets:
    """The private table of secret hashes: one SHA-256 per key, never the secret itself."""

    # Stored hashes already read, by key id: a key's hash never changes once stored (revoking a
    # key is an event on the log, which ``authenticate`` reads every time), so each request need
    # not read the table again. Bounded; emptied when full.
    _KNOWN_LIMIT = 10_000

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._known: dict[str, bytes] = {}

    def store(self, key_id: str, secret: bytes) -> None:
        row = {
            "key_id": key_id,
            "sha256": hashlib.sha256(secret).digest(),
            "created_at": format_timestamp(self._clock.now()),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(api_key_secrets).values(row))
        except IntegrityError as error:
            raise KeyRejected(f"key {key_id} already has a secret", field="key_id") from error
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot store the key's secret hash: {error}") from error

    def forget(self, key_id: str) -> None:
        self._known.pop(key_id, None)
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    delete(api_key_secrets).where(api_key_secrets.c.key_id == key_id)
                )
        except SQLAlchemyError as error:
            raise StoreUnavailable(f"cannot remove the key's secret hash: {error}") from error

    def matches(self, key_id: str, secret: bytes) -> bool:
        """Whether ``secret`` is the secret of ``key_id``, compared in constant time."""
        stored = self._known.get(key_id)
        if stored is None:
            query = select(api_key_secrets.c.sha256).where(api_key_secrets.c.key_id == key_id)
            try:
                with self._engine.connect() as connection:
                    stored = connection.execute(query).scalar_one_or_none()
            except SQLAlchemyError as error:
                raise StoreUnavailable(f"cannot read the key's secret hash: {error}") from error
            if stored is not None:
                if len(self._known) >= self._KNOWN_LIMIT:
                    self._known.clear()
                self._known[key_id] = bytes(stored)
        presented = hashlib.sha256(secret).digest()
        # An unknown key is compared too, so that its answer takes as long as a wrong secret's.
        expected = bytes(stored) if stored is not None else bytes(32)
        return hmac.compare_digest(presented, expected) and stored is not None


def issue_key(
    ledger: Ledger,
    key_secrets: KeySecrets,
    principal: Principal,
    *,
    role: Role,
    network_id: str | None = None,
    label: str = "",
) -> IssuedKey:
    """Issue a new key on the log and keep its secret's hash; the token is returned once.

    The hash is stored first: if the ``apikey.issued`` event is then refused (a network key for
    an unknown network, a principal that may not issue keys), the hash is removed again, and a
    key on the log always has a secret.
    """
    key_id = new_key_id()
    secret = secrets.token_bytes(SECRET_BYTES)
    key_secrets.store(key_id, secret)
    body = {"key_id": key_id, "role": role, "network_id": network_id, "label": label}
    try:
        written = ledger.write("issue_key", principal, body)
    except BaseException:
        key_secrets.forget(key_id)
        raise
    return IssuedKey(key_id, role, network_id, token_of(key_id, secret), written)


def revoke_key(
    ledger: Ledger, principal: Principal, key_id: str, reason: str = keys.DEFAULT_REVOCATION_REASON
) -> Written:
    """Revoke a key on the log: from its next request on, it is refused."""
    return ledger.write("revoke_key", principal, {"reason": reason}, target=key_id)


def key_state(ledger: Ledger, key_id: str) -> KeyState | None:
    """The key's state as the store holds it now (the cache is synced with the store first)."""
    state: KeyState | None = ledger.new_batch().load(key_stream(key_id)).state
    return state


def _cached_key_state(ledger: Ledger, key_id: str) -> KeyState | None:
    state: KeyState | None = ledger.cache.load(key_stream(key_id)).state
    return state


def authenticate(
    ledger: Ledger, key_secrets: KeySecrets, token: str, *, synced: bool = True
) -> Principal:
    """The principal of a presented token: ``KeyRejected`` for a malformed, unknown or wrong one,
    ``InactiveKey`` (the domain's) for a key that was revoked.

    ``synced=False`` reads the key's state from the process's stream cache without first
    syncing the cache with the store: for a caller whose commands the ledger checks again when it
    executes them (``Batch.require_active``, after its own sync), as the HTTP writes are. A key
    revoked by another process is then refused by that check, in the same request.
    """
    key_id, secret = parse_token(token)
    if not key_secrets.matches(key_id, secret):
        raise KeyRejected("unknown API key, or a wrong secret")
    state = key_state(ledger, key_id) if synced else _cached_key_state(ledger, key_id)
    if state is None:
        raise KeyRejected("unknown API key, or a wrong secret")
    principal = state.principal()
    keys.check_active(principal, state)
    return principal


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A key's public history, for ``keys list``: never its secret."""

    key_id: str
    role: Role
    network_id: str | None
    label: str
    issued_at: str
    issued_by: str
    revoked_at: str | None
    revoked_by: str | None
    revocation_reason: str | None


def key_history(store: EventStore, engine: Engine) -> Sequence[KeyRecord]:
    """Every key issued on the log, in key id order, read without writing."""
    records = []
    with engine.connect() as connection:
        stream_ids = store.stream_ids(connection, "apikey")
    for stream_id in stream_ids:
        envelopes = store.read_stream(stream_id)
        state: KeyState | None = None
        issued = revoked = None
        for envelope in envelopes:
            state = keys.evolve_key(state, envelope.decode_payload())
            if envelope.type == "apikey.issued":
                issued = envelope
            elif envelope.type == "apikey.revoked":
                revoked = envelope
        if state is None or issued is None:
            continue
        records.append(
            KeyRecord(
                key_id=state.key_id,
                role=state.role,
                network_id=state.network_id,
                label=state.label,
                issued_at=issued.recorded_at,
                issued_by=issued.recorded_by,
                revoked_at=revoked.recorded_at if revoked else None,
                revoked_by=revoked.recorded_by if revoked else None,
                revocation_reason=state.revocation_reason,
            )
        )
    return records
