"""Block drafts: what a proposer is about to execute, sent before it executes it (docs/adr/0011).

A proposer executes its block to fill in the header's roots, and every validator executes the block again
before it prevotes: two executions one after the other on every height's critical path. A draft carries the
inputs of the proposer's ``Chain.build_block`` (the ordered candidate transactions, the parent's certificate,
the evidence, the cap), signed by the proposer. The build is deterministic, so validators build the same block
from the draft while the proposer builds it, and when the signed proposal arrives its block is already
executed. A draft is a hint, never a vote: a validator still prevotes only a block it executed itself and
whose hash the signed proposal names; a missing, late or different draft falls back to executing the
proposed block.

Candidates go by hash: validators hold nearly all of them already, gossiped by the nodes their clients sent
them to, so a draft of 1,500 transactions is ~50 KB instead of ~370 KB. The proposer adds the bodies only of
its own clients' transactions it has not gossiped yet; a validator waits briefly for any other it lacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from node.core import codec
from node.core.hashing import sha256, tagged_hash
from vaxcrypto.keys import PrivateKey, recover_address

DRAFT_TAG = b"vaxchain/draft/v2"  # its own domain: a draft signature can never pass as a vote or a proposal


@dataclass(frozen=True, slots=True)
class BlockDraft:
    """The inputs of the block ``proposer`` is building at (height, round), with its signature over them."""

    height: int
    round: int
    proposer: bytes
    time_ms: int
    max_txs: int
    last_commit: bytes
    evidence: tuple[bytes, ...]
    tx_hashes: tuple[bytes, ...]  # the candidates, in the proposer's order
    bodies: tuple[bytes, ...]  # encoded candidates that validators may not hold yet
    signature: bytes

    def fields(self) -> list[object]:
        """Every field but the signature, in wire order."""
        return [
            self.height,
            self.round,
            self.proposer,
            self.time_ms,
            self.max_txs,
            self.last_commit,
            list(self.evidence),
            list(self.tx_hashes),
            list(self.bodies),
        ]

    def digest(self, chain_id: int) -> bytes:
        """What the proposer signs: the fields under the draft domain tag and the chain id."""
        return tagged_hash(DRAFT_TAG, codec.encode([chain_id, *self.fields()]))

    def signer(self, chain_id: int) -> bytes | None:
        """The address that signed this draft, or None for a signature that does not recover."""
        try:
            return recover_address(self.digest(chain_id), self.signature)
        except Exception:  # any malformed signature just means "not signed by anyone"
            return None

    def bodies_by_hash(self) -> dict[bytes, bytes]:
        """The carried bodies by their transaction hash."""
        return {sha256(raw): raw for raw in self.bodies}


def sign_draft(
    key: PrivateKey,
    chain_id: int,
    height: int,
    round: int,
    time_ms: int,
    max_txs: int,
    last_commit: bytes,
    evidence: tuple[bytes, ...],
    tx_hashes: tuple[bytes, ...],
    bodies: Iterable[bytes] = (),
) -> BlockDraft:
    """A draft of the block ``key``'s validator is building, signed."""
    unsigned = BlockDraft(
        height, round, key.address, time_ms, max_txs, last_commit, evidence, tx_hashes, tuple(bodies), b""
    )
    return replace(unsigned, signature=key.sign(unsigned.digest(chain_id)))
