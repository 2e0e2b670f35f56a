"""Single-validator seals: the commit of a block finalised by one authority's signature.

The BFT engine replaces this with a commit certificate of > 2/3 precommits; both plug into the chain through
the ``CommitRule`` protocol, so the chain does not care which produced a block.
"""

from __future__ import annotations

from typing import Protocol

from node.core import codec
from node.core.blocks import Header
from node.core.errors import DecodeError, InvalidBlock
from node.core.hashing import tagged_hash
from vaxcrypto.keys import PrivateKey, recover_address

_SEAL_TAG = b"vaxchain/seal/v1"


class CommitRule(Protocol):
    """Checks that ``commit`` finalises ``header`` under the given validator set."""

    def verify(self, header: Header, commit: bytes, validators: tuple[bytes, ...]) -> None:
        """Raise InvalidBlock unless the commit is valid."""

    def block_time(self, parent: Header, last_commit: bytes, genesis_time_ms: int) -> int | None:
        """The only valid time of the next block, or None when any later time will do."""


def seal_digest(header_hash: bytes) -> bytes:
    """What a sealing validator signs."""
    return tagged_hash(_SEAL_TAG, header_hash)


def make_seal(key: PrivateKey, header: Header) -> bytes:
    """Encoded seal of ``header`` by ``key``."""
    return codec.encode([key.address, key.sign(seal_digest(header.hash))])


class SealRule:
    """A block is final when the validator that proposed it sealed it (one-validator networks)."""

    def block_time(self, parent: Header, last_commit: bytes, genesis_time_ms: int) -> int | None:
        """A sealed chain takes its proposer's clock: any time after the parent's."""
        return None

    def verify(self, header: Header, commit: bytes, validators: tuple[bytes, ...]) -> None:
        """Raise InvalidBlock unless ``commit`` is the proposer's valid seal."""
        try:
            fields = codec.as_list(codec.decode(commit, "seal"), "seal", 2)
            signer = codec.as_bytes(fields[0], "seal.signer", size=20)
            signature = codec.as_bytes(fields[1], "seal.signature", size=65)
        except DecodeError as exc:
            raise InvalidBlock(f"malformed seal: {exc.reason}", header.height) from None
        if signer != header.proposer or signer not in validators:
            raise InvalidBlock("seal is not by the block's proposer, a current validator", header.height)
        try:
            recovered = recover_address(seal_digest(header.hash), signature)
        except Exception:
            raise InvalidBlock("seal signature does not recover", header.height) from None
        if recovered != signer:
            raise InvalidBlock("seal signature is not the proposer's", header.height)
