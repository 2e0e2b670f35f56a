"""A stand-in for `vaxchain run` in the lab's own tests: TCP echo on the p2p address, a tiny JSON-RPC on the RPC one.

JSON-RPC methods: ``chain_status`` (wall and monotonic clock), ``dial`` (connect to host:port from this node's
namespace, send 64 bytes, time the echo: the lab's latency and partitions as a peer sees them).
Usage: python fake_node.py IP P2P_PORT RPC_PORT
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


def dial(host: str, port: int, timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            connected = time.monotonic()
            sock.sendall(b"x" * 64)
            got = b""
            while len(got) < 64:
                chunk = sock.recv(64)
                if not chunk:
                    return {"ok": False, "error": "closed"}
                got += chunk
            return {"ok": True, "connect_s": connected - started, "echo_s": time.monotonic() - connected}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__}


class Rpc(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = request.get("params") or {}
        if request["method"] == "dial":
            result: Any = dial(params["host"], int(params["port"]), float(params.get("timeout", 3)))
        else:
            result = {"time_s": time.time(), "monotonic_s": time.monotonic()}
        body = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    ip, p2p, rpc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    echo = socketserver.ThreadingTCPServer((ip, p2p), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    ThreadingHTTPServer((ip, rpc), Rpc).serve_forever()


if __name__ == "__main__":
    main()
