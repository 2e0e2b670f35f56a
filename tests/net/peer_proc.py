"""A vaxchain Network in its own process, for cross-process tests (not a test module).

    python tests/net/peer_proc.py SEED_HEX PORT TOPIC [PEER_MULTIADDR ...]

Prints "LISTEN <multiaddr>" once running, then "GOT <from> <data>" per gossip message received;
answers a message "ping<x>" by publishing "pong<x>". Exits when stdin closes.
"""

from __future__ import annotations

import sys

import trio

from node.net import NetConfig, Network


async def main(seed_hex: str, port: int, topic: str, peers: list[str]) -> None:
    cfg = NetConfig(listen=f"/ip4/127.0.0.1/tcp/{port}", peers=tuple(peers), ping_interval_s=1.0)
    net = Network(cfg, bytes.fromhex(seed_hex))
    inbox = net.subscribe(topic)
    async with trio.open_nursery() as nursery:
        addr = await nursery.start(net.run)
        print("LISTEN", addr, flush=True)

        async def answer() -> None:
            async for sender, data in inbox:
                print("GOT", sender, data.decode(), flush=True)
                if data.startswith(b"ping"):
                    await net.publish(topic, b"pong" + data[4:])

        async def until_stdin_closes() -> None:
            await trio.to_thread.run_sync(sys.stdin.read, abandon_on_cancel=True)
            nursery.cancel_scope.cancel()

        nursery.start_soon(answer)
        nursery.start_soon(until_stdin_closes)


if __name__ == "__main__":
    trio.run(main, sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:])
