"""/metrics as Prometheus reads it: families, types and values parsed back with prometheus_client's parser."""

from __future__ import annotations

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from rpc_testkit import Server, StartServer, ahttp
from test_rpc_http import rpc

from rpc.client import open_ws
from rpc.metrics import Gauge, RpcMetrics, normalise_gauges

# The parser names a counter family without its `_total`; the samples keep it.
SERVER_FAMILIES = {
    "rpc_requests": ("counter", "JSON-RPC calls by method and status"),
    "rpc_request_duration_seconds": ("histogram", "JSON-RPC handling latency"),
    "rpc_http_responses": ("counter", "HTTP responses by path and status"),
    "rpc_rate_limited": ("counter", "requests refused by the rate limiter"),
    "rpc_connections": ("gauge", "open HTTP connections"),
    "rpc_connections_refused": ("counter", "connections refused by a cap"),
    "rpc_connections_closed": ("counter", "connections closed by a timeout or shed"),
    "rpc_accept_errors": ("counter", "failed accept() calls"),
    "rpc_ws_connections": ("gauge", "open WebSocket connections"),
    "rpc_ws_subscriptions": ("gauge", "live subscriptions"),
    "rpc_ws_dropped": ("counter", "slow subscribers dropped"),
    "rpc_publish": ("counter", "publishes with at least one subscriber"),
    "vaxchain_height": ("gauge", "best height"),
    "vaxchain_peers": ("gauge", "peers"),
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(srv: Server) -> str:
    return (await ahttp(srv.port, "GET", "/metrics")).body.decode()


async def test_every_family_keeps_its_name_type_and_help(srv: Server) -> None:
    await ahttp(srv.port, "POST", "/", rpc("foobar"))
    families = {f.name: (f.type, f.documentation) for f in text_string_to_metric_families(await scrape(srv))}
    assert families == SERVER_FAMILIES


async def test_scrape_values_parse_back(srv: Server) -> None:
    await ahttp(srv.port, "POST", "/", rpc("foobar"))
    await ahttp(srv.port, "POST", "/", rpc("foobar"))
    await ahttp(srv.port, "GET", "/health")
    got = samples(await scrape(srv))
    assert got[("rpc_requests_total", (("method", "foobar"), ("status", "ok")))] == 2
    assert got[("rpc_request_duration_seconds_count", (("method", "foobar"),))] == 2
    assert got[("rpc_request_duration_seconds_bucket", (("le", "+Inf"), ("method", "foobar")))] == 2
    assert got[("rpc_http_responses_total", (("code", "200"), ("path", "/")))] == 2
    assert got[("rpc_http_responses_total", (("code", "200"), ("path", "/health")))] == 1
    assert got[("vaxchain_height", ())] == 7
    assert not any(name.endswith("_created") for name, _ in got)


async def test_server_gauges_are_read_when_scraped(srv: Server) -> None:
    async with open_ws(srv.ws_url) as ws:
        await ws.subscribe("newHeads")
        srv.hub.publish("newHeads", {"height": 1})
        got = samples(await scrape(srv))
        assert got[("rpc_ws_connections", ())] == 1
        assert got[("rpc_ws_subscriptions", ())] == 1
        assert got[("rpc_publish_total", ())] == 1
    with trio.fail_after(10):
        while samples(await scrape(srv))[("rpc_ws_connections", ())] != 0:
            await trio.sleep(0.01)


async def test_two_servers_in_one_process_count_apart(start_server: StartServer) -> None:
    a = await start_server()
    b = await start_server()
    await ahttp(a.port, "POST", "/", rpc("foobar"))
    key = ("rpc_requests_total", (("method", "foobar"), ("status", "ok")))
    assert samples(await scrape(a))[key] == 1
    assert key not in samples(await scrape(b))


def test_rate_limited_and_http_responses_are_counted() -> None:
    m = RpcMetrics()
    m.rate_limited()
    m.rate_limited()
    m.http_response("/", 429)
    got = samples(m.render().decode())
    assert got[("rpc_rate_limited_total", ())] == 2
    assert got[("rpc_http_responses_total", (("code", "429"), ("path", "/")))] == 1


def test_histogram_buckets_are_cumulative() -> None:
    m = RpcMetrics()
    m.observe("m", "ok", 0.003)
    m.observe("m", "ok", 20.0)
    got = samples(m.render().decode())
    bucket = "rpc_request_duration_seconds_bucket"
    assert got[(bucket, (("le", "0.0025"), ("method", "m")))] == 0
    assert got[(bucket, (("le", "0.005"), ("method", "m")))] == 1
    assert got[(bucket, (("le", "10.0"), ("method", "m")))] == 1
    assert got[(bucket, (("le", "+Inf"), ("method", "m")))] == 2
    assert got[("rpc_request_duration_seconds_sum", (("method", "m"),))] == pytest.approx(20.003)


def test_gauges_read_at_scrape_are_read_afresh() -> None:
    m = RpcMetrics()
    open_now = [3]
    m.read_at_scrape(lambda: [Gauge("open_things", open_now[0], "things open now")])
    assert samples(m.render().decode())[("open_things", ())] == 3
    open_now[0] = 5
    assert samples(m.render().decode())[("open_things", ())] == 5


def test_node_gauges_from_a_mapping_are_gauges() -> None:
    text = RpcMetrics().render(normalise_gauges({"vaxchain_height": 12, "vaxchain_peers": 3})).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert families["vaxchain_height"] == "gauge" and families["vaxchain_peers"] == "gauge"
    assert samples(text)[("vaxchain_height", ())] == 12


def test_extra_counters_must_be_named_total() -> None:
    text = (
        RpcMetrics()
        .render([Gauge("jobs_total", 4, "jobs done", kind="counter"), Gauge("jobs", 4, kind="counter")])
        .decode()
    )
    assert "# TYPE jobs_total counter" in text.splitlines()
    assert samples(text)[("jobs_total", ())] == 4
    assert ("jobs", ()) not in samples(text)
