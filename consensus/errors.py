"""Errors raised by the consensus package: one small hierarchy, each with the fields a caller needs."""

from __future__ import annotations


class ConsensusError(Exception):
    """Base class of every error raised by `consensus`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidMessage(ConsensusError, ValueError):
    """A message (or its encoding) is malformed: bad length, bad range, trailing bytes, ..."""


class InvalidValidatorSet(ConsensusError, ValueError):
    """A validator set is empty, unsorted, has duplicates or addresses of the wrong length."""


class InvalidCertificate(ConsensusError):
    """A commit certificate does not prove a decision; `validator` names the offending vote if any."""

    def __init__(self, reason: str, validator: bytes | None = None) -> None:
        super().__init__(reason)
        self.validator = validator


class InvalidEvidence(ConsensusError):
    """Duplicate-vote evidence does not prove an equivocation."""


class MisuseError(ConsensusError):
    """The caller drove the state machine against its contract (a node bug, never a peer's fault)."""


class InvalidProposal(ConsensusError):
    """A proposal not signed by the proposer of its round: never worth fetching or executing its block."""

    def __init__(self, reason: str, height: int, round: int, proposer: bytes) -> None:
        super().__init__(reason)
        self.height = height
        self.round = round
        self.proposer = proposer
