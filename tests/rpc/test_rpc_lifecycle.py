"""Server lifecycle: ephemeral ports, clean cancellation with open connections, WebSocket frame limit."""

from __future__ import annotations

import pytest
import trio
import trio_websocket
from rpc_testkit import BASE_CONFIG, NodeState, Server, make_hub, make_registry

from rpc.client import AsyncRpcClient, open_ws
from rpc.errors import TransportError
from rpc.server import serve


async def test_cancel_with_open_connections_and_inflight_calls() -> None:
    state = NodeState()
    hub = make_hub()
    results: list[object] = []
    with trio.fail_after(10):
        async with trio.open_nursery() as outer:
            server_scope = trio.CancelScope()

            async def run_server(task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
                with server_scope:
                    await serve(make_registry(state), BASE_CONFIG, hub, task_status=task_status)

            port = await outer.start(run_server)
            client = AsyncRpcClient(f"http://127.0.0.1:{port}/", timeout=5)

            async def slow_http() -> None:
                try:
                    results.append(await client.call("slow", seconds=5))
                except TransportError as exc:
                    results.append(exc)

            async with open_ws(f"ws://127.0.0.1:{port}/ws") as ws:
                await ws.subscribe("newHeads")
                outer.start_soon(slow_http)
                await trio.sleep(0.2)
                t0 = trio.current_time()
                server_scope.cancel()
                with trio.fail_after(5):
                    while not ws.closed:
                        await trio.sleep(0.01)
            while not results:
                await trio.sleep(0.01)
            assert trio.current_time() - t0 < 4
    assert isinstance(results[0], TransportError)  # the in-flight call was cut, not answered late
    assert hub.subscription_count == 0


async def test_two_servers_on_ephemeral_ports(srv: Server, start_server: object) -> None:
    other = await start_server()  # type: ignore[operator]
    assert other.port != srv.port and srv.port > 0


async def test_ws_message_over_limit_closes_with_1009(srv: Server) -> None:
    async with trio_websocket.open_websocket_url(srv.ws_url, max_message_size=1 << 22) as conn:
        await conn.send_message("x" * (srv.config.max_body_bytes + 1))
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            await conn.get_message()
        assert info.value.reason is not None and info.value.reason.code == 1009
