"""Reading a running ledger server as an audit bundle, so ``verify URL`` checks it offline.

The server's public audit endpoints are copied into a bundle directory, laid out exactly as
``pledge-ledger export`` writes one (``ledger.bundle``): the key, the latest checkpoint, every
entry up to that checkpoint (paged, 1000 a request, streamed to disk so memory stays bounded
whatever the log's size), every hash tile of its tree and the published roll-ups at its size.
The bundle verifier then checks it as it checks any bundle: nothing the server says is
trusted but what verifies against the key.

Each answer is read up to the limit of what it can hold, with a timeout on every request; a
server that cannot be reached or does not answer as a ledger is a ``RemoteLogError`` of one
line.
"""

from __future__ import annotations

import http.client
import io
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from api.errors import RemoteLogError
from ledger.bundle import CHECKPOINT, ENTRIES, KEY, ROLLUPS
from ledger.checkpoint import Checkpoint
from ledger.note import NoteError
from ledger.tiles import tile_ids_for_tree
from ledger.verify import ENTRY_LIMIT, KEY_LIMIT, NOTE_LIMIT, ROLLUPS_LIMIT, TILE_LIMIT

PAGE = 1000
"""Entries asked for in one request (the most the server answers)."""
PAGE_LIMIT = 256 * 1024 * 1024
"""Bytes of one page of entries; a single entry is further bounded by the verifier."""
CHUNK = 64 * 1024
TIMEOUT_SECONDS = 30.0


def is_server_address(source: str) -> bool:
    return source.startswith(("http://", "https://"))


class LedgerServer:
    """The public audit endpoints of a ledger server at ``base_url`` (``http://host:port``)."""

    def __init__(self, base_url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise RemoteLogError(
                f"{base_url!r} is not an http:// or https:// server address", field="source"
            )
        if parts.query or parts.fragment:
            raise RemoteLogError(
                f"{base_url!r}: give the server's address without a query", field="source"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _open(self, path: str) -> http.client.HTTPResponse:
        url = self.base_url + path
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s)
            url, headers={"Accept-Encoding": "identity", "User-Agent": "pledge-ledger-verify"}
        )
        try:
            response: http.client.HTTPResponse = urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout
            )
        except urllib.error.HTTPError as error:
            error.close()
            hint = " (is it a Pledge Ledger server?)" if error.code == 404 else ""
            raise RemoteLogError(
                f"{url} answered HTTP {error.code} {error.reason}{hint}", field="source"
            ) from error
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ConnectionRefusedError):
                detail = "connection refused"
            elif isinstance(reason, (TimeoutError, socket.timeout)):
                detail = f"no answer within {self.timeout:g} s"
            elif isinstance(reason, socket.gaierror):
                detail = "unknown host"
            else:
                detail = str(reason)
            raise RemoteLogError(f"cannot reach {url}: {detail}", field="source") from error
        except (TimeoutError, OSError, http.client.HTTPException) as error:
            raise RemoteLogError(f"cannot read {url}: {error}", field="source") from error
        return response

    def copy(self, path: str, target: BinaryIO, limit: int, what: str) -> int:
        """Stream the answer to ``path`` into ``target``, refusing it beyond ``limit`` bytes."""
        url = self.base_url + path
        written = 0
        with self._open(path) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise RemoteLogError(
                    f"{url} answered {int(declared):,} bytes, more than {what} can hold "
                    f"({limit:,})",
                    field="source",
                )
            try:
                while chunk := response.read(CHUNK):
                    written += len(chunk)
                    if written > limit:
                        raise RemoteLogError(
                            f"{url} answered more than {what} can hold ({limit:,} bytes)",
                            field="source",
                        )
                    target.write(chunk)
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                raise RemoteLogError(f"cannot read {url}: {error}", field="source") from error
        return written

    def fetch(self, path: str, limit: int, what: str) -> bytes:
        buffer = io.BytesIO()
        self.copy(path, buffer, limit, what)
        return buffer.getvalue()


def checkpoint_size(note: bytes) -> int:
    """The tree size a checkpoint note states (unverified: the verifier checks the note)."""
    body = note.decode("utf-8", "replace").split("\n\n", 1)[0] + "\n"
    try:
        return Checkpoint.parse(body).size
    except NoteError as error:
        raise RemoteLogError(
            f"the server's checkpoint cannot be read: {error}", field="source"
        ) from error


def mirror_server(
    server: LedgerServer,
    directory: Path,
    *,
    rollups: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the server's log into ``directory`` (new) as an audit bundle; answer its size."""
    directory.mkdir(parents=True)
    (directory / KEY).write_bytes(server.fetch("/api/v1/log/key", KEY_LIMIT, "a verifier key"))
    note = server.fetch("/api/v1/log/checkpoint", NOTE_LIMIT, "a checkpoint note")
    (directory / CHECKPOINT).write_bytes(note)
    size = checkpoint_size(note)
    with open(directory / ENTRIES, "wb") as entries:
        for start in range(0, size, PAGE):
            end = min(start + PAGE, size)
            server.copy(
                f"/api/v1/log/entries?start={start}&end={end}",
                entries,
                min(PAGE_LIMIT, (end - start) * (ENTRY_LIMIT + 1)),
                "a page of entries",
            )
            if progress is not None:
                progress(end, size)
    for tile in tile_ids_for_tree(size):
        target = directory / tile.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(server.fetch(f"/{tile.path}", TILE_LIMIT, "a hash tile"))
    if rollups:
        with (directory / ROLLUPS).open("wb") as document:  # to disk as it comes: never whole
            server.copy(
                f"/api/v1/log/rollups?size={size}", document, ROLLUPS_LIMIT, "a roll-ups document"
            )
    return size
