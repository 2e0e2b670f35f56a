"""What a committed block publishes on the WebSocket topics."""

from __future__ import annotations

from typing import Any

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from node.chain.chain import ExecutedBlock
from node.core.blocks import Block, Header
from node.core.receipts import failure_receipt, success_receipt
from node.core.transactions import sign_transaction
from node.service.events import publish_block, register_topics
from node.state.validators_tx import VALIDATOR_CHANGE_KIND, ChangeAction, ValidatorChange
from rpc.subscriptions import SubscriptionHub
from vaxcrypto.keys import PrivateKey

KEY = PrivateKey.from_seed("events-topics")


class RecordingHub(SubscriptionHub):
    """A hub that remembers what was published to each topic."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, Any]] = []

    def publish(self, topic: str, payload: Any, **kw: Any) -> int:
        self.seen.append((topic, payload))
        return super().publish(topic, payload, **kw)


def _block() -> ExecutedBlock:
    attest = sign_transaction(
        KEY, 7, 0, BY_NAME["attest"].code, encode_payload(Attest(b"\x01" * 32, "log", "text/csv"))
    )
    change = ValidatorChange(ChangeAction.ADD, b"\x02" * 20, "new", 50)
    system = sign_transaction(KEY, 7, 1, VALIDATOR_CHANGE_KIND, change.encode())
    header = Header(7, 3, 1_000, b"\x00" * 32, KEY.address, *(b"\x00" * 32,) * 6)
    block = Block(header, (attest, system), b"", ())
    receipts = (success_receipt(attest.hash, ()), failure_receipt(system.hash, "NotAValidator", {}))
    return ExecutedBlock(block, receipts, {})


def _hub(*topics: str) -> RecordingHub:
    hub = RecordingHub()
    register_topics(hub)
    session = hub.open_session(max_subscriptions=8, queue_size=64, notify=lambda: None)
    for topic in topics:
        session.subscribe(topic)
    return hub


def test_transactions_topic_names_contract_and_system_kinds() -> None:
    hub = _hub("transactions")
    publish_block(hub, _block())
    txs = [payload for topic, payload in hub.seen if topic == "transactions"]
    assert [(t["kind_name"], t["status"], t["error"]) for t in txs] == [
        ("attest", "success", None),
        ("validator_change", "failure", "NotAValidator"),
    ]


def test_per_transaction_payloads_are_built_only_for_listeners() -> None:
    quiet = _hub()
    publish_block(quiet, _block())
    assert [topic for topic, _ in quiet.seen] == ["newHeads", "finalizedBlocks"]
    alerts_only = _hub("alerts")
    publish_block(alerts_only, _block())
    assert "transactions" not in {topic for topic, _ in alerts_only.seen}
