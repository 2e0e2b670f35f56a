"""What tasks tell the engine's driver: the one channel through which everything reaches the machine."""

from __future__ import annotations

from dataclasses import dataclass

from consensus.machine import Timeout
from consensus.types import CommitCertificate, ConsensusMessage, Proposal
from node.chain.chain import ExecutedBlock
from node.core.blocks import Block
from node.producer import wire
from node.producer.draft import BlockDraft


@dataclass(frozen=True, slots=True)
class Inbound:
    """A vote or evidence from a peer (or a proposal whose block was found valid)."""

    msg: ConsensusMessage
    peer: str


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A proposal gossiped with its block's bytes (empty when the proposer sent it bare after a draft)."""

    msg: wire.ProposalBlock
    proposal: Proposal
    peer: str


@dataclass(frozen=True, slots=True)
class DraftArrived:
    """A proposer's draft of the block it is building."""

    draft: BlockDraft


@dataclass(frozen=True, slots=True)
class DraftBuilt:
    """A draft's build ended; ``executed`` is None if it was stale or did not build a valid block."""

    height: int
    round: int
    executed: ExecutedBlock | None


@dataclass(frozen=True, slots=True)
class ProposalArrived:
    """A proposal with its decoded block."""

    proposal: Proposal
    block: Block
    peer: str


@dataclass(frozen=True, slots=True)
class Validated:
    """A proposed block's execution ended; ``executed`` is None if invalid (or skipped)."""

    block_id: bytes
    executed: ExecutedBlock | None
    skipped: bool = False


@dataclass(frozen=True, slots=True)
class Built:
    """Our own proposal's block; ``drafted`` when validators were sent its draft."""

    height: int
    round: int
    executed: ExecutedBlock
    drafted: bool = False


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timeout the machine scheduled expired."""

    timeout: Timeout


@dataclass(frozen=True, slots=True)
class StartNext:
    """The next height is due."""

    height: int


@dataclass(frozen=True, slots=True)
class NoticeSeen:
    """A peer's commit notice: how a height ended."""

    certificate: CommitCertificate
    peer: str


@dataclass(frozen=True, slots=True)
class HeadAdvanced:
    """Block sync moved the head."""


Event = (
    Inbound
    | ProposalReceived
    | DraftArrived
    | DraftBuilt
    | ProposalArrived
    | Validated
    | Built
    | TimerFired
    | StartNext
    | NoticeSeen
    | HeadAdvanced
)
