"""Signed requests (rpc.auth): the header format, the digest, the time window, single use, and the dispatcher and
HTTP server letting only signed calls reach a method registered with `auth` (the client signs with `signer`)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest
import rlp
import trio
from rpc_testkit import ahttp

from rpc.auth import (
    ACCESS_DENIED,
    AUTH_HEADER,
    AUTH_INVALID,
    AUTH_REQUIRED,
    AUTH_TAG,
    AuthInvalid,
    AuthRequired,
    RequestAuthenticator,
    auth_digest,
    parse_auth_header,
    sign_request,
)
from rpc.client import AsyncRpcClient, RpcClient
from rpc.dispatch import CallContext, Dispatcher
from rpc.errors import RpcError
from rpc.registry import MethodRegistry
from rpc.server import RpcServerConfig, serve
from vaxcrypto.keys import PrivateKey

CHAIN_ID = 860604
KEY = PrivateKey.from_seed("rpc-auth/caller")
NOW = 1_796_357_265_000


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def registry_with(auth: RequestAuthenticator) -> MethodRegistry:
    reg = MethodRegistry()

    async def whoami(p: dict[str, Any], ctx: CallContext) -> str:
        assert ctx.caller is not None
        return "0x" + ctx.caller.hex()

    async def chain_status(p: dict[str, Any]) -> dict[str, Any]:
        return {"chain_id": CHAIN_ID}

    reg.add(
        "whoami",
        whoami,
        params={"type": "object", "properties": {"x": {"type": "integer"}}, "additionalProperties": False},
        auth=auth,
    )
    reg.add("chain_status", chain_status)
    return reg


def test_digest_is_tagged_sha256_of_rlp_with_the_params_json_hash() -> None:
    params = {"b": 1, "a": [1, "x"]}
    params_hash = hashlib.sha256(b'{"a":[1,"x"],"b":1}').digest()
    body = rlp.encode([CHAIN_ID, b"vax_doseRecord", params_hash, NOW, 7])
    assert (
        auth_digest(CHAIN_ID, "vax_doseRecord", params, NOW, 7)
        == hashlib.sha256(AUTH_TAG + b"\x00" + body).digest()
    )
    assert auth_digest(CHAIN_ID, "m", {"a": 1, "b": 2}, NOW, 7) == auth_digest(
        CHAIN_ID, "m", {"b": 2, "a": 1}, NOW, 7
    )
    assert auth_digest(CHAIN_ID, "m", None, NOW, 7) != auth_digest(CHAIN_ID, "m", {}, NOW, 7)


def test_header_round_trip_and_malformed_headers() -> None:
    text = sign_request(KEY, CHAIN_ID, "m", None, time_ms=NOW, nonce=5)
    h = parse_auth_header(text)
    assert (h.address, h.time_ms, h.nonce, len(h.signature)) == (KEY.address, NOW, 5, 65)
    for bad, reason in [
        ("", "expected"),
        ("address=0x00", "exactly"),
        (text.replace("nonce=5", "nonce=-5"), "nonce"),
        (text.replace("nonce=5", "nonce=18446744073709551616"), "nonce"),
        (text.replace("address=0x", "address=0y"), "address"),
        (text + "; nonce=6", "expected"),
        (text[:-2], "signature"),
        ("x" * 600, "longer than"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_auth_header(bad)


def test_authenticator_accepts_once_within_the_window() -> None:
    clock = Clock()
    auth = RequestAuthenticator(CHAIN_ID, window_ms=60_000, clock_ms=clock)
    header = sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW - 59_000, nonce=1)
    assert auth.verify(header, "m", {"x": 1}) == KEY.address
    with pytest.raises(AuthInvalid) as replay:
        auth.verify(header, "m", {"x": 1})
    assert replay.value.data["reason"] == "nonce already used (replay)"
    with pytest.raises(AuthRequired):
        auth.verify(None, "m", {"x": 1})

    def invalid(header: str, method: str = "m", params: Any = None, reason: str = "") -> None:
        with pytest.raises(AuthInvalid) as info:
            auth.verify(header, method, params if params is not None else {"x": 1})
        assert info.value.code == AUTH_INVALID and reason in info.value.data["reason"]

    invalid(sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW - 61_000, nonce=2), reason="clock")
    invalid(sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW + 61_000, nonce=2), reason="clock")
    invalid(sign_request(KEY, CHAIN_ID, "m", {"x": 2}, time_ms=NOW, nonce=2), reason="not by address")
    invalid(sign_request(KEY, CHAIN_ID, "other", {"x": 1}, time_ms=NOW, nonce=2), reason="not by address")
    invalid(sign_request(KEY, CHAIN_ID + 1, "m", {"x": 1}, time_ms=NOW, nonce=2), reason="not by address")
    forged = sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW, nonce=2).replace(
        KEY.address.hex(), PrivateKey.from_seed("someone else").address.hex()
    )
    invalid(forged, reason="not by address")
    zero_sig = (
        sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW, nonce=2).rsplit("=0x", 1)[0]
        + "=0x"
        + "00" * 65
    )
    invalid(zero_sig, reason="bad signature")
    # nothing above was remembered: the genuine nonce 2 is still good, once
    assert auth.verify(sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=NOW, nonce=2), "m", {"x": 1})
    # a nonce is forgotten once its header could no longer be in the window
    clock.now += 3 * 60_000
    assert auth.verify(sign_request(KEY, CHAIN_ID, "m", {"x": 1}, time_ms=clock.now, nonce=1), "m", {"x": 1})


def test_remembered_nonces_are_bounded() -> None:
    auth = RequestAuthenticator(CHAIN_ID, max_nonces=3, clock_ms=Clock())
    for n in range(3):
        auth.verify(sign_request(KEY, CHAIN_ID, "m", None, time_ms=NOW, nonce=n), "m", None)
    with pytest.raises(AuthInvalid) as info:
        auth.verify(sign_request(KEY, CHAIN_ID, "m", None, time_ms=NOW, nonce=9), "m", None)
    assert "too many" in info.value.data["reason"]


async def test_dispatcher_lets_only_signed_calls_reach_an_auth_method() -> None:
    auth = RequestAuthenticator(CHAIN_ID, clock_ms=Clock())
    d = Dispatcher(registry_with(auth))

    async def call(params: Any, header: str | None) -> dict[str, Any]:
        body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "whoami", "params": params})
        out = await d.handle_body(body, CallContext(auth_header=header))
        assert out is not None
        result: dict[str, Any] = orjson.loads(out)
        return result

    assert (await call({"x": 1}, None))["error"]["data"]["error"] == "AuthRequired"
    good = sign_request(KEY, CHAIN_ID, "whoami", {"x": 1}, time_ms=NOW, nonce=1)
    assert (await call({"x": 2}, good))["error"]["code"] == AUTH_INVALID  # signed other params
    assert (await call({"x": 1}, good))["result"] == "0x" + KEY.address.hex()
    assert (await call({"x": 1}, good))["error"]["data"]["reason"].startswith("nonce already used")
    positional = sign_request(KEY, CHAIN_ID, "whoami", [3], time_ms=NOW, nonce=2)
    assert (await call([3], positional))[
        "result"
    ] == "0x" + KEY.address.hex()  # the params as sent are signed
    method = next(m for m in d.openrpc()["methods"] if m["name"] == "whoami")
    assert method["x-auth"] == {"header": AUTH_HEADER, "scheme": AUTH_TAG.decode()}
    assert {e["code"] for e in method["errors"]} == {AUTH_REQUIRED, AUTH_INVALID, ACCESS_DENIED}
    status = next(m for m in d.openrpc()["methods"] if m["name"] == "chain_status")
    assert "x-auth" not in status


async def test_http_header_and_client_signer(nursery: trio.Nursery) -> None:
    auth = RequestAuthenticator(CHAIN_ID)
    cfg = RpcServerConfig(host="127.0.0.1", port=0)
    port = await nursery.start(serve, registry_with(auth), cfg)
    url = f"http://127.0.0.1:{port}"

    def calls() -> tuple[str, str, RpcError]:
        with RpcClient(url, signer=KEY) as signed:  # asks the node's chain id first
            first, second = signed.call("whoami", x=1), signed.call("whoami", x=1)  # fresh nonce each call
        with RpcClient(url) as anonymous, pytest.raises(RpcError) as info:
            anonymous.call("whoami", x=1)
        return first, second, info.value

    first, second, refused = await trio.to_thread.run_sync(calls)
    assert first == second == "0x" + KEY.address.hex()
    pooled = AsyncRpcClient(url, signer=KEY, chain_id=CHAIN_ID)
    assert await pooled.call("whoami", x=3) == "0x" + KEY.address.hex()
    pooled.close()
    assert refused.code == AUTH_REQUIRED and refused.data["header"] == AUTH_HEADER
    header = sign_request(KEY, CHAIN_ID, "whoami", {"x": 1})
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "whoami", "params": {"x": 1}})
    r = await ahttp(port, "POST", "/", body, {AUTH_HEADER: header, "Content-Type": "application/json"})
    assert orjson.loads(r.body)["result"] == "0x" + KEY.address.hex()
    replayed = await ahttp(port, "POST", "/", body, {AUTH_HEADER: header, "Content-Type": "application/json"})
    assert orjson.loads(replayed.body)["error"]["data"]["reason"] == "nonce already used (replay)"
    preflight = await ahttp(port, "OPTIONS", "/", None, {"Origin": f"http://127.0.0.1:{port}"})
    assert AUTH_HEADER in preflight.headers["access-control-allow-headers"]
    nursery.cancel_scope.cancel()
