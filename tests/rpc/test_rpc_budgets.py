"""Response budgets of the dispatcher: one answer and one body's answers are capped in bytes (ResponseTooLarge),
predicted answers are refused before their work, and rpc.discover is encoded once."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rpc.dispatch import CallContext, Dispatcher, ResponseBudget
from rpc.errors import RESPONSE_TOO_LARGE, ResponseTooLarge
from rpc.registry import MethodRegistry


def make_dispatcher(max_call: int, max_body: int) -> tuple[Dispatcher, list[int]]:
    reg = MethodRegistry()
    built: list[int] = []

    @reg.method("blob", params={"type": "object", "properties": {"size": {"type": "integer"}}})
    async def blob(p: dict[str, Any]) -> str:
        built.append(p["size"])
        return "x" * p["size"]

    async def predicted(p: dict[str, Any], ctx: CallContext) -> str:
        assert ctx.budget is not None
        ctx.budget.check(p["size"])  # refused here, before the answer is built
        built.append(p["size"])
        return "x" * p["size"]

    reg.add(
        "predicted",
        predicted,
        params={"type": "object", "properties": {"size": {"type": "integer"}}},
        wants_context=True,
    )

    return Dispatcher(
        reg, max_batch=100, max_response_bytes=max_call, max_batch_response_bytes=max_body
    ), built


def call(method: str, size: int, rid: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": {"size": size}}


async def answer(d: Dispatcher, body: Any) -> Any:
    out = await d.handle_body(orjson.dumps(body), CallContext())
    assert out is not None
    return orjson.loads(out)


async def test_one_answer_over_the_cap_is_refused_with_the_named_error() -> None:
    d, _ = make_dispatcher(max_call=1000, max_body=10_000)
    got = await answer(d, call("blob", 5000))
    assert got["error"]["code"] == RESPONSE_TOO_LARGE
    assert got["error"]["data"] == {
        "error": "ResponseTooLarge",
        "scope": "call",
        "max_bytes": 1000,
        "estimated_bytes": got["error"]["data"]["estimated_bytes"],
    }
    assert (await answer(d, call("blob", 10)))["result"] == "x" * 10


async def test_predicted_answer_is_refused_before_the_work() -> None:
    d, built = make_dispatcher(max_call=1000, max_body=10_000)
    got = await answer(d, call("predicted", 5000))
    assert got["error"]["data"]["error"] == "ResponseTooLarge"
    assert built == []


async def test_batch_stops_working_once_its_budget_is_spent() -> None:
    d, built = make_dispatcher(max_call=5000, max_body=10_000)
    got = await answer(d, [call("blob", 3000, i) for i in range(10)])
    ok = [r for r in got if "result" in r]
    refused = [r for r in got if "error" in r]
    assert len(ok) == 3 and len(refused) == 7
    assert all(r["error"]["data"]["scope"] == "batch" for r in refused)
    assert len(built) == 4  # three answered, the fourth overran the budget, the rest never ran
    assert sum(len(orjson.dumps(r)) for r in got) < 10_000 + 5000 + 7 * 200


async def test_discover_is_encoded_once_and_counted() -> None:
    d, _ = make_dispatcher(max_call=1 << 20, max_body=64 * 1024)
    single = await answer(d, {"jsonrpc": "2.0", "id": 1, "method": "rpc.discover"})
    assert single["result"]["openrpc"] == "1.2.6"
    assert single["result"] == d.openrpc()
    batch = await answer(d, [{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(100)])
    refused = [r for r in batch if "error" in r]
    assert refused and all(
        r["error"]["data"]["error"] == "ResponseTooLarge" for r in refused
    )  # 100 don't fit
    answers = sum(len(orjson.dumps(r)) for r in batch if "result" in r)
    assert answers <= 64 * 1024 + len(orjson.dumps(single))


def test_budget_check_names_the_scope() -> None:
    budget = ResponseBudget(max_call=100, max_body=150)
    budget.check(100)
    budget.spend(100)
    with pytest.raises(ResponseTooLarge) as call_err:
        budget.check(101)
    assert call_err.value.data["scope"] == "call"
    with pytest.raises(ResponseTooLarge) as batch_err:
        budget.check(60)
    assert batch_err.value.data["scope"] == "batch"
    assert budget.remaining == 50
