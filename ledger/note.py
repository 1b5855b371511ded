"""Ed25519 signed notes (C2SP ``signed-note``), as used for the log's checkpoints.

A signed note is a UTF-8 text ending in a newline, a blank line, then one or more signature lines::

    <text, ending in "\\n">
    <blank line>
    — <key name> <base64(4-byte key hash ‖ 64-byte Ed25519 signature)>

The key hash is ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key)[:4]`` and a verifier key (*vkey*) is the
text ``<name>+<hex key hash>+<base64(0x01 ‖ public key)>``; a signer key (*skey*) is
``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 ‖ seed)>``. Both match golang.org/x/mod/sumdb/note,
the specification's reference implementation, byte for byte.

:func:`open_note` parses first, then verifies, and answers only with text that a trusted key signed.
Two deliberate points are stricter than the Go package: every base64 field must be canonical (so a
note has exactly one encoding, and no flipped padding bit goes unnoticed), and every signature made
with a trusted key is verified, including repeats (Go skips a second signature by the same key; the
specification says a signature from a known key MUST be verified).

Specs: https://c2sp.org/signed-note and https://pkg.go.dev/golang.org/x/mod/sumdb/note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from ledger.errors import LedgerError

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "InvalidKeyError",
    "InvalidSignatureError",
    "KeyHashMismatchError",
    "MalformedNoteError",
    "Note",
    "NoteError",
    "Signature",
    "Signer",
    "UnverifiedNoteError",
    "Verifier",
    "generate_signer",
    "key_hash",
    "open_note",
    "sign_note",
]

ALG_ED25519: Final = 0x01
"""The signature type byte C2SP assigns to Ed25519."""

MAX_SIGNATURES: Final = 100
"""Most signature lines :func:`open_note` reads (the spec requires accepting at least 16)."""

_SIG_PREFIX: Final = "— "  # em dash U+2014, space
_SKEY_PREFIX: Final = "PRIVATE+KEY+"
_ED25519_KEY_SIZE: Final = 32
_ED25519_SIG_SIZE: Final = 64
_KEY_HASH_HEX = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(LedgerError):
    """Root of every error about signed notes, their keys and the checkpoints they carry."""

    code = "note_error"


class InvalidKeyError(NoteError):
    """A key name, verifier key (vkey) or signer key (skey) is malformed or inconsistent.

    Messages describe the defect only; they never repeat the key material.
    """

    code = "invalid_key"


class MalformedNoteError(NoteError):
    """The bytes are not a well-formed signed note (encoding, layout, signature lines)."""

    code = "malformed_note"


class UnverifiedNoteError(NoteError):
    """The note is well formed but carries no signature by any trusted key."""

    code = "unverified_note"


class KeyHashMismatchError(UnverifiedNoteError):
    """No trusted signature, and a signature names a trusted key's name with another key hash.

    Usually the log rotated its key, or the verifier was given the wrong vkey.
    """

    code = "key_hash_mismatch"


class InvalidSignatureError(NoteError):
    """A signature by a trusted key (same name and key hash) fails to verify: the note changed."""

    code = "invalid_signature"


def key_hash(name: str, public_key: bytes) -> int:
    """The 32-bit Ed25519 key ID: ``SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public_key)[:4]``, big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _check_key_name(name: str) -> None:
    if not name:
        raise InvalidKeyError("key name is empty")
    if "+" in name:
        raise InvalidKeyError(f"key name {name!r} contains '+'")
    if any(char.isspace() for char in name):
        raise InvalidKeyError(f"key name {name!r} contains whitespace")
    if _CONTROL.search(name):
        raise InvalidKeyError(f"key name {name!r} contains a control character")
    try:
        name.encode()
    except UnicodeEncodeError as error:
        raise InvalidKeyError(f"key name {name!r} is not valid Unicode") from error


def _decode_base64(text: str) -> bytes | None:
    """Standard base64, canonical only (padding present, unused bits zero); None if not."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _parse_key_hash(text: str) -> int:
    if not _KEY_HASH_HEX.fullmatch(text):
        raise InvalidKeyError("key hash must be 8 lowercase hex digits")
    return int(text, 16)


def _parse_key_data(text: str, kind: str) -> bytes:
    raw = _decode_base64(text)
    if raw is None:
        raise InvalidKeyError(f"{kind} key data is not canonical base64")
    if not raw:
        raise InvalidKeyError(f"{kind} key data is empty")
    if raw[0] != ALG_ED25519:
        raise InvalidKeyError(
            f"unknown signature algorithm 0x{raw[0]:02x} (only Ed25519, 0x01, is supported)"
        )
    if len(raw) - 1 != _ED25519_KEY_SIZE:
        raise InvalidKeyError(
            f"{kind} Ed25519 key must be {_ED25519_KEY_SIZE} bytes, got {len(raw) - 1}"
        )
    return raw[1:]


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 public key under a key name; it checks signatures in notes."""

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise InvalidKeyError(
                f"Ed25519 public key must be {_ED25519_KEY_SIZE} bytes, got {len(self.public_key)}"
            )

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse ``<name>+<hex key hash>+<base64(0x01 ‖ public key)>``.

        Whitespace around the text is ignored (a vkey file ends with a newline).
        """
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise InvalidKeyError("malformed verifier key: expected <name>+<key hash>+<key data>")
        name, hash_hex, key_b64 = parts
        _check_key_name(name)
        claimed = _parse_key_hash(hash_hex)
        verifier = cls(name, _parse_key_data(key_b64, "verifier"))
        if verifier.key_hash != claimed:
            raise InvalidKeyError(
                f"key hash mismatch: verifier key says {claimed:08x}, "
                f"its name and public key give {verifier.key_hash:08x}"
            )
        return verifier

    @property
    def key_hash(self) -> int:
        """The 32-bit key ID that prefixes this key's signatures."""
        return key_hash(self.name, self.public_key)

    @property
    def vkey(self) -> str:
        """The verifier key text, safe to publish."""
        key_data = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_hash:08x}+{key_data}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (the bytes after the key hash) signs ``message`` with this key."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 private key under a key name. Keep its :attr:`skey` secret."""

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != _ED25519_KEY_SIZE:
            raise InvalidKeyError(f"Ed25519 seed must be {_ED25519_KEY_SIZE} bytes")
        self._private_key = Ed25519PrivateKey.from_private_bytes(seed)
        public_key = self._private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._verifier = Verifier(name, public_key)

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 ‖ seed)>``.

        Whitespace around the text is ignored (a key file ends with a newline).
        """
        text = skey.strip()
        if not text.startswith(_SKEY_PREFIX):
            raise InvalidKeyError("malformed signer key: it must start with 'PRIVATE+KEY+'")
        parts = text[len(_SKEY_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise InvalidKeyError(
                "malformed signer key: expected PRIVATE+KEY+<name>+<key hash>+<key data>"
            )
        name, hash_hex, key_b64 = parts
        _check_key_name(name)
        claimed = _parse_key_hash(hash_hex)
        signer = cls(name, _parse_key_data(key_b64, "signer"))
        # The hash names the public key, so it can only be checked once the key is derived.
        if signer.key_hash != claimed:
            raise InvalidKeyError(
                f"key hash mismatch: signer key says {claimed:08x}, "
                f"its name and derived public key give {signer.key_hash:08x}"
            )
        return signer

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_hash(self) -> int:
        return self._verifier.key_hash

    @property
    def verifier(self) -> Verifier:
        """The matching public key."""
        return self._verifier

    @property
    def vkey(self) -> str:
        """The verifier key text, safe to publish."""
        return self._verifier.vkey

    @property
    def skey(self) -> str:
        """The signer key text: the secret. Store it only in a file readable by its owner."""
        seed = self._private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        key_data = base64.b64encode(bytes([ALG_ED25519]) + seed).decode("ascii")
        return f"{_SKEY_PREFIX}{self.name}+{self.key_hash:08x}+{key_data}"

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_hash={self.key_hash:08x})"


def generate_signer(name: str) -> Signer:
    """A new random Ed25519 signer under ``name``."""
    _check_key_name(name)
    seed = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return Signer(name, seed)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key hash, and the signature bytes after the key hash."""

    name: str
    key_hash: int
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line as it appears in a note, without the newline."""
        encoded = self.key_hash.to_bytes(4, "big") + self.signature
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(encoded).decode('ascii')}"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the signatures that verified, and those by unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified_signatures: tuple[Signature, ...] = ()


def _check_note_characters(text: str) -> None:
    control = _CONTROL.search(text)
    if control:
        raise MalformedNoteError(
            f"control character U+{ord(control.group()):04X} at character offset {control.start()}"
        )


def sign_note(text: str, signer: Signer) -> bytes:
    """The signed note for ``text``: the text, a blank line, and ``signer``'s signature line."""
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    _check_note_characters(text)
    try:
        message = text.encode()
    except UnicodeEncodeError as error:
        raise MalformedNoteError("note text is not valid Unicode") from error
    line = Signature(signer.name, signer.key_hash, signer.sign(message)).line
    return message + b"\n" + line.encode() + b"\n"


def _parse_signature_line(line: str, number: int) -> Signature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedNoteError(f"signature line {number} does not start with '— '")
    name, space, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not space:
        raise MalformedNoteError(f"signature line {number} has no space after the key name")
    try:
        _check_key_name(name)
    except InvalidKeyError as error:
        raise MalformedNoteError(f"signature line {number}: {error}") from error
    raw = _decode_base64(encoded)
    if raw is None:
        raise MalformedNoteError(f"signature line {number}: signature is not canonical base64")
    if len(raw) < 5:
        raise MalformedNoteError(f"signature line {number}: signature is shorter than 5 bytes")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def _trusted_by_id(verifiers: Iterable[Verifier]) -> dict[tuple[str, int], Verifier]:
    trusted: dict[tuple[str, int], Verifier] = {}
    for verifier in verifiers:
        key_id = (verifier.name, verifier.key_hash)
        known = trusted.setdefault(key_id, verifier)
        if known.public_key != verifier.public_key:
            raise InvalidKeyError(
                f"two trusted keys share the name {verifier.name!r} "
                f"and key hash {verifier.key_hash:08x}"
            )
    return trusted


def _unverified_error(
    unverified: list[Signature], trusted: dict[tuple[str, int], Verifier]
) -> UnverifiedNoteError:
    trusted_names = {verifier.name: verifier.key_hash for verifier in trusted.values()}
    for signature in unverified:
        if signature.name in trusted_names:
            return KeyHashMismatchError(
                f"note has no signature by a trusted key: it is signed by {signature.name!r} "
                f"with key hash {signature.key_hash:08x}, but the trusted key of that name "
                f"has key hash {trusted_names[signature.name]:08x}"
            )
    found = ", ".join(f"{s.name}+{s.key_hash:08x}" for s in unverified)
    wanted = ", ".join(f"{name}+{key_id:08x}" for name, key_id in trusted) or "none"
    return UnverifiedNoteError(
        f"note has no signature by a trusted key (trusted: {wanted}; signed by: {found})"
    )


def open_note(note: bytes, verifiers: Iterable[Verifier]) -> Note:
    """Parse a signed note, verify it, and return it if a trusted key signed it.

    Signatures by unknown keys are kept aside (``unverified_signatures``), as the spec requires;
    every signature by a trusted key must verify, and at least one must be present.

    Raises :class:`MalformedNoteError`, :class:`InvalidSignatureError`,
    :class:`UnverifiedNoteError` (or its :class:`KeyHashMismatchError`), or
    :class:`InvalidKeyError` when two trusted keys share a name and key hash.
    """
    trusted = _trusted_by_id(verifiers)
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedNoteError(f"note is not valid UTF-8 (byte offset {error.start})") from error
    _check_note_characters(decoded)
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    text, block = decoded[: split + 1], decoded[split + 2 :]
    if not block:
        raise MalformedNoteError("note has no signature lines after the blank line")
    if not block.endswith("\n"):
        raise MalformedNoteError("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            f"note has {len(lines)} signature lines, more than the limit of {MAX_SIGNATURES}"
        )
    parsed = [_parse_signature_line(line, number) for number, line in enumerate(lines, 1)]

    message = text.encode()
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for signature in parsed:
        verifier = trusted.get((signature.name, signature.key_hash))
        if verifier is None:
            if signature not in unverified:
                unverified.append(signature)
        elif not verifier.verify(message, signature.signature):
            key_id = f"{signature.name}+{signature.key_hash:08x}"
            raise InvalidSignatureError(f"signature by trusted key {key_id} does not verify")
        elif signature not in verified:
            verified.append(signature)
    if not verified:
        raise _unverified_error(unverified, trusted)
    return Note(text, tuple(verified), tuple(unverified))
