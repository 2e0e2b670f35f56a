"""Commit certificates as the chain's commit rule, and the BFT block-time rule (see docs/adr/0007).

A block is final when more than two thirds of the validators precommitted its header hash in one round. The
consensus package signs and recovers through injected callables; this module fixes them for the node: a
validator signs ``tagged_hash(CONSENSUS_TAG, sign_bytes)`` with its secp256k1 key, and a vote's signer is the
address recovered from that digest.
"""

from __future__ import annotations

from collections.abc import Callable

from consensus.certificate import next_block_time_ms, verify_certificate
from consensus.codec import decode_certificate
from consensus.errors import ConsensusError
from consensus.types import CommitCertificate, ValidatorSet
from node.core.blocks import Header
from node.core.errors import InvalidBlock
from node.core.hashing import tagged_hash
from vaxcrypto.keys import PrivateKey, recover_address

# The consensus sign bytes already carry their own domain (vote/proposal, chain id); the tag also keeps a
# vote digest apart from every transaction and seal digest, which are tagged differently.
CONSENSUS_TAG = b"vaxchain/consensus/v1"


def consensus_digest(sign_bytes: bytes) -> bytes:
    """The 32-byte digest a validator signs for a proposal or vote."""
    return tagged_hash(CONSENSUS_TAG, sign_bytes)


def consensus_signer(key: PrivateKey) -> Callable[[bytes], bytes]:
    """The ``sign`` callable the consensus machine needs, for one validator key."""

    def sign(sign_bytes: bytes) -> bytes:
        return key.sign(consensus_digest(sign_bytes))

    return sign


def consensus_recover(sign_bytes: bytes, signature: bytes) -> bytes | None:
    """The ``recover`` callable: the signing address, or None for a signature that does not recover."""
    try:
        return recover_address(consensus_digest(sign_bytes), signature)
    except Exception:  # any malformed signature just means "not signed by anyone"
        return None


def decode_commit(commit: bytes, height: int | None = None) -> CommitCertificate:
    """Decode an encoded certificate, raising InvalidBlock (with the height if known) when malformed."""
    try:
        return decode_certificate(commit)
    except ConsensusError as exc:
        raise InvalidBlock(f"malformed commit certificate: {exc.reason}", height) from None


class CertificateRule:
    """A block is final when > 2/3 of the validators precommitted its header hash (``CommitRule``)."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id

    def verify(self, header: Header, commit: bytes, validators: tuple[bytes, ...]) -> None:
        """Raise InvalidBlock unless ``commit`` is a quorum certificate for exactly this header."""
        cert = decode_commit(commit, header.height)
        try:
            vset = ValidatorSet.of(validators)
            verify_certificate(
                cert, vset, self.chain_id, consensus_recover, height=header.height, block_id=header.hash
            )
        except ConsensusError as exc:
            raise InvalidBlock(f"invalid commit certificate: {exc.reason}", header.height) from None

    def block_time(self, parent: Header, last_commit: bytes, genesis_time_ms: int) -> int:
        """The only valid time of the block after ``parent`` (see ``expected_block_time``).

        For the proposed ``CommitRule.block_time`` hook; call it after ``verify`` of the parent's certificate.
        """
        return expected_block_time(parent, last_commit, genesis_time_ms)


def expected_block_time(parent: Header, last_commit: bytes, genesis_time_ms: int) -> int:
    """The only valid ``time_ms`` of the block after ``parent`` whose body carries ``last_commit``.

    The consensus rule ``next_block_time_ms`` (the one the validators' vote times follow): the lower median of
    the precommit timestamps in the parent's certificate, so no single clock (not even the proposer's) moves
    it, and at most f faulty votes among >= 2f+1 cannot push it outside the honest range; at least
    ``parent.time_ms + 1``, so time strictly increases. Height 1 has no parent certificate: the genesis time
    + 1 ms. Raises InvalidBlock if ``last_commit`` is not a certificate.
    """
    if parent.height == 0:
        return next_block_time_ms(max(genesis_time_ms, parent.time_ms), None)
    cert = decode_commit(last_commit, parent.height + 1)
    try:
        return next_block_time_ms(parent.time_ms, cert)
    except ConsensusError as exc:
        raise InvalidBlock(f"invalid last commit: {exc.reason}", parent.height + 1) from None
