"""Tests for ledger.tiles: C2SP tlog-tiles paths, tile contents, and reading the tree back."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import tiles
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    InMemoryTree,
    MerkleError,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_inclusion,
)
from ledger.tiles import (
    TILE_WIDTH,
    TileId,
    TileReader,
    first_mismatching_leaf,
    parse_tile_path,
    root_from_tiles,
    tile_path,
    tiles_for_tree,
)

BIG = 70_000  # the spec's own example size: it has tiles at three levels
_NO_TILES: dict[str, bytes] = {}


@cache
def _big_tree() -> InMemoryTree:
    return InMemoryTree(leaf_hash(n.to_bytes(4, "big")) for n in range(BIG))


@cache
def _tiles(size: int) -> dict[str, bytes]:
    return dict(tiles_for_tree(size, _big_tree().get_subtree))


def _leaves(size: int) -> list[bytes]:
    tree = _big_tree()
    return [tree.get_subtree(0, index) for index in range(size)]


class _CountingReader:
    """``read_tile`` over a dict that records each path asked for."""

    def __init__(self, tiles: dict[str, bytes]) -> None:
        self.tiles = tiles
        self.reads: list[str] = []

    def __call__(self, path: str) -> bytes | None:
        self.reads.append(path)
        return self.tiles.get(path)


# ---------------------------------------------------------------------------------------------
# Paths.


@pytest.mark.parametrize(
    ("level", "index", "width", "path"),
    [
        (0, 1234067, 256, "tile/0/x001/x234/067"),
        (0, 1234067, 7, "tile/0/x001/x234/067.p/7"),
        (0, 0, 256, "tile/0/000"),
        (1, 1, 17, "tile/1/001.p/17"),
        (2, 0, 1, "tile/2/000.p/1"),
        (0, 999, 255, "tile/0/999.p/255"),
        (0, 1000, 256, "tile/0/x001/000"),
        (63, 10**9, 256, "tile/63/x001/x000/x000/000"),
    ],
)
def test_tile_path_matches_spec_spelling(level: int, index: int, width: int, path: str) -> None:
    assert tile_path(level, index, width) == path
    assert parse_tile_path(path) == (level, index, width)
    assert TileId(level, index, width).path == path


@settings(max_examples=200, deadline=None)
@given(
    level=st.integers(min_value=0, max_value=63),
    index=st.integers(min_value=0, max_value=2**63),
    width=st.integers(min_value=1, max_value=TILE_WIDTH),
)
def test_tile_path_round_trips(level: int, index: int, width: int) -> None:
    assert parse_tile_path(tile_path(level, index, width)) == TileId(level, index, width)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "tile/0/1234067",  # not split into groups
        "tile/0/x001/x234/67",  # last group not 3 digits
        "tile/0/x001/234/067",  # inner group without x
        "tile/0/001/x234",  # x on the last group
        "tile/0/x000/067",  # redundant leading group
        "tile/00/000",  # leading zero in the level
        "tile/64/000",  # level above 63
        "tile/-1/000",
        "tile/0/000.p/0",  # empty tiles are never served
        "tile/0/000.p/256",  # a full tile has no .p suffix
        "tile/0/000.p/07",  # leading zero in the width
        "tile/0/000.p/",
        "tile/0/000/",
        "/tile/0/000",
        "tile/entries/000",  # entry bundles are not hash tiles
        "tile/0/\u0660\u0660\u0660",  # Arabic-Indic digits are not ASCII digits
        "tile/0/000\n",
    ],
)
def test_parse_tile_path_rejects_malformed(path: str) -> None:
    with pytest.raises(MerkleError):
        parse_tile_path(path)


@pytest.mark.parametrize(
    ("level", "index", "width", "message"),
    [
        (64, 0, 256, "tile level 64 is not between 0 and 63"),
        (-1, 0, 256, "tile level -1 is not between 0 and 63"),
        (0, -1, 256, "tile index -1 is negative"),
        (0, 0, 0, "tile width 0 is not between 1 and 256"),
        (0, 0, 257, "tile width 257 is not between 1 and 256"),
    ],
)
def test_tile_path_rejects_impossible_tiles(
    level: int, index: int, width: int, message: str
) -> None:
    with pytest.raises(MerkleError, match=message):
        tile_path(level, index, width)


# ---------------------------------------------------------------------------------------------
# Which tiles a tree has, and what is in them.


def _shape(size: int) -> list[TileId]:
    return [parse_tile_path(path) for path in _tiles(size)]


def test_tree_of_70000_has_the_tiles_the_spec_lists() -> None:
    shape = _shape(70_000)
    level_0 = [tile for tile in shape if tile.level == 0]
    assert sum(tile.width == TILE_WIDTH for tile in level_0) == 273
    assert [tile for tile in level_0 if tile.width < TILE_WIDTH] == [TileId(0, 273, 112)]
    assert [tile for tile in shape if tile.level == 1] == [TileId(1, 0, 256), TileId(1, 1, 17)]
    assert [tile for tile in shape if tile.level == 2] == [TileId(2, 0, 1)]
    assert len(shape) == 277


def test_tree_of_256_is_a_full_tile_and_a_partial_one_above() -> None:
    assert _shape(256) == [TileId(0, 0, 256), TileId(1, 0, 1)]


def test_empty_tree_has_no_tiles() -> None:
    assert _shape(0) == []


def test_tile_contents_are_concatenated_subtree_hashes() -> None:
    tiles = _tiles(BIG)
    leaves = _leaves(BIG)
    level_0 = tiles["tile/0/273.p/112"]
    assert level_0 == b"".join(leaves[273 * 256 : 273 * 256 + 112])
    level_1 = tiles["tile/1/000"]
    for i in range(TILE_WIDTH):
        tile = tiles[tile_path(0, i)]
        assert tile == b"".join(leaves[i * 256 : (i + 1) * 256])
        assert level_1[i * HASH_SIZE : (i + 1) * HASH_SIZE] == root_from_leaf_hashes(
            leaves[i * 256 : (i + 1) * 256]
        )
    level_2 = tiles["tile/2/000.p/1"]
    assert level_2 == root_from_leaf_hashes(leaves[:65536])


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=BIG), min_size=2, max_size=2))
def test_incremental_publication_adds_exactly_the_missing_tiles(sizes: list[int]) -> None:
    since, size = sorted(sizes)
    published = _tiles(since)
    added = dict(tiles_for_tree(size, _big_tree().get_subtree, since=since))
    assert not added.keys() & published.keys(), "a published tile was produced again"
    everything = _tiles(size)
    assert added.keys() <= everything.keys()
    # What the new tree needs is what was published plus what was added.
    for path, content in everything.items():
        assert (added | published)[path] == content


def test_tiles_for_tree_rejects_bad_sizes() -> None:
    get_subtree = _big_tree().get_subtree
    with pytest.raises(MerkleError, match="since 5 is greater than tree size 4"):
        list(tiles_for_tree(4, get_subtree, since=5))
    with pytest.raises(MerkleError, match="must not be negative"):
        list(tiles_for_tree(-1, get_subtree))
    with pytest.raises(MerkleError, match=r"get_subtree\(0, 0\) returned 1 bytes"):
        list(tiles_for_tree(1, lambda level, index: b"x"))


# ---------------------------------------------------------------------------------------------
# Reading the tree back from tiles.


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=BIG))
def test_root_from_tiles_equals_root(size: int) -> None:
    reader = _CountingReader(_tiles(size))
    assert root_from_tiles(size, reader) == _big_tree().root(size)
    assert len(reader.reads) <= 3  # one rightmost tile per level


def test_root_from_tiles_of_empty_tree() -> None:
    assert root_from_tiles(0, _NO_TILES.get) == EMPTY_ROOT


def test_missing_partial_tile_falls_back_to_the_full_tile() -> None:
    """Logs may delete a partial tile once the full one exists; old checkpoints still verify."""
    full_tiles_only = {path: tile for path, tile in _tiles(BIG).items() if ".p/" not in path}
    reader = _CountingReader(full_tiles_only)
    assert root_from_tiles(1000, reader) == _big_tree().root(1000)
    assert reader.reads == ["tile/1/000.p/3", "tile/1/000", "tile/0/003.p/232", "tile/0/003"]


def test_missing_tile_is_reported() -> None:
    tiles = dict(_tiles(1000))
    del tiles["tile/0/003.p/232"]
    with pytest.raises(MerkleError, match=r"tile tile/0/003\.p/232 is missing"):
        root_from_tiles(1000, tiles.get)


def test_short_tile_is_reported() -> None:
    tiles = dict(_tiles(1000))
    tiles["tile/1/000.p/3"] = tiles["tile/1/000.p/3"][:-1]
    with pytest.raises(MerkleError, match=r"tile tile/1/000\.p/3 has 95 bytes, expected 96"):
        root_from_tiles(1000, tiles.get)


def test_short_full_tile_used_as_fallback_is_reported() -> None:
    tiles = {"tile/0/000": b"\x00" * 100}
    with pytest.raises(MerkleError, match="tile tile/0/000 has 100 bytes, expected 8192"):
        root_from_tiles(5, tiles.get)


def test_tile_reader_serves_subtrees_and_proofs() -> None:
    tree = _big_tree()
    reader_io = _CountingReader(_tiles(BIG))
    reader = TileReader(BIG, reader_io)
    for level, index in [(0, 0), (0, 69_999), (3, 17), (8, 3), (9, 135), (15, 1), (16, 0)]:
        assert reader.get_subtree(level, index) == tree.get_subtree(level, index)
    for index in [0, 255, 256, 65_535, 65_536, 69_999]:
        reader_io.reads.clear()
        reader = TileReader(BIG, reader_io)
        proof = inclusion_proof(index, BIG, reader.get_subtree)
        assert proof == tree.inclusion_proof(index)
        verify_inclusion(tree.get_subtree(0, index), index, BIG, proof, tree.root())
        assert len(reader_io.reads) <= 6
    with pytest.raises(MerkleError, match="not complete in a tree of size 70000"):
        reader.get_subtree(17, 0)
    with pytest.raises(MerkleError, match="has no tile at level 0, index 274"):
        reader.tile_hashes(0, 274)


# ---------------------------------------------------------------------------------------------
# Finding the first entry that does not match.


def _plant(leaves: list[bytes], *indices: int) -> list[bytes]:
    changed = list(leaves)
    for index in indices:
        changed[index] = leaf_hash(b"tampered %d" % index)
    return changed


def test_no_mismatch_when_candidates_agree() -> None:
    root = _big_tree().root()
    assert first_mismatching_leaf(BIG, root, _leaves(BIG), _tiles(BIG).get) is None
    assert first_mismatching_leaf(0, EMPTY_ROOT, [], _NO_TILES.get) is None


@settings(max_examples=10, deadline=None)
@given(changed=st.lists(st.integers(min_value=0, max_value=BIG - 1), min_size=1, max_size=3))
def test_first_planted_change_is_found_with_few_tile_reads(changed: list[int]) -> None:
    reader = _CountingReader(_tiles(BIG))
    candidates = _plant(_cached_leaves(), *changed)
    assert first_mismatching_leaf(BIG, _big_tree().root(), candidates, reader) == min(changed)
    assert len(reader.reads) <= 2 * 3  # the right edge plus one descent, per tile level


@cache
def _cached_leaves() -> list[bytes]:
    return _leaves(BIG)


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65_536, 65_537, BIG])
def test_change_in_last_leaf_is_found(size: int) -> None:
    candidates = _plant(_cached_leaves()[:size], size - 1)
    root = _big_tree().root(size)
    assert first_mismatching_leaf(size, root, candidates, _tiles(size).get) == size - 1


def test_missing_candidates_count_as_mismatches_and_extras_are_ignored() -> None:
    root = _big_tree().root(1000)
    leaves = _cached_leaves()
    tiles = _tiles(1000).get
    assert first_mismatching_leaf(1000, root, leaves[:999], tiles) == 999
    assert first_mismatching_leaf(1000, root, leaves[:300], tiles) == 300
    assert first_mismatching_leaf(1000, root, [], tiles) == 0
    assert first_mismatching_leaf(1000, root, leaves[:2000], tiles) is None
    assert first_mismatching_leaf(1000, root, _plant(leaves[:300], 10), tiles) == 10


def test_tiles_that_do_not_match_the_root_are_refused() -> None:
    with pytest.raises(MerkleError, match="tiles do not match the root"):
        first_mismatching_leaf(BIG, _big_tree().root(BIG - 1), _cached_leaves(), _tiles(BIG).get)
    with pytest.raises(MerkleError, match="root must be 32 bytes, got 3"):
        first_mismatching_leaf(BIG, b"abc", _cached_leaves(), _tiles(BIG).get)


def test_forged_full_tile_is_caught_while_descending() -> None:
    """Only the right edge is checked against the root; inner tiles are checked on the way down.

    An export and a full tile forged consistently (leaf 300 replaced in both) must not make the
    search report "no mismatch" or blame the wrong leaf: the forged tile fails its parent hash.
    """
    tiles = dict(_tiles(BIG))
    forged_leaves = _plant(_cached_leaves(), 300)
    tiles["tile/0/001"] = b"".join(forged_leaves[256:512])
    read: Callable[[str], bytes | None] = tiles.get
    with pytest.raises(MerkleError, match="tile tile/0/001 does not match the hash above it"):
        first_mismatching_leaf(BIG, _big_tree().root(), forged_leaves, read)


def test_public_api_is_pinned() -> None:
    assert set(tiles.__all__) == {
        "MAX_TILE_LEVEL",
        "ReadTile",
        "TILE_FOLDER",
        "TILE_HEIGHT",
        "TILE_WIDTH",
        "TileId",
        "TileReader",
        "first_mismatching_leaf",
        "parse_tile_path",
        "root_from_tiles",
        "tile_ids_for_tree",
        "tile_path",
        "tiles_for_tree",
    }


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 65_536, 65_537, 70_000])
def test_tile_ids_for_tree_name_the_tiles_tiles_for_tree_yields(size: int) -> None:
    paths = [path for path, _ in tiles.tiles_for_tree(size, lambda level, index: bytes(32))]
    assert [tile.path for tile in tiles.tile_ids_for_tree(size)] == paths
