"""Field types shared by payloads and state records, with the bounds the codec enforces."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, TypeVar


@dataclass(frozen=True, slots=True)
class Len:
    """Exact length of a bytes field."""

    n: int


@dataclass(frozen=True, slots=True)
class MaxLen:
    """Maximum length of a str (characters), bytes or tuple field."""

    n: int


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds of an int field; a negative `lo` makes it zigzag-encoded."""

    lo: int
    hi: int


U64_MAX = 2**64 - 1

Address = Annotated[bytes, Len(20)]
Hash32 = Annotated[bytes, Len(32)]
U8 = Annotated[int, Range(0, 255)]
U16 = Annotated[int, Range(0, 2**16 - 1)]
U32 = Annotated[int, Range(0, 2**32 - 1)]
U64 = Annotated[int, Range(0, U64_MAX)]
Temp = Annotated[int, Range(-30000, 30000)]  # hundredths of a degree C
Id = Annotated[str, MaxLen(64)]  # organisation / storage-unit ids, validated further by the rules
Name = Annotated[str, MaxLen(200)]
Label = Annotated[str, MaxLen(200)]
Text = Annotated[str, MaxLen(1000)]
PeerId = Annotated[str, MaxLen(64)]  # a libp2p peer id in base58 text, validated by the node rules


class OrgType(enum.IntEnum):
    """Organisation types (who may do what is decided by registry.PERMISSIONS)."""

    MANUFACTURER = 1  # marketing authorisation holder (MAH)
    DISTRIBUTOR = 2
    CDC = 3
    SITE = 4  # vaccination site
    REGULATOR = 5
    HEALTH_COMMISSION = 6
    SCHOOL = 7


class Role(enum.IntEnum):
    """Role of an account inside its organisation."""

    ADMIN = 1  # manages the organisation's accounts, storage units and devices
    STAFF = 2  # operational transactions (ship, receive, dose as vaccinator...)


class StorageKind(enum.IntEnum):
    """Kinds of storage unit."""

    FRIDGE = 1
    FREEZER = 2
    COLD_ROOM = 3
    VEHICLE = 4


E = TypeVar("E", bound=enum.IntEnum)


def parse_enum(cls: type[E], text: str) -> E:
    """Look an enum member up by its lower-case name (as used in JSON)."""
    try:
        return cls[text.upper()]
    except KeyError:
        raise ValueError(f"unknown {cls.__name__}: {text!r}") from None
