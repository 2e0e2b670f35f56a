"""node.state.schema: each node state key's bytes pinned against the literal it had before the schema existed."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from node.state import schema

A = bytes(range(1, 21))  # an address
H = bytes(range(32, 64))  # a hash

# (builder, arguments, the literal bytes the code it replaced wrote)
PINNED: list[tuple[Callable[..., bytes], tuple[Any, ...], bytes]] = [
    (schema.nonce, (A,), b"n/nonce/" + A),
    (schema.validators, (), b"n/validators"),
    (schema.validator_set, (H,), b"n/vset/" + H),
    (schema.validator_sets_prefix, (), b"n/vset/"),
    (schema.validator_change_proposal, (H,), b"n/vchg/p/" + H),
    (schema.validator_change_proposals_prefix, (), b"n/vchg/p/"),
    (schema.validator_changes_at, (0x0102030405,), b"n/vchg/h/\x00\x00\x00\x01\x02\x03\x04\x05"),
]


def test_every_builder_is_pinned() -> None:
    builders = {
        fn
        for name, fn in vars(schema).items()
        if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == schema.__name__
    }
    assert {fn for fn, _, _ in PINNED} == builders


def test_each_builder_writes_its_pinned_bytes() -> None:
    for fn, args, expected in PINNED:
        assert fn(*args) == expected, fn.__name__


def test_contract_keys_live_under_the_app_prefix_and_node_keys_outside_it() -> None:
    assert schema.APP_PREFIX == b"c/"
    for fn, args, _ in PINNED:
        assert not fn(*args).startswith(schema.APP_PREFIX), fn.__name__
    assert schema.validator_set(H).startswith(schema.validator_sets_prefix())
    assert schema.validator_change_proposal(H).startswith(schema.validator_change_proposals_prefix())
