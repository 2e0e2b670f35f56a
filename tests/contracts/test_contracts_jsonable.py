"""Event data conversion: the JSON form is hashed into receipts, so it must never change."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pytest

from contracts.jsonable import to_json


class Colour(enum.IntEnum):
    DEEP_RED = 1


class Mode(enum.Enum):
    FAST = "x"


@dataclass(frozen=True, slots=True)
class Inner:
    code: bytes
    colour: Colour


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner
    items: tuple[int, ...]
    note: str | None


def test_every_supported_value_converts_as_before() -> None:
    value = {
        "flag": True,
        "count": 3,
        "mode": Mode.FAST,
        "colour": Colour.DEEP_RED,
        "raw": b"\x00\xab",
        "buf": bytearray(b"\x01"),
        "outer": Outer(Inner(b"\xff", Colour.DEEP_RED), (1, 2), None),
        "list": [b"\x02", ("a",)],
        "set": frozenset({7}),
        5: "int key",
    }
    assert to_json(value) == {
        "flag": True,
        "count": 3,
        "mode": "fast",
        "colour": "deep_red",
        "raw": "0x00ab",
        "buf": "0x01",
        "outer": {"inner": {"code": "0xff", "colour": "deep_red"}, "items": [1, 2], "note": None},
        "list": ["0x02", ["a"]],
        "set": [7],
        "5": "int key",
    }
    assert type(to_json(Colour.DEEP_RED)) is str and to_json(True) is True


def test_unsupported_values_are_refused() -> None:
    with pytest.raises(TypeError, match="not JSON-able: float"):
        to_json({"x": 1.5})
