"""Turn contract values into JSON-able values (bytes as 0x-hex, enums by lower-case name)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any


def to_json(value: Any) -> Any:
    """Convert bytes, enums, tuples, dataclasses and mappings recursively to JSON-able values."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.name.lower()
    if isinstance(value, int):
        return value
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [to_json(v) for v in value]
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def hex0x(data: bytes) -> str:
    """0x-prefixed lower-case hex."""
    return "0x" + data.hex()
