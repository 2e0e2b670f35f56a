"""Consensus gossip in: what a decoded gossip message means for the engine's driver.

Pure: a message and its peer in, the driver's events out, malformed parts counted in ``bad_gossip``.
Transaction batches are not handled here (``TxGossip.receive`` admits them outside the driver).
"""

from __future__ import annotations

from consensus.codec import decode_certificate, decode_message
from consensus.errors import ConsensusError
from consensus.types import DuplicateVoteEvidence, Proposal, Vote
from node.producer import wire
from node.producer.draft import BlockDraft
from node.producer.events import DraftArrived, Event, Inbound, NoticeSeen, ProposalReceived

ConsensusGossip = wire.VoteBatch | wire.CommitNotice | wire.EvidenceGossip | BlockDraft | wire.ProposalBlock


def gossip_events(msg: ConsensusGossip, peer: str, counters: dict[str, int]) -> list[Event]:
    """The events a consensus gossip message from ``peer`` gives the driver (none for a malformed one)."""
    if isinstance(msg, wire.VoteBatch):
        events: list[Event] = []
        for raw in msg.messages:
            try:
                decoded = decode_message(raw)
            except ConsensusError:
                counters["bad_gossip"] += 1
                continue
            # Proposals are only delivered with their blocks (the blocks topic).
            if isinstance(decoded, Vote):
                events.append(Inbound(decoded, peer))
        return events
    if isinstance(msg, wire.CommitNotice):
        try:
            return [NoticeSeen(decode_certificate(msg.certificate), peer)]
        except ConsensusError:
            counters["bad_gossip"] += 1
            return []
    if isinstance(msg, wire.EvidenceGossip):
        try:
            ev = decode_message(msg.evidence)
        except ConsensusError:
            counters["bad_gossip"] += 1
            return []
        return [Inbound(ev, peer)] if isinstance(ev, DuplicateVoteEvidence) else []
    if isinstance(msg, BlockDraft):
        return [DraftArrived(msg)]
    try:
        proposal = decode_message(msg.proposal)
    except ConsensusError:
        counters["bad_gossip"] += 1
        return []
    if not isinstance(proposal, Proposal):
        counters["bad_gossip"] += 1
        return []
    # The driver decides whether the block still needs decoding (a draft may have built it).
    return [ProposalReceived(msg, proposal, peer)]
