"""Rendering against canned JSON: escaping of hostile chain values, both languages, search, charts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from explorer import pages
from explorer.chart import ChartSpec, Mark, Period, compliance, deg, svg_chart
from explorer.data import Data, NotFound
from explorer.i18n import MESSAGES, Texts, negotiate
from explorer.layout import Frame, page
from explorer.sentences import describe
from explorer.server import Explorer
from explorer.views import Sample, Tx
from rpc.server import HttpRequest

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'
LOT_ID = "06901234567892:HB1&<b>"
SENDER = "0x" + "ab" * 20
DEVICE = "0x" + "cd" * 20
VALIDATOR = "0x" + "12" * 20
HASH = "0x" + "11" * 32
SHIP_HASH = "0x" + "33" * 32
T0 = 1_795_500_000


def _samples() -> list[dict[str, int]]:
    return [{"time_s": T0 + 60 * i, "temp": 500 if i < 30 else 1200} for i in range(60)]


class FakeSource:
    """Canned node answers; hostile strings wherever the chain carries text."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        self.calls.append(method)
        org = {
            "org_id": "site-01",
            "org_type": "site",
            "name": EVIL,
            "active": True,
            "admitted_by": "genesis",
            "storage_units": ["site-01-fridge-1"],
        }
        header = {"hash": HASH, "height": 3, "time_ms": T0 * 1000 + 3_600_000, "proposer": VALIDATOR}
        ship = {
            "hash": SHIP_HASH,
            "kind": 10,
            "kind_name": "ship",
            "sender": SENDER,
            "nonce": 0,
            "payload": {
                "shipment_id": HASH,
                "lot": {"product_code": "06901234567892", "lot_number": "HB1&<b>"},
                "quantity": 200,
                "from_unit": "cdc-coldroom",
                "to_org": "site-01",
                "vehicle": None,
            },
        }
        dose = {
            **ship,
            "hash": HASH,
            "kind": 17,
            "kind_name": "record_dose",
            "payload": {
                "trace_code": "x",
                "lot": {"product_code": "06901234567892", "lot_number": "HB1"},
                "storage_unit": "site-01-fridge-1",
                "dose_number": 2,
                "subject": "0x" + "99" * 32,
                "record_hash": "0x" + "98" * 32,
            },
        }
        lot = {
            "lot_id": LOT_ID,
            "product_code": "06901234567892",
            "lot_number": "HB1&<b>",
            "manufacturer": "mah",
            "manufactured_date": 20261101,
            "expiry_date": 20281128,
            "units": 1000,
            "held": 800,
            "in_transit": 0,
            "administered": 10,
            "destroyed": 0,
            "quarantined": 190,
            "doses": 10,
            "subjects": 10,
            "recalled": True,
            "recall_reason": EVIL,
            "commissioned_ms": T0 * 1000,
            "status": "recalled",
        }
        answers: dict[str, Any] = {
            "chain_status": {
                "chain_id": 1337,
                "chain_name": EVIL,
                "height": 3,
                "finalized_height": 3,
                "last_block_time_ms": T0 * 1000 + 3_600_000,
                "validators": [{"address": VALIDATOR, "name": EVIL}],
            },
            "chain_validators": [{"address": VALIDATOR, "name": EVIL}],
            "chain_getBlockByHeight": {
                "header": header,
                "transactions": [ship, dose],
                "tx_count": 2,
                "commit": None,
            },
            "chain_getTransaction": {
                **dose,
                "status": "included",
                "block_height": 3,
                "receipt": {"status": "success"},
            },
            "vax_getAccount": {"address": SENDER, "org_id": "site-01", "role": "staff", "active": True},
            "vax_getOrganisation": org,
            "vax_listOrganisations": [org],
            "vax_alerts": [
                {
                    "time_ms": T0 * 1000 + i * 60_000,
                    "org_id": "site-01",
                    "kind": "temperature_excursion",
                    "unit_id": "site-01-fridge-1",
                    "temperature": 1200,
                    "detail": "",
                    "tx_hash": HASH,
                }
                for i in range(5)
            ]
            + [
                {
                    "time_ms": T0 * 1000 + 900_000,
                    "org_id": "site-01",
                    "kind": "heat_breach",
                    "unit_id": "site-01-fridge-1",
                    "temperature": 1200,
                    "detail": EVIL,
                    "tx_hash": HASH,
                }
            ],
            "vax_getLot": lot,
            "vax_listLots": [lot],
            "vax_traceLot": {
                "lot": lot,
                "status": "recalled",
                "custody": [
                    {
                        "shipment_id": HASH,
                        "lot_id": LOT_ID,
                        "quantity": 200,
                        "from_org": "mah",
                        "from_unit": "mah-coldroom",
                        "to_org": "site-01",
                        "vehicle": "van-1",
                        "shipped_ms": T0 * 1000 + 60_000,
                        "status": "received",
                        "to_unit": "site-01-fridge-1",
                        "counted": 200,
                        "closed_ms": T0 * 1000 + 120_000,
                        "reason": "",
                    }
                ],
                "holders": [
                    {
                        "org_id": "site-01",
                        "unit_id": "site-01-fridge-1",
                        "available": 0,
                        "quarantined": 190,
                        "in_transit": 0,
                    }
                ],
                "quarantines": [
                    {
                        "quarantine_id": HASH,
                        "lot_id": LOT_ID,
                        "unit_id": "site-01-fridge-1",
                        "org_id": "site-01",
                        "quantity": 190,
                        "cause": "heat_breach",
                        "since_s": T0 + 1800,
                        "created_ms": (T0 + 3000) * 1000,
                        "status": "condemned",
                        "decided_by": "cdc",
                        "decided_ms": (T0 + 3500) * 1000,
                        "note": EVIL,
                    }
                ],
                "destructions": [],
                "doses_per_site": {"site-01": 10},
                "doses": 10,
                "subjects": 10,
            },
            "vax_getProduct": {
                "product_code": "06901234567892",
                "name": EVIL,
                "manufacturer": "mah",
                "storage_min": 200,
                "storage_max": 800,
            },
            "vax_getStorageUnit": {
                "unit_id": "site-01-fridge-1",
                "org_id": "site-01",
                "kind": "fridge",
                "name": EVIL,
                "min_temp": 200,
                "max_temp": 800,
                "active": True,
                "last_sample_s": T0 + 3540,
                "devices": [DEVICE],
                "breaches": [
                    {"cause": "heat_breach", "since_s": T0 + 1800, "at_s": T0 + 3000, "lots": [LOT_ID]}
                ],
                "holdings": [{"lot_id": LOT_ID, "available": 0, "quarantined": 190}],
            },
            "vax_inventory": {
                "org_id": "site-01",
                "units": [],
                "totals": {LOT_ID: {"available": 0, "quarantined": 190}},
                "inbound": [],
                "doses_given": 10,
            },
            "chain_getTransactionsBySender": [
                {
                    "hash": HASH,
                    "kind": 13,
                    "kind_name": "record_readings",
                    "sender": DEVICE,
                    "payload": {"samples": _samples()},
                    "block_height": 2,
                    "status": "success",
                }
            ],
            "vax_findUnit": {
                "valid": True,
                "canonical": "gs1:06901234567892:1",
                "scheme": "gs1",
                "product_code": "06901234567892",
                "serial": "1",
                "lot_id": LOT_ID,
                "lot_known": True,
                "recalled": True,
                "used": False,
                "use": None,
                "suspect_reports": [{"time_ms": T0 * 1000, "org_id": "site-01", "note": EVIL}],
            },
        }
        if method == "chain_getTransaction" and params.get("hash") == SHIP_HASH:
            return {**ship, "status": "included", "block_height": 3, "receipt": {"status": "success"}}
        if method == "chain_getTransaction" and params.get("hash") != HASH:
            raise NotFound("transaction", str(params.get("hash")))
        if method in ("vax_getOrganisation", "vax_getStorageUnit") and params.get(next(iter(params))) not in (
            "site-01",
            "site-01-fridge-1",
            "mah",
            "cdc",
        ):
            raise NotFound("organisation", "?")
        if method == "vax_getLot" and params.get("lot_id") != LOT_ID:
            raise NotFound("lot", str(params.get("lot_id")))
        if method == "chain_getBlockByHash":
            raise NotFound("block", "?")
        if method == "vax_getDevice":
            raise NotFound("device", "?")
        return answers[method]


def _no_raw_evil(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x" not in html


@pytest.fixture
def data() -> Data:
    return Data(FakeSource())


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_pages_escape_hostile_names_in_both_languages(data: Data, lang: str) -> None:
    t = Texts(lang)
    bodies = [
        await pages.home(data, t),
        await pages.block_page(data, t, "3"),
        await pages.tx_page(data, t, HASH),
        await pages.lot_page(data, t, LOT_ID),
        await pages.org_page(data, t, "site-01"),
        await pages.unit_page(data, t, "site-01-fridge-1", {}),
        await pages.alerts_page(data, t, {}),
        await pages.orgs_page(data, t),
        await pages.lots_page(data, t),
        await pages.validators_page(data, t),
        await pages.code_page(data, t, "(01)06901234567892(21)1"),
    ]
    for body in bodies:
        html = page(Frame(t, body.title, "/x?a=<b>", "ws://127.0.0.1:1/ws"), body.html)
        _no_raw_evil(html)
        assert f'<html lang="{lang}">' in html
    lot_html = bodies[3].html
    for body in (bodies[0], bodies[3], bodies[4], bodies[5]):
        assert "&lt;script&gt;" in body.html  # shown, but as text
    assert ("已召回" if lang == "zh-CN" else "recalled") in lot_html
    assert "<svg" in lot_html and 'class="band"' in lot_html and 'class="breach"' in lot_html
    assert 'class="mark quarantine"' in lot_html and 'class="mark condemn"' in lot_html


async def test_subject_ids_never_shown(data: Data) -> None:
    body = await pages.tx_page(data, Texts("en"), HASH)
    assert "99" * 32 not in body.html and "98" * 32 not in body.html
    assert "gave dose 2 of lot" in body.html


async def test_sentence_in_plain_words(data: Data) -> None:
    body = await pages.block_page(data, Texts("en"), "3")
    assert "shipped 200 units of lot" in body.html
    assert "HB1&amp;&lt;b&gt;" in body.html
    zh = await pages.block_page(data, Texts("zh-CN"), "3")
    assert "发往" in zh.html


@pytest.mark.parametrize(
    ("query", "target"),
    [
        ("2", "/block/2"),
        (HASH, "/tx/" + HASH),
        ("HB1&<b>", "/lot/06901234567892%3AHB1%26%3Cb%3E"),
        (LOT_ID, "/lot/06901234567892%3AHB1%26%3Cb%3E"),
        ("(01)06901234567892(17)281128(10)HB1(21)1", "/code?c="),
        ("\x1d0106901234567892172811281 0HB1\x1d211", "/code?c="),
        ("site-01", "/org/site-01"),
    ],
)
async def test_search_routes(data: Data, query: str, target: str) -> None:
    out = await pages.search(data, Texts("en"), query)
    assert isinstance(out, pages.Redirect), out
    assert out.href.startswith(target)


async def test_search_not_found_is_clear(data: Data) -> None:
    out = await pages.search(data, Texts("en"), "<nothing>")
    assert isinstance(out, pages.Body) and out.status == 404
    assert "&lt;nothing&gt;" in out.html and "Not found" in out.html
    assert (await pages.search(data, Texts("en"), "99999")).status == 404  # type: ignore[union-attr]


def test_chart_svg_band_breach_marks() -> None:
    samples = tuple(Sample(T0 + 60 * i, 500 if i < 30 else 1200) for i in range(60))
    svg = svg_chart(
        ChartSpec(
            samples,
            200,
            800,
            T0,
            T0 + 3600,
            (Period(T0 + 1800, T0 + 3000, EVIL),),
            (Mark(T0 + 3100, EVIL, "release"),),
            EVIL,
        )
    )
    assert svg.startswith("<svg") and "viewBox" in svg
    assert svg.count('class="out"') == 30
    assert 'class="breach"' in svg and 'class="mark release"' in svg
    assert "<script>" not in svg
    assert deg(512) == "5.12" and deg(-2000) == "-20" and deg(-5) == "-0.05"


def test_compliance_share_of_time() -> None:
    samples = [Sample(T0 + 60 * i, 500 if i < 45 else 1200) for i in range(60)]
    c = compliance(samples, 200, 800, T0, T0 + 3600)
    assert c is not None and abs(c - 0.75) < 0.02
    assert compliance([], 200, 800, T0, T0 + 10) is None
    # a silent logger: its last sample stands for at most an hour, the rest of the gap counts neither way
    gap = [Sample(T0, 500), Sample(T0 + 60, 500), Sample(T0 + 86400, 1200), Sample(T0 + 86460, 1200)]
    c2 = compliance(gap, 200, 800, T0, T0 + 86520)
    assert c2 is not None and abs(c2 - 3660 / 3780) < 0.001


def test_language_negotiation() -> None:
    assert negotiate({}, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}) == ("zh-CN", False)
    assert negotiate({}, {"accept-language": "en-GB,en;q=0.9,zh;q=0.5"}) == ("en", False)
    assert negotiate({}, {"Accept-Language": "fr-FR,zh-TW;q=0.5"}) == ("zh-CN", False)
    assert negotiate({"lang": "en"}, {"Accept-Language": "zh-CN"}) == ("en", True)
    assert negotiate({}, {"Cookie": "a=b; lang=zh-CN", "Accept-Language": "en"}) == ("zh-CN", False)
    assert negotiate({}, {}) == ("en", False)
    assert all(len(v) == 2 and v[0] and v[1] for v in MESSAGES.values())


async def test_handler_headers_status_and_redirect(data: Data) -> None:
    ex = Explorer(data, "ws://127.0.0.1:9/ws")
    routes = {r.path: r.handler for r in ex.routes()}

    def req(
        path: str, query: dict[str, str] | None = None, match: dict[str, str] | None = None
    ) -> HttpRequest:
        return HttpRequest(
            "GET", path, query or {}, {"Accept-Language": "zh-CN"}, match or {}, b"", "127.0.0.1"
        )

    home = await routes["/"](req("/"))
    assert home.status == 200
    headers = dict(home.headers)
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "ws://127.0.0.1:9" in headers["Content-Security-Policy"]
    assert '<html lang="zh-CN">' in home.body.decode()
    missing = await routes["/tx/{hash}"](req("/tx/x", match={"hash": "0x" + "22" * 32}))
    assert missing.status == 404 and "未找到" in missing.body.decode()
    found = await routes["/search"](req("/search", {"q": "2", "lang": "en"}))
    assert found.status == 303 and ("Location", "/block/2") in found.headers
    assert any(k == "Set-Cookie" and v.startswith("lang=en") for k, v in found.headers)


@pytest.mark.parametrize(
    ("payload", "english", "chinese"),
    [
        (
            {"peer_id": "12D3KooWA", "name": EVIL, "add": True},
            "registered the network node",
            "登记了网络节点",
        ),
        (
            {"peer_id": "12D3KooWA", "name": "", "add": False},
            "removed the network node 12D3KooWA",
            "移除了网络节点",
        ),
    ],
)
async def test_node_registration_sentence(
    data: Data, payload: dict[str, Any], english: str, chinese: str
) -> None:
    tx = Tx(HASH, 20, "set_node", SENDER, 0, payload, "included", 3, 0, None)
    en = str(await describe(tx, data, Texts("en")))
    assert english in en and "<script>alert" not in en
    assert chinese in str(await describe(tx, data, Texts("zh-CN")))


async def test_cancelled_shipment_sentence(data: Data) -> None:
    payload = {"shipment_id": "0x" + "ab" * 32, "reason": "wrong lot loaded"}
    tx = Tx(HASH, 21, "cancel_shipment", SENDER, 0, payload, "included", 3, 0, None)
    en = str(await describe(tx, data, Texts("en")))
    assert "cancelled shipment 0xabababab" in en and "wrong lot loaded" in en
    assert "撤回了发运" in str(await describe(tx, data, Texts("zh-CN")))
