"""Source generation for the contracts codec: one specialised encoder and decoder per dataclass.

`spec_of` reads a type annotation (Annotated bounds, `T | None`, `tuple[T, ...]`, IntEnum, nested dataclasses)
into a small tree; `dataclass_source` turns a dataclass's field specs into the Python source of three
functions, compiled once by contracts.codec (the way `dataclasses` builds `__init__`):

- `enc_<n>(v) -> bytes`: validates every field and writes the RLP bytes directly;
- `encx_<n>(v) -> bytes`: the same, but raises `_NotExact` on a subclass value (an IntEnum in an int field, a
  str subclass...), so a caller knows whether decoding the bytes gives back exactly `v`;
- `dec_<n>(data, pos) -> (value, end)`: reads the item at `pos`, accepting only the canonical encoding (the
  one `enc_<n>` writes) and calling the constructor with the decoded fields.

Generated code refers to the runtime helpers of contracts.codec by name (`_read_str`, `_list_long`, ...) and
to the constants this module registers (classes, enum tables) through `Namespace.const`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from typing import Any

from contracts.types import U64_MAX, Len, MaxLen, Range


@dataclasses.dataclass(frozen=True, slots=True)
class IntSpec:
    """An int in [lo, hi] (zigzag-encoded when lo < 0), or an IntEnum."""

    lo: int
    hi: int
    enum: type[enum.IntEnum] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class BoolSpec:
    """A bool: empty string or 0x01."""


@dataclasses.dataclass(frozen=True, slots=True)
class BytesSpec:
    """Bytes with an optional exact length and maximum length."""

    exact: int | None
    most: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class StrSpec:
    """UTF-8 text with an optional maximum length in characters."""

    most: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class TupleSpec:
    """tuple[T, ...]: a list of items."""

    item: Spec
    most: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class OptSpec:
    """`T | None`: an empty list or a one-item list."""

    item: Spec


@dataclasses.dataclass(frozen=True, slots=True)
class DataclassSpec:
    """A nested dataclass, with its own generated functions."""

    cls: type


Spec = IntSpec | BoolSpec | BytesSpec | StrSpec | TupleSpec | OptSpec | DataclassSpec


def spec_of(tp: Any) -> Spec:
    """The codec spec of a type annotation (TypeError for unsupported types)."""
    meta: tuple[Any, ...] = ()
    if typing.get_origin(tp) is typing.Annotated:
        annotated = typing.get_args(tp)
        tp, meta = annotated[0], tuple(annotated[1:])
    exact = next((m.n for m in meta if isinstance(m, Len)), None)
    most = next((m.n for m in meta if isinstance(m, MaxLen)), None)
    bounds = next((m for m in meta if isinstance(m, Range)), None)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) != 1 or len(typing.get_args(tp)) != 2:
            raise TypeError(f"only `T | None` unions are supported: {tp}")
        return OptSpec(spec_of(members[0]))
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"only tuple[T, ...] is supported: {tp}")
        return TupleSpec(spec_of(args[0]), most)
    if tp is bool:
        return BoolSpec()
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        return IntSpec(int(min(tp)), int(max(tp)), tp)
    if tp is int:
        return IntSpec(bounds.lo, bounds.hi) if bounds else IntSpec(0, U64_MAX)
    if tp is bytes:
        return BytesSpec(exact, most)
    if tp is str:
        return StrSpec(most)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return DataclassSpec(tp)
    raise TypeError(f"unsupported field type: {tp!r}")


def _zig(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _max_zig_bytes(s: IntSpec) -> int:
    """Bytes of the largest encoded integer in the spec's range."""
    top = max(_zig(s.lo), _zig(s.hi)) if s.lo < 0 else s.hi
    return (top.bit_length() + 7) // 8


class Namespace:
    """Globals shared by all generated functions: the runtime helpers plus registered constants."""

    def __init__(self, helpers: dict[str, Any]) -> None:
        self.globals: dict[str, Any] = dict(helpers)
        self._names: dict[int, str] = {}

    def const(self, obj: Any, stem: str) -> str:
        """A global name bound to `obj` (one per object)."""
        name = self._names.get(id(obj))
        if name is None:
            name = f"_{stem}{len(self._names)}"
            self._names[id(obj)] = name
            self.globals[name] = obj
        return name


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionNames:
    """Names of the generated functions of one type."""

    enc: str
    encx: str
    dec: str


class _Writer:
    """Lines of one generated function, with fresh local names."""

    def __init__(self, ns: Namespace, names_of: Callable[[type], FunctionNames]) -> None:
        self.ns = ns
        self.names_of = names_of
        self.lines: list[str] = []
        self._n = 0

    def tmp(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def line(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    # ---- encoding: validate the value in `x`, leave its RLP item bytes in `p` ----

    def enc(self, s: Spec, x: str, p: str, ind: int, exact: bool) -> None:
        if isinstance(s, IntSpec):
            self._enc_int(s, x, p, ind, exact)
        elif isinstance(s, BoolSpec):
            self.line(ind, f"if {x} is True:")
            self.line(ind + 1, f'{p} = b"\\x01"')
            self.line(ind, f"elif {x} is False:")
            self.line(ind + 1, f'{p} = b"\\x80"')
            self.line(ind, "else:")
            self.line(ind + 1, f'raise _type_error({x}, "bool")')
        elif isinstance(s, BytesSpec):
            self.line(ind, f"if type({x}) is not bytes:")
            self.line(ind + 1, f'_check_type({x}, bytes, "bytes", {exact})')
            self._enc_bytes_checks(s, x, ind)
            self._enc_string_item(x, p, ind, s.exact)
        elif isinstance(s, StrSpec):
            self.line(ind, f"if type({x}) is not str:")
            self.line(ind + 1, f'_check_type({x}, str, "str", {exact})')
            if s.most is not None:
                self.line(ind, f"if len({x}) > {s.most}:")
                self.line(ind + 1, f'raise _too_long({x}, {s.most}, "characters")')
            y = self.tmp("u")
            self.line(ind, "try:")
            self.line(ind + 1, f'{y} = {x}.encode("utf-8")')
            self.line(ind, "except UnicodeEncodeError:")
            self.line(
                ind + 1, 'raise CodecError("string is not encodable as UTF-8 (lone surrogate)") from None'
            )
            self._enc_string_item(y, p, ind, None)
        elif isinstance(s, TupleSpec):
            self.line(ind, f"if type({x}) is not tuple:")
            self.line(ind + 1, f'_check_type({x}, tuple, "tuple", {exact})')
            if s.most is not None:
                self.line(ind, f"if len({x}) > {s.most}:")
                self.line(ind + 1, f'raise _too_long({x}, {s.most}, "items")')
            body = self.tmp("body")
            y = self.tmp("y")
            if isinstance(s.item, DataclassSpec):
                fn = self._fn(s.item.cls, exact)
                self.line(ind, f'{body} = b"".join([{fn}({y}) for {y} in {x}])')
            else:
                parts, q = self.tmp("parts"), self.tmp("q")
                self.line(ind, f"{parts} = []")
                self.line(ind, f"for {y} in {x}:")
                self.enc(s.item, y, q, ind + 1, exact)
                self.line(ind + 1, f"{parts}.append({q})")
                self.line(ind, f'{body} = b"".join({parts})')
            self._list_item(body, p, ind)
        elif isinstance(s, OptSpec):
            self.line(ind, f"if {x} is None:")
            self.line(ind + 1, f'{p} = b"\\xc0"')
            self.line(ind, "else:")
            q = self.tmp("q")
            self.enc(s.item, x, q, ind + 1, exact)
            self._list_item(q, p, ind + 1)
        else:
            self.line(ind, f"{p} = {self._fn(s.cls, exact)}({x})")

    def _fn(self, cls: type, exact: bool) -> str:
        names = self.names_of(cls)
        return names.encx if exact else names.enc

    def _enc_int(self, s: IntSpec, x: str, p: str, ind: int, exact: bool) -> None:
        if s.enum is not None:
            enum_name = self.ns.const(s.enum, "E")
            self.line(ind, f"if type({x}) is not {enum_name}:")
            self.line(ind + 1, f"_check_int({x}, {enum_name}, {exact})")
            # every member lies in [min, max], so no range check
        else:
            self.line(ind, f"if type({x}) is not int:")
            self.line(ind + 1, f"_check_int({x}, None, {exact})")
            self.line(ind, f"if not {s.lo} <= {x} <= {s.hi}:")
            self.line(ind + 1, f"raise _range_error({x}, {s.lo}, {s.hi})")
        z = x
        if s.lo < 0:  # zigzag keeps small negative numbers short and the mapping one-to-one
            z = self.tmp("z")
            self.line(ind, f"{z} = {x} + {x} if {x} >= 0 else -{x} - {x} - 1")
        self.line(ind, f"if {z} < 128:")
        self.line(ind + 1, f"{p} = _SMALL[{z}]")
        self.line(ind, "else:")
        n = self.tmp("n")
        self.line(ind + 1, f"{n} = ({z}.bit_length() + 7) >> 3")
        head = f"_SPFX[{n}]" if _max_zig_bytes(s) < 56 else f"_header({n}, 0x80)"
        self.line(ind + 1, f'{p} = {head} + {z}.to_bytes({n}, "big")')

    def _enc_bytes_checks(self, s: BytesSpec, x: str, ind: int) -> None:
        if s.exact is not None:
            self.line(ind, f"if len({x}) != {s.exact}:")
            self.line(ind + 1, f"raise _wrong_length({x}, {s.exact})")
        if s.most is not None:
            self.line(ind, f"if len({x}) > {s.most}:")
            self.line(ind + 1, f'raise _too_long({x}, {s.most}, "bytes")')

    def _enc_string_item(self, y: str, p: str, ind: int, exact_len: int | None) -> None:
        """RLP string item of the bytes in `y` (of a known length when `exact_len` is set)."""
        if exact_len is not None and 1 < exact_len < 56:
            self.line(ind, f"{p} = {bytes([0x80 + exact_len])!r} + {y}")
            return
        n = self.tmp("n")
        self.line(ind, f"{n} = len({y})")
        self.line(ind, f"if {n} == 1 and {y}[0] < 128:")
        self.line(ind + 1, f"{p} = {y}")
        self.line(ind, f"elif {n} < 56:")
        self.line(ind + 1, f"{p} = _SPFX[{n}] + {y}")
        self.line(ind, "else:")
        self.line(ind + 1, f"{p} = _header({n}, 0x80) + {y}")

    def _list_item(self, body: str, p: str, ind: int) -> None:
        n = self.tmp("n")
        self.line(ind, f"{n} = len({body})")
        self.line(ind, f"{p} = (_LPFX[{n}] if {n} < 56 else _header({n}, 0xC0)) + {body}")

    # ---- decoding: read the item at `pos` of `data` into `x`, moving `pos` past it ----

    def dec(self, s: Spec, x: str, ind: int) -> None:
        if isinstance(s, IntSpec):
            self._dec_int(s, x, ind)
        elif isinstance(s, BoolSpec):
            self.line(ind, "b = data[pos]")
            self.line(ind, "if b == 0x80:")
            self.line(ind + 1, f"{x} = False")
            self.line(ind, "elif b == 1:")
            self.line(ind + 1, f"{x} = True")
            self.line(ind, "else:")
            self.line(ind + 1, "raise _bool_error(b)")
            self.line(ind, "pos += 1")
        elif isinstance(s, BytesSpec):
            self._dec_string(x, ind, s.exact)
            if s.exact is not None and not 1 < s.exact < 56:
                self.line(ind, f"if len({x}) != {s.exact}:")
                self.line(ind + 1, f"raise _wrong_length({x}, {s.exact})")
            if s.most is not None:
                self.line(ind, f"if len({x}) > {s.most}:")
                self.line(ind + 1, f'raise _too_long({x}, {s.most}, "bytes")')
        elif isinstance(s, StrSpec):
            raw = self.tmp("raw")
            self._dec_string(raw, ind, None)
            self.line(ind, "try:")
            self.line(ind + 1, f'{x} = {raw}.decode("utf-8")')
            self.line(ind, "except UnicodeDecodeError:")
            self.line(ind + 1, 'raise CodecError("invalid UTF-8") from None')
            if s.most is not None:
                # a string has at most as many characters as bytes
                self.line(ind, f"if len({raw}) > {s.most} and len({x}) > {s.most}:")
                self.line(ind + 1, f'raise _too_long({x}, {s.most}, "characters")')
        elif isinstance(s, TupleSpec):
            end, items, y = self.tmp("end"), self.tmp("items"), self.tmp("y")
            self._dec_list_header(end, ind)
            self.line(ind, f"{items} = []")
            self.line(ind, f"while pos < {end}:")
            if isinstance(s.item, DataclassSpec):
                self.line(ind + 1, f"{y}, pos = {self.names_of(s.item.cls).dec}(data, pos)")
            else:
                self.dec(s.item, y, ind + 1)
            self.line(ind + 1, f"{items}.append({y})")
            self.line(ind, f"if pos != {end}:")
            self.line(ind + 1, "raise _overrun()")
            if s.most is not None:
                self.line(ind, f"if len({items}) > {s.most}:")
                self.line(ind + 1, f'raise _too_long({items}, {s.most}, "items")')
            self.line(ind, f"{x} = tuple({items})")
        elif isinstance(s, OptSpec):
            end = self.tmp("end")
            self.line(ind, "if data[pos] == 0xC0:")
            self.line(ind + 1, f"{x} = None")
            self.line(ind + 1, "pos += 1")
            self.line(ind, "else:")
            self._dec_list_header(end, ind + 1)
            self.dec(s.item, x, ind + 1)
            self.line(ind + 1, f"if pos != {end}:")
            self.line(ind + 2, f"raise _optional_error(pos, {end})")
        else:
            self.line(ind, f"{x}, pos = {self.names_of(s.cls).dec}(data, pos)")

    def _dec_list_header(self, end: str, ind: int) -> None:
        self.line(ind, "b = data[pos]")
        self.line(ind, "if 0xC0 <= b < 0xF8:")
        self.line(ind + 1, "pos += 1")
        self.line(ind + 1, f"{end} = pos + b - 0xC0")
        self.line(ind, "else:")
        self.line(ind + 1, f"pos, {end} = _list_long(data, pos)")

    def _dec_string(self, x: str, ind: int, exact_len: int | None) -> None:
        """Read a string item into `x`: inline for the common short form, `_read_str` for the rest."""
        self.line(ind, "b = data[pos]")
        if exact_len is not None and 1 < exact_len < 56:
            self.line(ind, f"if b == {0x80 + exact_len}:")
            self.line(ind + 1, "q = pos + 1")
            self.line(ind + 1, f"pos = q + {exact_len}")
            self.line(ind + 1, f"{x} = data[q:pos]")
            self.line(ind, "else:")
            self.line(ind + 1, f"{x}, pos = _read_str(data, pos)")
            self.line(
                ind + 1, f"raise _wrong_length({x}, {exact_len})"
            )  # any other header has another length
            return
        self.line(ind, "if 0x82 <= b < 0xB8 or b == 0x80:")
        self.line(ind + 1, "q = pos + 1")
        self.line(ind + 1, "pos = q + b - 0x80")
        self.line(ind + 1, f"{x} = data[q:pos]")
        self.line(ind, "else:")
        self.line(ind + 1, f"{x}, pos = _read_str(data, pos)")

    def _dec_int(self, s: IntSpec, x: str, ind: int) -> None:
        z = self.tmp("z") if (s.lo < 0 or s.enum is not None) else x
        top = 0x80 + min(_max_zig_bytes(s), 55)
        self.line(ind, "b = data[pos]")
        self.line(ind, "if b < 0x80:")
        self.line(ind + 1, "if not b:")
        self.line(ind + 2, "raise _leading_zero()")
        self.line(ind + 1, f"{z} = b")
        self.line(ind + 1, "pos += 1")
        self.line(ind, "elif b == 0x80:")
        self.line(ind + 1, f"{z} = 0")
        self.line(ind + 1, "pos += 1")
        if top > 0x80:
            self.line(ind, f"elif b <= {top}:")
            self.line(ind + 1, "q = pos + 1")
            self.line(ind + 1, "pos = q + b - 0x80")
            self.line(ind + 1, f'{z} = int.from_bytes(data[q:pos], "big")')
            self.line(ind + 1, f"if {z} < 0x80 or not data[q]:")
            self.line(ind + 2, "raise _bad_int(data, q, pos)")
        self.line(ind, "else:")
        self.line(ind + 1, f"{z}, pos = _read_uint(data, pos)")
        if s.lo < 0:
            self.line(ind, f"{x} = {z} >> 1 if not {z} & 1 else -(({z} + 1) >> 1)")
            z = x
        if s.enum is not None:
            table = self.ns.const({int(m): m for m in s.enum}, "T")
            enum_name = self.ns.const(s.enum, "E")
            self.line(ind, f"{x} = {table}.get({z})")
            self.line(ind, f"if {x} is None:")
            self.line(ind + 1, f"raise _enum_error({z}, {s.lo}, {s.hi}, {enum_name})")
            return
        if s.lo == 0:
            self.line(ind, f"if {x} > {s.hi}:")
        else:
            self.line(ind, f"if not {s.lo} <= {x} <= {s.hi}:")
        self.line(ind + 1, f"raise _range_error({x}, {s.lo}, {s.hi})")


def _wrap_in_try(w: _Writer, start: int, label: str, ind: int) -> None:
    """Put the lines emitted since `start` inside a try that prefixes a CodecError with the field's path."""
    inner = ["    " + ln for ln in w.lines[start:]]
    del w.lines[start:]
    w.line(ind, "try:")
    w.lines.extend(inner)
    w.line(ind, "except CodecError as e:")
    w.line(ind + 1, f"raise CodecError({label + ': '!r} + str(e)) from None")


def dataclass_source(cls: type, ns: Namespace, names_of: Callable[[type], FunctionNames]) -> str:
    """Source of the three functions of a dataclass (naming, through `names_of`, the dataclasses they call)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [(f.name, spec_of(hints[f.name])) for f in dataclasses.fields(cls)]
    names = names_of(cls)
    cls_name = ns.const(cls, "C")
    w = _Writer(ns, names_of)
    for exact in (False, True):
        w.line(0, f"def {names.encx if exact else names.enc}(v):")
        w.line(1, f"if type(v) is not {cls_name}:")
        w.line(2, f"raise _type_error(v, {cls.__name__!r})")
        parts = []
        for name, s in fields:
            x, p = w.tmp("x"), w.tmp("p")
            parts.append(p)
            w.line(1, f"{x} = v.{name}")
            start = len(w.lines)
            w.enc(s, x, p, 1, exact)
            _wrap_in_try(w, start, f"{cls.__name__}.{name}", 1)
        w.line(1, f'body = b"".join(({", ".join(parts)},))')
        w.line(1, "n = len(body)")
        w.line(1, "return (_LPFX[n] if n < 56 else _header(n, 0xC0)) + body")
        w.line(0, "")
    w.line(0, f"def {names.dec}(data, pos):")
    w.line(1, "b = data[pos]")
    w.line(1, "if 0xC0 <= b < 0xF8:")
    w.line(2, "pos += 1")
    w.line(2, "end = pos + b - 0xC0")
    w.line(1, "else:")
    w.line(2, "pos, end = _list_long(data, pos)")
    values = []
    for i, (name, s) in enumerate(fields):
        x = w.tmp("v")
        values.append(x)
        w.line(1, "if pos >= end:")
        w.line(2, f"raise _field_count({cls.__name__!r}, {len(fields)}, {i}, data, pos, end)")
        start = len(w.lines)
        w.dec(s, x, 1)
        _wrap_in_try(w, start, f"{cls.__name__}.{name}", 1)
    w.line(1, "if pos != end:")
    w.line(2, f"raise _field_count({cls.__name__!r}, {len(fields)}, {len(fields)}, data, pos, end)")
    w.line(1, f"return {cls_name}({', '.join(values)}), pos")
    return "\n".join(w.lines) + "\n"


def type_source(
    tp: Any, names: FunctionNames, ns: Namespace, names_of: Callable[[type], FunctionNames]
) -> str:
    """Source of the functions of a non-dataclass type used at the top level (e.g. `encode(5)`)."""
    s = spec_of(tp)
    w = _Writer(ns, names_of)
    for exact in (False, True):
        w.line(0, f"def {names.encx if exact else names.enc}(x):")
        w.enc(s, "x", "p", 1, exact)
        w.line(1, "return p")
    w.line(0, f"def {names.dec}(data, pos):")
    w.dec(s, "x", 1)
    w.line(1, "return x, pos")
    return "\n".join(w.lines) + "\n"
