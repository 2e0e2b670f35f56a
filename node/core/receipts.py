"""Receipts: what each included transaction did — success or a named failure, plus the events it emitted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from node.core import codec
from node.core.errors import DecodeError

STATUS_SUCCESS = 0
STATUS_FAILURE = 1
_MAX_EVENTS = 10_000


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """One byte form per value: sorted keys, no spaces, so receipts hash the same on every node."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class LogEvent:
    """An event emitted by a transaction: a name and canonical JSON data."""

    name: str
    data: bytes

    def decoded(self) -> dict[str, Any]:
        """The event data as a dict."""
        value: dict[str, Any] = orjson.loads(self.data)
        return value


@dataclass(frozen=True, slots=True)
class Receipt:
    """Outcome of one transaction: status, error code and details on failure, emitted events."""

    tx_hash: bytes
    status: int
    error_code: str
    error_data: bytes
    events: tuple[LogEvent, ...]
    _encoded: bytes = field(default=b"", repr=False, compare=False)  # derived once; not a wire field

    def error_details(self) -> dict[str, Any]:
        """The failure's named fields (empty for a success); written by failure_receipt as canonical JSON."""
        if not self.error_data:
            return {}
        try:
            value = orjson.loads(self.error_data)
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def ok(self) -> bool:
        """True when the transaction's rule succeeded."""
        return self.status == STATUS_SUCCESS

    def to_rlp(self) -> list[Any]:
        """RLP structure."""
        return [
            self.tx_hash,
            self.status,
            self.error_code.encode(),
            self.error_data,
            [[e.name.encode(), e.data] for e in self.events],
        ]

    def encode(self) -> bytes:
        """Canonical wire bytes (the receipts-root leaf); computed once."""
        if not self._encoded:
            # Built by hand (one receipt per transaction): same bytes as codec.encode(self.to_rlp()).
            events = codec.encode_list_of_encoded(
                [
                    codec.encode_list_of_encoded([codec.encode(e.name.encode()), codec.encode(e.data)])
                    for e in self.events
                ]
            )
            body = (
                codec.encode(self.tx_hash)
                + (b"\x80" if self.status == 0 else codec.encode(self.status))
                + codec.encode(self.error_code.encode())
                + codec.encode(self.error_data)
                + events
            )
            object.__setattr__(self, "_encoded", codec.encode_list_of_encoded([body]))
        return self._encoded


def success_receipt(tx_hash: bytes, events: tuple[LogEvent, ...]) -> Receipt:
    """Receipt of a transaction whose rule succeeded."""
    return Receipt(tx_hash, STATUS_SUCCESS, "", b"", events)


def failure_receipt(tx_hash: bytes, error_code: str, details: Mapping[str, Any]) -> Receipt:
    """Receipt of a transaction included but refused by a business rule: its writes are discarded."""
    return Receipt(tx_hash, STATUS_FAILURE, error_code, canonical_json(details), ())


def receipt_from_rlp(item: codec.RlpItem) -> Receipt:
    """Build a receipt from decoded RLP."""
    f = codec.as_list(item, "receipt", 5)
    status = codec.as_uint(f[1], "receipt.status", max_bytes=1)
    if status not in (STATUS_SUCCESS, STATUS_FAILURE):
        raise DecodeError("receipt.status", f"unknown status {status}")
    events = []
    for raw in codec.as_items(f[4], "receipt.events", _MAX_EVENTS):
        ev = codec.as_list(raw, "receipt.event", 2)
        events.append(
            LogEvent(
                codec.as_str(ev[0], "receipt.event.name", 128), codec.as_bytes(ev[1], "receipt.event.data")
            )
        )
    return Receipt(
        tx_hash=codec.as_bytes(f[0], "receipt.tx_hash", size=32),
        status=status,
        error_code=codec.as_str(f[2], "receipt.error_code", 128),
        error_data=codec.as_bytes(f[3], "receipt.error_data"),
        events=tuple(events),
    )


def decode_receipts(data: bytes) -> list[Receipt]:
    """Decode a block's receipt list."""
    return [
        receipt_from_rlp(r) for r in codec.as_items(codec.decode(data, "receipts"), "receipts", 1_000_000)
    ]


def encode_receipts(receipts: list[Receipt]) -> bytes:
    """Encode a block's receipt list for storage (reusing each receipt's cached encoding)."""
    return codec.encode_list_of_encoded([r.encode() for r in receipts])
