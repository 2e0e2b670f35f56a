"""The school-entry check end to end: a real node (its own process, real LevelDB, its built-in explorer with
`explorer.registry_url` set), the real registry over HTTP on 127.0.0.1 co-signing as the key the genesis registers,
a school the health commission admits on chain, credentials a guardian issues on the registry's family page, and
the explorer's /verify in a real headless Chromium (390 px phone and desktop, zh-CN and en, with and without
JavaScript).

Needs Debian's chromium and the `playwright` package (scripts/setup-browser); skipped with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import http.client
import re
import shutil
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import NodeProcess, run_cli
from tests.explorer.test_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, _browser_or_skip, _wait_http

pytestmark = pytest.mark.slow

SCHOOL = "school-e2e"
UTC8 = dt.timezone(dt.timedelta(hours=8))


@dataclasses.dataclass
class SchoolEnv:
    """The explorer and registry URLs and the credentials the guardians issued."""

    explorer: str
    registry: str
    good: str  # a newborn: nothing due yet
    catch_up: str  # a child born 2019 without recorded doses
    altered: str  # catch_up with its payload changed to "complete", the registry's signature kept
    expired: str  # issued by the registry 200 days ago, valid 90 days
    to_revoke: str  # another newborn's, withdrawn by the guardian during the tests
    withdraw_form: bytes  # the guardian's form that withdraws it
    shots: Path


def _post(base: str, path: str, form: dict[str, str]) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        body = urllib.parse.urlencode(form).encode()
        conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def _get(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        conn.request("GET", parts.path)
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        return resp.read().decode()
    finally:
        conn.close()


def _credential_on_page(page: str) -> str:
    found = re.search(r"VAXSCHOOL1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", page)
    assert found, "the family page shows no credential"
    return found.group(0)


def _altered(text: str) -> str:
    prefix, payload, sig = text.split(".")
    obj = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    obj.update(status="complete", missing=[])
    forged = base64.urlsafe_b64encode(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).rstrip(b"=").decode()
    return f"{prefix}.{forged}.{sig}"


def _admit_school(node: NodeProcess) -> None:
    from contracts.kinds.organisations import AdmitOrganisation
    from contracts.registry import BY_NAME, encode_payload
    from contracts.types import OrgType
    from harness.district_load import wait_included
    from harness.make_genesis import dev_key
    from node.core.transactions import sign_transaction
    from vaxcrypto.keys import PrivateKey

    commission = dev_key("health-commission/admin")
    school_admin = PrivateKey.from_seed("test/school-e2e/admin")
    payload = encode_payload(
        AdmitOrganisation(SCHOOL, OrgType.SCHOOL, "No. 1 Primary School", (school_admin.address,))
    )
    with node.client() as client:
        chain_id = int(client.call("chain_status")["chain_id"])
        nonce = int(client.call("tx_getNonce", address="0x" + commission.address.hex()))
        tx = sign_transaction(commission, chain_id, nonce, BY_NAME["admit_organisation"].code, payload)
        tx_hash = client.call("tx_sendRawTransaction", tx="0x" + tx.encode().hex())
        wait_included(client, str(tx_hash), timeout_s=60)
        org = client.call("vax_getOrganisation", org_id=SCHOOL)
        assert org["org_type"] == "school" and org["active"]


@pytest.fixture(scope="module")
def school_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchoolEnv]:
    _browser_or_skip()
    from harness.cosign import dev_registry_key
    from harness.make_genesis import dev_key
    from registry.chain import RpcChain
    from registry.server import RegistryHTTPServer
    from registry.service import Registry, RegistrySecrets, parse_person
    from registry.store import Store

    base = tmp_path_factory.mktemp("school-net")
    run_cli("testnet", "--validators", "1", "--out", str(base / "net"), "--block-interval-ms", "200")
    datadir = base / "net" / "node0"
    config = tomllib.loads((datadir / "config.toml").read_text())
    node_rpc = f"http://{config['rpc']['listen']}"

    # The CDC's registry: the co-signing key the sample genesis registers as active, against the real node.
    secrets = RegistrySecrets(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, dev_registry_key())
    store = Store(base / "registry.sqlite")
    chain = RpcChain(node_rpc)
    registry = Registry(store, secrets, chain)
    server = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    registry_url = f"http://127.0.0.1:{server.port}"

    text = (datadir / "config.toml").read_text()
    assert "[explorer]\n" in text and "enabled = true" in text.split("[explorer]", 1)[1].split("[", 1)[0]
    (datadir / "config.toml").write_text(
        text.replace("[explorer]\n", f'[explorer]\nregistry_url = "{registry_url}"\n')
    )
    node = NodeProcess(datadir).start()
    past_store: Store | None = None
    try:
        _admit_school(node)
        explorer = f"http://{config['explorer']['listen']}"
        _wait_http(explorer + "/health")
        site = dev_key("site-01/staff-1")
        today = dt.datetime.now(UTC8).date()

        def child(id_number: str, birth: dt.date) -> tuple[str, str]:
            person = {
                "name": "测试儿童",
                "sex": "F",
                "birth_date": birth.isoformat(),
                "id_type": "birth_certificate",
                "id_number": id_number,
                "guardians": [{"name": "测试家长", "phone": "+86 138-0000-0000", "relation": "mother"}],
            }
            return registry.register_person(site.address, parse_person(person), "first visit")

        def issue(pid: str, code: str) -> str:
            status, page = _post(
                registry_url, "/family/credential", {"code": code, "person_id": pid, "school": SCHOOL}
            )
            assert status == 200, page
            return _credential_on_page(page)

        newborn, newborn_code = child("E2E000001", today)
        older, older_code = child("E2E000002", dt.date(2019, 3, 1))
        other, other_code = child("E2E000003", today)
        good = issue(newborn, newborn_code)
        catch_up = issue(older, older_code)
        to_revoke = issue(other, other_code)
        # the same registry, 200 days ago: its credential (90 days) has expired
        past_store = Store(base / "registry.sqlite")
        clock_ms = int((time.time() - 200 * 86400) * 1000)
        past = Registry(past_store, secrets, chain, clock=lambda: clock_ms)
        expired = past.school_credential(older_code, bytes.fromhex(older[2:]), SCHOOL)
        shots = base / "screenshots"
        shots.mkdir()
        yield SchoolEnv(
            explorer,
            registry_url,
            good,
            catch_up,
            _altered(catch_up),
            expired,
            to_revoke,
            urllib.parse.urlencode({"code": other_code, "person_id": other}).encode(),
            shots,
        )
    finally:
        node.stop()
        server.shutdown()
        server.server_close()
        thread.join(5)
        chain.close()
        if past_store is not None:
            past_store.close()
        store.close()


@pytest.fixture(scope="module")
def browser(school_env: SchoolEnv) -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    profile = school_env.shots.parent / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    policy = asyncio.get_event_loop_policy()  # rpc.server installs trio_asyncio's; playwright needs asyncio's
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


def _page(browser: Any, *, phone: bool, locale: str, js: bool = True) -> Any:
    ctx = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        locale=locale,
        java_script_enabled=js,
        is_mobile=phone,
        device_scale_factor=2 if phone else 1,
    )
    return ctx.new_page()


def _check_one(page: Any, text: str, *, school: str = "", revocations: str = "") -> Any:
    """Paste (or, as a scanner does, type) a credential into the first form and submit it; the result card."""
    form = page.locator("form#verify-one")
    form.locator("textarea[name=credential]").fill(text)
    form.locator("input[name=school]").fill(school)
    if revocations:
        if form.locator("details").get_attribute("open") is None:
            form.locator("details > summary").click()
        form.locator("textarea[name=revocations]").fill(revocations)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    return page.locator("section[data-outcome]")


def test_phone_zh_without_javascript_pass_catch_up_and_refusals(school_env: SchoolEnv, browser: Any) -> None:
    page = _page(browser, phone=True, locale="zh-CN", js=False)
    page.goto(school_env.explorer + "/")
    page.click("header nav a[href='/verify']")  # 核验 in the nav
    page.wait_for_url("**/verify")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "扫码枪会像键盘一样" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.screenshot(path=str(school_env.shots / "verify-form-phone-zh.png"), full_page=True)

    card = _check_one(page, school_env.good, school=SCHOOL)
    assert card.get_attribute("data-outcome") == "complete"
    assert "查验通过" in card.locator("p.headline[lang=zh-CN]").inner_text()
    assert "Complete" in card.locator("p.headline[lang=en]").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.screenshot(path=str(school_env.shots / "verify-complete-phone-zh.png"), full_page=True)

    # as a handheld scanner sends it: typed character by character, with the Enter it ends with
    page.locator("form#verify-one textarea[name=credential]").type(school_env.catch_up + "\n")
    page.locator("form#verify-one button[type=submit]").click()
    page.wait_for_load_state()
    card = page.locator("section[data-outcome]")
    assert card.get_attribute("data-outcome") == "catch_up"
    zh = card.locator("p.headline[lang=zh-CN]").inner_text()
    assert zh.startswith("需要补种：") and "乙肝疫苗（HepB）" in zh and "麻腮风疫苗（MMR）" in zh
    assert "Hepatitis B (HepB)" in card.locator("p.headline[lang=en]").inner_text()
    page.screenshot(path=str(school_env.shots / "verify-catch-up-phone-zh.png"), full_page=True)

    for text, reason, words in (
        (school_env.altered, "forged_or_altered", "伪造或已被篡改"),
        (school_env.expired, "expired", "凭证已过期"),
        (school_env.good[:-8] + "AAAAAAAA", "forged_or_altered", "伪造或已被篡改"),
        ("VAXSCHOOL1.nonsense", "malformed", "不是可识别的入学查验凭证"),
    ):
        card = _check_one(page, text)
        assert (card.get_attribute("data-outcome"), card.get_attribute("data-reason")) == ("refused", reason)
        assert words in card.locator("p.headline[lang=zh-CN]").inner_text()
    card = _check_one(page, school_env.good, school="school-other")
    assert card.get_attribute("data-reason") == "wrong_school"
    assert "issued for another school" in card.locator("p.headline[lang=en]").inner_text()
    page.screenshot(path=str(school_env.shots / "verify-refused-phone-zh.png"), full_page=True)


def test_desktop_en_a_withdrawn_credential_is_refused_with_a_fresh_list(
    school_env: SchoolEnv, browser: Any
) -> None:
    page = _page(browser, phone=False, locale="en-US")
    page.goto(school_env.explorer + "/verify")
    assert page.locator("html").get_attribute("lang") == "en"
    assert _check_one(page, school_env.to_revoke).get_attribute("data-outcome") == "complete"
    status, body = _post(
        school_env.registry,
        "/family/withdraw",
        dict(urllib.parse.parse_qsl(school_env.withdraw_form.decode())),
    )
    assert status == 200, body
    fresh = _get(school_env.registry + "/revocations")
    card = _check_one(page, school_env.to_revoke, revocations=fresh)
    assert (card.get_attribute("data-outcome"), card.get_attribute("data-reason")) == ("refused", "revoked")
    assert "withdrew it" in card.locator("p.headline[lang=en]").inner_text()
    assert "撤销" in card.locator("p.headline[lang=zh-CN]").inner_text()
    # a pasted list that is not the registry's does not help, and is named
    card = _check_one(page, school_env.good, revocations="VAXREVOKE1.bad.list")
    assert card.get_attribute("data-outcome") == "complete"  # the registry's own list still counts
    assert (
        "The pasted revocation list: the revocation list cannot be read"
        in page.locator("p.trust").inner_text()
    )
    page.screenshot(path=str(school_env.shots / "verify-revoked-desktop-en.png"), full_page=True)


def _class_csv(env: SchoolEnv) -> str:
    rows = [
        ("Zhang Wei", env.good),
        ("李娜", env.catch_up),
        ("3-07", env.altered),
        ("Wang, Fang", env.expired),
        ("赵六", env.to_revoke),
    ]
    return "student,credential,class\n" + "".join(f'"{s}",{c},1A\n' for s, c in rows)


def _class_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator("table.class-list tbody tr")
    return [
        (
            rows.nth(i).locator("td").nth(1).inner_text(),
            rows.nth(i).locator("[data-outcome]").get_attribute("data-outcome"),
        )
        for i in range(rows.count())
    ]


EXPECTED_ROWS = [
    ("Zhang Wei", "complete"),
    ("李娜", "catch_up"),
    ("3-07", "refused"),
    ("Wang, Fang", "refused"),
    ("赵六", "refused"),
]


def test_class_list_upload_desktop_en(school_env: SchoolEnv, browser: Any) -> None:
    page = _page(browser, phone=False, locale="en-US")
    page.goto(school_env.explorer + "/verify")
    form = page.locator("form#verify-class")
    form.locator("input[type=file]").set_input_files(
        {"name": "class-1a.csv", "mimeType": "text/csv", "buffer": _class_csv(school_env).encode("gb18030")}
    )
    form.locator("input[name=school]").fill(SCHOOL)
    form.locator("details > summary").click()
    form.locator("textarea[name=revocations]").fill(_get(school_env.registry + "/revocations"))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert _class_rows(page) == EXPECTED_ROWS
    summary = page.locator("section[data-class-list] p.headline[lang=en]").inner_text()
    assert summary == "1 complete, 1 need catch-up doses, 3 refused, 0 not checked for revocation."
    follow = page.locator("ul.follow-up li")
    assert [follow.nth(i).locator("strong").inner_text() for i in range(follow.count())] == [
        "李娜",
        "3-07",
        "Wang, Fang",
        "赵六",
    ]
    assert "Hepatitis B (HepB)" in follow.nth(0).inner_text() and "expired" in follow.nth(2).inner_text()
    assert "withdrew it" in follow.nth(3).inner_text()
    page.screenshot(path=str(school_env.shots / "class-list-desktop-en.png"), full_page=True)


def test_class_list_pasted_on_a_phone_zh(school_env: SchoolEnv, browser: Any) -> None:
    page = _page(browser, phone=True, locale="zh-CN")
    page.goto(school_env.explorer + "/verify")
    form = page.locator("form#verify-class")
    form.locator("textarea[name=csv]").fill(_class_csv(school_env))
    form.locator("details > summary").click()
    form.locator("textarea[name=revocations]").fill(_get(school_env.registry + "/revocations"))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert _class_rows(page) == EXPECTED_ROWS
    assert "1 人通过，1 人需补种，3 人凭证被拒" in page.locator("section[data-class-list]").inner_text()
    assert "需要补种或提供有效凭证" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.screenshot(path=str(school_env.shots / "class-list-phone-zh.png"), full_page=True)


def test_the_explorer_bounds_what_a_form_may_send(school_env: SchoolEnv) -> None:
    from explorer.pages.verify import MAX_FORM_BYTES

    parts = urllib.parse.urlsplit(school_env.explorer)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=20)
    try:
        conn.request(
            "POST",
            "/verify/class",
            b"csv=" + b"x" * MAX_FORM_BYTES,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert conn.getresponse().status == 413
    finally:
        conn.close()
    status, page = _post(school_env.explorer, "/verify", {"credential": school_env.good})
    assert status == 200 and 'data-outcome="complete"' in page
