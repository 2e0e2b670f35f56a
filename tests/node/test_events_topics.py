"""What a committed block publishes on the WebSocket topics."""

from __future__ import annotations

from typing import Any

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from node.chain.chain import ExecutedBlock
from node.core.blocks import Block, Header
from node.core.keys import PrivateKey
from node.core.receipts import failure_receipt, success_receipt
from node.core.transactions import sign_transaction
from node.service.events import publish_block, register_topics
from node.state.validators_tx import VALIDATOR_CHANGE_KIND, ChangeAction, ValidatorChange
from rpc.subscriptions import SubscriptionHub

KEY = PrivateKey.from_seed("events-topics")


class RecordingHub(SubscriptionHub):
    """A hub that remembers what was published to each topic."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def publish(self, topic: str, payload: Any, **kw: Any) -> int:
        self.seen.append((topic, payload))
        return super().publish(topic, payload, **kw)


def test_transactions_topic_names_contract_and_system_kinds() -> None:
    attest = sign_transaction(
        KEY, 7, 0, BY_NAME["attest"].code, encode_payload(Attest(b"\x01" * 32, "log", "text/csv"))
    )
    change = ValidatorChange(ChangeAction.ADD, b"\x02" * 20, "new", 50)
    system = sign_transaction(KEY, 7, 1, VALIDATOR_CHANGE_KIND, change.encode())
    header = Header(7, 3, 1_000, b"\x00" * 32, KEY.address, *(b"\x00" * 32,) * 6)
    block = Block(header, (attest, system), b"", ())
    receipts = (success_receipt(attest.hash, ()), failure_receipt(system.hash, "NotAValidator", {}))
    hub = RecordingHub()
    register_topics(hub)
    publish_block(hub, ExecutedBlock(block, receipts, {}))
    txs = [payload for topic, payload in hub.seen if topic == "transactions"]
    assert [(t["kind_name"], t["status"], t["error"]) for t in txs] == [
        ("attest", "success", None),
        ("validator_change", "failure", "NotAValidator"),
    ]
