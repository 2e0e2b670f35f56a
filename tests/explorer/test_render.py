"""Rendering against canned JSON: escaping of hostile chain values, both languages, search, charts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from explorer import pages
from explorer.chart import ChartSpec, Mark, Period, compliance, deg, svg_chart
from explorer.data import Data, MethodUnavailable, NotFound
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
        if method not in answers:
            raise MethodUnavailable(method)  # as a node without this method answers
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


async def test_bad_paths_and_parameters_answer_404_or_400_pages(data: Data) -> None:
    ex = Explorer(data, None)
    routes = {r.path: r.handler for r in ex.routes()}

    def req(
        path: str, query: dict[str, str] | None = None, match: dict[str, str] | None = None
    ) -> HttpRequest:
        return HttpRequest(
            "GET", path, query or {}, {"Accept-Language": "zh-CN"}, match or {}, b"", "127.0.0.1"
        )

    for key in ("18446744073709551616", "4", "²", "0x12"):
        out = await routes["/block/{key}"](req("/block/" + key, match={"key": key}))
        assert out.status == 404 and 'class="card error"' in out.body.decode()
    for query, status in (
        ({"site": "unknown"}, 404),
        ({"lot": "nope:1"}, 404),
        ({"kind": "<b>"}, 400),
        ({"period": "1y"}, 400),
    ):
        out = await routes["/alerts"](req("/alerts", query))
        assert out.status == status, query
        assert "<b>" not in out.body.decode() and 'class="card error"' in out.body.decode()
    ok = await routes["/alerts"](req("/alerts", {"site": "site-01", "kind": "heat_breach", "period": "30d"}))
    assert ok.status == 200 and "高温超标" in ok.body.decode()


async def test_receipt_and_payload_in_words_without_private_fields() -> None:
    class WithEvents(FakeSource):
        async def call(self, method: str, params: Mapping[str, Any]) -> Any:
            out = await super().call(method, params)
            if method == "chain_getTransaction":
                event = {
                    "name": "DoseAdministered",
                    "data": {
                        "lot_id": LOT_ID,
                        "site": "site-01",
                        "subject": "0x" + "99" * 32,
                        "dose_number": 2,
                    },
                }
                return {**out, "receipt": {"status": "success", "events": [event]}}
            return out

    d = Data(WithEvents())
    for lang, words in (("en", "Dose given"), ("zh-CN", "已接种")):
        html = (await pages.tx_page(d, Texts(lang), HASH)).html
        assert words in html
        assert "99" * 32 not in html and "98" * 32 not in html
        assert '{"' not in html and "<pre" not in html  # no raw JSON


def test_chart_draws_every_out_of_range_point() -> None:
    n = 3000
    samples = tuple(Sample(T0 + 30 * i, 1200 + (i % 40) * 10) for i in range(n))
    svg = svg_chart(ChartSpec(samples, 200, 800, T0, T0 + 30 * n))
    assert svg.count('class="out"') > 400  # no cap at 400: the whole excursion is drawn


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
async def test_district_dashboard_and_recall_page(data: Data, lang: str) -> None:
    t = Texts(lang)
    body = await pages.district_page(data, t, {})
    _no_raw_evil(body.html)
    assert 'class="district"' in body.html and "/org/site-01" in body.html
    assert "/recall/" in body.html  # the recalled lot is listed
    assert "sort=compliance" in body.html
    recall = await pages.recall_page(data, t, LOT_ID)
    _no_raw_evil(recall.html)
    assert "/org/site-01" in recall.html and 'data-stat="children"' in recall.html
    assert "99" * 32 not in recall.html


async def test_district_bad_sort_is_400(data: Data) -> None:
    ex = Explorer(data, None)
    routes = {r.path: r.handler for r in ex.routes()}
    out = await routes["/district"](HttpRequest("GET", "/district", {"sort": "x"}, {}, {}, b"", "127.0.0.1"))
    assert out.status == 400


def test_every_contract_error_and_event_is_translated() -> None:
    import re
    from pathlib import Path

    from contracts import errors

    codes = {
        c.__name__
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.ContractError) and c is not errors.ContractError
    }
    missing = sorted(c for c in codes if "err_" + c not in MESSAGES)
    assert not missing, f"add err_ lines to explorer/i18n_chain.py: {missing}"
    kinds = Path(errors.__file__).parent / "kinds"
    events = {
        m for f in kinds.glob("*.py") for m in re.findall(r'emit\(\s*ctx,\s*"([A-Z]\w+)"', f.read_text())
    }
    assert events and not sorted(e for e in events if "ev_" + e not in MESSAGES)


def test_codes_the_tables_lack_are_shown_in_words_not_as_keys() -> None:
    zh = Texts("zh-CN")
    assert zh("qc_heat_breach") == "高温超标"
    assert zh("qc_excursion_timeout") == "excursion timeout"  # a newer node's cause: words, not "qc_…"
    assert zh("err_LotRecalled") == "该批次已被召回" and zh.label("err_NewRule", "NewRule") == "new rule"
    assert zh("administered") == "已开瓶"  # natural Chinese: a vial is opened (开瓶), not switched on (开启)
    assert zh.name("Township Health Centre 1", "祖庙街道社区卫生服务中心") == "祖庙街道社区卫生服务中心"
    assert (
        Texts("en").name("Township Health Centre 1", "祖庙街道社区卫生服务中心") == "Township Health Centre 1"
    )


class Issue20Source(FakeSource):
    """A node that answers #20's episode and recall-progress queries."""

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "vax_listEpisodes":
            return [
                {
                    "episode_id": "0xe1",
                    "kind": "excursion",
                    "org_id": "site-01",
                    "storage_unit": "site-01-fridge-1",
                    "start_ms": T0 * 1000,
                    "end_ms": None,
                    "min_c": 8.2,
                    "max_c": 12.0,
                    "minutes_out": 125,
                    "lots": [LOT_ID],
                    "doses": 7,
                },
                {
                    "episode_id": "0xg1",
                    "kind": "monitoring_gap",
                    "org_id": "site-01",
                    "storage_unit": "site-01-fridge-1",
                    "start_ms": T0 * 1000 - 7_200_000,
                    "end_ms": T0 * 1000 - 3_600_000,
                    "min_c": None,
                    "max_c": None,
                    "minutes_out": 60,
                },
            ]
        if method == "vax_recallProgress":
            return {
                "holders": [{"org_id": "site-01", "held": 3, "returned": 5, "destroyed": 2, "in_transit": 0}],
                "totals": {"org_id": "", "held": 3, "returned": 5, "destroyed": 2, "in_transit": 0},
                "doses_given": 11,
            }
        return await super().call(method, params)


async def test_alerts_as_episodes_filtered_when_the_node_lists_them() -> None:
    d = Data(Issue20Source())
    body = await pages.alerts_page(d, Texts("zh-CN"), {"site": "site-01", "period": "30d"})
    assert body.html.count('data-episode="excursion"') == 1 and 'data-episode="monitoring_gap"' in body.html
    assert "8.2 至 12 °C，超出范围 125 分钟" in body.html and "仍在持续" in body.html
    assert "个超范围读数（" not in body.html  # the samples the episode stands for are not listed one by one
    only_gaps = await pages.alerts_page(d, Texts("en"), {"kind": "monitoring_gap"})
    assert 'data-episode="excursion"' not in only_gaps.html and "60 min without readings" in only_gaps.html
    other_lot = await pages.alerts_page(d, Texts("en"), {"lot": LOT_ID, "kind": "excursion"})
    assert 'data-episode="excursion"' in other_lot.html
    district = await pages.district_page(d, Texts("en"), {"sort": "doses"})
    assert ">7<" in district.html  # doses given during the open excursion


async def test_recall_page_from_recall_progress() -> None:
    body = await pages.recall_page(Data(Issue20Source()), Texts("en"), LOT_ID)
    row = body.html[body.html.index('class="recall"') :]
    assert "<td>5</td>" in row and "<td>2</td>" in row  # returned, destroyed
    assert 'data-stat="children"' in body.html and ">11<" in body.html


async def test_unit_page_breach_lasts_until_it_really_ended(data: Data) -> None:
    body = await pages.unit_page(data, Texts("en"), "site-01-fridge-1", {})
    breaches = body.html[body.html.index("Breaches") :]
    assert "still going on" in breaches  # detected at +3000 s, but the readings stay at 12 °C to the end
    assert "Detected" in breaches


async def test_error_pages_in_chinese_name_what_is_missing_in_chinese(data: Data) -> None:
    ex = Explorer(data, None)
    routes = {r.path: r.handler for r in ex.routes()}
    zh = {"Accept-Language": "zh-CN"}
    out = await routes["/alerts"](
        HttpRequest("GET", "/alerts", {"site": "nowhere"}, zh, {}, b"", "127.0.0.1")
    )
    text = out.body.decode()
    assert out.status == 404 and "链上没有机构“" in text and "organisation" not in text


async def test_recalled_lot_holders_are_never_called_available() -> None:
    class Held(FakeSource):
        async def call(self, method: str, params: Mapping[str, Any]) -> Any:
            out = await super().call(method, params)
            if method == "vax_traceLot":
                holder = {**out["holders"][0], "available": 5}
                return {**out, "holders": [holder]}
            return out

    html = (await pages.lot_page(Data(Held()), Texts("en"), LOT_ID)).html
    assert "5 recalled, must not be used" in html and "5 available" not in html


def test_breach_details_in_words() -> None:
    from explorer.pages.common import detail_words

    zh = str(
        detail_words(Texts("zh-CN"), f"heat_breach since {T0}; lots quarantined: {LOT_ID}, 8612345:IPV1")
    )
    assert (
        zh.startswith("自 ")
        and "起高温超标" in zh
        and "/lot/8612345%3AIPV1" in zh
        and "2026-11-24 14:00" in zh
    )
    assert str(detail_words(Texts("en"), "freeze_breach since 1796457156; lots quarantined: none")).endswith(
        "–"
    )
    assert detail_words(Texts("en"), "free text") == "free text"


async def test_cancelled_shipment_sentence(data: Data) -> None:
    payload = {"shipment_id": "0x" + "ab" * 32, "reason": "wrong lot loaded"}
    tx = Tx(HASH, 22, "cancel_shipment", SENDER, 0, payload, "included", 3, 0, None)
    en = str(await describe(tx, data, Texts("en")))
    assert "cancelled shipment 0xabababab" in en and "wrong lot loaded" in en
    assert "撤回了发运" in str(await describe(tx, data, Texts("zh-CN")))
