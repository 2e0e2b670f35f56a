"""JSON-RPC over TLS: HTTPS and WSS with a private CA made in the test; untrusted servers and bad files are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from rpc_testkit import Server, StartServer

from rpc.client import AsyncRpcClient, RpcClient, open_ws, subscribe
from rpc.errors import TlsError
from rpc.registry import MethodRegistry
from rpc.server import RpcServerConfig, serve
from rpc.tls import TlsFileError, client_context, pinned_context, server_context
from tests.tls_certs import Issued, PrivateCA


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCA:
    return PrivateCA(tmp_path / "ca")


@pytest.fixture
def server_cert(ca: PrivateCA) -> Issued:
    return ca.issue("rpc")


@pytest.fixture
async def tls_srv(start_server: StartServer, server_cert: Issued) -> Server:
    return await start_server(tls_cert_file=str(server_cert.cert), tls_key_file=str(server_cert.key))


def _call(url: str, **kw: object) -> object:
    with RpcClient(url, **kw) as client:  # type: ignore[arg-type]
        return client.call("subtract", 42, 23)


async def test_https_call_is_trusted_only_with_the_private_ca(
    tls_srv: Server, ca: PrivateCA, tmp_path: Path
) -> None:
    for host in ("127.0.0.1", "localhost"):
        url = f"https://{host}:{tls_srv.port}/"
        assert await trio.to_thread.run_sync(lambda u=url: _call(u, ca_file=ca.files.cert)) == 19
    url = f"https://127.0.0.1:{tls_srv.port}/"
    async_client = AsyncRpcClient(url, ca_file=ca.files.cert)
    try:
        assert await async_client.call("echo", value="over tls") == "over tls"
    finally:
        async_client.close()
    with pytest.raises(TlsError, match=r"certificate verify failed|unable to get local issuer"):
        await trio.to_thread.run_sync(lambda: _call(url))  # the system's CAs do not know ours
    other = PrivateCA(tmp_path / "other", "another CA")
    with pytest.raises(TlsError):
        await trio.to_thread.run_sync(lambda: _call(url, ca_file=other.files.cert))
    # plain HTTP to a TLS port is no JSON-RPC answer
    with pytest.raises(Exception):  # noqa: B017 - a TransportError of some kind, whatever aiohttp answers
        await trio.to_thread.run_sync(lambda: _call(f"http://127.0.0.1:{tls_srv.port}/"))


async def test_certificate_for_another_name_is_refused(start_server: StartServer, ca: PrivateCA) -> None:
    elsewhere = ca.issue("elsewhere", hosts=("rpc.elsewhere.example",))
    srv = await start_server(tls_cert_file=str(elsewhere.cert), tls_key_file=str(elsewhere.key))
    url = f"https://127.0.0.1:{srv.port}/"
    with pytest.raises(TlsError, match=r"mismatch|IP address"):
        await trio.to_thread.run_sync(lambda: _call(url, ca_file=ca.files.cert))
    # trusting exactly that certificate, whatever name it is reached by (a process talking to its own node)
    assert await trio.to_thread.run_sync(lambda: _call(url, ssl_context=pinned_context(elsewhere.cert))) == 19


async def test_wss_calls_and_subscriptions(tls_srv: Server, ca: PrivateCA) -> None:
    wss = f"wss://localhost:{tls_srv.port}/ws"
    async with open_ws(wss, ca_file=ca.files.cert) as ws:
        assert await ws.call("subtract", 10, 4) == 6
    async with subscribe(wss, "newHeads", ca_file=ca.files.cert) as sub:
        with trio.fail_after(5):
            while tls_srv.hub.publish("newHeads", {"height": 11}) == 0:
                await trio.sleep(0.01)
            assert (await sub.__anext__())["height"] == 11
    with pytest.raises(TlsError):
        async with open_ws(wss) as ws:
            await ws.call("foobar")


def test_bad_tls_files_are_named(tmp_path: Path, ca: PrivateCA, server_cert: Issued) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsFileError) as info:
        server_context(missing, server_cert.key)
    assert info.value.path == str(missing) and "No such file" in info.value.reason
    with pytest.raises(TlsFileError, match="matching key"):
        server_context(server_cert.cert, ca.files.key)  # another certificate's key
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsFileError, match="matching key"):
        server_context(garbage, server_cert.key)
    with pytest.raises(TlsFileError, match="no PEM CA certificate"):
        client_context(garbage)
    with pytest.raises(TlsFileError):
        RpcClient("https://127.0.0.1:1/", ca_file=missing)
    with pytest.raises(ValueError, match="https://"):
        RpcClient("http://127.0.0.1:1/", ca_file=ca.files.cert)
    with pytest.raises(ValueError, match="go together"):
        RpcServerConfig(tls_cert_file=str(server_cert.cert))


async def test_server_with_a_bad_key_fails_before_listening(tmp_path: Path, server_cert: Issued) -> None:
    config = RpcServerConfig(
        port=0, tls_cert_file=str(server_cert.cert), tls_key_file=str(tmp_path / "nope.key")
    )
    with pytest.raises(TlsFileError):
        await serve(MethodRegistry(), config)
