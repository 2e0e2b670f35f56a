"""The guardian page shows what the schedule says: the edition's source, and a dose's catch-up condition."""

from __future__ import annotations

import datetime as dt

from registry.pages import family_page
from registry.schedule import Age, assess
from registry.schedule_dtap2025 import NIP_2021_DTAP_2025
from registry.service import ChildView

BIRTH = dt.date(2025, 3, 10)


def page(today: dt.date, lang: str) -> str:
    child = ChildView(
        "0x" + "ab" * 32,
        {"name": "测试儿童", "birth_date": BIRTH.isoformat()},
        (),
        assess(NIP_2021_DTAP_2025, BIRTH, [], today),
        (),
    )
    return family_page([child], "code", lang)


def test_bcg_after_three_months_says_it_needs_a_negative_tb_test() -> None:
    assert "only after a negative TB skin test" not in page(Age(2).date_from(BIRTH), "en")
    assert "only after a negative TB skin test" in page(Age(3).date_from(BIRTH), "en")
    assert "结核菌素试验阴性后补种" in page(Age(3).date_from(BIRTH), "zh-CN")


def test_the_page_names_the_edition_in_use() -> None:
    text = page(Age(2).date_from(BIRTH), "zh-CN")
    assert "百白破疫苗免疫程序调整" in text
    assert "百白破疫苗 #1 (DTaP)</td><td>2025-05-10</td>" in text  # from 2 months under the 2025 edition
