"""Message ids are content hashes, each message hashed once though Pubsub asks for its id three times."""

from __future__ import annotations

from typing import Any

import pytest
from libp2p.pubsub.pb import rpc_pb2

from node.net.p2p.workarounds import message_id


def test_message_ids_are_content_hashes_each_message_hashed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[bytes] = []
    real_sha256 = message_id.hashlib.sha256

    def counting_sha256(data: bytes) -> Any:
        hashed.append(data)
        return real_sha256(data)

    monkeypatch.setattr(message_id.hashlib, "sha256", counting_sha256)
    first = rpc_pb2.Message(data=b"batch-1" * 100)
    assert (
        first.data is not first.data
    )  # protobuf gives a new bytes object each time: the memo compares values
    ids = [message_id.content_msg_id(first) for _ in range(3)]  # seen?, validate, mark seen
    assert ids == [real_sha256(first.data).digest()] * 3 and len(hashed) == 1
    other = rpc_pb2.Message(data=b"batch-2" * 100)
    assert message_id.content_msg_id(other) == real_sha256(other.data).digest() != ids[0]
    same_content = rpc_pb2.Message(data=b"batch-1" * 100, seqno=b"\x01")  # from another publisher, say
    assert message_id.content_msg_id(same_content) == ids[0]
    assert len(hashed) == 3
