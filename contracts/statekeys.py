"""Typed reads and writes of contract state: records (decoded once, shared) and counters.

Which key holds what is laid out in `contracts.schema`; this module only loads and stores values.
"""

from __future__ import annotations

from typing import Any, TypeVar

from contracts import codec
from contracts.interfaces import ReadState, State

T = TypeVar("T")


# Decoded records by (type, bytes). Records are frozen dataclasses, so one decoded value can be shared; the same
# account, organisation and storage unit are read by thousands of transactions, and decoding dominated apply.
# `store` adds what it writes: inside a block the record a transaction writes (a logger's counters, its storage
# unit, a lot) is very often read back by the next one.
_DECODED: dict[tuple[type, bytes], Any] = {}
_DECODED_MAX = 50_000


def _remember(cache_key: tuple[type, bytes], value: Any) -> None:
    if len(_DECODED) >= _DECODED_MAX:
        _DECODED.clear()
    _DECODED[cache_key] = value


def load(state: State | ReadState, k: bytes, cls: type[T]) -> T | None:
    """Decode the record at `k`, or None when absent."""
    raw = state.get(k)
    if raw is None:
        return None
    cache_key = (cls, raw)
    value = _DECODED.get(cache_key)
    if value is None:
        value = codec.decode(cls, raw, check_canonical=False)
        _remember(cache_key, value)
    result: T = value
    return result


def store(state: State, k: bytes, value: Any) -> None:
    """Encode and write a record (and remember it as the decoding of its bytes, for the next `load`)."""
    raw, reusable = codec.encode_reusable(value)
    state.set(k, raw)
    if reusable:  # decoding gives back exactly this value (not, say, an IntEnum where an int belongs)
        _remember((type(value), raw), value)


def load_int(state: State | ReadState, k: bytes) -> int:
    """A counter (absent = 0)."""
    raw = state.get(k)
    return 0 if raw is None else int.from_bytes(raw, "big")


def add_int(state: State, k: bytes, delta: int) -> int:
    """Add to a counter; returns the new value."""
    v = load_int(state, k) + delta
    state.set(k, v.to_bytes(8, "big"))
    return v
