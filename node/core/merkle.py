"""Binary Merkle trees with inclusion proofs (RFC 6962 shape).

Leaves and inner nodes are hashed with different prefixes so a leaf can never pass for an inner node (the
second-preimage attack on naive trees). An unbalanced tree splits at the largest power of two below n, which
gives every leaf a proof of at most ceil(log2 n) hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from node.core.errors import VaxchainError

EMPTY_ROOT = hashlib.sha256(b"").digest()


class InvalidProof(VaxchainError):
    """A Merkle proof that does not lead from the leaf to the root."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MerkleProof:
    """Proof that leaf ``index`` of ``size`` leaves is in a tree: sibling hashes from the bottom up."""

    index: int
    size: int
    siblings: tuple[bytes, ...]


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 1:
        return hashes[0]
    k = _split(n)
    return _node_hash(_root_of_hashes(hashes[:k]), _root_of_hashes(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over the leaves' data (EMPTY_ROOT for none)."""
    if not leaves:
        return EMPTY_ROOT
    return _root_of_hashes([leaf_hash(leaf) for leaf in leaves])


def prove(leaves: Sequence[bytes], index: int) -> MerkleProof:
    """Inclusion proof for leaf ``index``."""
    if not 0 <= index < len(leaves):
        raise InvalidProof(f"leaf index {index} outside 0..{len(leaves) - 1}")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    siblings: list[bytes] = []
    _collect(hashes, index, siblings)
    return MerkleProof(index, len(leaves), tuple(reversed(siblings)))


def _collect(hashes: Sequence[bytes], index: int, out: list[bytes]) -> None:
    n = len(hashes)
    if n == 1:
        return
    k = _split(n)
    if index < k:
        out.append(_root_of_hashes(hashes[k:]))
        _collect(hashes[:k], index, out)
    else:
        out.append(_root_of_hashes(hashes[:k]))
        _collect(hashes[k:], index - k, out)


def verify(leaf: bytes, proof: MerkleProof, root: bytes) -> None:
    """Raise InvalidProof unless ``leaf`` sits at ``proof.index`` in the tree with ``root``."""
    if not 0 <= proof.index < proof.size:
        raise InvalidProof("index outside the tree")
    computed = _climb(leaf_hash(leaf), proof.index, proof.size, list(proof.siblings))
    if computed != root:
        raise InvalidProof("proof does not lead to the root")


def _climb(node: bytes, index: int, size: int, siblings: list[bytes]) -> bytes:
    # Walk the same splits as _collect, top-down, then combine bottom-up.
    path: list[bool] = []  # True where our node is the left child
    lo, n = index, size
    while n > 1:
        k = _split(n)
        if lo < k:
            path.append(True)
            n = k
        else:
            path.append(False)
            lo -= k
            n -= k
    if len(path) != len(siblings):
        raise InvalidProof(f"expected {len(path)} sibling hashes, got {len(siblings)}")
    for is_left, sibling in zip(reversed(path), siblings, strict=True):
        node = _node_hash(node, sibling) if is_left else _node_hash(sibling, node)
    return node
