"""Canonical RLP helpers shared by the core types.

RLP decodes to nested lists of byte strings; these helpers turn them back into typed fields and refuse every
non-canonical form (leading zeros in integers, trailing bytes, re-encoding that differs), so a value has exactly
one encoding and therefore exactly one hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rlp
from rlp.exceptions import RLPException

from node.core.errors import DecodeError

RlpItem = bytes | list[Any]


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def encode(item: object) -> bytes:
    """RLP-encode nested lists of bytes and non-negative ints.

    Hand-written because pyrlp's encoder infers a sedes object per element and was the largest cost of block
    import; the output is byte-identical to ``rlp.encode`` (checked by a property test).
    """
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _length_prefix(len(item), 0x80) + item
    if isinstance(item, int) and not isinstance(item, bool):
        if item < 0:
            raise ValueError("RLP integers are non-negative")
        return encode(item.to_bytes((item.bit_length() + 7) // 8, "big") if item else b"")
    if isinstance(item, list | tuple):
        body = b"".join([encode(element) for element in item])
        return _length_prefix(len(body), 0xC0) + body
    if isinstance(item, bytearray | memoryview):
        return encode(bytes(item))
    raise TypeError(f"cannot RLP-encode {type(item).__name__}")


def decode(data: bytes, what: str) -> RlpItem:
    """Decode canonical RLP or raise DecodeError naming ``what``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(what, "expected bytes")
    try:
        item: RlpItem = rlp.decode(bytes(data), strict=True)
    except (RLPException, ValueError, TypeError, IndexError, RecursionError) as exc:
        raise DecodeError(what, f"malformed RLP ({type(exc).__name__})") from None
    return item


def as_list(item: RlpItem, what: str, length: int) -> list[Any]:
    """Require a list of exactly ``length`` elements."""
    if not isinstance(item, list):
        raise DecodeError(what, "expected a list")
    if len(item) != length:
        raise DecodeError(what, f"expected {length} fields, got {len(item)}")
    return item


def as_bytes(item: RlpItem, what: str, size: int | None = None, max_size: int | None = None) -> bytes:
    """Require a byte string, optionally of a fixed or bounded size."""
    if not isinstance(item, bytes):
        raise DecodeError(what, "expected a byte string")
    if size is not None and len(item) != size:
        raise DecodeError(what, f"expected {size} bytes, got {len(item)}")
    if max_size is not None and len(item) > max_size:
        raise DecodeError(what, f"longer than {max_size} bytes")
    return item


def as_uint(item: RlpItem, what: str, max_bytes: int = 8) -> int:
    """Require a canonical unsigned integer (no leading zero byte) of at most ``max_bytes``."""
    if not isinstance(item, bytes):
        raise DecodeError(what, "expected an integer")
    if len(item) > max_bytes:
        raise DecodeError(what, f"integer wider than {max_bytes} bytes")
    if item[:1] == b"\x00":
        raise DecodeError(what, "integer has a leading zero byte")
    return int.from_bytes(item, "big")


def as_str(item: RlpItem, what: str, max_size: int) -> str:
    """Require UTF-8 text of at most ``max_size`` bytes."""
    raw = as_bytes(item, what, max_size=max_size)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(what, "not valid UTF-8") from None


def as_items(item: RlpItem, what: str, max_items: int) -> Sequence[RlpItem]:
    """Require a list of at most ``max_items`` elements."""
    if not isinstance(item, list):
        raise DecodeError(what, "expected a list")
    if len(item) > max_items:
        raise DecodeError(what, f"more than {max_items} items")
    return item
