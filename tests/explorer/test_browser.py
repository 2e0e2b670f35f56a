"""The explorer in a real headless Chromium against a node loaded with a simulated district day.

Needs Debian's chromium and the `playwright` package (scripts/setup-browser installs both); skipped with the
reason when they are missing. Screenshots go to $EXPLORER_SCREENSHOTS (default: a pytest temp directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, NodeProcess, run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

pytestmark = pytest.mark.slow


@dataclass
class Env:
    """A loaded node, the explorer URL and what the simulated day did."""

    explorer: str
    node: NodeProcess
    lot_ids: list[str]
    recalled_lot: str
    failing_site: str
    failing_unit: str
    unit_code: str
    dose_lot: str
    shots: Path
    has_readings: bool


def _browser_or_skip() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (run scripts/setup-browser; needs apt-get as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (run scripts/setup-browser)")
    return sync_playwright


def _get(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if _get(url, 2)[0] == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    sync_playwright = _browser_or_skip()
    del sync_playwright
    from harness.district_load import day_actions, send_actions, wait_included

    base = tmp_path_factory.mktemp("explorer-net")
    # Empty blocks every second (the genesis default is 30 s): the home page's tests wait for a few blocks.
    run_cli("testnet", "--validators", "1", "--out", str(base / "net"), "--empty-block-interval-ms", "1000")
    datadir = base / "net" / "node0"
    cfg = datadir / "config.toml"
    # the load is sent as fast as the per-client rate limit allows (send_actions waits out RateLimited)
    config = tomllib.loads(cfg.read_text())
    node = NodeProcess(datadir).start()
    explorer_proc: subprocess.Popen[bytes] | None = None
    try:
        day, keys = day_actions(seed=0, doses=300, reading_interval_s=1800)
        with node.client() as client:
            report = send_actions(client, day, keys, progress=False)
            assert report.rejected == 0 and report.last_hash
            wait_included(client, report.last_hash, timeout_s=60)
            has_readings = "chain_getTransactionsBySender" in {
                m["name"] for m in client.call("rpc.discover").get("methods", [])
            }
        # The home page's tests expect at least five blocks: a faster node fits the day into fewer, and
        # empty blocks follow about every second.
        node.wait_height(5)
        host, port = config["explorer"]["listen"].rsplit(":", 1)
        url = f"http://{host}:{port}"
        if not _port_open(
            host, int(port)
        ):  # the node does not serve the explorer itself (yet): run it beside
            code = (
                "import sys, trio; from explorer.server import serve_explorer; "
                "trio.run(lambda: serve_explorer(sys.argv[1], sys.argv[2], int(sys.argv[3])))"
            )
            log = (base / "explorer.log").open("wb")
            explorer_proc = subprocess.Popen(
                [sys.executable, "-c", code, node.rpc_url, host, port], cwd=REPO, stdout=log, stderr=log
            )
        _wait_http(url + "/health")
        plan = day.plan
        recalled = plan.recalled_lot or ""
        dose_lot = next(
            lot
            for lot in plan.lots
            if lot != recalled and lot.startswith(plan.lots[lot].product_code) and "HB" in lot
        )
        shots = Path(os.environ.get("EXPLORER_SCREENSHOTS") or base / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Env(
            url,
            node,
            list(plan.lots),
            recalled,
            plan.failing_site or "",
            plan.failing_unit or "",
            plan.lots[dose_lot].codes[0],
            dose_lot,
            shots,
            has_readings,
        )
    finally:
        if explorer_proc is not None:
            explorer_proc.terminate()
            explorer_proc.wait(timeout=10)
        node.stop()


@pytest.fixture(scope="module")
def browser(env: Env) -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    profile = Path(env.shots).parent / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    # importing rpc.server installs trio_asyncio's loop policy; playwright needs a plain asyncio loop
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield b
            finally:
                b.close()
    finally:
        asyncio.set_event_loop_policy(policy)


def _page(browser: Any, *, phone: bool = True, locale: str = "en-US", js: bool = True) -> Any:
    ctx = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        locale=locale,
        java_script_enabled=js,
        is_mobile=phone,
        device_scale_factor=2 if phone else 1,
    )
    return ctx.new_page()


def test_home_live_phone_and_desktop(env: Env, browser: Any) -> None:
    page = _page(browser)
    page.goto(env.explorer + "/")
    assert page.locator("[data-stat=head] .value").inner_text().startswith("#")
    assert "final up to #" in page.locator("[data-stat=final]").inner_text()
    assert page.locator("[data-stat=validators] .value").inner_text() == "1 / 1"
    assert page.locator("table.blocks tbody tr").count() >= 5
    assert page.locator("ul.txs li").count() >= 5
    assert page.locator("ul.alerts li.alert").count() >= 1
    page.wait_for_selector("body.is-live", timeout=10_000)  # WebSocket to the node's /ws subscribed
    page.wait_for_function("document.querySelector('[data-since]').textContent.includes('ago')")
    # no sideways scrolling of the page on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.screenshot(path=str(env.shots / "home-phone.png"), full_page=True)
    desk = _page(browser, phone=False)
    desk.goto(env.explorer + "/")
    desk.screenshot(path=str(env.shots / "home-desktop.png"), full_page=False)


def test_chinese_from_browser_language_and_switch(env: Env, browser: Any) -> None:
    page = _page(browser, locale="zh-CN")
    page.goto(env.explorer + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "最新区块" in page.content()
    page.click("a.lang")  # switch to English; remembered in a cookie
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(env.explorer + "/alerts")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(env.explorer + "/?lang=zh-CN")
    page.screenshot(path=str(env.shots / "home-zh-phone.png"), full_page=False)


def test_search_lot_number_goes_to_lot_page(env: Env, browser: Any) -> None:
    page = _page(browser)
    page.goto(env.explorer + "/")
    lot_number = env.recalled_lot.split(":", 1)[1]
    page.fill("form.search input[name=q]", lot_number)
    page.press("form.search input[name=q]", "Enter")
    page.wait_for_url("**/lot/**")
    page.wait_for_load_state()
    assert lot_number in page.locator("h1").inner_text()
    assert page.locator("h1 .badge").inner_text() == "recalled"
    assert page.locator("ol.timeline li").count() >= 2  # registered, then shipped (the day recalls it early)
    assert "potency below specification" in page.content()
    assert "Doses given per site" in page.content()
    page.screenshot(path=str(env.shots / "lot-recalled-phone.png"), full_page=True)


def test_lot_page_charts_and_quarantine(env: Env, browser: Any) -> None:
    page = _page(browser, phone=False)
    page.goto(env.explorer + "/lot/" + env.dose_lot.replace(":", "%3A"))
    assert page.locator("h1 .badge").count() == 1
    assert page.locator("table").filter(has_text="Total").count() >= 1
    assert env.has_readings  # the node serves loggers' reading history (chain_getTransactionsBySender)
    assert page.locator("svg.chart").count() >= 3
    assert page.locator("svg.chart rect.band").count() >= 3
    assert page.locator("svg.chart rect.breach").count() >= 1  # the failing fridge's breach
    with env.node.client() as client:  # the page must show what the chain says
        trace = client.call("vax_traceLot", lot_id=env.dose_lot)
    assert ("Quarantines" in page.content()) == bool(trace["quarantines"])
    assert page.locator("ol.timeline li").count() == 1 + len(trace["custody"])
    total = page.locator("table tr").filter(has_text="Total").inner_text()
    assert str(trace["doses"]) in total
    page.screenshot(path=str(env.shots / "lot-desktop.png"), full_page=True)


def test_search_unit_code_and_scanned_datamatrix(env: Env, browser: Any) -> None:
    page = _page(browser)
    page.goto(env.explorer + "/")
    page.fill("form.search input[name=q]", env.unit_code)
    page.press("form.search input[name=q]", "Enter")
    page.wait_for_url("**/code?**")
    assert env.dose_lot.split(":", 1)[1] in page.locator("dl.kv").inner_text()
    page.screenshot(path=str(env.shots / "unit-code-phone.png"), full_page=True)
    # the same code as a scanner sends it: no parentheses, GS (FNC1) separators
    raw = (
        env.unit_code.replace("(01)", "01")
        .replace("(17)", "17")
        .replace("(10)", "10")
        .replace("(21)", "\x1d21")
    )
    status, body = _get(env.explorer + "/search?q=" + urllib.parse.quote(raw))
    assert status == 200 and env.dose_lot.split(":", 1)[1] in body
    page.goto(env.explorer + "/search?q=" + urllib.parse.quote("NO-SUCH-LOT-42"))
    assert page.locator("h1").inner_text() == "Not found"
    assert "NO-SUCH-LOT-42" in page.content()


def test_tx_page_and_verify(env: Env, browser: Any) -> None:
    page = _page(browser)
    page.goto(env.explorer + "/block/3")
    page.locator("ul.txs li .meta a[href^='/tx/']").first.click()
    page.wait_for_url("**/tx/0x*")
    assert page.locator(".sentence.big").inner_text().strip() != ""
    assert page.locator(".badge.ok").count() >= 1
    page.screenshot(path=str(env.shots / "tx-phone.png"), full_page=True)
    page.click("text=Verify")
    page.wait_for_url("**/verify")
    assert page.locator(".summary.ok").count() == 1
    assert page.locator("ul.checks li.bad").count() == 0
    assert page.locator("ul.checks li.ok").count() == 6
    page.screenshot(path=str(env.shots / "verify-phone.png"), full_page=True)


def test_site_page_alerts_and_js_off(env: Env, browser: Any) -> None:
    page = _page(browser, js=False)
    page.goto(env.explorer + "/org/" + env.failing_site)
    content = page.content()
    assert "Storage units" in content and "Cold chain OK, 7 days" in content
    assert page.locator("ul.alerts li.alert.serious").count() >= 1  # the heat breach
    page.screenshot(path=str(env.shots / "site-phone-nojs.png"), full_page=True)
    page.goto(env.explorer + "/alerts?only=serious")
    assert "Heat breach" in page.content() and "Recall" in page.content()
    page.screenshot(path=str(env.shots / "alerts-phone-nojs.png"), full_page=True)
    page.goto(env.explorer + "/unit/" + env.failing_unit)
    assert page.locator("svg.chart circle.out").count() > 0  # the failing fridge's out-of-range samples
    page.screenshot(path=str(env.shots / "unit-phone-nojs.png"), full_page=True)
    for path in ("/orgs", "/lots", "/validators"):
        page.goto(env.explorer + path)
        assert page.locator("table tbody tr").count() >= 1
