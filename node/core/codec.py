"""Canonical RLP helpers shared by the core types.

RLP decodes to nested lists of byte strings; these helpers turn them back into typed fields and refuse every
non-canonical form (leading zeros in integers, trailing bytes, re-encoding that differs), so a value has exactly
one encoding and therefore exactly one hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from node.core.errors import DecodeError

RlpItem = bytes | list[Any]


def encode_list_of_encoded(encoded_items: list[bytes]) -> bytes:
    """RLP list whose elements are already RLP-encoded."""
    body = b"".join(encoded_items)
    return _length_prefix(len(body), 0xC0) + body


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
    if type(item) is bytes:
        length = len(item)
        if length == 1 and item[0] < 0x80:
            return item
        if length < 56:
            return bytes((0x80 + length,)) + item
        return _length_prefix(length, 0x80) + item
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


class _Malformed(Exception):
    """Internal: carries the reason up to ``decode``, which names the value being decoded."""


def _prefix(data: bytes, pos: int, end: int) -> tuple[bool, int, int]:
    """Parse the prefix at ``pos``: (is_list, body start, body end), enforcing canonical form."""
    if pos >= end:
        raise _Malformed("unexpected end of input")
    first = data[pos]
    if first < 0x80:
        return False, pos, pos + 1
    if first < 0xB8:
        length = first - 0x80
        if length == 1 and pos + 1 < end and data[pos + 1] < 0x80:
            raise _Malformed("single byte below 0x80 must not have a prefix")
        return False, pos + 1, _check_end(pos + 1 + length, end)
    if first < 0xC0:
        return False, *_long(data, pos, first - 0xB7, end)
    if first < 0xF8:
        return True, pos + 1, _check_end(pos + 1 + first - 0xC0, end)
    return True, *_long(data, pos, first - 0xF7, end)


def _check_end(body_end: int, end: int) -> int:
    if body_end > end:
        raise _Malformed("length runs past the end of input")
    return body_end


def _long(data: bytes, pos: int, size_of_length: int, end: int) -> tuple[int, int]:
    start = pos + 1 + size_of_length
    if start > end:
        raise _Malformed("length runs past the end of input")
    if data[pos + 1] == 0:
        raise _Malformed("length has a leading zero byte")
    length = int.from_bytes(data[pos + 1 : start], "big")
    if length < 56:
        raise _Malformed("long form used for a short length")
    return start, _check_end(start + length, end)


def _decode_at(data: bytes, pos: int, end: int, depth: int) -> tuple[RlpItem, int]:
    is_list, start, body_end = _prefix(data, pos, end)
    if not is_list:
        return data[start:body_end], body_end
    if depth > 64:
        raise _Malformed("nested deeper than 64 lists")
    items: list[Any] = []
    cursor = start
    while cursor < body_end:
        item, cursor = _decode_at(data, cursor, body_end, depth + 1)
        items.append(item)
    return items, body_end


def decode(data: bytes, what: str) -> RlpItem:
    """Decode exactly one canonical RLP item or raise DecodeError naming ``what``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(what, "expected bytes")
    raw = bytes(data)
    try:
        item, end = _decode_at(raw, 0, len(raw), 0)
    except _Malformed as exc:
        raise DecodeError(what, f"malformed RLP: {exc}") from None
    if end != len(raw):
        raise DecodeError(what, "trailing bytes after the RLP item")
    return item


def item_length(data: bytes) -> int | None:
    """Total length of the RLP item at the start of ``data``, or None if its prefix is not complete yet."""
    try:
        _is_list, _start, body_end = _prefix(data, 0, 1 << 62)
    except _Malformed:
        return None
    return body_end


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
