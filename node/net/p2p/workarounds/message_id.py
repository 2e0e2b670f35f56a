"""Content-addressed message ids, hashed once: py-libp2p 0.8.1's are slow and computed three times a message.

Defect: the library's content-addressed id, ``get_content_addressed_msg_id`` (``libp2p/pubsub/pubsub.py``),
multibase-encodes the hash in pure Python (~0.45 ms), a cost added with https://github.com/libp2p/py-libp2p/pull/1179
("multibase integration"); and ``Pubsub`` asks a message's id three times as it handles it (seen?, validate, mark
seen), four times per hop in all. No upstream issue reports the cost (searched the py-libp2p tracker).

Ids must be content hashes so that the same payload from two publishers is one message (../shared/NOTES.md:
the library's default id is ``from_id + seqno``). A raw sha256 is as unique; ids stay local or go to peers running
this same code. The last message's id is kept, compared by value: protobuf (upb) hands out a new bytes object at
each ``msg.data``, and comparing bytes costs a fraction of hashing them.
"""

from __future__ import annotations

import hashlib
from typing import Any

_last_msg_id: tuple[bytes, bytes] = (b"", hashlib.sha256(b"").digest())


def content_msg_id(msg: Any) -> bytes:
    """The sha256 of ``msg.data``; the same payload always has the same id."""
    global _last_msg_id
    data = msg.data
    if data == _last_msg_id[0]:
        return _last_msg_id[1]
    msg_id = hashlib.sha256(data).digest()
    _last_msg_id = (data, msg_id)
    return msg_id
