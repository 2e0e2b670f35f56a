"""Serious AEFI reports under investigation: the vial verdict says so in words (Chinese first, counts only), and
the lot page shows the lot's AEFI counts; a node without vax_lotAefi shows nothing rather than failing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from explorer import pages
from explorer.data import Data
from explorer.decode import decode
from explorer.i18n import MESSAGES, Texts
from explorer.verdict import explain
from explorer.views import Verdict
from tests.explorer.test_render import LOT_ID, FakeSource
from tests.explorer.test_verdict import answer

COUNTS = {"serious_pending": 2, "serious": 3, "reported": 5}


def test_the_verdict_says_serious_reports_are_under_investigation_in_both_languages() -> None:
    said = explain(decode(Verdict, answer("ask_site", ("aefi_under_investigation", COUNTS))), {})
    assert said.headline_zh.startswith("请咨询接种单位")
    (reason,) = said.reasons
    assert reason.flag == "aefi_under_investigation" and not reason.severe
    assert "2 例严重疑似预防接种异常反应正在由疾控中心调查" in reason.zh and "共 5 例" in reason.zh
    assert "2 serious suspected adverse event" in reason.en and "5 report(s)" in reason.en
    assert "并不表示" in reason.zh


def test_every_new_text_has_both_languages() -> None:
    for key in ("vf_aefi_under_investigation", "vf_aefi_do", "lot_aefi", "lot_aefi_counts"):
        en, zh = MESSAGES[key]
        assert en and zh and en != zh


class WithAefi(FakeSource):
    def __init__(self, counts: Mapping[str, Any]) -> None:
        super().__init__()
        self.counts = counts

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "vax_lotAefi":
            return {"lot_id": params["lot_id"], **self.counts}
        return await super().call(method, params)


async def test_the_lot_page_shows_the_counts_and_marks_serious_ones_under_investigation() -> None:
    zh = (await pages.lot_page(Data(WithAefi(COUNTS)), Texts("zh-CN"), LOT_ID)).html
    assert "疑似预防接种异常反应" in zh and "报告 5 例，其中严重 3 例，严重且调查中 2 例" in zh
    assert '<strong class="bad">报告 5 例' in zh
    en = (await pages.lot_page(Data(WithAefi({**COUNTS, "serious_pending": 0})), Texts("en"), LOT_ID)).html
    assert (
        "5 reported, 3 serious, 0 serious under investigation" in en
        and '<strong class="bad">5 reported' not in en
    )
    none = (await pages.lot_page(Data(FakeSource()), Texts("en"), LOT_ID)).html  # a node without vax_lotAefi
    assert "Suspected adverse events" not in none
