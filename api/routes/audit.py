"""The live audit trail: the signed checkpoint, the verifier key, the entries exactly as hashed,
RFC 9162 proofs, receipts; and the same log as C2SP tlog-tiles (``/checkpoint``,
``/tile/<L>/<N>[.p/<W>]``, ``/tile/entries/<N>[.p/<W>]``) for tiles clients and static mirrors.

What is served is what a verifier checks, never a summary of it: the checkpoint is the note as
signed (opened with the log's own key first, so the server never hands out a note its key does
not verify), entries are the stored bytes, tiles are the stored hashes. Tiles and entry bundles
are served for the tree of the latest signed checkpoint only: a client reads the checkpoint
first and asks for what it covers.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.bootstrap import Services
from api.caching import IMMUTABLE, LIVE, REVALIDATE
from api.dependencies import ServicesDep
from api.errors import ApiError, UnknownResource
from api.wire import ReceiptOut
from ledger.canonical import canonical_bytes
from ledger.checkpoint import open_checkpoint
from ledger.log import LogError, SignedCheckpoint
from ledger.merkle import MerkleError
from ledger.tiles import TILE_FOLDER, TILE_HEIGHT, TILE_WIDTH, parse_tile_path
from projections import rollups_document

router = APIRouter(tags=["audit"])

MAX_ENTRIES = 1000
"""Entries one ``/log/entries`` request may ask for."""
ENTRIES_MEDIA_TYPE = "application/x-ndjson"
"""One canonical envelope per line: each line's bytes are exactly the leaf's entry."""
TILE_MEDIA_TYPE = "application/octet-stream"
MAX_BUNDLED_ENTRY = 0xFFFF
"""An entry bundle prefixes each entry with its length as a big-endian uint16."""


class WireModel(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class InclusionProofOut(WireModel):
    index: int
    size: int
    proof: tuple[str, ...]
    """The RFC 9162 audit path, base64 hashes from the leaf up."""


class ConsistencyProofOut(WireModel):
    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    proof: tuple[str, ...]
    """The RFC 9162 consistency proof, base64 hashes."""


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def latest_checkpoint(services: Services) -> SignedCheckpoint:
    """The newest checkpoint, verified with the log's own key before it is handed out.

    If entries were integrated since it was signed, a newer one is signed when the checkpoint
    interval allows (never waiting for it), so a reader is not left on a stale tree.
    """
    log = services.log
    latest = log.latest_checkpoint()
    if latest is None or latest.size < log.tree_size():
        latest = log.sign(wait=False)
    open_checkpoint(latest.note.encode(), log.signer.verifier, expected_origin=log.origin)
    return latest


def checkpoint_response(services: Services) -> Response:
    note = latest_checkpoint(services).note
    return PlainTextResponse(note, headers={"cache-control": REVALIDATE})


TEXT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {}}, "description": "the text"}
}


@router.get("/api/v1/log/checkpoint", response_class=PlainTextResponse, responses=TEXT_ANSWER)
def log_checkpoint(services: ServicesDep) -> Response:
    """The latest signed checkpoint (C2SP signed note), byte for byte as signed."""
    return checkpoint_response(services)


@router.get("/checkpoint", response_class=PlainTextResponse, responses=TEXT_ANSWER)
def tiles_checkpoint(services: ServicesDep) -> Response:
    """The tlog-tiles checkpoint: the same note as ``/api/v1/log/checkpoint``."""
    return checkpoint_response(services)


@router.get("/api/v1/log/key", response_class=PlainTextResponse, responses=TEXT_ANSWER)
def log_key(services: ServicesDep) -> Response:
    """The verifier key (vkey) the checkpoints are signed with, one line."""
    return PlainTextResponse(services.log.signer.vkey + "\n", headers={"cache-control": LIVE})


@router.get(
    "/api/v1/log/entries",
    response_class=Response,
    responses={200: {"content": {ENTRIES_MEDIA_TYPE: {}}, "description": "one entry per line"}},
)
def log_entries(
    services: ServicesDep,
    start: Annotated[int, Query(ge=0, description="the first leaf index")],
    end: Annotated[int, Query(ge=1, description="one past the last leaf index")],
) -> Response:
    """Entries ``start`` to ``end - 1`` (at most 1000), one per line, exactly as hashed:
    leaf ``i``'s hash is SHA-256 of 0x00 and line ``i - start`` without its newline."""
    if end <= start:
        raise ApiError(f"end {end} is not after start {start}", field="end")
    if end - start > MAX_ENTRIES:
        raise ApiError(f"at most {MAX_ENTRIES} entries per request", field="end")
    entries = services.log.entry_range(start, end)
    return Response(
        b"".join(raw + b"\n" for raw in entries),
        media_type=ENTRIES_MEDIA_TYPE,
        headers={"cache-control": LIVE},
    )


@router.get("/api/v1/log/proofs/inclusion", response_model=InclusionProofOut)
def inclusion_proof(
    services: ServicesDep,
    index: Annotated[int, Query(ge=0, description="the leaf index")],
    size: Annotated[int, Query(ge=1, description="the tree size (of a signed checkpoint)")],
) -> InclusionProofOut:
    """The RFC 9162 audit path from leaf ``index`` to the root of the tree of ``size``."""
    proof = services.log.inclusion_proof(index, size)
    return InclusionProofOut(index=index, size=size, proof=tuple(b64(h) for h in proof))


@router.get(
    "/api/v1/log/proofs/consistency",
    response_model=ConsistencyProofOut,
    response_model_by_alias=True,
)
def consistency_proof(
    services: ServicesDep,
    from_size: Annotated[int, Query(alias="from", ge=1, description="the older tree size")],
    to_size: Annotated[int, Query(alias="to", ge=1, description="the newer tree size")],
) -> ConsistencyProofOut:
    """The RFC 9162 proof that the tree of ``to`` extends the tree of ``from``."""
    if from_size > to_size:
        raise ApiError(f"from {from_size} is after to {to_size}", field="from")
    proof = services.log.consistency_proof(from_size, to_size)
    return ConsistencyProofOut(
        from_size=from_size, to_size=to_size, proof=tuple(b64(h) for h in proof)
    )


@router.get("/api/v1/events/{event_id}/receipt", response_model=ReceiptOut)
def event_receipt(services: ServicesDep, event_id: str) -> ReceiptOut:
    """The event's leaf, a signed checkpoint whose tree holds it, and the path to its root."""
    try:
        services.log.leaf(event_id)
    except LogError as error:
        raise UnknownResource(f"no event {event_id!r} in the log", field="event_id") from error
    return ReceiptOut.of(services.log.receipt(event_id, wait=True))


@router.get(
    "/api/v1/log/rollups",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "rollups.json"}},
)
def log_rollups(
    services: ServicesDep,
    size: Annotated[int, Query(ge=0, description="the tree size (of a signed checkpoint)")],
) -> Response:
    """The published roll-ups at tree size ``size``, canonical JSON: the ``rollups.json`` of
    a bundle exported at that size, which a verifier replays from the entries."""
    services.log.root(size)  # refuses a size beyond the log, naming the field
    services.views.catch_up()
    document = rollups_document(
        services.engine,
        services.store,
        tree_size=size,
        freshness_months=services.settings.freshness_months,
    )
    return Response(
        canonical_bytes(document), media_type="application/json", headers={"cache-control": LIVE}
    )


# --- tlog-tiles ---------------------------------------------------------------------------------

TILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {TILE_MEDIA_TYPE: {}}, "description": "the tile's bytes"}
}


def tile_caching(width: int) -> dict[str, str]:
    return {"cache-control": IMMUTABLE if width == TILE_WIDTH else LIVE}


def covered(services: Services, level: int, index: int, width: int) -> None:
    """Refuse a tile the latest checkpoint's tree does not hold (404, as tiles clients expect)."""
    size = latest_checkpoint(services).size
    if (index * TILE_WIDTH + width) << (TILE_HEIGHT * level) > size:
        raise UnknownResource(
            f"the tree of the latest checkpoint ({size} entries) has no such tile", field="tile"
        )


def parsed(path: str) -> tuple[int, int, int]:
    try:
        tile = parse_tile_path(path)
    except MerkleError as error:
        raise UnknownResource(f"not a tile: {error}", field="tile") from error
    return tile.level, tile.tile_index, tile.width


@router.get(
    "/tile/entries/{path:path}", response_class=Response, responses=TILE_ANSWER, tags=["tiles"]
)
def entry_bundle(services: ServicesDep, path: str) -> Response:
    """Entries ``N*256`` onward (256, or ``W`` for ``.p/<W>``), each as a big-endian uint16
    length and its bytes (C2SP tlog-tiles entry bundle)."""
    _, index, width = parsed(f"{TILE_FOLDER}/0/{path}")
    covered(services, 0, index, width)
    entries = services.log.entry_range(index * TILE_WIDTH, index * TILE_WIDTH + width)
    parts: list[bytes] = []
    for offset, raw in enumerate(entries):
        if len(raw) > MAX_BUNDLED_ENTRY:
            raise LogError(
                f"entry {index * TILE_WIDTH + offset} has {len(raw)} bytes, more than an entry "
                f"bundle can hold ({MAX_BUNDLED_ENTRY}): read it from /api/v1/log/entries",
                field="tile",
            )
        parts.append(len(raw).to_bytes(2, "big") + raw)
    return Response(b"".join(parts), media_type=TILE_MEDIA_TYPE, headers=tile_caching(width))


@router.get("/tile/{path:path}", response_class=Response, responses=TILE_ANSWER, tags=["tiles"])
def hash_tile(services: ServicesDep, path: str) -> Response:
    """Hash tile ``<L>/<N>[.p/<W>]``: the ``W`` (full: 256) hashes of Merkle level ``8*L``
    from index ``N*256``, 32 bytes each."""
    level, index, width = parsed(f"{TILE_FOLDER}/{path}")
    covered(services, level, index, width)
    hashes = services.log.tile_hashes(TILE_HEIGHT * level, index * TILE_WIDTH, width)
    return Response(b"".join(hashes), media_type=TILE_MEDIA_TYPE, headers=tile_caching(width))
