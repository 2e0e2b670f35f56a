"""Test helpers: an in-memory journaled State and a tiny chain that runs payloads like the node does."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import ContractError
from contracts.genesis import seed_genesis
from contracts.interfaces import Context, Event
from contracts.kinds.monitoring import block_hook_context, end_block
from contracts.params import Params
from contracts.registry import decode_payload, encode_payload, execute, kind_of
from harness.cosign import cosign_payload, dev_registry_key
from harness.district import Roster, district_roster
from node.state.transition import recover_or_none

#: The chain id the tiny chain runs with (what registry co-signatures are made for).
CHAIN_ID = 1
REGISTRY_KEY = dev_registry_key()


def addr(label: str) -> bytes:
    """Deterministic 20-byte address for a label (tests only; the node derives real keys)."""
    return hashlib.sha256(b"addr:" + label.encode()).digest()[:20]


class MemoryState:
    """Dict-backed State and ReadState with sorted prefix iteration."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self._sorted: list[bytes] | None = None

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if key not in self.data:
            self._sorted = None
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        if key in self.data:
            del self.data[key]
            self._sorted = None

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        if self._sorted is None:
            self._sorted = sorted(self.data)
        keys = self._sorted
        i = bisect.bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            yield keys[i], self.data[keys[i]]
            i += 1


class Overlay:
    """Copy-on-write journal over a MemoryState: commit on success, drop on ContractError."""

    def __init__(self, base: MemoryState) -> None:
        self.base = base
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def set(self, key: bytes, value: bytes) -> None:
        if not isinstance(key, bytes) or not isinstance(value, bytes):
            raise TypeError("keys and values are bytes")
        self.writes[key] = value

    def delete(self, key: bytes) -> None:
        self.writes[key] = None

    def commit(self) -> None:
        for k, v in self.writes.items():
            if v is None:
                self.base.delete(k)
            else:
                self.base.set(k, v)


@dataclass
class Chain:
    """Runs transactions through encode -> decode -> execute with a journal, like the node."""

    params: Params = field(default_factory=Params)
    state: MemoryState = field(default_factory=MemoryState)
    height: int = 0
    time_ms: int = 1_767_225_600_000  # 2026-01-01 00:00 UTC
    nonce: int = 0
    failures: list[tuple[str, ContractError]] = field(default_factory=list)
    wire: bool = True  # round-trip every payload through the codec

    def submit(self, sender: bytes, payload: Any, *, time_ms: int | None = None) -> list[Event]:
        """Apply one tx in its own block; raises the ContractError (state untouched) on failure."""
        kind = kind_of(payload)
        if self.wire:
            payload = decode_payload(kind.code, encode_payload(payload))
        self.nonce += 1
        self.height += 1
        if time_ms is not None:
            self.time_ms = max(self.time_ms, time_ms)
        tx_hash = hashlib.sha256(b"tx:%d" % self.nonce).digest()
        ctx = Context(
            sender, tx_hash, self.height, self.time_ms, CHAIN_ID, self.params, recover=recover_or_none
        )
        overlay = Overlay(self.state)
        try:
            execute(overlay, ctx, kind.code, payload)
        except ContractError as e:
            self.failures.append((kind.name, e))
            raise
        overlay.commit()
        self.end_block()
        return ctx.events

    def end_block(self) -> list[Event]:
        """Run the contracts' block hook at the current height and time, like the node after each block."""
        ctx = block_hook_context(self.height, self.time_ms, 1, self.params)
        overlay = Overlay(self.state)
        end_block(overlay, ctx)
        overlay.commit()
        return ctx.events


def district_chain(
    sites: int = 3, seed: int = 0, params: Params | None = None
) -> tuple[Chain, Roster, Mapping[str, bytes]]:
    """A chain seeded with a small district roster (labels -> test addresses)."""
    roster = district_roster(sites=sites, seed=seed)
    addresses = {lbl: addr(lbl) for lbl in roster.labels()}
    chain = Chain(params=params or Params())
    seed_genesis(chain.state, roster.to_genesis(addresses, (REGISTRY_KEY.address,)), chain.params)
    return chain, roster, addresses


def cosigned(payload: Any, sender_label: str) -> Any:
    """A RecordDose co-signed by the dev registry key (the genesis' registry signer) for this chain."""
    return cosign_payload(payload, CHAIN_ID, sender_label, REGISTRY_KEY)


def strategy_for(tp: Any) -> Any:
    """A hypothesis strategy generating valid values of a payload/record field type."""
    import dataclasses
    import enum
    import types as pytypes
    import typing

    from hypothesis import strategies as st

    from contracts.types import U64_MAX, Len, MaxLen, Range

    meta: tuple[Any, ...] = ()
    if typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp, meta = args[0], tuple(args[1:])
    exact = next((m.n for m in meta if isinstance(m, Len)), None)
    most = next((m.n for m in meta if isinstance(m, MaxLen)), None)
    bounds = next((m for m in meta if isinstance(m, Range)), None)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, pytypes.UnionType):
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return st.none() | strategy_for(inner)
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=min(most or 4, 4)).map(tuple)
    if tp is bool:
        return st.booleans()
    if isinstance(tp, type) and issubclass(tp, enum.IntEnum):
        return st.sampled_from(list(tp))
    if tp is int:
        lo, hi = (bounds.lo, bounds.hi) if bounds else (0, U64_MAX)
        return st.integers(lo, hi)
    if tp is bytes:
        if exact is not None:
            return st.binary(min_size=exact, max_size=exact)
        return st.binary(max_size=most or 64)
    if tp is str:
        return st.text(max_size=min(most or 40, 40))
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        return st.builds(tp, *[strategy_for(hints[f.name]) for f in dataclasses.fields(tp)])
    raise TypeError(tp)


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    """Base58btc text of bytes (leading zero bytes as '1')."""
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, digit = divmod(n, 58)
        out = _BASE58[digit] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def peer_id(label: str) -> str:
    """A libp2p peer id of the shape an ed25519 node key has (identity multihash of the protobuf key)."""
    return base58(b"\x00\x24\x08\x01\x12\x20" + hashlib.sha256(b"node:" + label.encode()).digest())
