"""One decoder from the node's JSON answers into the explorer's view dataclasses.

The field types of a view dataclass say what each JSON value must be. A missing (or null) value takes the field's
default, or a neutral one ("", 0, False, None, ()) so the explorer keeps rendering against nodes of slightly
different versions; a value of the wrong type is bad data and raises `DecodeError` naming where it was. Field
metadata may give the JSON default (`default`), the keys to try (`keys`) or paths into nested objects (`paths`). Sizes are
bounded: strings, lists and nesting depth.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from vaxcrypto.keys import Address, InvalidAddress, parse_address

T = TypeVar("T")

MAX_STR = 100_000
MAX_ITEMS = 100_000
MAX_DEPTH = 12


class DecodeError(Exception):
    """The node answered a value the view cannot hold."""

    def __init__(self, where: str, expected: str, got: object) -> None:
        self.where = where
        self.expected = expected
        self.got = type(got).__name__
        super().__init__(f"{where or 'answer'}: expected {expected}, got {self.got}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


def decode(cls: type[T], value: object, where: str = "") -> T:
    """`value` (a JSON object) as a `cls` dataclass; raises `DecodeError` on bad data."""
    out = _value(cls, value, where, 0)
    return typing.cast(T, out)


def decode_list(cls: type[T], value: object, where: str = "") -> list[T]:
    """A JSON list of objects as `cls` dataclasses (null or missing: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DecodeError(where, "list", value)
    if len(value) > MAX_ITEMS:
        raise DecodeError(where, f"at most {MAX_ITEMS} items", value)
    return [decode(cls, v, f"{where}[{i}]") for i, v in enumerate(value)]


def _neutral(tp: Any) -> Any:
    origin = get_origin(tp)
    if tp is str:
        return ""
    if tp is int:
        return 0
    if tp is float:
        return 0.0
    if tp is bool:
        return False
    if origin is tuple:
        return ()
    if origin in (Union, types.UnionType) and type(None) in get_args(tp):
        return None
    if tp is Any:
        return None
    if (origin is not None and origin in (Mapping, dict)) or tp in (Mapping, dict):
        return {}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, {}, "", 0)
    raise DecodeError("", f"a default for {tp}", None)


def _lookup(obj: Mapping[str, Any], f: dataclasses.Field[Any]) -> object:
    """The field's JSON value: its own key, the first of `keys` present, or the first of `paths` present."""
    for path in f.metadata.get("paths", ()):
        cur: object = obj
        for part in path:
            cur = cur.get(part) if isinstance(cur, Mapping) else None
        if cur is not None:
            return cur
    for key in f.metadata.get("keys", (f.name,)):
        if obj.get(key) is not None:
            return obj.get(key)
    return None


def _dataclass(cls: type, value: object, where: str, depth: int) -> object:
    if not isinstance(value, Mapping):
        raise DecodeError(where, "object", value)
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        raw = _lookup(value, f)
        tp = hints[f.name]
        here = f"{where}.{f.name}" if where else f.name
        if raw is None:
            if "default" in f.metadata:
                kwargs[f.name] = f.metadata["default"]
            elif f.default is not dataclasses.MISSING:
                kwargs[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                kwargs[f.name] = f.default_factory()
            else:
                kwargs[f.name] = _neutral(tp)
            continue
        kwargs[f.name] = _value(tp, raw, here, depth + 1)
    return cls(**kwargs)


def _value(tp: Any, value: object, where: str, depth: int) -> object:
    if depth > MAX_DEPTH:
        raise DecodeError(where, f"at most {MAX_DEPTH} levels", value)
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _value(members[0] if len(members) == 1 else Any, value, where, depth)
    if tp is str:
        if not isinstance(value, str):
            raise DecodeError(where, "string", value)
        if len(value) > MAX_STR:
            raise DecodeError(where, f"at most {MAX_STR} characters", value)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise DecodeError(where, "boolean", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(where, "integer", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DecodeError(where, "number", value)
        return float(value)
    if origin is tuple:
        args = get_args(tp)
        items: list[Any]
        if isinstance(value, Mapping):
            items = list(value.items())  # an object read as its (key, value) pairs
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise DecodeError(where, "list", value)
        if len(items) > MAX_ITEMS:
            raise DecodeError(where, f"at most {MAX_ITEMS} items", value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, f"{where}[{i}]", depth + 1) for i, v in enumerate(items))
        if len(items) != len(args):
            raise DecodeError(where, f"{len(args)} items", value)
        return tuple(
            _value(a, v, f"{where}[{i}]", depth + 1) for i, (a, v) in enumerate(zip(args, items, strict=True))
        )
    if tp in (Mapping, dict) or origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise DecodeError(where, "object", value)
        return value
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass(tp, value, where, depth)
    raise DecodeError(where, str(tp), value)


def decode_address(value: object, where: str = "") -> Address:
    """A 0x-prefixed 20-byte hex address (one case, or EIP-55) as vaxcrypto's `Address`; else `DecodeError`."""
    if not isinstance(value, str):
        raise DecodeError(where, "address", value)
    try:
        return parse_address(value)
    except InvalidAddress:
        raise DecodeError(where, "address", value) from None
