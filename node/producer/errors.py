"""Errors of the block producer: one base, a named error per failure, with fields."""

from __future__ import annotations

from node.core.errors import VaxchainError


class ProducerError(VaxchainError):
    """Base of the BFT engine's own errors."""


class BftConfigError(ProducerError):
    """A BftConfig field is out of range."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid bft config {field}: {reason}")
        self.field = field
        self.reason = reason


class SignRecordError(ProducerError):
    """The sign record file cannot be read or written: refuse to sign rather than risk signing twice."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"sign record {path}: {reason}")
        self.path = path
        self.reason = reason
