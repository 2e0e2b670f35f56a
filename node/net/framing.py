"""Length-prefixed frames for request/response streams (pure; no libp2p import).

Wire format (one exchange per stream):
    request  = uvarint(len) || body
    response = status(1 byte: 0 ok, 1 error) || uvarint(len) || body   (error body = UTF-8 reason)
"""

from __future__ import annotations

from typing import Protocol

from node.net.errors import FramingError, MessageTooLarge

STATUS_OK = 0
STATUS_ERROR = 1
MAX_REASON_BYTES = 512
_MAX_VARINT_BYTES = 10


class Reader(Protocol):
    """Anything with an async ``read(n)`` returning at most n bytes (b"" at end of stream)."""

    async def read(self, n: int) -> bytes: ...


def encode_uvarint(value: int) -> bytes:
    """Unsigned LEB128, as used by libp2p length prefixes."""
    if value < 0:
        raise FramingError("negative length")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


async def read_exactly(reader: Reader, n: int) -> bytes:
    """Read exactly n bytes or raise FramingError on a short stream."""
    buf = bytearray()
    while len(buf) < n:
        chunk = await reader.read(n - len(buf))
        if not chunk:
            raise FramingError(f"stream ended after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


async def read_uvarint(reader: Reader) -> int:
    """Read one unsigned varint, byte by byte (never over-reads the stream)."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        b = (await read_exactly(reader, 1))[0]
        value |= (b & 0x7F) << (7 * i)
        if not b & 0x80:
            return value
    raise FramingError("varint longer than 10 bytes")


async def read_frame(reader: Reader, limit: int) -> bytes:
    """Read uvarint(len) || body, refusing a length above ``limit`` before reading the body."""
    size = await read_uvarint(reader)
    if size > limit:
        raise MessageTooLarge(size, limit)
    return await read_exactly(reader, size)


def encode_request(body: bytes) -> bytes:
    return encode_uvarint(len(body)) + body


def encode_response(body: bytes) -> bytes:
    return bytes([STATUS_OK]) + encode_uvarint(len(body)) + body


def encode_error(reason: str) -> bytes:
    raw = reason.encode("utf-8", "replace")[:MAX_REASON_BYTES]
    return bytes([STATUS_ERROR]) + encode_uvarint(len(raw)) + raw


async def read_response(reader: Reader, limit: int) -> tuple[bool, bytes]:
    """Return (ok, body); for an error response the body is the remote's UTF-8 reason."""
    status = (await read_exactly(reader, 1))[0]
    if status == STATUS_OK:
        return True, await read_frame(reader, limit)
    if status == STATUS_ERROR:
        return False, await read_frame(reader, MAX_REASON_BYTES)
    raise FramingError(f"unknown response status {status}")
