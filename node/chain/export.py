"""Chain export and import: a file of concatenated RLP items ``[block, commit]``, like geth's export format.

Import re-validates everything — commits, roots, every transaction — exactly as if the blocks came from a peer:
``Chain.import_block`` checks the certificate, then ``validation.validate_block`` and the execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from node.chain.chain import Chain
from node.core import codec
from node.core.blocks import decode_block
from node.core.errors import DecodeError

_READ_CHUNK = 1 << 20
MAX_ITEM_BYTES = 256 * 1024 * 1024


def export_blocks(chain: Chain, out: BinaryIO, start: int = 1, end: int | None = None) -> int:
    """Write canonical blocks start..end (default: head) with their commits; returns how many."""
    count = 0
    last = chain.head.height if end is None else end
    for block, commit in chain.iter_blocks(start, last):
        out.write(codec.encode([block.encode(), commit]))
        count += 1
    return count


def read_items(source: BinaryIO) -> Iterator[bytes]:
    """Split a stream of concatenated RLP items without loading the whole file."""
    buffer = b""
    while True:
        if len(buffer) < 9:
            more = source.read(_READ_CHUNK)
            if not more:
                if buffer:
                    raise DecodeError("export file", "truncated item at end of file")
                return
            buffer += more
            continue
        total = codec.item_length(buffer)
        if total is None:
            raise DecodeError("export file", "bad RLP length prefix")
        if total > MAX_ITEM_BYTES:
            raise DecodeError("export file", "item larger than 256 MiB")
        while len(buffer) < total:
            more = source.read(max(_READ_CHUNK, total - len(buffer)))
            if not more:
                raise DecodeError("export file", "truncated item at end of file")
            buffer += more
        yield buffer[:total]
        buffer = buffer[total:]


def import_blocks(chain: Chain, source: BinaryIO) -> int:
    """Import every block of an export file on top of the head; blocks already held are skipped."""
    count = 0
    for item in read_items(source):
        fields = codec.as_list(codec.decode(item, "export item"), "export item", 2)
        block = decode_block(codec.as_bytes(fields[0], "export item.block"))
        commit = codec.as_bytes(fields[1], "export item.commit")
        if block.height <= chain.head.height:
            if chain.store.block_hash_at(block.height) != block.hash:
                raise DecodeError("export file", f"block {block.height} conflicts with this chain")
            continue
        chain.import_block(block, commit)
        count += 1
    return count
