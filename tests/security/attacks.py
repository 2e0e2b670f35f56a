"""Every attack of the suite, listed once in ATTACKS; each replays a hostile client against a real node process
(tests/security/target.py) and raises AssertionError when the node did not hold.

The runner (tests/security/run.py, scripts/attack) and the pytest slice (test_attacks.py) both read ATTACKS: add an
attack by writing its function and appending it there. `heavy` attacks run only in `scripts/attack --all`. The
runner judges every attack the same way besides its own checks (node up, blocks committed, chain_status within
1 s, a member's transaction admitted within 2 s); the mempool attacks reuse the helpers of
tests/node/test_mempool_squat_process.py, which replays the squat against a node with a small pool.
"""

from __future__ import annotations

import http.client
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import trio

from contracts.kinds.products import RegisterProduct
from contracts.kinds.readings import RecordReadings, Sample
from contracts.registry import encode_payload, kind_of
from harness.district_load import patient_call
from harness.make_genesis import dev_key
from node.core.transactions import Transaction, sign_transaction
from rpc.client import RpcClient
from rpc.errors import RpcError
from tests.conftest import REPO, VAXCHAIN, NodeProcess
from tests.node.test_mempool_squat_process import FRESH, attest, forged_r, hex_tx, rogue_gossip
from tests.node.test_node_process import SENDERS, attest_raw
from tests.security.target import MEMBER_ADMIT_BOUND_S, ROGUE_SEED, RPC_LIMITS, Target, write_target
from vaxcrypto.keys import PrivateKey

#: A member of the sample district (CDC staff) whose transactions the mempool attacks check are still admitted.
MEMBER = dev_key("cdc/staff-2")
#: Members who park gapped nonces: staff of sites the block-filling senders (site-01..10) do not use.
SQUATTERS = [dev_key(f"site-{i:02d}/staff-1") for i in range(11, 21)]
SITE_STAFF = dev_key("site-21/staff-1")
LOGGER = dev_key("site-21-fridge-1/logger-1")


@dataclass(frozen=True, slots=True)
class Attack:
    """One hostile behaviour: `run` attacks `target` and checks the node's answer to it."""

    name: str
    run: Callable[[Target], None]
    heavy: bool = False


# ------------------------------------------------------------------------------------------------ helpers


def open_idle(address: tuple[str, int], count: int, sources: int = 1) -> list[socket.socket]:
    """`count` silent TCP connections spread over `sources` loopback addresses (127.0.0.2, .3, ...)."""
    socks = []
    for i in range(count):
        sock = socket.socket()
        sock.bind((f"127.0.0.{2 + i % sources}", 0))
        sock.settimeout(5)
        try:
            sock.connect(address)
        except OSError:
            sock.close()
            continue
        socks.append(sock)
    return socks


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def all_closed(socks: list[socket.socket], within_s: float, what: str) -> None:
    """Wait until the server has closed every socket (AssertionError after `within_s`)."""
    deadline = time.monotonic() + within_s
    open_ = list(socks)
    while open_:
        open_ = [s for s in open_ if not closed_by_server(s)]
        if open_ and time.monotonic() > deadline:
            raise AssertionError(f"{len(open_)} {what} still open after {within_s} s")
        time.sleep(0.2)


@contextmanager
def holding(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def rpc_post(target: Target, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, object]:
    conn = http.client.HTTPConnection(*target.rpc, timeout=30)
    try:
        conn.request("POST", "/", body, {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, orjson.loads(resp.read())
    finally:
        conn.close()


def served_again(target: Target, source: str, within_s: float) -> float:
    """Seconds until a new client from `source` is served (AssertionError after `within_s`)."""
    t0 = time.monotonic()
    while True:
        try:
            target.fresh_status_s(source, timeout=2)
            return time.monotonic() - t0
        except (OSError, http.client.HTTPException):
            if time.monotonic() - t0 > within_s:
                raise AssertionError(f"no new client from {source} served within {within_s} s") from None
            time.sleep(0.2)


class PatientClient(RpcClient):
    """The attacks' own control client. It shares 127.0.0.1 with the floods, whose big batches put that address's
    rate-limit bucket in debt: its calls wait that out (patient_call), so a check asks the node, not the limiter."""

    def call(self, method: str, /, *args: Any, **params: Any) -> Any:
        if args:
            return super().call(method, *args, **params)
        return patient_call(super(), method, **params)  # type: ignore[arg-type]  # super() proxies RpcClient.call


def client_of(target: Target) -> RpcClient:
    return PatientClient(f"http://{target.rpc[0]}:{target.rpc[1]}", timeout=60)


def submit(client: RpcClient, raws: list[str]) -> list[dict[str, Any]]:
    """Send signed transactions (0x-hex) in calls of 1,000, waiting out RateLimited; one result each."""
    results: list[dict[str, Any]] = []
    for i in range(0, len(raws), 1000):
        for attempt in range(50):
            try:
                results += client.call("tx_sendRawTransactions", txs=raws[i : i + 1000])
                break
            except RpcError as exc:
                if exc.data and exc.data.get("error") == "RateLimited" and attempt < 49:
                    time.sleep(0.5)
                    continue
                raise
    return results


def refusal(client: RpcClient, tx: Transaction) -> str:
    """The error code tx_sendRawTransaction refuses `tx` with (AssertionError if it was admitted)."""
    try:
        client.call("tx_sendRawTransaction", tx=hex_tx(tx))
    except RpcError as exc:
        return str((exc.data or {}).get("error"))
    raise AssertionError(f"admitted: {tx}")


def known(client: RpcClient, tx: Transaction) -> bool:
    """Whether the node knows `tx` at all (pending or included)."""
    try:
        return bool(client.call("chain_getTransaction", hash="0x" + tx.hash.hex())["status"] != "unknown")
    except RpcError:
        return False


def next_nonce(client: RpcClient, key: PrivateKey, pending: bool = True) -> int:
    return int(client.call("tx_getNonce", address="0x" + key.address.hex(), pending=pending))


def member_admit_s(client: RpcClient, key: PrivateKey, label: str) -> tuple[float, str]:
    """Send the member's next attest; the seconds until it was admitted and its hash (AssertionError past 2 s)."""
    chain_id = int(client.call("chain_status")["chain_id"])
    tx = attest(key, chain_id, next_nonce(client, key), label)
    t0 = time.monotonic()
    tx_hash = str(client.call("tx_sendRawTransaction", tx=hex_tx(tx)))
    seconds = time.monotonic() - t0
    assert seconds < MEMBER_ADMIT_BOUND_S, f"a member's transaction took {seconds:.2f} s to be admitted"
    return seconds, tx_hash


def wait_included(client: RpcClient, tx_hash: str, within_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while (tx := client.call("chain_getTransaction", hash=tx_hash))["status"] != "included":
        assert time.monotonic() < deadline, f"not included within {within_s} s: {tx}"
        time.sleep(0.1)
    return dict(tx)


# ------------------------------------------------------------------------------------------------ attacks


def idle_flood(target: Target, address: tuple[str, int] | None = None, cap: int | None = None) -> None:
    """Three times the connection cap of silent sockets from 40 addresses: the extras are refused at accept, the
    node stays up, and once the idle timeout closes them a new client is served."""
    address = address or target.rpc
    cap = cap or int(RPC_LIMITS["max_connections"])
    with holding(open_idle(address, 3 * cap, sources=40)) as socks:
        time.sleep(0.5)
        refused = sum(closed_by_server(s) for s in socks)
        assert refused >= len(socks) - cap, f"{refused} of {len(socks)} refused over a cap of {cap}"
        served_again(target, "127.0.0.60", within_s=RPC_LIMITS["idle_timeout_s"] + 3)
        all_closed(socks, within_s=RPC_LIMITS["idle_timeout_s"] + 3, what="idle connections")


def explorer_idle_flood(target: Target) -> None:
    """The same flood against the explorer's listener."""
    from tests.security.target import EXPLORER_LIMITS

    with holding(
        open_idle(target.explorer, 3 * int(EXPLORER_LIMITS["max_connections"]), sources=40)
    ) as socks:
        all_closed(socks, within_s=EXPLORER_LIMITS["idle_timeout_s"] + 3, what="explorer connections")
        conn = http.client.HTTPConnection(*target.explorer, timeout=5, source_address=("127.0.0.61", 0))
        conn.request("GET", "/health")
        assert conn.getresponse().status in (200, 503)
        conn.close()


def slowloris(target: Target) -> None:
    """Half-sent request heads, a byte now and then: closed after the header timeout."""
    with holding(open_idle(target.rpc, 60, sources=10)) as socks:
        deadline = time.monotonic() + RPC_LIMITS["header_timeout_s"] + 2
        for sock in socks:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while time.monotonic() < deadline:
            for sock in socks:
                with suppress(OSError):  # closed already
                    sock.send(b"X")  # a trickle never completes the head
            time.sleep(0.3)
        assert all(closed_by_server(s) for s in socks), "half-sent heads outlived the header timeout"


def slow_body(target: Target) -> None:
    """A head promising 1 MB of body, then a trickle: closed after the body timeout."""
    with holding(open_idle(target.rpc, 30, sources=5)) as socks:
        for sock in socks:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n[")
        time.sleep(RPC_LIMITS["body_timeout_s"] + 1.5)
        assert all(closed_by_server(s) for s in socks), "slow bodies outlived the body timeout"


def host_rebinding(target: Target) -> None:
    """A DNS-rebinding page: Host and Origin both the attacker's name. Refused with HostNotAllowed, HTTP and WS."""
    port = target.rpc[1]
    evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    status, body = rpc_post(target, b'{"jsonrpc":"2.0","id":1,"method":"chain_status"}', evil)
    assert status == 403 and body["error"]["data"]["error"] == "HostNotAllowed", body  # type: ignore[index]
    conn = http.client.HTTPConnection(*target.rpc, timeout=5)
    conn.request(
        "GET",
        "/ws",
        headers={
            **evil,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    assert conn.getresponse().status == 403
    conn.close()


def websocket_flood(target: Target) -> None:
    """Many WebSockets from one address: past max_ws_per_ip the upgrade is refused (429)."""
    cap = int(RPC_LIMITS["max_ws_per_ip"])
    opened: list[socket.socket] = []
    statuses = []
    try:
        for i in range(cap + 5):
            sock = socket.create_connection(target.rpc, timeout=5, source_address=("127.0.0.70", 0))
            opened.append(sock)
            sock.sendall(
                b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            statuses.append(int(sock.recv(4096).split(b" ", 2)[1]))
            del i
    finally:
        for sock in opened:
            sock.close()
    assert statuses.count(101) == cap and statuses[cap:] == [429] * 5, statuses


def discover_batch(target: Target) -> None:
    """100 × rpc.discover in one batch: answered from one cached encoding, within the batch byte budget."""
    body = orjson.dumps([{"jsonrpc": "2.0", "id": i, "method": "rpc.discover"} for i in range(100)])
    t0 = time.monotonic()
    status, answers = rpc_post(target, body)
    assert status == 200 and isinstance(answers, list) and len(answers) == 100
    assert time.monotonic() - t0 < 2.0


def fill_block(target: Target, per_sender: int) -> int:
    """Send `per_sender` attest transactions from each of 10 senders; the height of the block that holds the last."""
    with RpcClient(f"http://{target.rpc[0]}:{target.rpc[1]}", timeout=60) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        raws = []
        for key in SENDERS:
            start = next_nonce(client, key)
            raws += [attest_raw(key, chain_id, n) for n in range(start, start + per_sender)]
        results = submit(client, raws)  # signed beforehand and sent back to back: few, big blocks
        assert all("hash" in r for r in results), [r for r in results if "hash" not in r][:3]
        last = results[-1]["hash"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tx = client.call("chain_getTransaction", hash=last)
            if tx["status"] == "included":
                return int(tx["block_height"])
            time.sleep(0.2)
    raise AssertionError("the load was not included")


def big_block_batches(target: Target, per_sender: int = 100) -> None:
    """Three concurrent batches of 100 × chain_getBlockByHeight full of a big block: answered in pages and cut
    off by the batch byte budget (ResponseTooLarge), memory bounded, consensus undisturbed."""
    last_height = fill_block(target, per_sender)
    with RpcClient(f"http://{target.rpc[0]}:{target.rpc[1]}", timeout=60) as client:
        counts = {
            h: int(client.call("chain_getBlockByHeight", height=h)["tx_count"])
            for h in range(max(1, last_height - 20), last_height + 1)
        }
        height = max(counts, key=lambda h: counts[h])
        page = len(orjson.dumps(client.call("chain_getBlockByHeight", height=height, full=True)))
    body = orjson.dumps(
        [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "chain_getBlockByHeight",
                "params": {"height": height, "full": True},
            }
            for i in range(100)
        ]
    )
    sizes: list[int] = []
    refused: list[int] = []

    def send_batch() -> None:
        status, answers = rpc_post(target, body, {"Connection": "close"})
        assert status == 200 and isinstance(answers, list)
        sizes.append(len(orjson.dumps(answers)))
        refused.append(
            sum(1 for a in answers if a.get("error", {}).get("data", {}).get("error") == "ResponseTooLarge")
        )

    threads = [threading.Thread(target=send_batch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(sizes) == 3, "a batch got no answer"
    assert max(sizes) <= (16 << 20) + (8 << 20), sizes  # the batch budget plus one answer
    print(
        f"  block {height}: {counts[height]} txs, a full page {page} bytes; batches answered {sizes} bytes, "
        f"refused {refused} calls",
        file=sys.stderr,
    )
    if 100 * page > 16 << 20:  # a hundred pages would pass the batch budget: the rest must have been refused
        assert min(refused) > 0, (refused, counts[height], page)


def big_block_batches_full(target: Target) -> None:
    """9,000 transactions sent back to back (the default mempool holds 10,000): blocks of a thousand and more."""
    big_block_batches(target, per_sender=900)


def descriptor_limit_flood(target: Target) -> None:
    """The original crash: a node whose hard open-file limit is 1,024, default connection caps, and 1,100 idle
    connections. Its caps are scaled under the limit, so accept never runs out of descriptors and it stays up."""
    root = Path(tempfile.mkdtemp(prefix="vaxchain-fdflood-"))
    try:
        datadir = write_target(root)
        config = datadir / "config.toml"
        text = re.sub(r"(?m)^(max_connections|max_connections_per_ip) = .*\n", "", config.read_text())
        config.write_text(text)
        node = NodeProcess(datadir)
        node.proc = subprocess.Popen(
            [*VAXCHAIN, "run", "--datadir", str(datadir)],
            stdout=subprocess.DEVNULL,
            stderr=node.stderr_path.open("ab"),
            cwd=REPO,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024)),
        )
        try:
            node.wait_rpc()
            host, _, port = tomllib.loads(text)["rpc"]["listen"].rpartition(":")
            with holding(open_idle((host, int(port)), 1100, sources=40)):
                time.sleep(1.0)
                assert node.proc.poll() is None, "the node exited under the flood"
                all_closed_or_refused = RPC_LIMITS["idle_timeout_s"] + 3
                time.sleep(all_closed_or_refused)
                assert node.proc.poll() is None, "the node exited under the flood"
            t0 = time.monotonic()
            with node.client() as client:
                client.call("chain_status")
                assert time.monotonic() - t0 < 1.0
                member_admit_s(client, MEMBER, "fd flood")
            assert node.stop() == 0
        finally:
            if node.proc is not None:
                node.proc.kill()
                node.proc.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def stranger_flood(target: Target, keys: int = 5, nonces: int = 300) -> None:
    """Fresh keys (in no organisation) each send gapped nonces 1..N, never 0: every one is refused NotAMember and
    none is pending (issue #19 finding 2)."""
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        flood = [attest(key, chain_id, n) for key in FRESH[:keys] for n in range(1, nonces + 1)]
        results = submit(client, [hex_tx(t) for t in flood])
        assert {r.get("error") for r in results} == {"NotAMember"}, results[:3]
        assert not any(known(client, t) for t in flood[:: max(1, len(flood) // 25)])


def stranger_flood_full(target: Target) -> None:
    """The reproduction's numbers: five fresh keys, 2,000 gapped nonces each."""
    stranger_flood(target, keys=5, nonces=2000)


def member_squat(target: Target) -> None:
    """Ten members park 1,000 gapped nonces each (never their next one) until the pool is full: a member's ready
    attest is still admitted within 2 s, evicting the oldest parked one, and included (finding 2). The parked
    ones stay until they expire (mempool.ttl_s); every later ready transaction evicts one."""
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        max_txs = int(tomllib.loads((target.datadir / "config.toml").read_text())["mempool"]["max_txs"])
        parked = []
        for key in SQUATTERS:
            committed = next_nonce(client, key, pending=False)
            parked += [attest(key, chain_id, n, "parked") for n in range(committed + 1, committed + 1001)]
        results = submit(client, [hex_tx(t) for t in parked])
        assert {r.get("error") for r in results} <= {None, "MempoolFull"}, [
            r for r in results if "hash" not in r
        ][:3]
        # top the pool up to exactly full with the member's own parked nonces (leaving its next one free): a pool
        # a few short of full admits without evicting (seen once in CI)
        room = max_txs - int(client.call("tx_mempoolStatus")["pending"])
        if room > 0:
            base = next_nonce(client, MEMBER, pending=False)
            topped = [attest(MEMBER, chain_id, n, "parked") for n in range(base + 2, base + 2 + room)]
            submit(client, [hex_tx(t) for t in topped])
        assert int(client.call("tx_mempoolStatus")["pending"]) >= max_txs, "the pool was not filled"
        evicted = int(client.call("tx_mempoolStatus")["evicted"])
        _, tx_hash = member_admit_s(client, MEMBER, "squatted")
        assert int(client.call("tx_mempoolStatus")["evicted"]) > evicted
        assert wait_included(client, tx_hash)["receipt"]["status"] == "success"


def forged_signatures(target: Target) -> None:
    """Twenty members' attests with one byte of r flipped recover to random addresses (or none): every one is
    refused (NotAMember or InvalidTransaction), none pending; the genuine transaction is admitted (finding 2)."""
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        nonce = next_nonce(client, MEMBER)
        genuine = [attest(MEMBER, chain_id, nonce, f"forged {i}") for i in range(20)]
        codes = {refusal(client, forged_r(tx)) for tx in genuine}
        assert codes <= {"NotAMember", "InvalidTransaction"}, codes
        assert not any(known(client, forged_r(tx)) for tx in genuine)
        client.call("tx_sendRawTransaction", tx=hex_tx(genuine[0]))


def strangers_write(target: Target) -> None:
    """Three fresh keys send 300 ready transactions each (nonces from 0), which were once included as failed
    Unauthorized receipts: all refused NotAMember, never included, and no nonce entry left in state (finding 4)."""
    keys = [PrivateKey.from_seed(f"attack/stranger/{i}") for i in range(3)]
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        txs = [attest(key, chain_id, n, "stranger") for key in keys for n in range(300)]
        results = submit(client, [hex_tx(t) for t in txs])
        assert {r.get("error") for r in results} == {"NotAMember"}, results[:3]
        height = int(client.call("chain_status")["height"])
        deadline = time.monotonic() + 10
        while int(client.call("chain_status")["height"]) < height + 2:  # blocks a proposer could have filled
            assert time.monotonic() < deadline, "no two blocks within 10 s"
            time.sleep(0.1)
        assert not any(known(client, t) for t in txs[::30])
        assert [next_nonce(client, k, pending=False) for k in keys] == [0, 0, 0]


def role_violations(target: Target) -> None:
    """Members sending what their role may not (a site registering a product, a logger too, site staff posting
    logger readings) are refused at admission with RoleNotAllowed, their nonces untouched (finding 4)."""
    product = RegisterProduct("06900000000017", "Rogue vaccine", True, 200, 800, True, 1, 6, "rogue", ())
    reading = RecordReadings((Sample(int(time.time()), 500),))
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        for key, payload in ((SITE_STAFF, product), (LOGGER, product), (SITE_STAFF, reading)):
            nonce = next_nonce(client, key)
            tx = sign_transaction(key, chain_id, nonce, kind_of(payload).code, encode_payload(payload))
            assert refusal(client, tx) == "RoleNotAllowed", type(payload).__name__
            assert next_nonce(client, key) == nonce


def readings_out_of_range(target: Target) -> None:
    """A logger's samples of +300.00 and -300.00 C (alone or after a good one) are refused ReadingOutOfRange; an
    in-range reading of the same logger is admitted (finding 5)."""
    now = int(time.time())
    with client_of(target) as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        nonce = next_nonce(client, LOGGER)
        for samples in (
            (Sample(now, 30_000),),
            (Sample(now, -30_000),),
            (Sample(now - 60, 500), Sample(now, 30_000)),
        ):
            payload = encode_payload(RecordReadings(samples))
            tx = sign_transaction(LOGGER, chain_id, nonce, kind_of(RecordReadings(samples)).code, payload)
            assert refusal(client, tx) == "ReadingOutOfRange", samples
        good = RecordReadings((Sample(now, 500),))
        client.call(
            "tx_sendRawTransaction",
            tx=hex_tx(sign_transaction(LOGGER, chain_id, nonce, kind_of(good).code, encode_payload(good))),
        )


def rogue_peer_gossip(target: Target) -> None:
    """A libp2p peer the node admits (allowlisted, as a member's node would be) gossips 2,000 strangers'
    transactions: it is banned and disconnected, and none of them is pending (finding 2)."""
    config = tomllib.loads((target.datadir / "config.toml").read_text())
    bans_before = target.node.stderr_path.read_text().count("event=peer_banned")
    with client_of(target) as client:
        status = client.call("chain_status")
        chain_id, node_peer = int(status["chain_id"]), str(status["peer_id"])
        flood = [attest(key, chain_id, n, "gossip") for key in FRESH for n in range(1, 401)]

        async def attack() -> None:
            async with trio.open_nursery() as nursery:
                rogue = await rogue_gossip(
                    nursery, f"{config['p2p']['listen']}/p2p/{node_peer}", ROGUE_SEED, flood
                )
                with trio.fail_after(20):
                    while target.node.stderr_path.read_text().count("event=peer_banned") <= bans_before:
                        await trio.sleep(0.1)
                with trio.fail_after(10):
                    while rogue.peer_id in {p["id"] for p in client.call("chain_peers") if p["connected"]}:
                        await trio.sleep(0.1)
                nursery.cancel_scope.cancel()

        trio.run(attack)
        assert not any(known(client, t) for t in flood[::40])


def stranger_peer_gossip(target: Target) -> None:
    """A libp2p peer outside the allowlist and the genesis nodes dials the node and tries to gossip strangers'
    transactions: it never joins the node's transaction mesh, none of them is pending (finding 2)."""
    config = tomllib.loads((target.datadir / "config.toml").read_text())
    with client_of(target) as client:
        status = client.call("chain_status")
        chain_id, node_peer = int(status["chain_id"]), str(status["peer_id"])
        flood = [attest(key, chain_id, n, "stranger gossip") for key in FRESH for n in range(1, 101)]
        joined: list[str] = []

        async def attack() -> None:
            async with trio.open_nursery() as nursery:
                with trio.move_on_after(5):  # rogue_gossip waits 20 s for a mesh it must never get
                    await rogue_gossip(
                        nursery, f"{config['p2p']['listen']}/p2p/{node_peer}", b"\x43" * 32, flood
                    )
                    joined.append("the stranger peer joined the node's transaction mesh")
                nursery.cancel_scope.cancel()

        trio.run(attack)
        assert not joined, joined
        assert not any(known(client, t) for t in flood[::25])


ATTACKS: list[Attack] = [
    Attack("idle_flood", idle_flood),
    Attack("explorer_idle_flood", explorer_idle_flood),
    Attack("slowloris", slowloris),
    Attack("slow_body", slow_body),
    Attack("host_rebinding", host_rebinding),
    Attack("websocket_flood", websocket_flood),
    Attack("discover_batch", discover_batch),
    Attack("stranger_flood", stranger_flood),
    Attack("member_squat", member_squat),
    Attack("forged_signatures", forged_signatures),
    Attack("strangers_write", strangers_write),
    Attack("role_violations", role_violations),
    Attack("readings_out_of_range", readings_out_of_range),
    Attack("rogue_peer_gossip", rogue_peer_gossip),
    Attack("big_block_batches", big_block_batches),
    Attack("big_block_batches_full", big_block_batches_full, heavy=True),
    Attack("descriptor_limit_flood", descriptor_limit_flood, heavy=True),
    Attack("stranger_flood_full", stranger_flood_full, heavy=True),
    Attack("stranger_peer_gossip", stranger_peer_gossip, heavy=True),
]
