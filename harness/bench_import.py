"""Benchmark: import blocks of the sample district's day through the commit path a node uses, beside bare key
recovery.

A validator set is made here with ``vaxchain testnet`` (``--validators`` validators and one observer: real
keystores, config.toml, LevelDB datadirs). The validators' keys build blocks of a district day (lots,
shipments, readings, doses, recalls, quality decisions: ``harness.district.DistrictDay``) on the first
validator's datadir, each committed with a certificate of every validator's precommit, the BFT commit rule a
running node uses (``CertificateRule``). The chain is exported as ``vaxchain chain export`` writes it, then
imported into the observer's fresh datadir by ``import_blocks``, the function ``vaxchain chain import`` runs:
every certificate verified, every signature recovered again, every root recomputed and every block committed
in its fsynced batch (``Chain.import_block``, which block sync runs too). The same is then done for blocks of
``attest`` transactions only (the figure this benchmark printed before; a second line).

Not in the figure: the network (gossip, block sync's requests), consensus rounds (proposals, prevotes,
precommits, timeouts), mempool admission and JSON-RPC. ``scripts/bench_network`` times those. Prints figures and
a last line of key=value pairs: ``import_tps= recover_per_s= ratio=`` (ratio = import_tps / recover_per_s,
both measured in this run) and more.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import hashlib
import pstats
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consensus.certificate import make_certificate
from consensus.codec import encode_certificate
from consensus.types import ValidatorSet, Vote, VoteType
from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.devgenesis import dev_genesis
from harness.district_load import day_actions
from harness.make_genesis import district_genesis
from node.chain.certrule import CertificateRule, consensus_signer
from node.chain.chain import Chain, ExecutedBlock, RejectedTransaction
from node.chain.export import export_blocks, import_blocks
from node.chain.genesis import parse_genesis
from node.core.blocks import Header
from node.core.transactions import Transaction, clear_sender_cache, decode_transaction, sign_transaction
from node.service.config import load_config
from node.service.node import load_validator_key
from node.service.node import open_chain as open_datadir
from node.state.transition import clear_payload_cache
from node.store.chainstore import ChainStore
from node.store.db import Database
from vaxcrypto.keys import PrivateKey
from vaxcrypto.secp256k1 import get_backend

DISTRICT_SITES = 47  # the sample district (genesis/chancheng.json)
DISTRICT_DOSES = 2_000  # doses in a day of the sample district
ATTEST_CHAIN_ID = 4242
LEAVES_OUT = (
    "not included: network (gossip, block sync requests), consensus rounds (proposals, prevotes, precommits, "
    "timeouts), mempool admission, JSON-RPC; scripts/bench_network times those"
)


# --------------------------------------------------------------------------- the load


@dataclass(frozen=True, slots=True)
class Load:
    """Signed transactions in order, the genesis that admits their senders, and what they are."""

    name: str
    genesis: dict[str, Any]
    txs: list[Transaction]
    mix: Counter[str]


def district_day_load(
    sites: int = DISTRICT_SITES, doses: int = DISTRICT_DOSES, reading_interval_s: int = 300, seed: int = 0
) -> Load:
    """A day of a district of ``sites`` vaccination sites (47: the sample district, ~19,900 transactions),
    signed by its derived dev keys, nonces in order; the day ends a minute ago, so every sample is past."""
    # bench_network imports this module's sealed-chain helpers: imported here to keep the two out of a cycle.
    from harness.bench_network import CHAIN_ID, sign_actions

    day, keys = day_actions(seed, doses, reading_interval_s, sites=sites)
    genesis = district_genesis(day.roster, CHAIN_ID, 1, "bench")  # validators: replaced by `vaxchain testnet`
    signed = sign_actions(day, keys)
    txs = [decode_transaction(bytes.fromhex(tx.raw_hex.removeprefix("0x"))) for tx in signed]
    return Load("district", genesis, txs, Counter(tx.kind for tx in signed))


def attest_load(count: int, senders: int = 200) -> Load:
    """``count`` attest transactions spread over ``senders`` CDC staff accounts."""
    keys = [PrivateKey.from_seed(f"bench/sender/{i}") for i in range(senders)]
    genesis = dev_genesis(ATTEST_CHAIN_ID, [PrivateKey.from_seed("bench/validator")], keys)
    txs = build_transactions(ATTEST_CHAIN_ID, keys, count)
    return Load("attest", genesis, txs, Counter({"Attest": len(txs)}))


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


# --------------------------------------------------------------------------- certified blocks


def precommit_certificate(keys: Sequence[PrivateKey], header: Header, timestamp_ms: int) -> bytes:
    """The encoded commit certificate of ``header`` with every key's precommit in round 0, as the engine
    stores it with the block."""
    votes = []
    for key in keys:
        unsigned = Vote(
            VoteType.PRECOMMIT, header.height, 0, header.hash, timestamp_ms, key.address, bytes(65)
        )
        signature = consensus_signer(key)(unsigned.sign_bytes(header.chain_id))
        votes.append(dataclasses.replace(unsigned, signature=signature))
    return encode_certificate(make_certificate(header.height, 0, header.hash, votes))


def commit_certified_block(
    chain: Chain,
    keys: Sequence[PrivateKey],
    txs: Sequence[Transaction],
    max_txs: int,
    clock_ms: Callable[[], int],
) -> tuple[ExecutedBlock, list[RejectedTransaction]]:
    """Build the next block of ``txs`` as the round-0 proposer of the set, and commit it with every key's
    precommit (timestamped by ``clock_ms``, whose median times the block after it)."""
    head = chain.head_header
    last_commit = chain.store.commit_bytes(head.hash) or b""
    proposer = ValidatorSet.of(chain.validator_addresses()).proposer(head.height + 1, 0)
    # The certificate rule fixes the time itself (the median of the parent's precommits): time_ms is ignored.
    executed, rejected = chain.build_block(txs, proposer, head.time_ms + 1, last_commit, max_txs=max_txs)
    stamp = max(clock_ms(), executed.block.header.time_ms + 1)
    chain.commit(executed, precommit_certificate(keys, executed.block.header, stamp))
    return executed, rejected


def wall_clock_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


# --------------------------------------------------------------------------- one import run


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What importing one load's blocks took."""

    name: str
    blocks: int
    txs: int
    seconds: float
    failed_receipts: int

    @property
    def tps(self) -> float:
        """Imported transactions per second."""
        return self.txs / self.seconds


def make_validator_set(root: Path, genesis: dict[str, Any], validators: int) -> tuple[list[Path], Path]:
    """``vaxchain testnet`` under ``root``: the validators' datadirs and one observer's."""
    from harness.bench_network import write_network  # see district_day_load

    root.mkdir(parents=True, exist_ok=True)
    nodes = write_network(root, genesis, validators, 1000)
    return [n.datadir for n in nodes[:-1]], nodes[-1].datadir


def failed_receipts(chain: Chain) -> int:
    """Failed receipts in the whole chain."""
    failed = 0
    for height in range(1, chain.head.height + 1):
        block_hash = chain.store.block_hash_at(height) or b""
        failed += sum(1 for receipt in chain.store.receipts(block_hash) or [] if not receipt.ok)
    return failed


def run_import(
    load: Load,
    root: Path,
    *,
    validators: int,
    block_txs: int,
    sync: bool,
    profile: cProfile.Profile | None = None,
) -> ImportResult:
    """Produce ``load`` as certified blocks on a validator's datadir, export them and time their import into
    the observer's fresh datadir (``vaxchain chain import``'s function)."""
    validator_dirs, observer_dir = make_validator_set(root, load.genesis, validators)
    keys: list[PrivateKey] = []
    for datadir in validator_dirs:
        key = load_validator_key(load_config(datadir))
        if key is None:
            raise SystemExit(f"{datadir}: no validator key")
        keys.append(key)

    producer = open_datadir(validator_dirs[0], sync_writes=False)
    try:
        chain = producer.chain
        # Height 1's time is the genesis time + 1 ms (no parent certificate yet): the day's transactions, dated
        # a day ago, would be in its future. A running network's first block comes before any load too.
        commit_certified_block(chain, keys, (), block_txs, wall_clock_ms)
        for start in range(0, len(load.txs), block_txs):
            _, rejected = commit_certified_block(
                chain, keys, load.txs[start : start + block_txs], block_txs, wall_clock_ms
            )
            if rejected:
                raise SystemExit(f"{load.name}: the producer rejected {len(rejected)}: {rejected[0].reason}")
        export = root / "chain.rlp"
        with export.open("wb") as out:
            blocks = export_blocks(chain, out)
    finally:
        producer.db.close()

    # The importer has never seen these transactions: every signature is recovered, every payload decoded.
    clear_sender_cache()
    clear_payload_cache()
    importer = open_datadir(observer_dir, sync_writes=sync)
    try:
        with export.open("rb") as source:
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            imported = import_blocks(importer.chain, source)
            if profile is not None:
                profile.disable()
            seconds = time.perf_counter() - started
        if imported != blocks:
            raise SystemExit(f"{load.name}: imported {imported} of {blocks} blocks")
        failed = failed_receipts(importer.chain)
    finally:
        importer.db.close()
    return ImportResult(load.name, blocks, len(load.txs), seconds, failed)


def recover_rate(txs: Sequence[Transaction]) -> float:
    """Bare signature recoveries per second over these transactions' signatures (same backend)."""
    backend = get_backend()
    digests = [tx.signing_hash() for tx in txs]
    started = time.perf_counter()
    for digest, tx in zip(digests, txs, strict=True):
        backend.recover(digest, tx.signature)
    return len(txs) / (time.perf_counter() - started)


# --------------------------------------------------------------------------- bench_network's baseline


def open_certified_chain(path: Path, genesis_doc: dict[str, object], sync: bool) -> tuple[Database, Chain]:
    """A fresh chain in ``path`` under the certificate rule a running node uses (bench_network's essential-work
    baseline commits on it with ``commit_certified_block``)."""
    genesis = parse_genesis(genesis_doc)
    db = Database(path, sync_writes=sync)
    return db, Chain(ChainStore(db), genesis, CertificateRule(genesis.chain_id))


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sites", type=int, default=DISTRICT_SITES, help="vaccination sites of the district")
    parser.add_argument(
        "--doses", type=int, default=None, help="doses in the day (default: 2,000 scaled by sites / 47)"
    )
    parser.add_argument(
        "--reading-interval", type=int, default=300, help="seconds between a logger's reading batches"
    )
    parser.add_argument(
        "--attest-txs", "--txs", type=int, default=20_000, help="attest-only transactions (0: skip that line)"
    )
    parser.add_argument("--senders", type=int, default=200, help="accounts sending the attest transactions")
    parser.add_argument("--block-txs", type=int, default=2_000, help="transactions per block")
    parser.add_argument("--validators", type=int, default=4, help="validators signing each certificate")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the district import")
    parser.add_argument("--no-sync", action="store_true", help="do not fsync each block's batch")
    parser.add_argument("--keep", type=Path, default=None, help="keep the datadirs here")
    args = parser.parse_args(argv)
    if args.sites < 1 or args.block_txs < 1 or args.validators < 1 or args.attest_txs < 0:
        raise SystemExit("--sites, --block-txs and --validators must be positive, --attest-txs not negative")
    doses = args.doses if args.doses is not None else DISTRICT_DOSES * args.sites // DISTRICT_SITES
    backend = get_backend()
    from harness.bench_network import speed_change_note, speed_probe_ms  # see district_day_load

    probe_before = speed_probe_ms()
    print(
        f"machine speed probe: {probe_before:.1f} ms (a fixed pure-Python loop; lower is faster)", flush=True
    )
    started = time.perf_counter()
    district = district_day_load(args.sites, doses, args.reading_interval)
    sign_s = time.perf_counter() - started
    print(
        f"signed a district day of {len(district.txs)} transactions ({args.sites} sites, {doses} doses) in "
        f"{sign_s:.2f} s (backend {backend.name}); mix: "
        + ", ".join(f"{kind} {n}" for kind, n in district.mix.most_common()),
        flush=True,
    )
    loads = [district]
    if args.attest_txs:
        loads.append(attest_load(args.attest_txs, args.senders))

    root = args.keep or Path(tempfile.mkdtemp(prefix="vax-bench-import-"))
    results: dict[str, ImportResult] = {}
    try:
        for load in loads:
            profile = cProfile.Profile() if args.profile and load is district else None
            result = run_import(
                load,
                root / load.name,
                validators=args.validators,
                block_txs=args.block_txs,
                sync=not args.no_sync,
                profile=profile,
            )
            results[load.name] = result
            if profile is not None:
                pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            print(
                f"{load.name}: imported {result.blocks} blocks, {result.txs} transactions in {result.seconds:.2f} s: "
                f"{result.tps:,.0f} tx/s ({result.failed_receipts} failed receipts; each block's certificate "
                f"of {args.validators} precommits verified, {'no fsync' if args.no_sync else 'fsynced'})",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(LEAVES_OUT)

    recover_per_s = recover_rate(district.txs)
    print(f"bare signature recovery: {recover_per_s:,.0f}/s ({backend.name})")
    probe_after = speed_probe_ms()
    print(f"machine speed probe after the runs: {probe_after:.1f} ms", flush=True)
    note = speed_change_note(probe_before, probe_after)
    if note is not None:
        print(note, flush=True)
    main_result = results["district"]
    ratio = main_result.tps / recover_per_s
    attest = results.get("attest")
    attest_keys = f" attest_import_tps={attest.tps:.0f} attest_txs={attest.txs}" if attest else ""
    print(
        f"import_tps={main_result.tps:.0f} recover_per_s={recover_per_s:.0f} ratio={ratio:.3f} "
        f"txs={main_result.txs} blocks={main_result.blocks} failed_receipts={main_result.failed_receipts} "
        f"validators={args.validators} block_txs={args.block_txs} sites={args.sites} "
        f"sync={int(not args.no_sync)}{attest_keys} backend={backend.name} "
        f"probe_ms_before={probe_before:.1f} probe_ms_after={probe_after:.1f}"
    )


if __name__ == "__main__":
    main()
