"""C2SP tlog-tiles: the Merkle tree published as static, cacheable "hash tiles".

A tile at tile-level ``L`` and index ``N`` is the concatenation of up to 256 consecutive 32-byte
hashes of Merkle level ``8 * L``: hash ``i`` is ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) *
256**L])``. Full tiles hold 256 hashes and never change; the rightmost tile of each level may be
*partial* (1..255 hashes) and is served under a ``.p/<W>`` suffix. Because everything is an
immutable file, reads scale through any CDN, and a client can rebuild any root or proof from
O(log n) tiles. Spec: https://c2sp.org/tlog-tiles.

Tile reading takes a ``read_tile(path) -> bytes | None`` callable (``dict.get`` works); ``None``
means "not there". Every problem with what it returns is reported as
:class:`~ledger.merkle.MerkleError`, the same single error type as the rest of the tree code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from ledger.merkle import (
    HASH_SIZE,
    GetSubtree,
    MerkleError,
    root_from_leaf_hashes,
    root_from_subtrees,
)

__all__ = [
    "MAX_TILE_LEVEL",
    "TILE_FOLDER",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ReadTile",
    "TileId",
    "TileReader",
    "first_mismatching_leaf",
    "parse_tile_path",
    "root_from_tiles",
    "tile_ids_for_tree",
    "tile_path",
    "tiles_for_tree",
]

TILE_FOLDER = "tile"
"""The folder every tile path starts with (in a bundle and under a log's URL prefix)."""

TILE_HEIGHT = 8
"""Merkle levels spanned by one tile."""

TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile (256, i.e. 8192 bytes)."""

MAX_TILE_LEVEL = 63
"""Largest tile level the spec allows in a path."""

ReadTile = Callable[[str], bytes | None]
"""``read_tile(path)`` -> the tile's bytes, or ``None`` if it is not available."""

_TILE_PATH = re.compile(
    re.escape(TILE_FOLDER)
    + r"/(?P<level>0|[1-9][0-9]?)/(?P<index>(?:x[0-9]{3}/)*[0-9]{3})"
    + r"(?:\.p/(?P<width>[1-9][0-9]{0,2}))?"
)


class TileId(NamedTuple):
    """Where a tile sits: tile level, index within the level (the spec's ``N``), width in hashes.

    The index field is ``tile_index`` because a tuple already has an ``index`` method.
    """

    level: int
    tile_index: int
    width: int

    @property
    def path(self) -> str:
        """The tile's path relative to the log prefix, e.g. ``tile/0/x001/x234/067``."""
        return tile_path(self.level, self.tile_index, self.width)


def _encode_index(index: int) -> str:
    """Zero-padded 3-digit groups, all but the last prefixed with ``x`` (1234067 -> x001/x234/067).

    The ``x`` keeps directories and files apart, so a tree of tiles can be served straight from a
    filesystem: ``067`` is a file while ``x067`` is a directory.
    """
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """Path of a hash tile: ``tile/<L>/<N>`` when full, ``tile/<L>/<N>.p/<W>`` when partial."""
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise MerkleError(f"tile level {level} is not between 0 and {MAX_TILE_LEVEL}")
    if index < 0:
        raise MerkleError(f"tile index {index} is negative")
    if not 1 <= width <= TILE_WIDTH:
        raise MerkleError(f"tile width {width} is not between 1 and {TILE_WIDTH}")
    path = f"{TILE_FOLDER}/{level}/{_encode_index(index)}"
    if width < TILE_WIDTH:
        path += f".p/{width}"
    return path


def parse_tile_path(path: str) -> TileId:
    """Inverse of :func:`tile_path`; only the canonical spelling of each tile is accepted.

    Rejecting non-canonical forms (``x000/`` prefixes, leading zeros, width 256 as ``.p/256``)
    keeps one URL per tile, so a cache or a mirror cannot hold two differing copies of it.
    """
    match = _TILE_PATH.fullmatch(path)
    if match is None:
        raise MerkleError(f"malformed tile path {path!r}")
    level = int(match["level"])
    if level > MAX_TILE_LEVEL:
        raise MerkleError(f"tile level {level} in {path!r} is above {MAX_TILE_LEVEL}")
    groups = match["index"].split("/")
    if len(groups) > 1 and groups[0] == "x000":
        raise MerkleError(f"tile index in {path!r} has a redundant leading x000 group")
    index = int("".join(group.removeprefix("x") for group in groups))
    width = TILE_WIDTH
    if match["width"] is not None:
        width = int(match["width"])
        if width >= TILE_WIDTH:
            raise MerkleError(f"partial tile width {width} in {path!r} is not below {TILE_WIDTH}")
    return TileId(level, index, width)


def _full_tiles(size: int, level: int) -> int:
    """How many full tiles a tree of ``size`` leaves has at tile level ``level``."""
    return size >> (TILE_HEIGHT * (level + 1))


def _partial_width(size: int, level: int) -> int:
    """Width of the partial tile at ``level`` (``floor(size / 256**level) mod 256``); 0 if none."""
    return (size >> (TILE_HEIGHT * level)) & (TILE_WIDTH - 1)


def _tile_levels(size: int) -> range:
    """Tile levels that hold at least one hash for a tree of ``size`` leaves."""
    levels = 0
    while size >> (TILE_HEIGHT * levels):
        levels += 1
    return range(levels)


def tile_ids_for_tree(size: int) -> Iterator[TileId]:
    """Every tile of the tree of ``size`` leaves (what ``tiles_for_tree`` yields, without
    contents): the full tiles of each level, then its right-edge partial tile if any."""
    if size < 0:
        raise MerkleError(f"tree size {size} is negative")
    for level in _tile_levels(size):
        full = _full_tiles(size, level)
        for index in range(full):
            yield TileId(level, index, TILE_WIDTH)
        width = _partial_width(size, level)
        if width:
            yield TileId(level, full, width)


def tiles_for_tree(
    size: int, get_subtree: GetSubtree, *, since: int = 0
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, content)`` for every tile of the tree of ``size`` leaves.

    With ``since`` (the size of an already published tree), only the tiles that tree did not
    already have are yielded: the new full tiles and the new right-edge partial tiles. That is
    what a publisher uploads after each checkpoint; the old partial tiles may then be deleted.
    Each hash is one ``get_subtree(8 * level, index)`` call on a subtree complete within ``size``.
    """
    if size < 0 or since < 0:
        raise MerkleError(f"tree sizes must not be negative, got {size} and {since}")
    if since > size:
        raise MerkleError(f"since {since} is greater than tree size {size}")
    for level in _tile_levels(size):
        merkle_level = TILE_HEIGHT * level
        full = _full_tiles(size, level)
        for index in range(_full_tiles(since, level), full):
            yield (
                tile_path(level, index),
                _tile_content(get_subtree, merkle_level, index, TILE_WIDTH),
            )
        width = _partial_width(size, level)
        already_published = full == _full_tiles(since, level) and width == _partial_width(
            since, level
        )
        if width and not already_published:
            yield (
                tile_path(level, full, width),
                _tile_content(get_subtree, merkle_level, full, width),
            )


def _tile_content(get_subtree: GetSubtree, merkle_level: int, index: int, width: int) -> bytes:
    first = index * TILE_WIDTH
    hashes = [get_subtree(merkle_level, first + offset) for offset in range(width)]
    for offset, value in enumerate(hashes):
        if len(value) != HASH_SIZE:
            raise MerkleError(
                f"get_subtree({merkle_level}, {first + offset}) returned {len(value)} bytes, "
                f"expected {HASH_SIZE}"
            )
    return b"".join(hashes)


class TileReader:
    """Merkle hashes of a tree of ``size`` leaves, read on demand from its tiles.

    ``get_subtree`` makes the tiles usable wherever :mod:`ledger.merkle` wants a store, so
    ``inclusion_proof(i, size, reader.get_subtree)`` builds a proof from O(log n) tiles. Nothing
    here is authenticated: compare :meth:`root` with a signed root, or verify the proofs built
    from it. Tiles are cached for the reader's lifetime, so keep one reader per task.

    A partial tile that is missing is replaced by the prefix of the full tile at the same
    position, as the spec allows logs to delete partial tiles once the full one exists.
    """

    __slots__ = ("_cache", "_read_tile", "_size")

    def __init__(self, size: int, read_tile: ReadTile) -> None:
        if size < 0:
            raise MerkleError(f"tree size {size} is negative")
        self._size = size
        self._read_tile = read_tile
        self._cache: dict[tuple[int, int], list[bytes]] = {}

    @property
    def size(self) -> int:
        """The tree size whose tiles are read."""
        return self._size

    def tile_id(self, level: int, index: int) -> TileId:
        """The full or partial tile at ``(level, index)`` as it exists for this tree size."""
        full = _full_tiles(self._size, level)
        if index < full:
            return TileId(level, index, TILE_WIDTH)
        width = _partial_width(self._size, level)
        if index == full and width:
            return TileId(level, index, width)
        raise MerkleError(f"tree of size {self._size} has no tile at level {level}, index {index}")

    def tile_hashes(self, level: int, index: int) -> list[bytes]:
        """The hashes in tile ``(level, index)``; raises if it is missing or the wrong length."""
        key = (level, index)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        tile = self.tile_id(level, index)
        data = self._read_tile(tile.path)
        if data is None and tile.width < TILE_WIDTH:
            full = self._read_tile(tile_path(level, index))
            if full is not None:
                _check_tile_length(tile_path(level, index), full, TILE_WIDTH)
                data = full[: tile.width * HASH_SIZE]
        if data is None:
            raise MerkleError(f"tile {tile.path} is missing")
        _check_tile_length(tile.path, data, tile.width)
        hashes = [data[offset : offset + HASH_SIZE] for offset in range(0, len(data), HASH_SIZE)]
        self._cache[key] = hashes
        return hashes

    def get_subtree(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree ``(level, index)``, from at most one tile.

        A subtree of Merkle level ``8 * L + r`` is the hash of ``2**r`` aligned consecutive
        hashes of tile level ``L``; they always sit in the same tile since ``2**r`` divides 256.
        """
        if level < 0 or index < 0:
            raise MerkleError(f"no subtree at level {level}, index {index}")
        if (index + 1) << level > self._size:
            raise MerkleError(
                f"subtree at level {level}, index {index} is not complete in a tree of size "
                f"{self._size}"
            )
        tile_level, height_in_tile = divmod(level, TILE_HEIGHT)
        first = index << height_in_tile
        hashes = self.tile_hashes(tile_level, first >> TILE_HEIGHT)
        offset = first & (TILE_WIDTH - 1)
        return root_from_leaf_hashes(hashes[offset : offset + (1 << height_in_tile)])

    def root(self) -> bytes:
        """The root hash implied by the right-edge tiles (one tile read per tile level)."""
        return root_from_subtrees(self._size, self.get_subtree)


def _check_tile_length(path: str, data: bytes, width: int) -> None:
    if len(data) != width * HASH_SIZE:
        raise MerkleError(f"tile {path} has {len(data)} bytes, expected {width * HASH_SIZE}")


def root_from_tiles(size: int, read_tile: ReadTile) -> bytes:
    """Rebuild the root of the tree of ``size`` leaves from its tiles.

    Only the rightmost tile of each level is read: the root folds the perfect subtrees along the
    right edge, and each lies inside one of those tiles. Compare the result with a signed root.
    """
    return TileReader(size, read_tile).root()


def _candidate_levels(leaf_hashes: Sequence[bytes], known: int, levels: int) -> list[list[bytes]]:
    """Hashes at every tile level recomputed from the candidate leaves (complete subtrees only)."""
    result: list[list[bytes]] = [list(leaf_hashes[:known])]
    for level in range(1, levels):
        below = result[level - 1]
        count = known >> (TILE_HEIGHT * level)
        result.append(
            [
                root_from_leaf_hashes(below[n * TILE_WIDTH : (n + 1) * TILE_WIDTH])
                for n in range(count)
            ]
        )
    return result


def first_mismatching_leaf(
    size: int, root: bytes, leaf_hashes: Sequence[bytes], read_tile: ReadTile
) -> int | None:
    """Index of the first leaf whose recomputed hash disagrees with the published tiles.

    ``leaf_hashes`` are the candidate leaf hashes (typically ``leaf_hash(entry)`` for every entry
    of an export); index ``i < size`` mismatches if ``leaf_hashes[i]`` differs from the tree's
    leaf ``i`` or does not exist. Candidates beyond ``size`` are ignored: the tree says nothing
    about them. Returns ``None`` when all ``size`` leaves agree.

    The tiles are authenticated first: the right-edge tiles must rebuild ``root`` (else
    ``MerkleError("tiles do not match the root")``), and every full tile the search opens must
    hash to the already-authenticated hash above it. Recomputing the candidate subtree hashes
    costs O(n) hashing; the search itself reads O(log n) tiles, descending from the top level
    into the first subtree that differs.
    """
    if len(root) != HASH_SIZE:
        raise MerkleError(f"root must be {HASH_SIZE} bytes, got {len(root)}")
    reader = TileReader(size, read_tile)
    if reader.root() != root:
        raise MerkleError("tiles do not match the root")
    levels = _tile_levels(size)
    candidates = _candidate_levels(leaf_hashes, min(len(leaf_hashes), size), len(levels))

    def agrees(level: int, index: int, published: bytes) -> bool:
        row = candidates[level]
        return index < len(row) and row[index] == published

    def descend(level: int, index: int, published: bytes) -> int:
        # (level, index) is authenticated and disagrees; find the first disagreeing child.
        while level > 0:
            child = TileId(level - 1, index, TILE_WIDTH)
            hashes = reader.tile_hashes(child.level, child.tile_index)
            if root_from_leaf_hashes(hashes) != published:
                raise MerkleError(f"tile {child.path} does not match the hash above it")
            for offset, value in enumerate(hashes):
                if not agrees(child.level, index * TILE_WIDTH + offset, value):
                    level, index, published = child.level, index * TILE_WIDTH + offset, value
                    break
            else:  # pragma: no cover - needs a SHA-256 collision
                raise MerkleError(f"no child of tile {child.path} disagrees with the candidates")
        return index

    # The right-edge (partial) tiles, top level first, cover the leaves in order.
    for level in reversed(levels):
        width = _partial_width(size, level)
        if not width:
            continue
        first = _full_tiles(size, level) * TILE_WIDTH
        for offset, value in enumerate(reader.tile_hashes(level, first // TILE_WIDTH)):
            if not agrees(level, first + offset, value):
                return descend(level, first + offset, value)
    return None
