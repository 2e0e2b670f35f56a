"""Chinese names beside the English ones: organisations, storage units and products, seeded at genesis.

A name is stored under `schema.local_name(group, id)`; queries add it to their answers as `name_zh` ("" when the
genesis gave none), so the explorer can show the district's own names on Chinese pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import schema
from contracts.interfaces import ReadState, State
from contracts.statekeys import load, store
from contracts.types import Name

GROUPS = ("org", "unit", "product")


@dataclass(frozen=True, slots=True)
class LocalName:
    """A name in the district's language (Simplified Chinese)."""

    name: Name


def put_local_name(state: State, group: str, object_id: str, name: str) -> None:
    """Record the Chinese name of an object (empty names are not stored)."""
    if name:
        store(state, schema.local_name(group, object_id), LocalName(name))


def local_name(state: ReadState, group: str, object_id: str) -> str:
    """The Chinese name of an object, or ""."""
    rec = load(state, schema.local_name(group, object_id), LocalName)
    return "" if rec is None else rec.name
