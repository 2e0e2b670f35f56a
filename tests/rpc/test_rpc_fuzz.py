"""Bad input never crashes the server and always gets the right error code (hypothesis, bounded)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rpc_testkit import BASE_CONFIG, ThreadServer

from rpc.client import RpcClient

MAX_BATCH = BASE_CONFIG.max_batch
I64_MIN, U64_MAX = -(2**63), 2**64 - 1
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=I64_MIN, max_value=U64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
valid_ids = st.one_of(
    st.none(),
    st.text(max_size=10),
    st.integers(min_value=I64_MIN, max_value=U64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
)
methods = st.sampled_from(["subtract", "echo", "foobar", "nope", "rpc.discover"])
subtract_params = st.one_of(
    st.lists(
        st.one_of(
            st.integers(min_value=I64_MIN, max_value=2**62),
            st.floats(-1e6, 1e6),
            st.booleans(),
            st.text(max_size=3),
        ),
        max_size=3,
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "minuend": st.integers(-1000, 1000),
            "subtrahend": st.integers(-10, 10),
            "extra": st.none(),
        },
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    req: dict[str, Any] = {}
    if draw(st.integers(0, 9)) > 0:
        req["jsonrpc"] = draw(st.one_of(st.just("2.0"), st.just("2.0"), json_values))
    if draw(st.integers(0, 9)) > 0:
        req["method"] = draw(st.one_of(methods, methods, json_values))
    if draw(st.booleans()):
        req["params"] = draw(st.one_of(subtract_params, st.just({}), st.just([]), json_values))
    if draw(st.integers(0, 4)) > 0:
        req["id"] = draw(st.one_of(valid_ids, valid_ids, json_values))
    return req


bodies = st.one_of(requests(), st.lists(requests(), max_size=MAX_BATCH + 3), json_values)


def _valid_id(v: Any) -> bool:
    return v is None or isinstance(v, str) or (isinstance(v, int | float) and not isinstance(v, bool))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _call_code(method: str, params: Any) -> int | str:
    empty = {} if params is None else params
    if method == "nope":
        return -32601
    if method in ("foobar", "rpc.discover"):
        return "ok" if empty in ({}, []) else -32602
    if method == "echo":
        if isinstance(empty, list) and len(empty) > 1:
            return -32602
        return "ok"
    # subtract
    if isinstance(empty, list):
        if len(empty) > 2:
            return -32602
        empty = dict(zip(["minuend", "subtrahend"], empty, strict=False))
    if set(empty) - {"minuend", "subtrahend"}:
        return -32602
    if not all(k in empty and _is_int(empty[k]) for k in ("minuend", "subtrahend")):
        return -32602
    result = int(empty["minuend"] - empty["subtrahend"])
    return "ok" if I64_MIN <= result <= U64_MAX else -32603  # not representable by orjson


def expected_one(o: Any) -> tuple[Any, int | str] | None:
    """(response id, "ok" or error code), or None when no response is due."""
    if not isinstance(o, dict):
        return (None, -32600)
    notification = "id" not in o
    rid = o.get("id") if _valid_id(o.get("id")) else None
    if not notification and not _valid_id(o["id"]):
        return (None, -32600)
    if o.get("jsonrpc") != "2.0" or not isinstance(o.get("method"), str):
        return (rid, -32600)
    if "params" in o and not isinstance(o["params"], dict | list):
        return (rid, -32600)
    code = (
        _call_code(o["method"], o.get("params"))
        if o["method"] in ("subtract", "echo", "foobar", "nope", "rpc.discover")
        else -32601
    )
    return None if notification else (rid, code)


def actual(resp: dict[str, Any]) -> tuple[Any, int | str]:
    assert resp["jsonrpc"] == "2.0" and set(resp) in ({"jsonrpc", "id", "result"}, {"jsonrpc", "id", "error"})
    if "error" in resp:
        assert isinstance(resp["error"]["message"], str)
        return (resp["id"], resp["error"]["code"])
    return (resp["id"], "ok")


def key(pair: tuple[Any, int | str]) -> tuple[str, str]:
    return (repr(pair[0]), repr(pair[1]))


@pytest.fixture(scope="module")
def client(thread_server: ThreadServer) -> RpcClient:
    return RpcClient(f"http://127.0.0.1:{thread_server.port}/", timeout=10)


def alive(client: RpcClient) -> None:
    assert client.call("subtract", 3, 2) == 1


@FUZZ
@given(body=bodies)
def test_random_requests_get_the_right_codes(client: RpcClient, body: Any) -> None:
    raw = json.dumps(body).encode()
    status, data = client.post(raw)
    if isinstance(body, list) and not body:
        exp: Any = [(None, -32600)]
    elif isinstance(body, list) and len(body) > MAX_BATCH:
        exp = [(None, -32007)]
    elif isinstance(body, list):
        exp = [e for e in map(expected_one, body) if e is not None]
    else:
        one = expected_one(body)
        exp = [] if one is None else [one]
    if not exp:
        assert (status, data) == (204, b"")
        return
    assert status == 200
    out = orjson.loads(data)
    got = [actual(r) for r in out] if isinstance(out, list) else [actual(out)]
    if isinstance(body, list) and body and len(body) <= MAX_BATCH:
        assert isinstance(out, list)
    assert Counter(map(key, got)) == Counter(map(key, exp))


@settings(max_examples=80, deadline=None)
@given(raw=st.binary(max_size=300))
def test_random_bytes(client: RpcClient, raw: bytes) -> None:
    status, data = client.post(raw)
    assert status in (200, 204)
    if status == 200:
        out = orjson.loads(data)
        for r in out if isinstance(out, list) else [out]:
            assert r["jsonrpc"] == "2.0"
            if "error" in r:
                assert r["error"]["code"] in (-32700, -32600, -32601, -32602, -32007)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', -32700),  # invalid UTF-8
        (b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":"\xed\xa0\x80"}}', -32700),  # surrogate
        (b"[" * 20000 + b"]" * 20000, -32700),  # deep nesting
        (
            b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":' + b"[" * 2000 + b"]" * 2000 + b"}}",
            -32700,
        ),
        # orjson reads integers beyond 64 bits as floats: integer params refuse them (no silent rounding)
        (b'{"jsonrpc":"2.0","id":1,"method":"subtract","params":[100000000000000000000000000000,1]}', -32602),
        (b'{"jsonrpc":"2.0","id":1,"method":"subtract","params":[1e400,1]}', -32700),  # not a finite number
        (b'{"jsonrpc":"2.0","id":1,"method":"subtract","params":[NaN,1]}', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"subtract","params":[18446744073709551615,-1]}', -32603),
        (
            b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":' + b"[" * 300 + b"]" * 300 + b"}}",
            -32603,
        ),
        (b"\x00\x01\x02", -32700),
        (b"", -32700),
        (b'"just a string"', -32600),
        (b"null", -32600),
        (b'{"jsonrpc":"2.0","id":1,"method":"' + b"m" * 5000 + b'"}', -32601),
    ],
)
def test_nasty_inputs(client: RpcClient, raw: bytes, code: int) -> None:
    status, data = client.post(raw)
    assert status == 200
    assert orjson.loads(data)["error"]["code"] == code
    alive(client)


def test_oversized_bodies_then_still_up(client: RpcClient) -> None:
    for size in (BASE_CONFIG.max_body_bytes + 1, 4 * BASE_CONFIG.max_body_bytes):
        status, data = client.post(b" " * size)
        assert status == 413 and orjson.loads(data)["error"]["code"] == -32006
    alive(client)


def test_server_still_up_after_fuzzing(client: RpcClient, thread_server: ThreadServer) -> None:
    alive(client)
    with RpcClient(f"http://127.0.0.1:{thread_server.port}/") as fresh:
        assert fresh.call("foobar") == "bar"
