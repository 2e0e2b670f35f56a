"""State key layout and typed load/store helpers.

A key is a namespace followed by components joined with 0x00. Text components never contain 0x00 (ids are
validated) and binary ones have fixed length, so a prefix of whole components selects exactly one group.
Integers are 8-byte big-endian so keys sort by time.
"""

from __future__ import annotations

from typing import Any, TypeVar

from contracts import codec
from contracts.interfaces import ReadState, State

T = TypeVar("T")

SEP = b"\x00"


def key(*parts: str | bytes | int) -> bytes:
    """Join components into a state key."""
    out: list[bytes] = []
    for p in parts:
        if isinstance(p, bytes):
            out.append(p)
        elif isinstance(p, str):
            out.append(p.encode("utf-8"))
        else:
            out.append(p.to_bytes(8, "big"))
    return SEP.join(out)


def prefix(*parts: str | bytes | int) -> bytes:
    """Key prefix matching every key that starts with these whole components."""
    return key(*parts) + SEP


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


def last_part(k: bytes, pfx: bytes) -> bytes:
    """The remainder of a key after its prefix."""
    return k[len(pfx) :]
