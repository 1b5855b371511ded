"""Tests for ledger.merkle: published RFC 6962 vectors, a slow reference oracle, attacks.

The oracle below is RFC 6962 §2.1 transcribed literally (recursive MTH, PATH and PROOF over the
raw entries, with its own hashing), so that the fast iterative code is checked against something
obviously correct rather than against itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import LedgerError
from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    InMemoryTree,
    MerkleError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_from_subtrees,
    verify_consistency,
    verify_inclusion,
)
from tests.conftest import shipped_vector_file

VECTORS_FILE = shipped_vector_file("rfc6962_merkle.json")


def _load_vectors() -> dict[str, Any] | None:
    if not VECTORS_FILE.is_file():
        return None
    loaded: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return loaded


VECTORS = _load_vectors()
MISSING = f"the shipped vectors are missing: {VECTORS_FILE}"


def _vector_params(*keys: str, id_key: str | None = None) -> list[Any]:
    """One pytest param per vector under ``VECTORS[keys...]`` (a skipped one if absent)."""
    if VECTORS is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING))]
    node: Any = VECTORS
    for key in keys:
        node = node[key]
    return [
        pytest.param(case, id=str(case[id_key]) if id_key else str(position))
        for position, case in enumerate(node)
    ]


def _vectors() -> dict[str, Any]:
    if VECTORS is None:
        pytest.skip(MISSING)
    return VECTORS


def _hexes(values: Sequence[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


# ---------------------------------------------------------------------------------------------
# The oracle: RFC 6962 §2.1, verbatim, deliberately slow.


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(entries: Sequence[bytes]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _split(n)
    return _sha256(b"\x01" + ref_mth(entries[:k]) + ref_mth(entries[k:]))


def ref_path(m: int, entries: Sequence[bytes]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, entries[:k]), ref_mth(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_mth(entries[:k])]


def ref_subproof(m: int, entries: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [ref_mth(entries)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, entries[:k], complete), ref_mth(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_mth(entries[:k])]


def ref_proof(m: int, entries: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, entries, True)


def _entries(count: int, salt: bytes = b"") -> list[bytes]:
    return [salt + position.to_bytes(4, "big") for position in range(count)]


def _tree(entries: Sequence[bytes]) -> InMemoryTree:
    return InMemoryTree(leaf_hash(entry) for entry in entries)


def _flip_bit(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# ---------------------------------------------------------------------------------------------
# Published vectors.


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == _vectors()["empty_root_hex"]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert InMemoryTree().root() == EMPTY_ROOT


def test_leaf_hashes_match_vectors() -> None:
    vectors = _vectors()
    computed = [leaf_hash(entry).hex() for entry in _hexes(vectors["leaves_hex"])]
    assert computed == vectors["leaf_hashes_hex"]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_vectors(size: int) -> None:
    vectors = _vectors()
    leaves = _hexes(vectors["leaf_hashes_hex"])[:size]
    want = vectors["roots_hex"][str(size)]
    assert root_from_leaf_hashes(leaves).hex() == want
    assert InMemoryTree(leaves).root().hex() == want
    compact = CompactRange()
    compact.extend(leaves)
    assert compact.root().hex() == want


def test_node_hashes_match_vectors() -> None:
    vectors = _vectors()
    tree = InMemoryTree(_hexes(vectors["leaf_hashes_hex"]))
    for name, hashes in vectors["node_hashes_hex"].items():
        level = int(name.removeprefix("level_"))
        for index, want in enumerate(hashes):
            assert tree.get_subtree(level, index).hex() == want, (level, index)
    level_1 = _hexes(vectors["node_hashes_hex"]["level_1"])
    assert node_hash(level_1[0], level_1[1]).hex() == vectors["node_hashes_hex"]["level_2"][0]


@pytest.mark.parametrize("case", _vector_params("inclusion"))
def test_reference_inclusion_vectors(case: dict[str, Any]) -> None:
    tree = InMemoryTree(_hexes(_vectors()["leaf_hashes_hex"]))
    proof = _hexes(case["proof_hex"])
    assert tree.inclusion_proof(case["leaf_index"], case["tree_size"]) == proof
    verify_inclusion(
        bytes.fromhex(case["leaf_hash_hex"]),
        case["leaf_index"],
        case["tree_size"],
        proof,
        bytes.fromhex(case["root_hex"]),
    )


@pytest.mark.parametrize("case", _vector_params("consistency"))
def test_reference_consistency_vectors(case: dict[str, Any]) -> None:
    tree = InMemoryTree(_hexes(_vectors()["leaf_hashes_hex"]))
    proof = _hexes(case["proof_hex"])
    assert tree.consistency_proof(case["size1"], case["size2"]) == proof
    verify_consistency(
        case["size1"],
        case["size2"],
        proof,
        bytes.fromhex(case["root1_hex"]),
        bytes.fromhex(case["root2_hex"]),
    )


def test_every_proof_of_the_8_leaf_tree_matches_vectors() -> None:
    vectors = _vectors()
    leaves = _hexes(vectors["leaf_hashes_hex"])
    tree = InMemoryTree(leaves)
    all_proofs = vectors["all_proofs_8_leaf_tree"]
    assert len(all_proofs["inclusion"]) == 36
    assert len(all_proofs["consistency"]) == 36
    for case in all_proofs["inclusion"]:
        index, size = case["leaf_index"], case["tree_size"]
        proof = _hexes(case["proof_hex"])
        assert tree.inclusion_proof(index, size) == proof, case
        verify_inclusion(leaves[index], index, size, proof, tree.root(size))
    for case in all_proofs["consistency"]:
        size1, size2 = case["size1"], case["size2"]
        proof = _hexes(case["proof_hex"])
        assert tree.consistency_proof(size1, size2) == proof, case
        verify_consistency(size1, size2, proof, tree.root(size1), tree.root(size2))


@pytest.mark.parametrize("probe", _vector_params("probes", "inclusion", id_key="file"))
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_inclusion(
            bytes.fromhex(probe["leaf_hash_hex"]),
            probe["leaf_index"],
            probe["tree_size"],
            _hexes(probe["proof_hex"]),
            bytes.fromhex(probe["root_hex"]),
        )

    if probe["want_error"]:
        with pytest.raises(MerkleError):
            run()
    else:
        run()


@pytest.mark.parametrize("probe", _vector_params("probes", "consistency", id_key="file"))
def test_consistency_probe(probe: dict[str, Any]) -> None:
    def run() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            _hexes(probe["proof_hex"]),
            bytes.fromhex(probe["root1_hex"]),
            bytes.fromhex(probe["root2_hex"]),
        )

    if probe["want_error"]:
        with pytest.raises(MerkleError):
            run()
    else:
        run()


# ---------------------------------------------------------------------------------------------
# Against the oracle.


def test_small_trees_match_oracle_exhaustively() -> None:
    """Every root, audit path and consistency proof of every tree up to 33 leaves."""
    entries = _entries(33, b"exhaustive")
    tree = _tree(entries)
    for size in range(1, len(entries) + 1):
        prefix = entries[:size]
        root = tree.root(size)
        assert root == ref_mth(prefix)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == ref_path(index, prefix)
            verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)
        for size1 in range(1, size + 1):
            proof = tree.consistency_proof(size1, size)
            assert proof == ref_proof(size1, prefix)
            verify_consistency(size1, size, proof, tree.root(size1), root)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(min_value=0, max_value=3000), salt=st.binary(max_size=8))
def test_roots_match_oracle(size: int, salt: bytes) -> None:
    entries = _entries(size, salt)
    want = ref_mth(entries)
    leaves = [leaf_hash(entry) for entry in entries]
    assert root_from_leaf_hashes(leaves) == want
    assert InMemoryTree(leaves).root() == want
    compact = CompactRange()
    compact.extend(leaves)
    assert compact.root() == want


@settings(max_examples=40, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=3000))
def test_inclusion_proofs_match_oracle_and_resist_tampering(data: st.DataObject, size: int) -> None:
    entries = _entries(size, b"incl")
    tree = _tree(entries)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    leaf = leaf_hash(entries[index])
    root = tree.root()
    proof = tree.inclusion_proof(index)
    assert proof == ref_path(index, entries)
    verify_inclusion(leaf, index, size, proof, root)
    assert root_from_inclusion_proof(leaf, index, size, proof) == root

    for position in range(len(proof)):
        bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
        tampered = list(proof)
        tampered[position] = _flip_bit(proof[position], bit)
        with pytest.raises(MerkleError):
            verify_inclusion(leaf, index, size, tampered, root)
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    with pytest.raises(MerkleError, match="root mismatch"):
        verify_inclusion(_flip_bit(leaf, bit), index, size, proof, root)
    with pytest.raises(MerkleError, match="root mismatch"):
        verify_inclusion(leaf, index, size, proof, _flip_bit(root, bit))

    # Another index in the same tree: the left/right choices differ somewhere, so it fails.
    other_index = data.draw(st.integers(min_value=0, max_value=size - 1), label="other_index")
    if other_index != index:
        with pytest.raises(MerkleError):
            verify_inclusion(leaf, other_index, size, proof, root)

    # Another size, checked against that size's real root: the proof must fail unless it is
    # also the genuine proof for that size (audit paths do not always pin the size).
    other_size = data.draw(st.integers(min_value=index + 1, max_value=size), label="other_size")
    if other_size != size and tree.inclusion_proof(index, other_size) != proof:
        with pytest.raises(MerkleError):
            verify_inclusion(leaf, index, other_size, proof, tree.root(other_size))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), size2=st.integers(min_value=2, max_value=3000))
def test_consistency_proofs_match_oracle_and_resist_tampering(
    data: st.DataObject, size2: int
) -> None:
    entries = _entries(size2, b"cons")
    tree = _tree(entries)
    size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1), label="size1")
    root1, root2 = tree.root(size1), tree.root(size2)
    proof = tree.consistency_proof(size1, size2)
    assert proof == ref_proof(size1, entries)
    verify_consistency(size1, size2, proof, root1, root2)
    assert root_from_consistency_proof(size1, size2, proof, root1) == root2

    for position in range(len(proof)):
        bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
        tampered = list(proof)
        tampered[position] = _flip_bit(proof[position], bit)
        with pytest.raises(MerkleError):
            verify_consistency(size1, size2, tampered, root1, root2)
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    # When size1 is a power of two the old root seeds the computation of the new one, so a bad
    # root1 surfaces as a root2 mismatch (RFC 9162 §2.1.4.2 step 2).
    with pytest.raises(MerkleError, match=r"root[12] mismatch"):
        verify_consistency(size1, size2, proof, _flip_bit(root1, bit), root2)
    with pytest.raises(MerkleError, match="root2 mismatch"):
        verify_consistency(size1, size2, proof, root1, _flip_bit(root2, bit))

    other_size1 = data.draw(st.integers(min_value=1, max_value=size2 - 1), label="other_size1")
    if tree.consistency_proof(other_size1, size2) != proof:
        with pytest.raises(MerkleError):
            verify_consistency(other_size1, size2, proof, tree.root(other_size1), root2)


def test_inclusion_proof_for_a_smaller_tree_can_verify_under_a_larger_size() -> None:
    """Why a checkpoint must sign the size with the root: proofs do not pin the size alone.

    Leaf 0 of a 3-leaf tree has the audit path [h1, h2]; read as a proof in a 4-leaf tree it
    computes the same hash, so only the signed (size, root) pair rules the claim out.
    """
    tree = _tree(_entries(4))
    proof = tree.inclusion_proof(0, 3)
    verify_inclusion(tree.get_subtree(0, 0), 0, 4, proof, tree.root(3))
    with pytest.raises(MerkleError, match="root mismatch"):
        verify_inclusion(tree.get_subtree(0, 0), 0, 4, proof, tree.root(4))


# ---------------------------------------------------------------------------------------------
# Domain separation.


def test_second_preimage_forgery_works_without_prefixes_and_fails_with_them() -> None:
    entries = [b"pledge-a", b"pledge-b", b"pledge-c", b"pledge-d"]

    # Without the 0x00 / 0x01 prefixes, an interior node is indistinguishable from a leaf.
    def naive_leaf(entry: bytes) -> bytes:
        return _sha256(entry)

    def naive_node(left: bytes, right: bytes) -> bytes:
        return _sha256(left + right)

    def naive_root(leaves: Sequence[bytes]) -> bytes:
        if len(leaves) == 1:
            return leaves[0]
        k = _split(len(leaves))
        return naive_node(naive_root(leaves[:k]), naive_root(leaves[k:]))

    naive_leaves = [naive_leaf(entry) for entry in entries]
    genuine_root = naive_root(naive_leaves)
    # The attacker publishes two "entries" that are really the children of the root's children.
    forged = [naive_leaves[0] + naive_leaves[1], naive_leaves[2] + naive_leaves[3]]
    assert naive_root([naive_leaf(entry) for entry in forged]) == genuine_root
    # ...and "proves" the forged entry is leaf 0 of a 2-leaf tree with the genuine root.
    sibling = naive_leaf(forged[1])
    assert naive_node(naive_leaf(forged[0]), sibling) == genuine_root

    # With RFC 6962 hashing the very same construction produces a different root.
    leaves = [leaf_hash(entry) for entry in entries]
    root = root_from_leaf_hashes(leaves)
    forged = [leaves[0] + leaves[1], leaves[2] + leaves[3]]
    assert root_from_leaf_hashes([leaf_hash(entry) for entry in forged]) != root
    # The forged entry has no proof: not the natural one, not the genuine node hash either.
    for proof in ([leaf_hash(forged[1])], [node_hash(leaves[2], leaves[3])]):
        with pytest.raises(MerkleError, match="root mismatch"):
            verify_inclusion(leaf_hash(forged[0]), 0, 2, proof, root)
    # The forged entry's leaf hash is not the genuine interior node it tries to impersonate.
    assert leaf_hash(forged[0]) != node_hash(leaves[0], leaves[1])


# ---------------------------------------------------------------------------------------------
# CompactRange.


def test_append_reports_every_completed_subtree() -> None:
    leaves = [leaf_hash(entry) for entry in _entries(8)]
    compact = CompactRange()
    compact.extend(leaves[:7])
    tree = InMemoryTree(leaves)
    completed = compact.append(leaves[7])
    assert [(level, index) for level, index, _ in completed] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    for level, index, value in completed:
        assert value == tree.get_subtree(level, index)
    assert compact.subtrees() == [(3, 0, tree.root())]


@settings(max_examples=30, deadline=None)
@given(size=st.integers(min_value=0, max_value=700))
def test_right_edge_subtrees_fold_to_the_root(size: int) -> None:
    leaves = [leaf_hash(entry) for entry in _entries(size)]
    compact = CompactRange()
    compact.extend(leaves)
    edge = compact.subtrees()
    assert [level for level, _, _ in edge] == [h for h in reversed(range(21)) if size >> h & 1]
    covered = 0
    for level, index, value in edge:
        assert index << level == covered
        assert value == ref_mth(_entries(size)[covered : covered + (1 << level)])
        covered += 1 << level
    assert covered == size


@settings(max_examples=30, deadline=None)
@given(total=st.integers(min_value=0, max_value=600), data=st.data())
def test_resuming_from_stored_subtrees_equals_continuous_append(
    total: int, data: st.DataObject
) -> None:
    leaves = [leaf_hash(entry) for entry in _entries(total, b"resume")]
    restart_at = data.draw(st.integers(min_value=0, max_value=total), label="restart_at")

    continuous = CompactRange()
    store: dict[tuple[int, int], bytes] = {}
    for leaf in leaves[:restart_at]:
        for level, index, value in continuous.append(leaf):
            store[(level, index)] = value

    lookups: list[tuple[int, int]] = []

    def get_subtree(level: int, index: int) -> bytes:
        lookups.append((level, index))
        return store[(level, index)]

    resumed = CompactRange.from_subtrees(restart_at, get_subtree)
    assert len(lookups) == restart_at.bit_count()
    assert resumed.size == restart_at
    assert resumed.root() == continuous.root()
    for leaf in leaves[restart_at:]:
        assert resumed.append(leaf) == continuous.append(leaf)
    assert resumed.root() == continuous.root() == ref_mth(_entries(total, b"resume"))
    assert resumed.subtrees() == continuous.subtrees()


def test_in_memory_tree_stores_exactly_what_append_reports() -> None:
    leaves = [leaf_hash(entry) for entry in _entries(100)]
    compact = CompactRange()
    tree = InMemoryTree()
    for leaf in leaves:
        assert tree.append(leaf) == compact.size
        for level, index, value in compact.append(leaf):
            assert tree.get_subtree(level, index) == value
    assert tree.size == compact.size == 100
    assert tree.root() == compact.root()


# ---------------------------------------------------------------------------------------------
# Proof generation cost.


class _UniformTree:
    """A real tree of identical leaves: every perfect subtree at level L has the same hash, so a
    million-leaf tree costs 20 hashes to describe. Counts what the proof code asks for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.levels = [leaf_hash(b"same")]
        while 1 << len(self.levels) <= size:
            self.levels.append(node_hash(self.levels[-1], self.levels[-1]))
        self.calls: list[tuple[int, int]] = []

    def get_subtree(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.size, f"({level}, {index}) is not complete"
        self.calls.append((level, index))
        return self.levels[level]


MILLION = 1_000_000
CALL_BUDGET = 2 * math.ceil(math.log2(MILLION)) + 1


@pytest.mark.parametrize("index", [0, 1, 2**19 - 1, 2**19, 777_777, MILLION - 2, MILLION - 1])
def test_inclusion_proof_makes_logarithmic_lookups(index: int) -> None:
    tree = _UniformTree(MILLION)
    proof = inclusion_proof(index, MILLION, tree.get_subtree)
    assert len(tree.calls) <= CALL_BUDGET
    root = root_from_subtrees(MILLION, tree.get_subtree)
    verify_inclusion(tree.levels[0], index, MILLION, proof, root)


@pytest.mark.parametrize("size1", [1, 2, 3, 2**19, 2**19 + 1, 777_777, MILLION - 1])
def test_consistency_proof_makes_logarithmic_lookups(size1: int) -> None:
    tree = _UniformTree(MILLION)
    proof = consistency_proof(size1, MILLION, tree.get_subtree)
    assert len(tree.calls) <= CALL_BUDGET
    root1 = root_from_subtrees(size1, tree.get_subtree)
    root2 = root_from_subtrees(MILLION, tree.get_subtree)
    verify_consistency(size1, MILLION, proof, root1, root2)


def test_root_from_subtrees_reads_only_the_right_edge() -> None:
    tree = _UniformTree(MILLION)
    root_from_subtrees(MILLION, tree.get_subtree)
    assert len(tree.calls) == MILLION.bit_count()


# ---------------------------------------------------------------------------------------------
# One test per failure mode: the message names the problem.


@cache
def _eight() -> InMemoryTree:
    return _tree(_entries(8))


def test_merkle_error_is_rooted_in_the_ledgers_error_tree() -> None:
    assert issubclass(MerkleError, LedgerError)
    assert not issubclass(MerkleError, ValueError)
    assert MerkleError("x").code == "merkle_error"


def test_inclusion_rejects_index_at_or_beyond_size() -> None:
    tree = _eight()
    with pytest.raises(MerkleError, match="leaf index 9 is not below tree size 8"):
        verify_inclusion(tree.get_subtree(0, 0), 9, 8, [], tree.root())
    with pytest.raises(MerkleError, match="leaf index 8 is not below tree size 8"):
        tree.inclusion_proof(8)


def test_inclusion_rejects_negative_index() -> None:
    with pytest.raises(MerkleError, match="leaf index -1 is negative"):
        inclusion_proof(-1, 8, _eight().get_subtree)


def test_inclusion_rejects_empty_tree() -> None:
    with pytest.raises(MerkleError, match="tree size 0 cannot contain a leaf"):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


def test_inclusion_rejects_wrong_proof_length() -> None:
    tree = _eight()
    proof = tree.inclusion_proof(0)
    with pytest.raises(MerkleError, match="inclusion proof has 2 hashes, expected 3"):
        verify_inclusion(tree.get_subtree(0, 0), 0, 8, proof[:2], tree.root())
    with pytest.raises(MerkleError, match="inclusion proof has 4 hashes, expected 3"):
        verify_inclusion(tree.get_subtree(0, 0), 0, 8, [*proof, proof[0]], tree.root())


def test_inclusion_rejects_short_hashes() -> None:
    tree = _eight()
    leaf, proof, root = tree.get_subtree(0, 0), tree.inclusion_proof(0), tree.root()
    with pytest.raises(MerkleError, match="leaf hash must be 32 bytes, got 12"):
        verify_inclusion(leaf[:12], 0, 8, proof, root)
    with pytest.raises(MerkleError, match="root must be 32 bytes, got 0"):
        verify_inclusion(leaf, 0, 8, proof, b"")
    with pytest.raises(MerkleError, match="inclusion proof hash 1 must be 32 bytes, got 33"):
        verify_inclusion(leaf, 0, 8, [proof[0], proof[1] + b"\x00", proof[2]], root)


def test_consistency_from_empty_tree_is_meaningless() -> None:
    with pytest.raises(MerkleError, match="consistency from size 0 is meaningless"):
        verify_consistency(0, 8, [], EMPTY_ROOT, _eight().root())
    with pytest.raises(MerkleError, match="consistency from size 0 is meaningless"):
        _eight().consistency_proof(0)


def test_consistency_rejects_shrinking_tree() -> None:
    with pytest.raises(MerkleError, match="size1 8 is greater than size2 4"):
        verify_consistency(8, 4, [], _eight().root(8), _eight().root(4))


def test_consistency_with_equal_sizes_needs_empty_proof_and_equal_roots() -> None:
    root = _eight().root()
    verify_consistency(8, 8, [], root, root)
    assert _eight().consistency_proof(8, 8) == []
    with pytest.raises(MerkleError, match="sizes are equal but the proof has 1 hashes"):
        verify_consistency(8, 8, [root], root, root)
    with pytest.raises(MerkleError, match="root mismatch"):
        verify_consistency(8, 8, [], root, _eight().root(7))


def test_consistency_rejects_empty_and_wrong_length_proofs() -> None:
    tree = _eight()
    proof = tree.consistency_proof(6, 8)
    with pytest.raises(MerkleError, match="consistency proof is empty"):
        verify_consistency(6, 8, [], tree.root(6), tree.root(8))
    with pytest.raises(MerkleError, match="consistency proof has 2 hashes, expected 3"):
        verify_consistency(6, 8, proof[1:], tree.root(6), tree.root(8))
    with pytest.raises(MerkleError, match="consistency proof hash 0 must be 32 bytes, got 31"):
        verify_consistency(6, 8, [proof[0][1:], *proof[1:]], tree.root(6), tree.root(8))
    with pytest.raises(MerkleError, match="root2 must be 32 bytes, got 12"):
        verify_consistency(6, 8, proof, tree.root(6), b"don't care 2")


def test_consistency_rejects_swapped_roots() -> None:
    tree = _eight()
    proof = tree.consistency_proof(6, 8)
    with pytest.raises(MerkleError, match="root1 mismatch"):
        verify_consistency(6, 8, proof, tree.root(8), tree.root(6))


def test_broken_store_answer_is_reported() -> None:
    with pytest.raises(MerkleError, match=r"get_subtree\(0, 1\) returned 5 bytes, expected 32"):
        inclusion_proof(0, 2, lambda level, index: b"short")


def test_leaf_hashes_of_wrong_length_are_rejected() -> None:
    with pytest.raises(MerkleError, match="leaf hash 1 must be 32 bytes, got 3"):
        root_from_leaf_hashes([EMPTY_ROOT, b"abc"])
    with pytest.raises(MerkleError, match="leaf hash must be 32 bytes, got 3"):
        CompactRange().append(b"abc")
    with pytest.raises(MerkleError, match="leaf hash must be 32 bytes, got 3"):
        InMemoryTree().append(b"abc")


def test_in_memory_tree_refuses_sizes_it_does_not_hold() -> None:
    tree = _eight()
    with pytest.raises(MerkleError, match="tree size 9 is larger than the 8 leaves held"):
        tree.root(9)
    with pytest.raises(MerkleError, match="tree size -1 is negative"):
        tree.root(-1)
    with pytest.raises(MerkleError, match="no complete subtree at level 3, index 1"):
        tree.get_subtree(3, 1)


def test_public_api_is_pinned() -> None:
    assert set(merkle.__all__) == {
        "EMPTY_ROOT",
        "HASH_SIZE",
        "LEAF_PREFIX",
        "NODE_PREFIX",
        "CompactRange",
        "GetSubtree",
        "InMemoryTree",
        "MerkleError",
        "consistency_proof",
        "inclusion_proof",
        "leaf_hash",
        "node_hash",
        "root_from_consistency_proof",
        "root_from_inclusion_proof",
        "root_from_leaf_hashes",
        "root_from_subtrees",
        "verify_consistency",
        "verify_inclusion",
    }
