"""Block answers within budgets, over real HTTP against an in-process node: full blocks come in pages
(tx_start/tx_limit), and an answer or batch over the configured byte budget is refused with ResponseTooLarge."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from typer.testing import CliRunner

from node.api.methods import FULL_TXS_PER_PAGE
from node.cli.main import app
from node.service.node import Node, load_validator_key, open_chain
from rpc.client import AsyncRpcClient
from rpc.errors import RpcError
from tests.node.test_api import CDC, attest_hex, wait_included

TXS = 30


@pytest.fixture
async def node_url(tmp_path: Path) -> AsyncIterator[str]:
    result = CliRunner().invoke(
        app, ["testnet", "--validators", "1", "--out", str(tmp_path), "--block-interval-ms", "100"]
    )
    assert result.exit_code == 0, result.stderr
    config = tmp_path / "node0" / "config.toml"
    text = config.read_text().replace("enabled = true", "enabled = false")
    text = re.sub(
        r"(?m)^\[rpc\]\n", "[rpc]\nmax_response_bytes = 16384\nmax_batch_response_bytes = 65536\n", text
    )
    config.write_text(text)
    opened = open_chain(tmp_path / "node0", sync_writes=False)
    node = Node(opened, load_validator_key(opened.config))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        yield f"http://127.0.0.1:{node.rpc_port}"
        nursery.cancel_scope.cancel()


async def fill_one_block(client: AsyncRpcClient) -> int:
    chain_id = (await client.call("chain_status"))["chain_id"]
    raws = [attest_hex(CDC, chain_id, nonce, f"certificate {nonce}")[0] for nonce in range(TXS)]
    results = await client.call("tx_sendRawTransactions", txs=raws)
    last = await wait_included(client, results[-1]["hash"])
    first = await wait_included(client, results[0]["hash"])
    assert first["block_height"] == last["block_height"], "the test needs all in one block"
    return int(last["block_height"])


async def test_full_blocks_come_in_pages_and_budgets_refuse_big_answers(node_url: str) -> None:
    client = AsyncRpcClient(node_url)
    height = await fill_one_block(client)

    hashes = await client.call("chain_getBlockByHeight", height=height)
    assert hashes["tx_count"] == TXS and len(hashes["transactions"]) == TXS
    seen: list[str] = []
    start: int | None = 0
    while start is not None:
        page = await client.call(
            "chain_getBlockByHeight", height=height, full=True, tx_start=start, tx_limit=8
        )
        assert page["tx_count"] == TXS and page["tx_start"] == start and len(page["transactions"]) <= 8
        seen += [tx["hash"] for tx in page["transactions"]]
        start = page["next_tx_start"]
    assert seen == hashes["transactions"]
    by_hash = await client.call(
        "chain_getBlockByHash", hash=hashes["hash"], full=True, tx_limit=2, tx_start=28
    )
    assert [tx["hash"] for tx in by_hash["transactions"]] == seen[28:] and by_hash["next_tx_start"] is None

    # 30 full transactions would pass 16 KiB: refused before the view is built, with the named error
    with pytest.raises(RpcError) as err:
        await client.call("chain_getBlockByHeight", height=height, full=True)
    assert err.value.data["error"] == "ResponseTooLarge" and err.value.data["scope"] == "call"

    # a batch of pages stops at the 64 KiB batch budget; the rest are refused without being built
    calls = [("chain_getBlockByHeight", {"height": height, "full": True, "tx_limit": 4})] * 40
    answers = await client.batch(calls)
    refused = [a for a in answers if isinstance(a, RpcError)]
    assert 0 < len(refused) < 40
    assert all(a.data["error"] == "ResponseTooLarge" and a.data["scope"] == "batch" for a in refused)


async def test_page_size_is_bounded_by_the_schema(node_url: str) -> None:
    client = AsyncRpcClient(node_url)
    with pytest.raises(RpcError) as err:
        await client.call("chain_getBlockByHeight", height=0, full=True, tx_limit=FULL_TXS_PER_PAGE + 1)
    assert err.value.code == -32602
