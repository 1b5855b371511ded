"""Log checkpoints (C2SP ``tlog-checkpoint``) and the log's signing key file.

A checkpoint is the note text::

    <origin>
    <tree size, decimal, no leading zeros>
    <base64 root hash>
    [<extension line>...]

signed as a C2SP signed note (:mod:`ledger.note`). :func:`open_checkpoint` verifies the note's
signature before it reads the body: the specification says the text must be ignored until then.

Spec: https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.merkle import HASH_SIZE
from ledger.note import (
    InvalidKeyError,
    NoteError,
    Signer,
    Verifier,
    generate_signer,
    open_note,
    sign_note,
)

__all__ = [
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "KeyFileError",
    "OriginMismatchError",
    "load_or_create_signer",
    "open_checkpoint",
    "sign_checkpoint",
]


MAX_TREE_SIZE: Final = 2**63 - 1
"""Largest tree size accepted, so that checkpoints stay readable by Go's tlog (an int64)."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")
_BASE64_32 = re.compile(r"[A-Za-z0-9+/]{43}=")


class CheckpointError(NoteError):
    """A checkpoint body is malformed, or a checkpoint's field is out of range."""

    code = "invalid_checkpoint"


class OriginMismatchError(CheckpointError):
    """A correctly signed checkpoint belongs to another log than the one expected."""

    code = "origin_mismatch"


class KeyFileError(NoteError):
    """The signing key file cannot be read, created or trusted. Messages never show the key."""

    code = "key_file_error"


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointError(f"{what} is empty")
    control = _CONTROL.search(value)
    if control:
        raise CheckpointError(f"{what} contains control character U+{ord(control.group()):04X}")


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: the log's origin, its tree size and the Merkle root at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size must be an integer from 0 to {MAX_TREE_SIZE}")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes, got {len(self.root)}")
        for number, extension in enumerate(self.extensions, 1):
            _check_line(extension, f"extension line {number}")

    def body(self) -> str:
        """The note text: one field per line, each ending in a newline."""
        root = _encode_root(self.root)
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body; ``Checkpoint.parse(body).body() == body`` for every valid one."""
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(
                f"checkpoint body has {len(lines)} lines, needs origin, tree size and root hash"
            )
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise CheckpointError(
                "tree size must be ASCII decimal digits without sign or leading zeros"
            )
        if len(size_text) > len(str(MAX_TREE_SIZE)) or int(size_text) > MAX_TREE_SIZE:
            raise CheckpointError(f"tree size is larger than {MAX_TREE_SIZE}")
        return cls(origin, int(size_text), _decode_root(root_text), tuple(extensions))


def _encode_root(root: bytes) -> str:
    return base64.b64encode(root).decode("ascii")


def _decode_root(text: str) -> bytes:
    # 32 bytes encode to exactly 43 characters and one "="; the last character must leave the two
    # unused bits zero, so each root hash has exactly one spelling.
    if not _BASE64_32.fullmatch(text):
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes in standard base64")
    root = base64.b64decode(text, validate=True)
    if base64.b64encode(root).decode("ascii") != text:
        raise CheckpointError("root hash is not canonical base64")
    return root


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """The signed note of ``checkpoint``. By convention the signer's key name is the origin."""
    return sign_note(checkpoint.body(), signer)


def open_checkpoint(note: bytes, verifier: Verifier, expected_origin: str | None) -> Checkpoint:
    """Verify a signed checkpoint with ``verifier``, then parse it and check its origin.

    Pass ``expected_origin=None`` only where any origin signed by this key is acceptable.
    Raises the :class:`~ledger.note.NoteError` of :func:`~ledger.note.open_note`, then
    :class:`CheckpointError` for a malformed body and :class:`OriginMismatchError`.
    """
    checkpoint = Checkpoint.parse(open_note(note, [verifier]).text)
    if expected_origin is not None and checkpoint.origin != expected_origin:
        raise OriginMismatchError(
            f"checkpoint origin is {checkpoint.origin!r}, expected {expected_origin!r}"
        )
    return checkpoint


_KEY_FILE_MODE: Final = 0o600


def load_or_create_signer(path: Path, name: str) -> Signer:
    """The log's signer from the key file at ``path``, creating the file on first use.

    The file holds one line, the signer key (``PRIVATE+KEY+<name>+<hash>+<data>``, as written by
    golang.org/x/mod/sumdb/note). ``name`` is the key name, normally the log origin.

    - Missing file: a new key is generated and written atomically with mode 0600 (a temporary file
      created with ``O_CREAT|O_EXCL``, fsynced, then hard-linked into place, so that two processes
      starting together never overwrite each other: the loser loads the winner's key). Missing
      parent directories are created with mode 0700.
    - Existing file: it must be a regular file that neither group nor others can read or write;
      otherwise this refuses to start, like ``ssh`` does, and says to run ``chmod 600``. The
      private key must stay private: a leaked key lets anyone sign a different history. (On a
      Kubernetes secret volume, set ``defaultMode: 0400``.) Windows has no such mode bits; there
      the check is skipped.
    - The key in the file must be named ``name``; a key for another origin is refused rather than
      silently signing checkpoints that verifiers of this origin would not recognise.

    Raises :class:`KeyFileError` (malformed content, wrong name, unsafe mode, I/O failure).
    """
    try:
        return _load_signer(path, name)
    except FileNotFoundError:
        pass
    created = _create_signer(path, name)
    if created is not None:
        return created
    # Another process created the file between our read and our link: use its key.
    try:
        return _load_signer(path, name)
    except FileNotFoundError as error:
        raise KeyFileError(f"key file {path} appeared and vanished while starting") from error


def _load_signer(path: Path, name: str) -> Signer:
    """Read and check an existing key file. Lets FileNotFoundError through."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as error:
        raise KeyFileError(f"cannot open key file {path}: {error.strerror}") from error
    try:
        # fstat the open file rather than stat the path, so that what we check is what we read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if os.name == "posix" and mode & 0o077:
            raise KeyFileError(
                f"key file {path} is accessible by group or others (mode {mode:04o}); "
                f"the signing key must be private: run `chmod 600 {path}`"
            )
        with os.fdopen(fd, "rb", closefd=False) as stream:
            data = stream.read(64 * 1024)
    except OSError as error:
        raise KeyFileError(f"cannot read key file {path}: {error.strerror}") from error
    finally:
        os.close(fd)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        raise KeyFileError(f"key file {path} is malformed: it is not ASCII text") from error
    try:
        signer = Signer.from_skey(text)
    except InvalidKeyError as error:
        raise KeyFileError(f"key file {path} is malformed: {error}") from error
    if signer.name != name:
        raise KeyFileError(
            f"key file {path} holds a key named {signer.name!r}, expected {name!r} "
            "(the log origin); use the matching key file or origin"
        )
    return signer


def _create_signer(path: Path, name: str) -> Signer | None:
    """Write a new key file atomically; None if a key file appeared there meanwhile."""
    try:
        signer = generate_signer(name)
    except InvalidKeyError as error:
        raise KeyFileError(f"cannot create a key named {name!r}: {error}") from error
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temporary, flags, _KEY_FILE_MODE)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, _KEY_FILE_MODE)  # the umask may have removed bits we need
            os.write(fd, f"{signer.skey}\n".encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if not _link_without_replacing(temporary, path):
            return None
        _fsync_directory(path.parent)
    except OSError as error:
        raise KeyFileError(f"cannot create key file {path}: {error.strerror}") from error
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return signer


def _link_without_replacing(source: Path, target: Path) -> bool:
    """Give ``source``'s file the name ``target``; False if ``target`` already exists."""
    try:
        os.link(source, target)  # unlike rename, link never replaces an existing key file
    except FileExistsError:
        return False
    except OSError:
        os.replace(source, target)  # a file system without hard links: the last writer wins
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry durable (POSIX; a no-op where directories cannot be opened)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
