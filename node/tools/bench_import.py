"""Benchmark: import (validate + apply + commit) blocks of signed transactions, beside bare key recovery.

Blocks are first produced on one datadir, then imported into a fresh one from their wire bytes, so every
signature is recovered again, every root recomputed and every block committed in its fsynced batch, exactly as
a syncing node does it. Prints figures and a last line of key=value pairs.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from node.chain.chain import Chain, ExecutedBlock, RejectedTransaction
from node.chain.genesis import parse_genesis
from node.chain.seal import SealRule, make_seal
from node.core.blocks import Block, decode_block
from node.core.crypto import get_backend
from node.core.keys import PrivateKey
from node.core.transactions import Transaction, clear_sender_cache, sign_transaction
from node.state.transition import clear_payload_cache
from node.store.chainstore import ChainStore
from node.store.db import Database
from node.tools.devgenesis import dev_genesis


def build_transactions(chain_id: int, senders: list[PrivateKey], count: int) -> list[Transaction]:
    """``count`` attest transactions spread over the senders, nonces in order."""
    kind = BY_NAME["attest"].code
    txs = []
    for i in range(count):
        key = senders[i % len(senders)]
        digest = hashlib.sha256(i.to_bytes(8, "big")).digest()
        payload = encode_payload(Attest(digest, f"cold-room video segment {i}", "video/mp4"))
        txs.append(sign_transaction(key, chain_id, i // len(senders), kind, payload))
    return txs


def open_chain(path: Path, genesis_doc: dict[str, object], sync: bool) -> tuple[Database, Chain]:
    """A fresh chain in ``path``."""
    db = Database(path, sync_writes=sync)
    return db, Chain(ChainStore(db), parse_genesis(genesis_doc), SealRule())


def commit_sealed_block(
    chain: Chain, proposer: PrivateKey, txs: Sequence[Transaction], time_ms: int, max_txs: int
) -> tuple[ExecutedBlock, list[RejectedTransaction], bytes]:
    """Build a block of ``txs`` on the head, seal it as ``proposer`` and commit it (a one-validator chain's
    step); returns the block, the transactions it rejected and the seal."""
    last_commit = chain.store.commit_bytes(chain.head.hash) or b""
    executed, rejected = chain.build_block(txs, proposer.address, time_ms, last_commit, max_txs=max_txs)
    seal = make_seal(proposer, executed.block.header)
    chain.commit(executed, seal)
    return executed, rejected, seal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--txs", type=int, default=20_000, help="transactions to import (>= 20000 for the goal)"
    )
    parser.add_argument("--block-txs", type=int, default=2_000, help="transactions per block")
    parser.add_argument("--senders", type=int, default=200, help="distinct sending accounts")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the import phase")
    parser.add_argument("--no-sync", action="store_true", help="do not fsync each block's batch")
    args = parser.parse_args()

    backend = get_backend()
    validator = PrivateKey.from_seed("bench/validator")
    senders = [PrivateKey.from_seed(f"bench/sender/{i}") for i in range(args.senders)]
    genesis_doc = dev_genesis(chain_id=4242, validators=[validator], accounts=senders)
    chain_id = 4242

    t0 = time.perf_counter()
    txs = build_transactions(chain_id, senders, args.txs)
    sign_s = time.perf_counter() - t0
    print(
        f"signed {len(txs)} transactions in {sign_s:.2f} s ({len(txs) / sign_s:,.0f}/s, backend {backend.name})"
    )

    with tempfile.TemporaryDirectory(prefix="vax-bench-") as tmp:
        db_a, producer = open_chain(Path(tmp) / "a", genesis_doc, sync=False)
        wire: list[tuple[bytes, bytes]] = []
        time_ms = producer.head_header.time_ms
        for start in range(0, len(txs), args.block_txs):
            time_ms += 1000
            executed, rejected, seal = commit_sealed_block(
                producer, validator, txs[start : start + args.block_txs], time_ms, args.block_txs
            )
            if rejected:
                raise SystemExit(f"producer rejected {len(rejected)} transactions: {rejected[0].reason}")
            wire.append((executed.block.encode(), seal))
        failed = sum(
            1
            for b in range(1, producer.head.height + 1)
            for r in producer.store.receipts(producer.store.block_hash_at(b) or b"") or []
            if not r.ok
        )
        db_a.close()
        print(f"produced {len(wire)} blocks ({failed} failed receipts)")

        # The importer has never seen these transactions: every signature is recovered, every payload decoded.
        clear_sender_cache()
        clear_payload_cache()
        db_b, importer = open_chain(Path(tmp) / "b", genesis_doc, sync=not args.no_sync)
        now = time_ms + 1
        profile = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        if profile:
            profile.enable()
        for block_bytes, seal in wire:
            block: Block = decode_block(block_bytes)
            importer.import_block(block, seal, now_ms=now)
        import_s = time.perf_counter() - t0
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        height = importer.head.height
        db_b.close()
    import_tps = len(txs) / import_s
    print(f"imported {height} blocks, {len(txs)} transactions in {import_s:.2f} s: {import_tps:,.0f} tx/s")

    # Baseline: the bare cost of recovering each sender, on fresh signatures, same backend.
    digests = [tx.signing_hash() for tx in txs]
    t0 = time.perf_counter()
    for digest, tx in zip(digests, txs, strict=True):
        backend.recover(digest, tx.signature)
    recover_s = time.perf_counter() - t0
    recover_per_s = len(txs) / recover_s
    ratio = import_tps / recover_per_s
    print(f"bare signature recovery: {recover_per_s:,.0f}/s ({backend.name})")
    print(
        f"import_tps={import_tps:.0f} recover_per_s={recover_per_s:.0f} ratio={ratio:.3f} txs={len(txs)} backend={backend.name}"
    )


if __name__ == "__main__":
    main()
