"""What the node gives a contract: a key-value State, a read-only ReadState, and a per-tx Context."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from contracts.params import Params


class State(Protocol):
    """Key-value state seen by apply rules; the node journals it per tx (a ContractError discards writes)."""

    def get(self, key: bytes) -> bytes | None: ...

    def set(self, key: bytes, value: bytes) -> None: ...

    def delete(self, key: bytes) -> None: ...


class ReadState(Protocol):
    """Read-only state for queries; `iterate` yields (full key, value) in ascending key order."""

    def get(self, key: bytes) -> bytes | None: ...

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]: ...


@dataclass(frozen=True, slots=True)
class Event:
    """A receipt event; `data` holds JSON-able values only (bytes as 0x-hex strings)."""

    name: str
    data: Mapping[str, Any]


def no_recover(msg_hash: bytes, signature: bytes) -> bytes | None:
    """The `recover` of a context without signature recovery: every signature is refused."""
    return None


@dataclass(frozen=True, slots=True)
class Context:
    """Per-transaction context; `emit` appends to `events`, which the node copies into the receipt.

    `recover(digest, signature)` is the signer's 20-byte address, or None for a malformed or unrecoverable
    signature: contracts may not import the crypto layer, so the node passes ``vaxcrypto.keys.recover_address``.
    """

    sender: bytes
    tx_hash: bytes
    block_height: int
    block_time_ms: int
    chain_id: int
    params: Params
    events: list[Event] = field(default_factory=list)
    recover: Callable[[bytes, bytes], bytes | None] = no_recover

    def emit(self, event: Event) -> None:
        """Append an event (the node drops them all if the tx fails)."""
        self.events.append(event)
