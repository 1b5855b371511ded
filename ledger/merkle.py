"""RFC 6962 / RFC 9162 Merkle trees: hashing, incremental building, proofs and their verification.

This module is the cryptographic core of the transparency log, so it is deliberately small and
uses only the standard library: bytes in, bytes out, and one error type (:class:`MerkleError`)
whose message names the exact thing that was wrong.

Vocabulary used throughout:

* A *leaf hash* is ``SHA-256(0x00 || entry)``; a *node hash* is ``SHA-256(0x01 || left || right)``.
  The one-byte prefixes are domain separation: without them an interior node could be passed off
  as a leaf (a second-preimage attack).
* A *perfect subtree* at ``(level, i)`` is ``MTH(D[i * 2**level : (i + 1) * 2**level])``. Level 0
  holds the leaf hashes themselves. Once complete, a perfect subtree never changes, which is what
  makes it safe to store and reuse.
* A ``get_subtree(level, index)`` callable returns the hash of such a perfect subtree. Proof
  generation only ever asks for subtrees that are complete within the tree size it was given, and
  asks for O(log n) of them: any non-perfect (right-edge) hash is folded from perfect ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from ledger.errors import LedgerError

__all__ = [
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
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 6962 §2.1)."""

LEAF_PREFIX = b"\x00"
"""RFC 9162 domain separation: a leaf hash is ``SHA-256(LEAF_PREFIX || entry)``."""
NODE_PREFIX = b"\x01"
"""RFC 9162 domain separation: a node hash is ``SHA-256(NODE_PREFIX || left || right)``."""

GetSubtree = Callable[[int, int], bytes]
"""``get_subtree(level, index)`` -> hash of the complete perfect subtree at that position."""


class MerkleError(LedgerError):
    """A Merkle argument is malformed, or a proof does not verify.

    The only exception this module raises on purpose, so that callers can treat "the log did not
    prove what it claimed" as one condition while still showing a precise reason.
    """

    code = "merkle_error"


def leaf_hash(entry: bytes) -> bytes:
    """Hash a log entry as a leaf: ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: ``SHA-256(0x01 || left || right)``.

    Lengths are not checked here because this is the hot path; every public entry point checks
    the hashes it receives before they get this far.
    """
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# --------------------------------------------------------------------------------------------
# Argument checking: each malformed input gets its own message.


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise MerkleError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_size(size: int, what: str = "tree size") -> None:
    if size < 0:
        raise MerkleError(f"{what} {size} is negative")


def _check_proof_hashes(proof: Sequence[bytes], kind: str) -> None:
    for position, value in enumerate(proof):
        _check_hash(value, f"{kind} proof hash {position}")


def _fetch(get_subtree: GetSubtree, level: int, index: int) -> bytes:
    """Call ``get_subtree`` and refuse an answer that cannot be a hash (a broken store)."""
    value = get_subtree(level, index)
    if len(value) != HASH_SIZE:
        raise MerkleError(
            f"get_subtree({level}, {index}) returned {len(value)} bytes, expected {HASH_SIZE}"
        )
    return value


def _largest_power_of_two_below(n: int) -> int:
    """The RFC 6962 split point ``k``: the largest power of two strictly smaller than ``n > 1``."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------------------------
# Roots.


def root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Compute ``MTH`` of a whole list of leaf hashes in O(n) time and O(log n) extra space.

    Leaves are pushed onto a stack of perfect subtrees which is merged like a binary counter
    (the same right edge :class:`CompactRange` keeps), then the right edge is folded.
    """
    compact = CompactRange()
    for position, value in enumerate(leaf_hashes):
        _check_hash(value, f"leaf hash {position}")
        compact.push(value)
    return compact.root()


def _right_edge(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` that tile ``D[0:size]``, largest (leftmost) first.

    They are the set bits of ``size``: bit ``h`` contributes the subtree of level ``h`` that
    ends where the higher bits stop, i.e. index ``(size >> h) - 1``.
    """
    return [(h, (size >> h) - 1) for h in reversed(range(size.bit_length())) if size >> h & 1]


def _fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine right-edge subtrees (largest first) into their ``MTH``: the RFC split, unrolled."""
    result = hashes[-1]
    for value in reversed(hashes[:-1]):
        result = node_hash(value, result)
    return result


def _range_hash(start: int, end: int, get_subtree: GetSubtree) -> bytes:
    """``MTH(D[start:end])`` for a range that is a node of some RFC 6962 tree.

    Such a range starts on a boundary aligned to its own largest perfect piece, so it decomposes
    into at most log2(end - start) + 1 stored perfect subtrees, folded right to left.
    """
    pieces: list[bytes] = []
    position = start
    width = end - start
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            pieces.append(_fetch(get_subtree, level, position >> level))
            position += 1 << level
    return _fold_right(pieces)


def root_from_subtrees(size: int, get_subtree: GetSubtree) -> bytes:
    """Root of the tree of ``size`` leaves from its O(log n) right-edge perfect subtrees."""
    _check_size(size)
    if size == 0:
        return EMPTY_ROOT
    return _range_hash(0, size, get_subtree)


# --------------------------------------------------------------------------------------------
# Incremental building.


class CompactRange:
    """The right edge of a growing tree: one perfect-subtree hash per set bit of the size.

    This is all an integrator needs in memory. Appending a leaf merges equal-sized subtrees like
    a binary counter increment (amortised O(1) hashes), ``root()`` folds at most log2(n) hashes,
    and :meth:`from_subtrees` rebuilds the edge from stored subtrees after a restart.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []  # right-edge subtree hashes, largest (leftmost) first

    @classmethod
    def from_subtrees(cls, size: int, get_subtree: GetSubtree) -> CompactRange:
        """Resume a tree of ``size`` leaves by reading its right-edge perfect subtrees.

        Makes exactly ``popcount(size)`` calls to ``get_subtree``.
        """
        _check_size(size)
        compact = cls()
        compact._size = size
        compact._hashes = [_fetch(get_subtree, level, index) for level, index in _right_edge(size)]
        return compact

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def subtrees(self) -> list[tuple[int, int, bytes]]:
        """The right-edge perfect subtrees as ``(level, index, hash)``, leftmost first."""
        return [
            (level, index, value)
            for (level, index), value in zip(_right_edge(self._size), self._hashes, strict=True)
        ]

    def push(self, leaf: bytes) -> None:
        """Append a leaf hash without reporting what it completes (for bulk roots, verifiers).

        Unlike :meth:`append`, the hash's length is not checked: callers pass SHA-256 digests.
        """
        value = leaf
        size = self._size
        while size & 1:
            value = node_hash(self._hashes.pop(), value)
            size >>= 1
        self._hashes.append(value)
        self._size += 1

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return every perfect subtree this append completed.

        The result is ``[(0, index, leaf), (1, index // 2, h1), ...]``: level 0 is the leaf
        itself and each further entry is the subtree one level up that just became complete.
        Persisting all of them is exactly what ``get_subtree`` later needs.
        """
        _check_hash(leaf, "leaf hash")
        index = self._size
        completed = [(0, index, leaf)]
        value = leaf
        level = 0
        while index >> level & 1:
            value = node_hash(self._hashes.pop(), value)
            level += 1
            completed.append((level, index >> level, value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append several leaf hashes; return all the subtrees they completed, in order."""
        completed: list[tuple[int, int, bytes]] = []
        for leaf in leaves:
            completed.extend(self.append(leaf))
        return completed

    def root(self) -> bytes:
        """The Merkle tree hash of everything appended so far."""
        if not self._hashes:
            return EMPTY_ROOT
        return _fold_right(self._hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size})"


# --------------------------------------------------------------------------------------------
# Proof generation (RFC 9162 §2.1.3.1 and §2.1.4.1, unrolled into loops over [lo, hi) ranges).


def inclusion_proof(index: int, size: int, get_subtree: GetSubtree) -> list[bytes]:
    """``PATH(index, D[0:size])``: the audit path, ordered from the leaf's sibling upward.

    Walks down from the root; every sibling is a perfect subtree (one lookup) except at most one
    right-edge range, folded from at most log2(size) lookups. Total: <= 2 * log2(size) calls.
    """
    _check_index(index, size)
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            proof.append(_range_hash(lo + k, hi, get_subtree))
            hi = lo + k
        else:
            proof.append(_range_hash(lo, lo + k, get_subtree))
            lo += k
    proof.reverse()
    return proof


def consistency_proof(size1: int, size2: int, get_subtree: GetSubtree) -> list[bytes]:
    """``PROOF(size1, D[0:size2])``: hashes that prove the first tree is a prefix of the second.

    Ordered as RFC 9162 prescribes (lowest subtree first). Same lookup bound as
    :func:`inclusion_proof`. Equal sizes give the empty proof; ``size1 == 0`` is refused because
    every tree trivially extends the empty one and a proof of that proves nothing.
    """
    _check_sizes(size1, size2)
    proof: list[bytes] = []
    if size1 == size2:
        return proof
    lo, hi, starts_at_root_of_old_tree = 0, size2, True
    while True:
        if hi == size1:
            if not starts_at_root_of_old_tree:
                proof.append(_range_hash(lo, hi, get_subtree))
            break
        k = _largest_power_of_two_below(hi - lo)
        if size1 - lo <= k:
            proof.append(_range_hash(lo + k, hi, get_subtree))
            hi = lo + k
        else:
            proof.append(_range_hash(lo, lo + k, get_subtree))
            lo += k
            starts_at_root_of_old_tree = False
    proof.reverse()
    return proof


# --------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2, step by step).


def _check_index(index: int, size: int) -> None:
    if size <= 0:
        raise MerkleError(f"tree size {size} cannot contain a leaf")
    if index < 0:
        raise MerkleError(f"leaf index {index} is negative")
    if index >= size:
        raise MerkleError(f"leaf index {index} is not below tree size {size}")


def _check_sizes(size1: int, size2: int) -> None:
    _check_size(size1, "size1")
    _check_size(size2, "size2")
    if size1 > size2:
        raise MerkleError(f"size1 {size1} is greater than size2 {size2}")
    if size1 == 0:
        raise MerkleError("consistency from size 0 is meaningless")


def _inclusion_proof_length(index: int, size: int) -> int:
    """Expected audit-path length: the levels where index and the last leaf diverge, plus the
    levels above where the path hugs the right edge (those siblings are skipped)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def _consistency_proof_length(size1: int, size2: int) -> int:
    """Expected consistency-proof length for ``0 < size1 < size2`` (see RFC 9162 §2.1.4.2)."""
    shift = (size1 & -size1).bit_length() - 1  # trailing zeros of size1
    inner = ((size1 - 1) ^ (size2 - 1)).bit_length() - shift
    border = ((size1 - 1) >> (inner + shift)).bit_count()
    seed = 0 if size1 == 1 << shift else 1
    return seed + inner + border


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root implied by an audit path (RFC 9162 §2.1.3.2 steps 1-4); compare it yourself.

    Raises :class:`MerkleError` for any malformed argument, including a proof of the wrong
    length, before hashing anything.
    """
    _check_index(index, size)
    _check_hash(leaf, "leaf hash")
    _check_proof_hashes(proof, "inclusion")
    expected = _inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise MerkleError(f"inclusion proof has {len(proof)} hashes, expected {expected}")

    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise MerkleError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` is leaf number ``index`` of the tree of ``size`` with ``root``.

    Returns ``None`` on success and raises :class:`MerkleError` otherwise, so that a forgotten
    return value can never be mistaken for success.
    """
    _check_hash(root, "root")
    computed = root_from_inclusion_proof(leaf, index, size, proof)
    if computed != root:
        raise MerkleError("root mismatch")


def root_from_consistency_proof(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> bytes:
    """The second root implied by a consistency proof, after checking it reproduces ``root1``.

    RFC 9162 §2.1.4.2 computes both roots at once; this returns the new one so a caller holding
    only the old checkpoint can learn (and then check a signature over) the new root. Requires
    ``0 < size1 < size2``.
    """
    _check_sizes(size1, size2)
    if size1 == size2:
        raise MerkleError("sizes are equal: there is nothing to prove")
    _check_hash(root1, "root1")
    if not proof:
        raise MerkleError("consistency proof is empty")
    _check_proof_hashes(proof, "consistency")
    expected = _consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise MerkleError(f"consistency proof has {len(proof)} hashes, expected {expected}")

    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a power of two: the old root is a node of the new
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("consistency proof is shorter than the path to the root")
    if fr != root1:
        raise MerkleError("root1 mismatch")
    return sr


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree ``(size2, root2)`` extends the tree ``(size1, root1)``.

    Policy: ``size1 == 0`` is refused (meaningless), ``size1 > size2`` is refused, and equal
    sizes need an empty proof and byte-identical roots. In that last case nothing is hashed, so
    the roots are compared as given, exactly like the transparency-dev reference verifier.
    """
    _check_sizes(size1, size2)
    if size1 == size2:
        if proof:
            raise MerkleError(f"sizes are equal but the proof has {len(proof)} hashes")
        if root1 != root2:
            raise MerkleError("root mismatch")
        return
    _check_hash(root2, "root2")
    computed = root_from_consistency_proof(size1, size2, proof, root1)
    if computed != root2:
        raise MerkleError("root2 mismatch")


# --------------------------------------------------------------------------------------------
# An in-memory store, for tests and small tools.


class InMemoryTree:
    """A tree that keeps every perfect subtree in memory, level by level.

    It is the reference ``get_subtree`` implementation: what a persistent store keeps in a
    table, this keeps in lists (``levels[level][index]``). Memory is about ``2 n`` hashes.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        """Append a leaf hash and store every subtree it completes; return its leaf index."""
        _check_hash(leaf, "leaf hash")
        index = self.size
        self._levels[0].append(leaf)
        level = 0
        while len(self._levels[level]) % 2 == 0:
            below = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(below[-2], below[-1]))
            level += 1
        return index

    def get_subtree(self, level: int, index: int) -> bytes:
        """Hash of the complete perfect subtree at ``(level, index)``."""
        if level < 0 or index < 0 or level >= len(self._levels):
            raise MerkleError(f"no complete subtree at level {level}, index {index}")
        row = self._levels[level]
        if index >= len(row):
            raise MerkleError(f"no complete subtree at level {level}, index {index}")
        return row[index]

    def _resolve(self, size: int | None) -> int:
        if size is None:
            return self.size
        _check_size(size)
        if size > self.size:
            raise MerkleError(f"tree size {size} is larger than the {self.size} leaves held")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Root of the first ``size`` leaves (default: all of them)."""
        return root_from_subtrees(self._resolve(size), self.get_subtree)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        return inclusion_proof(index, self._resolve(size), self.get_subtree)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Consistency proof from ``size1`` to ``size2`` leaves (default: all)."""
        return consistency_proof(size1, self._resolve(size2), self.get_subtree)
