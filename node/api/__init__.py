"""The node's JSON-RPC method handlers (registered on rpc/)."""

from __future__ import annotations

from node.api.methods import ApiContext, register_chain_methods
from node.api.vax import register_vax_methods
from node.api.vax_rules import register_rule_methods
from rpc.registry import MethodRegistry


def register_all(registry: MethodRegistry, api: ApiContext) -> None:
    """Register every namespace the node serves."""
    register_chain_methods(registry, api)
    register_vax_methods(registry, api)
    register_rule_methods(registry, api)


__all__ = ["ApiContext", "register_all"]
