"""The evidence pool: proofs of equivocation waiting for a block, and those blocks already carry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consensus.certificate import verify_evidence
from consensus.codec import decode_message, encode_message
from consensus.errors import ConsensusError
from consensus.types import DuplicateVoteEvidence, ValidatorSet
from node.chain.certrule import consensus_recover

log = logging.getLogger("vaxchain.bft")

MAX_PENDING_EVIDENCE = 1_000


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    """Evidence of an equivocation, and the height of the block that included it (None: still pending)."""

    evidence: DuplicateVoteEvidence
    included_at: int | None


class EvidencePool:
    """Pending evidence by its encoding (what a proposer puts in its block) and the evidence blocks included.

    ``validators_at(height)`` gives the set that decided (or decides) a height, None beyond the next one:
    evidence from peers is verified against the set of its own height.
    """

    def __init__(self, chain_id: int, validators_at: Callable[[int], ValidatorSet | None]) -> None:
        self.chain_id = chain_id
        self.validators_at = validators_at
        self._pending: dict[bytes, DuplicateVoteEvidence] = {}
        self._included: dict[bytes, tuple[int, DuplicateVoteEvidence]] = {}

    @property
    def pending_count(self) -> int:
        """Evidence waiting for a block."""
        return len(self._pending)

    @property
    def included_count(self) -> int:
        """Evidence committed blocks carry."""
        return len(self._included)

    def add(self, ev: DuplicateVoteEvidence, *, verify: bool) -> bytes | None:
        """Keep ``ev`` until a block includes it; returns its encoding if it is new (to gossip), else None.

        ``verify``: check it first against the set of its height (the machine verified what it found itself).
        """
        raw = encode_message(ev)
        if raw in self._pending or raw in self._included:
            return None
        if verify:
            vset = self.validators_at(ev.height)
            if vset is None:
                return None
            try:
                verify_evidence(ev, vset, self.chain_id, consensus_recover)
            except ConsensusError:
                return None
        if len(self._pending) >= MAX_PENDING_EVIDENCE:
            return None
        log.warning(
            "event=equivocation validator=0x%s height=%d round=%d",
            ev.validator.hex(),
            ev.height,
            ev.vote_a.round,
        )
        self._pending[raw] = ev
        return raw

    def for_block(self, limit: int) -> tuple[bytes, ...]:
        """Encoded pending evidence for the next block, oldest first, at most ``limit``."""
        return tuple(list(self._pending)[:limit])

    def included(self, height: int, evidence: Iterable[bytes]) -> None:
        """A committed block at ``height`` carries ``evidence``: no longer pending."""
        for raw in evidence:
            ev = self._pending.pop(raw, None)
            if ev is None:
                try:
                    decoded = decode_message(raw)
                except ConsensusError:
                    continue
                if not isinstance(decoded, DuplicateVoteEvidence):
                    continue
                ev = decoded
            self._included[raw] = (height, ev)

    def records(self) -> list[EvidenceRecord]:
        """Evidence known to this node: included in blocks (with the height), then still pending."""
        out = [EvidenceRecord(ev, h) for h, ev in self._included.values()]
        out.extend(EvidenceRecord(ev, None) for ev in self._pending.values())
        return out
