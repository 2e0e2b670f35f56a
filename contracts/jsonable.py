"""Turn contract values into JSON-able values (bytes as 0x-hex, enums by lower-case name)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

_IDENTITY = frozenset({str, int, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_json(value: Any) -> Any:
    """Convert bytes, enums, tuples, dataclasses and mappings recursively to JSON-able values."""
    # Exact-type fast paths first: every event of every transaction goes through here.
    t = type(value)
    if t in _IDENTITY:
        return value
    if t is bytes:
        return "0x" + value.hex()
    # Containers check their elements' type inline: most are plain already, and a call per element was the
    # larger part of this function's cost.
    if t is dict:
        return {
            k if type(k) is str else str(k): v if type(v) in _IDENTITY else to_json(v)
            for k, v in value.items()
        }
    if t is tuple or t is list:
        return [v if type(v) in _IDENTITY else to_json(v) for v in value]
    if isinstance(value, bool | str):  # subclasses of the plain types, in the original order
        return value
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES.get(t)
        if names is None:
            names = _FIELD_NAMES[t] = tuple(f.name for f in dataclasses.fields(value))
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return [to_json(v) for v in value]
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def hex0x(data: bytes) -> str:
    """0x-prefixed lower-case hex."""
    return "0x" + data.hex()
