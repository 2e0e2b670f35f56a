"""The vial verdict in words: each flag of a `vax_unitVerdict` answer, the page, and the truthful fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from explorer import pages
from explorer.data import Data, MethodUnavailable
from explorer.decode import decode
from explorer.i18n import Texts
from explorer.verdict import explain, parse_error_words
from explorer.views import Verdict
from tests.explorer.test_render import T0, FakeSource

LOT = "06901234567892:HB20792B"
CODE = "(01)06901234567892(17)281128(10)HB20792A(21)1001"
EPISODE = {
    "episode_id": "0xep1",
    "kind": "excursion",
    "start_ms": T0 * 1000,
    "end_ms": T0 * 1000 + 6 * 3_600_000,
    "min_c": 8.4,
    "max_c": 12.3,
    "minutes_out": 360,
}
GAP = {
    **EPISODE,
    "episode_id": "0xgap",
    "kind": "monitoring_gap",
    "min_c": None,
    "max_c": None,
    "end_ms": None,
}


def answer(verdict: str, *flags: tuple[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": CODE,
        "parsed": {"gtin": "06901234567892", "lot": "HB20792A", "expiry": "281128", "serial": "1001"},
        "parse_error": None,
        "known": True,
        "lot": {
            "lot_id": LOT,
            "product_id": "06901234567892",
            "product_name": "Hepatitis B vaccine",
            "expiry_ms": (T0 + 400 * 86400) * 1000,
            "status": "recalled" if any(f == "recalled" for f, _ in flags) else "active",
            "recall": {"time_ms": T0 * 1000, "reason": "potency below specification"}
            if any(f == "recalled" for f, _ in flags)
            else None,
        },
        "lot_matches": True,
        "expiry_matches": True,
        "storage": [
            {
                "org_id": "site-01",
                "storage_unit": "site-01-fridge-1",
                "from_ms": T0 * 1000 - 86_400_000,
                "to_ms": None,
                "episodes": [EPISODE, GAP],
            }
        ],
        "opened": None,
        "flags": [{"flag": f, "data": d} for f, d in flags],
        "verdict": verdict,
    }
    base.update(extra)
    return base


OPENED = {
    "org_id": "site-01",
    "storage_unit": "site-01-fridge-1",
    "time_ms": T0 * 1000 + 3_600_000,
    "episode_id": "0xep1",
}

CASES: list[tuple[dict[str, Any], str, list[str]]] = [
    (answer("ok"), "可以放心", []),
    (
        answer("do_not_use", ("recalled", {})),
        "请勿使用",
        ["2026-", "potency below specification", "联系接种单位"],
    ),
    (answer("do_not_use", ("lot_mismatch", {}), lot_matches=False), "请勿使用", ["HB20792A", "HB20792B"]),
    (answer("do_not_use", ("expiry_mismatch", {}), expiry_matches=False), "请勿使用", ["281128"]),
    (answer("do_not_use", ("lot_quarantined", {})), "请勿使用", ["已被隔离"]),
    (
        answer("do_not_use", ("unit_quarantined", {"storage_unit": "site-01-fridge-1"})),
        "请勿使用",
        ["/unit/site-01-fridge-1"],
    ),
    (answer("do_not_use", ("expired", {})), "请勿使用", ["过期"]),
    (
        answer("ask_site", ("stored_during_excursion", {"episode_id": "0xep1"})),
        "请咨询接种单位",
        ["8.4", "12.3", "360", "/unit/site-01-fridge-1?from="],
    ),
    (
        answer("ask_site", ("stored_during_gap", {"episode_id": "0xgap"})),
        "请咨询接种单位",
        ["没有温度监测", "仍在持续"],
    ),
    (
        answer("ask_site", ("opened_during_excursion", {}), opened=OPENED),
        "请咨询接种单位",
        ["开瓶", "超出范围"],
    ),
    (answer("ask_site", ("opened_during_gap", {}), opened=OPENED), "请咨询接种单位", ["没有温度监测"]),
    (
        answer("do_not_use", ("unknown_code", {}), known=False, lot=None, storage=[]),
        "请勿使用",
        ["可能不是正品", "12315"],
    ),
]


@pytest.mark.parametrize(("raw", "headline", "words"), CASES)
def test_each_flag_in_words_chinese_first_english_beside(
    raw: dict[str, Any], headline: str, words: list[str]
) -> None:
    said = explain(decode(Verdict, raw), {"site-01": "祖庙街道社区卫生服务中心"})
    assert said.headline_zh.startswith(headline) and said.headline_en
    assert [r.flag for r in said.reasons] == [f["flag"] for f in raw["flags"]]
    text = " ".join(r.zh + r.en for r in said.reasons)
    for w in words:
        assert w in text, w
    assert all(r.en and r.zh != r.en for r in said.reasons)


def test_unknown_flag_and_verdict_are_shown_not_dropped() -> None:
    said = explain(decode(Verdict, answer("maybe", ("new_rule", {"x": 1}))), {})
    assert said.verdict == "ask_site" and said.reasons[0].flag == "new_rule"


def test_parse_errors_are_translated() -> None:
    error = "Failed to match '01123' with GS1 AI (01) pattern '^01(\\d{14})$'."
    assert parse_error_words(Texts("zh-CN"), error) == "追溯码中第 (01) 段格式不对，请对照标签核对。"
    assert "Failed" not in parse_error_words(Texts("en"), error)


class VerdictSource(FakeSource):
    def __init__(self, verdict: dict[str, Any] | None) -> None:
        super().__init__()
        self.verdict = verdict

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "vax_unitVerdict":
            if self.verdict is None:
                raise MethodUnavailable(method)
            return self.verdict
        out = await super().call(method, params)
        if method == "vax_getLot" and self.verdict is None:  # an active lot: nothing the chain says is wrong
            return {**out, "status": "active", "recalled": False, "recall_reason": ""}
        return out


@pytest.mark.parametrize(("raw", "headline", "words"), CASES)
async def test_code_page_shows_the_verdict(raw: dict[str, Any], headline: str, words: list[str]) -> None:
    for lang in ("zh-CN", "en"):
        body = await pages.code_page(Data(VerdictSource(raw)), Texts(lang), CODE)
        assert body.status == 200
        assert f'data-verdict="{raw["verdict"]}"' in body.html
        assert headline in body.html  # Chinese first, on the English page too
        for f in raw["flags"]:
            assert f'data-flag="{f["flag"]}"' in body.html


async def test_without_the_verdict_method_the_page_never_says_fine() -> None:
    for lang, ok_word in (("zh-CN", "正常"), ("en", "active")):
        body = await pages.code_page(Data(VerdictSource(None)), Texts(lang), CODE)
        assert 'data-verdict="unavailable"' in body.html
        assert "badge ok" not in body.html and ok_word not in body.html
        assert "/lot/" in body.html  # what the chain records is still shown


async def test_invalid_code_is_a_translated_400() -> None:
    raw = answer(
        "do_not_use", known=False, parsed=None, lot=None, storage=[], parse_error="Failed to match AI (01)"
    )
    body = await pages.code_page(Data(VerdictSource(raw)), Texts("zh-CN"), "01123")
    assert body.status == 400 and "格式不对" in body.html and "Failed" not in body.html


async def test_a_differently_named_parameter_is_tried() -> None:
    class NamedSource(VerdictSource):
        async def call(self, method: str, params: Mapping[str, Any]) -> Any:
            if method == "vax_unitVerdict" and "code" in params:
                from explorer.data import BadInput

                raise BadInput("unknown parameter code")
            if method == "vax_unitVerdict":
                assert params == {"trace_code": CODE}
            return await super().call(method, params)

    body = await pages.code_page(Data(NamedSource(answer("ok"))), Texts("en"), CODE)
    assert 'data-verdict="ok"' in body.html


async def test_the_page_reads_the_nodes_own_answers() -> None:
    """The shape #20's node really gives (rpc.schema UNIT_VERDICT_RESULT): the printed expiry as YYYYMMDD (an
    int), a Chinese 20-digit code without lot or date, a lot without a product name."""
    from node.api.vax_rules import UNIT_VERDICT_RESULT
    from rpc.schema import validate

    gs1 = answer(
        "ok", parsed={"gtin": "06901234567892", "lot": "HB20792A", "expiry": 20281128, "serial": "1001"}
    )
    gs1["lot"]["product_name"] = None
    chinese = answer(
        "ask_site",
        ("stored_during_gap", {"episode_id": "0xgap"}),
        code="81234567890123456789",
        parsed={
            "gtin": "81234567890123456789",
            "lot": None,
            "expiry": None,
            "serial": "81234567890123456789",
        },
    )
    for raw in (gs1, chinese):
        validate(UNIT_VERDICT_RESULT, {**raw, "storage": []})
        assert decode(Verdict, raw, "verdict").parsed is not None
        body = await pages.code_page(Data(VerdictSource(raw)), Texts("zh-CN"), raw["code"])
        assert body.status == 200 and f'data-verdict="{raw["verdict"]}"' in body.html
