"""JSON-RPC 2.0 conformance over HTTP, using the examples of the specification (section 7)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from rpc_testkit import Server, ahttp


async def post(srv: Server, body: bytes | str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    raw = body.encode() if isinstance(body, str) else body
    r = await ahttp(srv.port, "POST", "/", raw, {"Content-Type": "application/json", **(headers or {})})
    return r.status, (orjson.loads(r.body) if r.body else None)


def by_id(items: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {i["id"]: i for i in items}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}',
            {"jsonrpc": "2.0", "result": 19, "id": 1},
        ),
        (
            '{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}',
            {"jsonrpc": "2.0", "result": -19, "id": 2},
        ),
        (
            '{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}',
            {"jsonrpc": "2.0", "result": 19, "id": 3},
        ),
        (
            '{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}',
            {"jsonrpc": "2.0", "result": 19, "id": 4},
        ),
    ],
)
async def test_spec_positional_and_named(srv: Server, body: str, expected: dict[str, Any]) -> None:
    assert await post(srv, body) == (200, expected)


async def test_spec_notifications_get_no_response(srv: Server) -> None:
    assert await post(srv, '{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}') == (204, None)
    assert await post(srv, '{"jsonrpc": "2.0", "method": "foobar"}') == (204, None)
    # even a notification of an unknown method or with bad params stays silent
    assert await post(srv, '{"jsonrpc": "2.0", "method": "nope"}') == (204, None)
    assert await post(srv, '{"jsonrpc": "2.0", "method": "subtract", "params": ["x"]}') == (204, None)


async def test_spec_method_not_found(srv: Server) -> None:
    status, out = await post(srv, '{"jsonrpc": "2.0", "method": "foobar2", "id": "1"}')
    assert status == 200
    assert out["id"] == "1"
    assert out["error"]["code"] == -32601
    assert out["error"]["message"] == "method not found"


async def test_spec_parse_error(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert out["id"] is None and out["error"]["code"] == -32700


async def test_spec_invalid_request_object(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert out["id"] is None and out["error"]["code"] == -32600


async def test_spec_batch_invalid_json(srv: Server) -> None:
    _, out = await post(
        srv, '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method"]'
    )
    assert isinstance(out, dict) and out["error"]["code"] == -32700 and out["id"] is None


async def test_spec_empty_batch(srv: Server) -> None:
    _, out = await post(srv, "[]")
    assert isinstance(out, dict) and out["error"]["code"] == -32600 and out["id"] is None


async def test_spec_invalid_batch_items(srv: Server) -> None:
    _, out = await post(srv, "[1]")
    assert len(out) == 1 and out[0]["id"] is None and out[0]["error"]["code"] == -32600
    _, out = await post(srv, "[1,2,3]")
    assert len(out) == 3 and all(o["error"]["code"] == -32600 and o["id"] is None for o in out)


async def test_spec_mixed_batch(srv: Server) -> None:
    body = """[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]"""
    status, out = await post(srv, body)
    assert status == 200 and len(out) == 5
    ids = by_id([o for o in out if o["id"] is not None])
    assert ids["1"]["result"] == 7
    assert ids["2"]["result"] == 19
    assert ids["5"]["error"]["code"] == -32601
    assert ids["9"]["result"] == ["hello", 5]
    assert [o["error"]["code"] for o in out if o["id"] is None] == [-32600]


async def test_spec_batch_of_notifications_returns_nothing(srv: Server) -> None:
    body = '[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]'
    assert await post(srv, body) == (204, None)


@pytest.mark.parametrize("rid", ["abc", "", 0, -5, 2**53, 1.5, None, "ü"])
async def test_ids_of_any_json_type_are_echoed(srv: Server, rid: Any) -> None:
    _, out = await post(srv, orjson.dumps({"jsonrpc": "2.0", "method": "foobar", "id": rid}))
    assert out["id"] == rid and out["result"] == "bar"


@pytest.mark.parametrize("rid", [True, [1], {"a": 1}])
async def test_ids_of_invalid_type_are_rejected(srv: Server, rid: Any) -> None:
    _, out = await post(srv, orjson.dumps({"jsonrpc": "2.0", "method": "foobar", "id": rid}))
    assert out["id"] is None and out["error"]["code"] == -32600


@pytest.mark.parametrize(
    "req",
    [
        {"jsonrpc": "1.0", "method": "foobar", "id": 1},
        {"method": "foobar", "id": 1},
        {"jsonrpc": "2.0", "id": 1},
        {"jsonrpc": "2.0", "method": "foobar", "params": None, "id": 1},
        {"jsonrpc": "2.0", "method": "foobar", "params": "x", "id": 1},
        {"jsonrpc": "2.0", "method": "foobar", "params": 3, "id": 1},
    ],
)
async def test_invalid_requests_echo_valid_id(srv: Server, req: dict[str, Any]) -> None:
    _, out = await post(srv, orjson.dumps(req))
    assert out["error"]["code"] == -32600 and out["id"] == 1


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"minuend": "42", "subtrahend": 1}, "$.minuend"),
        ({"minuend": 42}, "$.subtrahend"),
        ({"minuend": 42, "subtrahend": 1, "extra": 0}, "$.extra"),
        ([1, 2, 3], "$"),
        ({"minuend": True, "subtrahend": 1}, "$.minuend"),
    ],
)
async def test_invalid_params_name_the_path(srv: Server, params: Any, path: str) -> None:
    _, out = await post(
        srv, orjson.dumps({"jsonrpc": "2.0", "method": "subtract", "params": params, "id": 1})
    )
    assert out["error"]["code"] == -32602
    assert out["error"]["data"]["path"] == path
    assert out["error"]["data"]["reason"]


async def test_pattern_violation_is_invalid_params(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc":"2.0","id":1,"method":"lot_status","params":{"lot":"bad lot!"}}')
    assert out["error"]["code"] == -32602 and out["error"]["data"]["path"] == "$.lot"


async def test_application_error_has_domain_data(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc":"2.0","id":1,"method":"lot_status","params":{"lot":"RECALLED1"}}')
    assert out["error"] == {
        "code": -32010,
        "message": "lot recalled",
        "data": {"error": "LotRecalled", "lot": "RECALLED1"},
    }


async def test_internal_error_does_not_leak(srv: Server, caplog: pytest.LogCaptureFixture) -> None:
    status, out = await post(srv, '{"jsonrpc":"2.0","id":1,"method":"boom"}')
    assert status == 200
    assert out["error"] == {"code": -32603, "message": "internal error"}
    assert "secret-internal-detail" in caplog.text  # logged server-side only


async def test_non_json_result_is_internal_error(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc":"2.0","id":1,"method":"not_json"}')
    assert out["error"]["code"] == -32603 and out["id"] == 1


async def test_subscribe_over_http_is_refused(srv: Server) -> None:
    _, out = await post(srv, '{"jsonrpc":"2.0","id":1,"method":"subscribe","params":{"topic":"newHeads"}}')
    assert out["error"]["code"] == -32002
