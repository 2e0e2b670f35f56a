"""Consensus gossip in (node/producer/inbound.py): decoded messages become the driver's events."""

from __future__ import annotations

import dataclasses

from bft_testkit import CHAIN_ID, validator_keys

from consensus.codec import encode_certificate, encode_message
from consensus.types import CommitCertificate, DuplicateVoteEvidence, Proposal, Vote, VoteType
from node.chain.certrule import consensus_signer
from node.producer import wire
from node.producer.draft import sign_draft
from node.producer.events import DraftArrived, Inbound, NoticeSeen, ProposalReceived
from node.producer.inbound import gossip_events

KEYS = validator_keys(4)
BLOCK = b"\x05" * 32


def vote(key_index: int, block_id: bytes | None = BLOCK, type: VoteType = VoteType.PREVOTE) -> Vote:
    key = KEYS[key_index]
    unsigned = Vote(type, 3, 0, block_id, 1_000, key.address, bytes(65))
    return dataclasses.replace(unsigned, signature=consensus_signer(key)(unsigned.sign_bytes(CHAIN_ID)))


def counters() -> dict[str, int]:
    return {"bad_gossip": 0}


def test_a_vote_batch_gives_one_event_per_vote_and_counts_the_rest() -> None:
    c = counters()
    proposal = Proposal(3, 0, BLOCK, -1, 1_000, KEYS[0].address, bytes(65))
    batch = wire.VoteBatch(
        1, (encode_message(vote(0)), b"\x01junk", encode_message(proposal), encode_message(vote(1)))
    )
    events = gossip_events(batch, "peer", c)
    assert events == [Inbound(vote(0), "peer"), Inbound(vote(1), "peer")]  # a proposal needs its block
    assert c["bad_gossip"] == 1


def test_notices_evidence_and_drafts_become_their_events() -> None:
    c = counters()
    cert = CommitCertificate(3, 0, BLOCK, (vote(0, type=VoteType.PRECOMMIT),))
    assert gossip_events(wire.CommitNotice(3, encode_certificate(cert)), "p", c) == [NoticeSeen(cert, "p")]
    ev = DuplicateVoteEvidence.of(vote(2), vote(2, None))
    assert gossip_events(wire.EvidenceGossip(encode_message(ev)), "p", c) == [Inbound(ev, "p")]
    assert gossip_events(wire.EvidenceGossip(encode_message(vote(2))), "p", c) == []  # not evidence
    draft = sign_draft(KEYS[0], CHAIN_ID, 3, 0, 1_000, 10, b"", (), ())
    assert gossip_events(draft, "p", c) == [DraftArrived(draft)]
    assert c["bad_gossip"] == 0
    assert gossip_events(wire.CommitNotice(3, b"\x01"), "p", c) == []
    assert gossip_events(wire.EvidenceGossip(b"\x01"), "p", c) == []
    assert c["bad_gossip"] == 2


def test_a_proposal_travels_with_its_block_bytes() -> None:
    c = counters()
    proposal = Proposal(3, 0, BLOCK, -1, 1_000, KEYS[0].address, bytes(65))
    msg = wire.ProposalBlock(1, encode_message(proposal), b"block bytes")
    assert gossip_events(msg, "p", c) == [ProposalReceived(msg, proposal, "p")]
    assert gossip_events(wire.ProposalBlock(1, encode_message(vote(0)), b""), "p", c) == []
    assert gossip_events(wire.ProposalBlock(1, b"\x01", b""), "p", c) == []
    assert c["bad_gossip"] == 2
