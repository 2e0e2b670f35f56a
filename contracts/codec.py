"""Canonical RLP codec over frozen dataclasses.

Supported field types: int (unsigned, or zigzag-signed when its Range allows negatives), bool, bytes, str
(UTF-8), IntEnum, tuple[T, ...], nested dataclasses and `T | None` (encoded as an empty or one-item list).
Bounds come from `Annotated[..., Len | MaxLen | Range]`.

Each type gets an encoder and a decoder generated from its type hints and compiled once (contracts._codegen).
The encoder writes RLP bytes directly; the decoder reads straight from the bytes into the constructor and
accepts only the canonical encoding: minimal length prefixes, a byte below 0x80 standing for itself, integers
without leading zeros, exact field counts, in-range values and nothing after the item. So `decode` returns a
value exactly when `encode` of that value gives back the same bytes
(tests/contracts/test_contracts_codec_equivalence.py checks this against the former decode-then-re-encode
implementation).
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from contracts import _codegen

T = TypeVar("T")

Item = bytes | list[Any]


class CodecError(Exception):
    """Malformed or out-of-bounds value; callers turn it into a ContractError."""


class _NotExact(Exception):
    """Raised by the exact encoders on a valid value of a subclass type (decoding would not give it back)."""


# ---- RLP pieces used by the generated code ----

_SMALL = (b"\x80", *(bytes([i]) for i in range(1, 128)))  # RLP of the integers 0..127
_SPFX = tuple(bytes([0x80 + n]) for n in range(56))  # short string headers
_LPFX = tuple(bytes([0xC0 + n]) for n in range(56))  # short list headers


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""


def _header(length: int, short: int) -> bytes:
    """RLP header of a string (short=0x80) or list (short=0xC0) payload of `length` bytes."""
    if length < 56:
        return bytes((short + length,))
    if length < 256:
        return bytes((short + 56, length))
    n = _int_bytes(length)
    return bytes((short + 55 + len(n),)) + n


def _long_length(data: bytes, pos: int, n: int) -> tuple[int, int]:
    """Payload start and length of a long-form header with `n` length bytes after `pos`."""
    start = pos + 1 + n
    raw = data[pos + 1 : start]
    if len(raw) != n:
        raise CodecError("bad RLP: truncated")
    if not raw[0]:
        raise CodecError("non-canonical encoding: length with a leading zero byte")
    length = int.from_bytes(raw, "big")
    if length < 56:
        raise CodecError("non-canonical encoding: long length form for a short item")
    return start, length


def _list_long(data: bytes, pos: int) -> tuple[int, int]:
    """Payload start and end of the list item at `pos` (the generated code inlines the short form)."""
    b = data[pos]
    if b < 0xC0:
        raise CodecError("expected a list item, got a string")
    if b < 0xF8:
        return pos + 1, pos + 1 + b - 0xC0
    start, length = _long_length(data, pos, b - 0xF7)
    return start, start + length


def _read_str(data: bytes, pos: int) -> tuple[bytes, int]:
    """The canonical string item at `pos` and the position after it."""
    b = data[pos]
    if b < 0x80:
        return data[pos : pos + 1], pos + 1
    if b < 0xB8:
        start = pos + 1
        end = start + b - 0x80
        if b == 0x81 and data[start] < 0x80:
            raise CodecError("non-canonical encoding: a byte below 0x80 behind a length prefix")
        return data[start:end], end
    if b < 0xC0:
        start, length = _long_length(data, pos, b - 0xB7)
        return data[start : start + length], start + length
    raise CodecError("expected a string item, got a list")


def _read_uint(data: bytes, pos: int) -> tuple[int, int]:
    raw, end = _read_str(data, pos)
    if raw[:1] == b"\x00":
        raise _leading_zero()
    return int.from_bytes(raw, "big"), end


def _leading_zero() -> CodecError:
    return CodecError("integer with leading zero byte")


def _bad_int(data: bytes, start: int, end: int) -> CodecError:
    """Why the short-form integer in data[start:end] is not canonical."""
    if end > len(data):
        return CodecError("bad RLP: truncated")
    if not data[start]:
        return _leading_zero()
    return CodecError("non-canonical encoding: a byte below 0x80 behind a length prefix")


def _range_error(v: int, lo: int, hi: int) -> CodecError:
    return CodecError(f"integer {v} outside [{lo}, {hi}]")


def _enum_error(v: int, lo: int, hi: int, enum_cls: type[enum.IntEnum]) -> CodecError:
    if not lo <= v <= hi:
        return _range_error(v, lo, hi)
    return CodecError(f"{v} is not a {enum_cls.__name__}")


def _bool_error(b: int) -> CodecError:
    if b >= 0xC0:
        return CodecError("expected a string item, got a list")
    return CodecError("bool must be empty or 0x01")


def _type_error(v: Any, expected: str) -> CodecError:
    return CodecError(f"expected {expected}, got {type(v).__name__}")


def _check_int(v: Any, enum_cls: type[enum.IntEnum] | None, exact: bool) -> None:
    """Slow path of an int field whose value is not exactly an int (or exactly its IntEnum)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise _type_error(v, "int")
    if enum_cls is not None and not isinstance(v, enum_cls):
        raise CodecError(f"expected {enum_cls.__name__}")
    if exact:
        raise _NotExact


def _check_type(v: Any, tp: type, name: str, exact: bool) -> None:
    """Slow path of a bytes, str or tuple field whose value is not exactly of that type."""
    if not isinstance(v, tp):
        raise _type_error(v, name)
    if exact:
        raise _NotExact


def _too_long(v: Any, most: int, unit: str) -> CodecError:
    return CodecError(f"at most {most} {unit}, got {len(v)}")


def _wrong_length(v: bytes, n: int) -> CodecError:
    return CodecError(f"expected {n} bytes, got {len(v)}")


def _overrun() -> CodecError:
    return CodecError("bad RLP: item overruns its list")


def _optional_error(pos: int, end: int) -> CodecError:
    if pos > end:
        return _overrun()
    return CodecError("optional value must have 0 or 1 item")


def _count_items(data: bytes, pos: int, end: int) -> int:
    """Number of items in data[pos:end] (for an error message; malformed items count as one)."""
    count = 0
    while pos < end:
        count += 1
        b = data[pos]
        if b < 0x80:
            pos += 1
        elif b < 0xB8:
            pos += 1 + b - 0x80
        elif 0xC0 <= b < 0xF8:
            pos += 1 + b - 0xC0
        else:
            n = b - (0xB7 if b < 0xC0 else 0xF7)
            pos += 1 + n + int.from_bytes(data[pos + 1 : pos + 1 + n], "big")
    return count


def _field_count(cls_name: str, n: int, got: int, data: bytes, pos: int, end: int) -> CodecError:
    """Error for a dataclass list that ends before its fields do, or goes on after them."""
    if pos > end:
        return _overrun()
    if got == n:
        got += _count_items(data, pos, end)
    return CodecError(f"{cls_name} needs {n} fields, got {got}")


_HELPERS: dict[str, Any] = {
    name: obj
    for name, obj in list(globals().items())
    if name.startswith("_") and not name.startswith("__") and name not in ("_codegen", "_int_bytes")
} | {"CodecError": CodecError}


# ---- compiled codecs ----

Encoder = Callable[[Any], bytes]
Decoder = Callable[[bytes, int], tuple[Any, int]]


@dataclasses.dataclass(frozen=True, slots=True)
class _Codec:
    encode: Encoder  # accepts subclass values (an IntEnum in an int field...), as encoding always has
    encode_exact: Encoder  # raises _NotExact on them
    decode: Decoder


_NS = _codegen.Namespace(_HELPERS)
_NAMES: dict[Any, _codegen.FunctionNames] = {}
_PENDING: list[Any] = []  # types named (so generated code can call them) but not compiled yet
_CODECS: dict[Any, _Codec] = {}
_COMPILING = threading.Lock()


def _names_of(tp: Any) -> _codegen.FunctionNames:
    names = _NAMES.get(tp)
    if names is None:
        i = len(_NAMES)
        names = _codegen.FunctionNames(f"enc_{i}", f"encx_{i}", f"dec_{i}")
        _NAMES[tp] = names
        _PENDING.append(tp)
    return names


def _codec(tp: Any) -> _Codec:
    """The compiled codec of a type (a dataclass, or any supported annotation), built on first use."""
    with _COMPILING:  # RPC threads decode records too
        codec = _CODECS.get(tp)
        return codec if codec is not None else _compile(tp)


def _compile(tp: Any) -> _Codec:
    named_before = set(_NAMES)
    sources: list[tuple[Any, str]] = []
    try:
        _names_of(tp)
        # generate the type and every type it reaches (they call each other by name, so mutually nested
        # dataclasses work), then compile them together: an unsupported field type leaves nothing behind
        while _PENDING:
            current = _PENDING.pop()
            if isinstance(current, type) and dataclasses.is_dataclass(current):
                source = _codegen.dataclass_source(current, _NS, _names_of)
            else:
                source = _codegen.type_source(current, _NAMES[current], _NS, _names_of)
            sources.append((current, source))
    except BaseException:
        _PENDING.clear()
        for name in set(_NAMES) - named_before:
            del _NAMES[name]
        raise
    for current, source in sources:
        names = _NAMES[current]
        exec(compile(source, f"<codec {getattr(current, '__qualname__', current)}>", "exec"), _NS.globals)
        _CODECS[current] = _Codec(
            cast(Encoder, _NS.globals[names.enc]),
            cast(Encoder, _NS.globals[names.encx]),
            cast(Decoder, _NS.globals[names.dec]),
        )
    return _CODECS[tp]


def prepare(types: Iterable[Any]) -> None:
    """Compile these types' codecs now rather than on first use (a few ms each): a node does it at startup, so
    the first block that writes a kind of record does not pay inside consensus."""
    for tp in types:
        _codec(tp)


def _source_of(tp: Any) -> str:
    """The generated source of a compiled type's functions (for reading and debugging)."""
    _codec(tp)
    with _COMPILING:
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            return _codegen.dataclass_source(tp, _NS, _names_of)
        return _codegen.type_source(tp, _NAMES[tp], _NS, _names_of)


# ---- API ----


def encode(value: Any) -> bytes:
    """Canonical RLP bytes of a dataclass value (raises CodecError when a field is invalid)."""
    codec = _CODECS.get(type(value)) or _codec(type(value))
    return codec.encode(value)


def encode_reusable(value: Any) -> tuple[bytes, bool]:
    """`encode(value)`, and whether decoding the bytes gives back exactly `value`: equal, and of the same types
    all the way down (not, say, a str subclass or an IntEnum member in an int field), so it can be cached as
    their decoding."""
    codec = _CODECS.get(type(value)) or _codec(type(value))
    try:
        return codec.encode_exact(value), True
    except _NotExact:
        return codec.encode(value), False


def decode(cls: type[T], data: bytes, *, check_canonical: bool = True) -> T:
    """Decode canonical bytes into `cls`; raises CodecError for anything else.

    The reader is strict either way; `check_canonical=False` (state records the node wrote itself) only
    changes the error message to say the record is corrupt.
    """
    if not isinstance(data, bytes):
        raise CodecError("data must be bytes")
    codec = _CODECS.get(cls) or _codec(cls)
    try:
        try:
            value, end = codec.decode(data, 0)
        except IndexError:
            raise CodecError("bad RLP: truncated") from None
        except RecursionError:
            raise CodecError("nesting too deep") from None
        if end != len(data):
            raise CodecError("bad RLP: length does not match the data")
    except CodecError as e:
        if check_canonical:
            raise
        raise CodecError(f"corrupt state record: {e}") from None
    return cast(T, value)


def rlp_encode(item: Item) -> bytes:
    """Plain RLP of nested bytes/lists (same bytes as `rlp.encode`, checked by the tests)."""
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _header(len(item), 0x80) + item
    body = b"".join([rlp_encode(x) for x in item])
    return _header(len(body), 0xC0) + body
