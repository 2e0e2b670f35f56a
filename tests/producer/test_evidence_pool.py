"""The evidence pool (node/producer/evidence.py): pending until a block includes it, verified when from a peer."""

from __future__ import annotations

import dataclasses

from bft_testkit import CHAIN_ID, validator_keys

from consensus.codec import encode_message
from consensus.types import DuplicateVoteEvidence, ValidatorSet, Vote, VoteType
from node.chain.certrule import consensus_signer
from node.producer.evidence import MAX_PENDING_EVIDENCE, EvidencePool, EvidenceRecord
from vaxcrypto.keys import PrivateKey

KEYS = validator_keys(4)
VSET = ValidatorSet.of(k.address for k in KEYS)
STRANGER = PrivateKey.from_seed("evidence/stranger")


def equivocation(key: PrivateKey, height: int, round: int = 0) -> DuplicateVoteEvidence:
    def vote(block_id: bytes) -> Vote:
        unsigned = Vote(VoteType.PREVOTE, height, round, block_id, 1, key.address, bytes(65))
        return dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(CHAIN_ID)))

    return DuplicateVoteEvidence.of(vote(b"\x01" * 32), vote(b"\x02" * 32))


def pool(max_height: int = 5) -> EvidencePool:
    return EvidencePool(CHAIN_ID, lambda h: VSET if h <= max_height else None)


def test_evidence_waits_for_a_block_then_is_included_once() -> None:
    p = pool()
    ev = equivocation(KEYS[0], 3)
    raw = p.add(ev, verify=False)
    assert raw == encode_message(ev)  # new: the caller gossips it
    assert p.add(ev, verify=False) is None  # known: not again
    assert p.pending_count == 1 and p.for_block(100) == (raw,)
    assert p.records() == [EvidenceRecord(ev, None)]

    other = equivocation(KEYS[1], 4)
    p.included(6, [raw, encode_message(other), b"\x01\x02"])  # ours, one we never saw, garbage
    assert p.pending_count == 0 and p.included_count == 2 and p.for_block(100) == ()
    assert p.records() == [EvidenceRecord(ev, 6), EvidenceRecord(other, 6)]
    assert p.add(ev, verify=True) is None  # a block carries it already


def test_evidence_from_a_peer_is_verified_against_the_set_of_its_height() -> None:
    p = pool(max_height=5)
    assert p.add(equivocation(STRANGER, 3), verify=True) is None  # not a validator
    assert p.add(equivocation(KEYS[0], 9), verify=True) is None  # a height we know no set for
    assert p.add(equivocation(KEYS[0], 3), verify=True) is not None
    assert p.pending_count == 1


def test_the_pool_is_bounded_and_a_block_takes_the_oldest_first() -> None:
    p = pool(max_height=10**6)
    raws = [
        p.add(equivocation(KEYS[i % 4], 1 + i // 4), verify=False) for i in range(MAX_PENDING_EVIDENCE + 3)
    ]
    assert all(raws[:MAX_PENDING_EVIDENCE]) and raws[MAX_PENDING_EVIDENCE:] == [None] * 3
    assert p.pending_count == MAX_PENDING_EVIDENCE
    assert p.for_block(2) == tuple(raws[:2])
