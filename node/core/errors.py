"""Errors of the core types: one named error per family, with fields, never a bare exception."""

from __future__ import annotations


class VaxchainError(Exception):
    """Base of every error the node raises on purpose."""

    def fields(self) -> dict[str, object]:
        """JSON-able details for logs, receipts and RPC error data."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class DecodeError(VaxchainError):
    """Bytes that are not a canonical encoding of the expected type."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"cannot decode {what}: {reason}")
        self.what = what
        self.reason = reason


class InvalidTransaction(VaxchainError):
    """A transaction that may never be included (bad signature, chain id, nonce, size, encoding)."""

    def __init__(self, reason: str, tx_hash: bytes | None = None) -> None:
        super().__init__(reason if tx_hash is None else f"{reason} (tx 0x{tx_hash.hex()})")
        self.reason = reason
        self.tx_hash = tx_hash

    def fields(self) -> dict[str, object]:
        return {"reason": self.reason, "tx_hash": None if self.tx_hash is None else "0x" + self.tx_hash.hex()}


class InvalidBlock(VaxchainError):
    """A block that breaks a consensus rule; importing it changes nothing."""

    def __init__(self, reason: str, height: int | None = None) -> None:
        super().__init__(reason if height is None else f"block {height}: {reason}")
        self.reason = reason
        self.height = height
