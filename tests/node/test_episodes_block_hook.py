"""#20 on the node: the block hook opens a monitoring gap from block time (deterministic: a replaying node
reaches the same state root), readings close it, and the vax_* episode and verdict methods answer over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio
from typer.testing import CliRunner

from contracts import verdicts
from contracts.kinds.readings import RecordReadings, Sample
from contracts.registry import BY_NAME, encode_payload
from harness.district import district_roster
from harness.make_genesis import dev_key, dev_validator_key, district_genesis
from node.api.vax_rules import LIST_EPISODES_RESULT, UNIT_VERDICT_RESULT
from node.chain.chain import Chain
from node.chain.genesis import parse_genesis
from node.chain.seal import SealRule, make_seal
from node.cli.main import app
from node.core.transactions import Transaction, sign_transaction
from node.store.chainstore import ChainStore
from node.store.db import Database
from rpc.client import AsyncRpcClient
from rpc.errors import RpcError
from rpc.schema import validate
from vaxcrypto.keys import to_checksum_address

CHAIN_ID = 4242
LOGGER = "site-01-fridge-1/logger-1"
VALIDATOR = dev_validator_key(0)
MINUTE_MS = 60_000


def genesis(interval_minutes: int = 30) -> dict[str, object]:
    doc = district_genesis(district_roster(sites=2), CHAIN_ID, 1, "hooktest")
    doc["parameters"] = {"monitoring_interval_minutes": interval_minutes}
    return doc


def reading(nonce: int, *samples: tuple[int, int]) -> Transaction:
    payload = encode_payload(RecordReadings(tuple(Sample(t, temp) for t, temp in samples)))
    return sign_transaction(dev_key(LOGGER), CHAIN_ID, nonce, BY_NAME["record_readings"].code, payload)


def block(chain: Chain, txs: list[Transaction], time_ms: int) -> None:
    last = chain.store.commit_bytes(chain.head.hash) or b""
    executed, rejected = chain.build_block(txs, VALIDATOR.address, time_ms, last)
    assert not rejected
    chain.commit(executed, make_seal(VALIDATOR, executed.block.header))


def test_block_hook_opens_a_gap_from_block_time_and_a_replay_agrees(tmp_path: Path) -> None:
    db = Database(tmp_path / "a", sync_writes=False)
    chain = Chain(ChainStore(db), parse_genesis(genesis()), SealRule())
    t0 = chain.head_header.time_ms + MINUTE_MS
    t0_s = t0 // 1000
    block(chain, [reading(0, (t0_s - 60, 500), (t0_s, 510))], t0)
    block(chain, [], t0 + 29 * MINUTE_MS)
    assert verdicts.list_episodes(chain.app_reader())["episodes"] == []
    block(chain, [], t0 + 32 * MINUTE_MS)  # no sample for 32 minutes: the hook opens a gap
    (gap,) = verdicts.list_episodes(chain.app_reader(), kind="monitoring_gap")["episodes"]
    assert gap["open"] and gap["unit_id"] == "site-01-fridge-1" and gap["start_ms"] == t0
    block(chain, [reading(1, (t0_s + 33 * 60, 500))], t0 + 34 * MINUTE_MS)
    (gap,) = verdicts.list_episodes(chain.app_reader(), kind="monitoring_gap")["episodes"]
    assert gap["end_ms"] == t0 + 33 * MINUTE_MS and gap["minutes_out"] == 33
    # another node executing the same blocks reaches the same state roots
    db2 = Database(tmp_path / "b", sync_writes=False)
    replay = Chain(ChainStore(db2), parse_genesis(genesis()), SealRule())
    for height in range(1, chain.head_header.height + 1):
        b = chain.store.block_at(height)
        assert b is not None
        executed = replay.execute_block(b, now_ms=b.header.time_ms)
        replay.commit(executed, chain.store.commit_bytes(b.hash) or b"")
    assert replay.head_header.state_root == chain.head_header.state_root
    db.close()
    db2.close()


def test_no_gap_rule_when_the_interval_is_zero(tmp_path: Path) -> None:
    db = Database(tmp_path / "a", sync_writes=False)
    chain = Chain(ChainStore(db), parse_genesis(genesis(0)), SealRule())
    t0 = chain.head_header.time_ms + MINUTE_MS
    block(chain, [reading(0, (t0 // 1000, 500))], t0)
    block(chain, [], t0 + 120 * MINUTE_MS)
    assert verdicts.list_episodes(chain.app_reader())["episodes"] == []
    db.close()


async def test_episode_and_verdict_methods_over_http(node_url: str, tmp_path: Path) -> None:
    client = AsyncRpcClient(node_url)
    cdc = AsyncRpcClient(node_url, signer=dev_key("cdc/admin"))  # the dose list is a signed per-person read
    chain_id = (await client.call("chain_status"))["chain_id"]
    head = await client.call("chain_getBlockByHeight", height=0)
    t = head["header"]["time_ms"] // 1000 + 60
    samples = ((t, 500), (t + 60, 1200), (t + 120, 1300), (t + 3000, 500))  # an excursion, then a hole
    payload = encode_payload(RecordReadings(tuple(Sample(a, b) for a, b in samples)))
    tx = sign_transaction(dev_key(LOGGER), chain_id, 0, BY_NAME["record_readings"].code, payload)
    await client.call("tx_sendRawTransaction", tx="0x" + tx.encode().hex())
    with trio.fail_after(20):
        while True:
            page = await client.call("vax_listEpisodes", storage_unit="site-01-fridge-1")
            if page["episodes"]:
                break
            await trio.sleep(0.05)
    validate(LIST_EPISODES_RESULT, page)
    kinds = sorted(e["kind"] for e in page["episodes"])
    assert kinds == ["excursion", "monitoring_gap"] and page["next_cursor"] is None
    first = await client.call("vax_listEpisodes", storage_unit="site-01-fridge-1", limit=1)
    assert len(first["episodes"]) == 1 and first["next_cursor"]
    second = await client.call(
        "vax_listEpisodes", storage_unit="site-01-fridge-1", limit=1, cursor=first["next_cursor"]
    )
    assert [e["episode_id"] for e in first["episodes"] + second["episodes"]] == [
        e["episode_id"] for e in page["episodes"]
    ]
    (exc,) = (await client.call("vax_listEpisodes", org_id="site-01", kind="excursion"))["episodes"]
    assert exc["max_c"] == 13.0 and exc["end_ms"] == (t + 3000) * 1000
    assert await client.call("vax_getEpisode", episode_id=exc["episode_id"]) == exc
    doses = await cdc.call("vax_excursionDoses", episode=exc["episode_id"])
    assert doses["count"] == 0 and doses["doses"] == []
    with pytest.raises(RpcError) as info:
        await cdc.call("vax_excursionDoses", episode="0x" + "00" * 32)
    assert info.value.data["error"] == "NotFound"
    with pytest.raises(RpcError) as info:  # unsigned: refused by name
        await client.call("vax_excursionDoses", episode=exc["episode_id"])
    assert "authentication required" in str(info.value)
    verdict = await client.call("vax_unitVerdict", code="garbage!")
    validate(UNIT_VERDICT_RESULT, verdict)
    assert verdict["verdict"] == "do_not_use" and verdict["parsed"] is None
    assert set(verdict) >= {
        "code", "parsed", "parse_error", "known", "lot", "lot_matches", "expiry_matches", "storage",
        "opened", "flags", "verdict",
    }  # fmt: skip

    # the CLI's read commands against the same node (run in a thread: the node answers on this trio loop)
    def cli(*args: str) -> str:
        result = CliRunner().invoke(app, [*args, "--rpc", node_url])
        assert result.exit_code == 0, result.output
        return result.output

    listed = await trio.to_thread.run_sync(cli, "episodes", "list", "--unit", "site-01-fridge-1", "--open")
    assert "no episodes" in listed  # both closed
    listed = await trio.to_thread.run_sync(cli, "episodes", "list", "--kind", "excursion", "--json")
    assert json.loads(listed)["episodes"] == [exc]
    key_file, password_file, keystore = tmp_path / "cdc.hex", tmp_path / "password.txt", tmp_path / "keystore"
    key_file.write_text(dev_key("cdc/admin").secret.hex())
    password_file.write_text("test password\n")
    imported = CliRunner().invoke(
        app, ["keys", "import", "--keystore", str(keystore), "--password-file", str(password_file),
              "--key-file", str(key_file), "--light"],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    shown = await trio.to_thread.run_sync(
        cli, "episodes", "doses", exc["episode_id"], "--keystore", str(keystore),
        "--password-file", str(password_file), "--from", to_checksum_address(dev_key("cdc/admin").address),
    )  # fmt: skip
    assert exc["episode_id"] in shown and "excursion" in shown
    shown = await trio.to_thread.run_sync(cli, "unit", "verdict", "garbage!")
    assert "do_not_use" in shown and "unknown_code" in shown
    openrpc = await client.call("rpc.discover")
    by_name = {m["name"]: m for m in openrpc["methods"]}
    assert {"vax_listEpisodes", "vax_excursionDoses", "vax_unitVerdict", "vax_getEpisode"} <= set(by_name)
    assert by_name["vax_unitVerdict"]["result"]["schema"] == UNIT_VERDICT_RESULT
