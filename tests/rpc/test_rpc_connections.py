"""Connection limits of rpc.server on a real socket: caps at accept, header/body/idle timeouts, the Host check,
the per-IP WebSocket cap, and accept() failing for lack of descriptors (EMFILE) in a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import trio
from rpc_testkit import StartServer, ahttp

from rpc.client import open_ws

CALL = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": {"value": 1}})
REPO = Path(__file__).resolve().parents[2]


async def connect(port: int, source: str = "127.0.0.1") -> trio.socket.SocketType:
    sock = trio.socket.socket()
    await sock.bind((source, 0))
    await sock.connect(("127.0.0.1", port))
    return sock


async def closed_by_server(sock: trio.socket.SocketType, within_s: float) -> bool:
    """True when the server closes `sock` (EOF or reset) within `within_s` seconds."""
    with trio.move_on_after(within_s):
        try:
            while await sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        return True
    return False


async def post(port: int, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    res = await ahttp(port, "POST", "/", CALL, {"Content-Type": "application/json", **(headers or {})})
    return res.status, orjson.loads(res.body)


async def test_per_ip_cap_refuses_at_accept_and_others_are_served(start_server: StartServer) -> None:
    srv = await start_server(max_connections_per_ip=3)
    idle = [await connect(srv.port) for _ in range(3)]
    extra = await connect(srv.port)
    assert await closed_by_server(extra, 2.0)
    # another address (127.0.0.2 is loopback too) is not affected
    other = await connect(srv.port, "127.0.0.2")
    await other.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert (await other.recv(4096)).startswith(b"HTTP/1.1 200")
    idle[0].close()
    await trio.sleep(0.1)
    status, body = await post(srv.port)  # a slot came back
    assert status == 200 and body["result"] == 1
    for sock in [*idle[1:], extra, other]:
        sock.close()


async def test_total_cap_refuses_at_accept(start_server: StartServer) -> None:
    srv = await start_server(max_connections=4)
    held = [await connect(srv.port, f"127.0.0.{i + 1}") for i in range(4)]
    extra = await connect(srv.port, "127.0.0.9")
    assert await closed_by_server(extra, 2.0)
    for sock in held:
        sock.close()
    await trio.sleep(0.1)
    assert (await post(srv.port))[0] == 200


async def test_half_sent_head_is_closed_after_the_header_timeout(start_server: StartServer) -> None:
    srv = await start_server(header_timeout_s=0.3, idle_timeout_s=30)
    sock = await connect(srv.port)
    t0 = time.monotonic()
    await sock.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-")
    assert await closed_by_server(sock, 3.0)
    assert time.monotonic() - t0 < 2.0


async def test_slow_body_is_closed_after_the_body_timeout(start_server: StartServer) -> None:
    srv = await start_server(body_timeout_s=0.3, idle_timeout_s=30)
    sock = await connect(srv.port)
    await sock.send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{")
    assert await closed_by_server(sock, 3.0)


async def test_silent_connection_is_closed_after_the_idle_timeout(start_server: StartServer) -> None:
    srv = await start_server(idle_timeout_s=0.5)
    sock = await connect(srv.port)
    t0 = time.monotonic()
    assert await closed_by_server(sock, 5.0)
    assert time.monotonic() - t0 < 3.0


async def test_keep_alive_client_is_served_across_requests(start_server: StartServer) -> None:
    srv = await start_server(header_timeout_s=0.5, body_timeout_s=0.5, idle_timeout_s=5)
    sock = await connect(srv.port)
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(CALL)).encode() + b"\r\n\r\n" + CALL
    )
    for _ in range(3):
        await sock.send(request)
        reply = await sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        await trio.sleep(0.7)  # longer than the header and body timeouts, between requests: allowed
    sock.close()


async def test_dns_rebinding_host_is_refused_with_a_named_error(start_server: StartServer) -> None:
    srv = await start_server()
    evil = {"Host": f"evil.example:{srv.port}", "Origin": f"http://evil.example:{srv.port}"}
    status, body = await post(srv.port, evil)
    assert status == 403
    assert body["error"]["data"]["error"] == "HostNotAllowed"  # type: ignore[index]
    health = await ahttp(srv.port, "GET", "/health", headers={"Host": "evil.example"})
    assert health.status == 403
    assert (await post(srv.port, {"Host": f"localhost:{srv.port}"}))[0] == 200


async def test_configured_host_names_are_served(start_server: StartServer) -> None:
    srv = await start_server(allowed_hosts=("rpc.district.example",))
    assert (await post(srv.port, {"Host": "rpc.district.example"}))[0] == 200
    assert (await post(srv.port, {"Host": "localhost"}))[0] == 403


async def test_websocket_cap_per_ip(start_server: StartServer) -> None:
    srv = await start_server(max_ws_per_ip=2)
    async with open_ws(srv.ws_url), open_ws(srv.ws_url):
        third = await ahttp(
            srv.port,
            "GET",
            "/ws",
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        assert third.status == 429
    with trio.fail_after(5):  # slots come back when they close
        async with open_ws(srv.ws_url) as ws:
            assert await ws.call("echo", value=2) == 2


EMFILE_SERVER = textwrap.dedent(
    """
    import resource, sys, trio
    from rpc.registry import MethodRegistry
    from rpc.server import RpcServerConfig, serve

    resource.setrlimit(resource.RLIMIT_NOFILE, (96, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    reg = MethodRegistry()

    @reg.method("ping")
    async def ping(p):
        return "pong"

    async def main():
        async with trio.open_nursery() as n:
            port = await n.start(serve, reg, RpcServerConfig(port=0, max_connections=10_000, idle_timeout_s=2))
            print(port, flush=True)

    trio.run(main)
    """
)


def test_accept_out_of_descriptors_is_logged_and_the_server_keeps_serving(tmp_path: Path) -> None:
    """Caps set above the descriptor limit: accept() fails with EMFILE, which must not end the process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        import socket

        flood = []
        for _ in range(150):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            flood.append(sock)
        time.sleep(2.5)  # accept() has failed by now; idle ones time out and free descriptors
        assert proc.poll() is None
        for sock in flood:
            sock.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(
                        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        b'Content-Length: 40\r\nConnection: close\r\n\r\n{"jsonrpc":"2.0","id":1,"method":"ping"}'
                    )
                    reply = sock.recv(4096)
                if b"pong" in reply:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not serve again after the flood"
            time.sleep(0.2)
        assert proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert b"rpc_accept_error" in err
