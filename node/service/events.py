"""WebSocket subscription topics and what the node publishes to them after each committed block."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.registry import BY_NAME
from node.api.views import header_view, kind_name
from node.chain.chain import ExecutedBlock
from node.state.validators_tx import SYSTEM_KIND_NAMES
from rpc.subscriptions import SubscriptionHub
from vaxcrypto.keys import to_checksum_address

# Events that supervisors must see at once: cold-chain excursions and breaches, quarantines and condemnations,
# recalls and quantity mismatches on receipt.
ALERT_EVENTS = frozenset({"Alert", "Breach", "Quarantined", "Condemned", "LotRecalled", "QuantityMismatch"})
# Failed transactions that are alerts too: a repeated unit code is a counterfeit signal (docs/adr/0003).
ALERT_FAILURES = frozenset({"UnitAlreadyUsed", "LotRecalled", "LotQuarantined", "LotExpired"})

KIND_FILTER = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": sorted([*BY_NAME, *SYSTEM_KIND_NAMES.values()])},
        "sender": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
    },
    "additionalProperties": False,
}
ALERT_FILTER = {
    "type": "object",
    "properties": {
        "org_id": {"type": "string", "maxLength": 64},
        "event": {"type": "string", "maxLength": 64},
    },
    "additionalProperties": False,
}


def _match_tx(filter: Mapping[str, Any], payload: Any) -> bool:
    if "kind" in filter and payload["kind_name"] != filter["kind"]:
        return False
    return "sender" not in filter or payload["sender"].lower() == filter["sender"].lower()


def _match_alert(filter: Mapping[str, Any], payload: Any) -> bool:
    if "event" in filter and payload["event"] != filter["event"]:
        return False
    if "org_id" in filter:
        return filter["org_id"] in {str(v) for v in payload["data"].values() if isinstance(v, str)}
    return True


def register_topics(hub: SubscriptionHub) -> None:
    """Declare the node's topics (listed in the OpenRPC document)."""
    hub.add_topic("newHeads", description="Every committed block header (committed blocks are final).")
    hub.add_topic("finalizedBlocks", description="Every finalized block: header and transaction count.")
    hub.add_topic(
        "transactions",
        description="Every included transaction with its receipt status; filter by kind name and/or sender.",
        filter=KIND_FILTER,
        match=_match_tx,
    )
    hub.add_topic(
        "alerts",
        description="Breaches, excursions, quarantines, recalls, quantity mismatches and refused doses "
        "(repeated unit codes, recalled/quarantined/expired lots) as they are committed; filter by event or org_id.",
        filter=ALERT_FILTER,
        match=_match_alert,
    )


def publish_block(hub: SubscriptionHub, executed: ExecutedBlock) -> None:
    """Publish one committed block to every topic (never blocks: slow subscribers are dropped by the hub)."""
    block = executed.block
    head = header_view(block.header)
    hub.publish("newHeads", head)
    hub.publish("finalizedBlocks", {"header": head, "tx_count": len(block.transactions)})
    per_tx, alerts = hub.has_subscribers("transactions"), hub.has_subscribers("alerts")
    if not (per_tx or alerts):
        return  # a payload per transaction of a 2,000-tx block is real CPU: only for listeners
    for tx, receipt in zip(block.transactions, executed.receipts, strict=True):
        tx_hash = "0x" + tx.hash.hex()
        if per_tx:
            hub.publish(
                "transactions",
                {
                    "hash": tx_hash,
                    "kind": tx.kind,
                    "kind_name": kind_name(tx.kind),
                    "sender": to_checksum_address(tx.sender),
                    "height": block.height,
                    "status": "success" if receipt.ok else "failure",
                    "error": receipt.error_code or None,
                },
            )
        if not alerts:
            continue
        if receipt.ok:
            for event in receipt.events:
                if event.name in ALERT_EVENTS:
                    hub.publish(
                        "alerts",
                        {
                            "event": event.name,
                            "data": event.decoded(),
                            "tx_hash": tx_hash,
                            "height": block.height,
                        },
                    )
        elif receipt.error_code in ALERT_FAILURES:
            hub.publish(
                "alerts",
                {
                    "event": f"Refused{receipt.error_code}",
                    "data": receipt.error_details(),
                    "tx_hash": tx_hash,
                    "height": block.height,
                },
            )
