"""The national immunization programme's childhood schedule, 2021 edition, as data.

Source: National Health Commission of the PRC, 《国家免疫规划疫苗儿童免疫程序及说明（2021年版）》 (国卫办疾控发〔2021〕
10号, published 2021-03). Recommended ages are the edition's table; `complete_before` is its list of ages by which
each dose should be given (its section 一.(三) "及时接种"); minimum intervals and catch-up limits are from its general
and per-vaccine notes (section 二 and 三). Where the edition states no interval for a dose, the general rule of at
least 28 days between doses of one vaccine applies. Ages are calendar months (+ days) after birth.

The antigen ids are the chain's product `series` ids where a district uses them (HepB, IPV...); `SERIES_ANTIGEN`
maps product series to schedule antigens (IPV and bOPV are both doses of the polio series).
"""

from __future__ import annotations

from registry.schedule import Age, AntigenRule, DoseRule, Schedule


def _y(years: int) -> Age:
    return Age(12 * years)


def _dose(
    antigen: str, n: int, vaccine: str, age: Age, before: Age, interval: int, min_age: Age | None = None
) -> DoseRule:
    return DoseRule(antigen, n, vaccine, age, min_age or age, before, interval)


_UNDER_18 = _y(18)

NIP_2021 = Schedule(
    edition="NIP-2021",
    source="国家免疫规划疫苗儿童免疫程序及说明（2021年版），国家卫生健康委员会，国卫办疾控发〔2021〕10号",
    antigens=(
        AntigenRule(
            "HepB",
            "乙肝疫苗",
            "Hepatitis B",
            (
                _dose("HepB", 1, "HepB", Age(0), Age(0, 1), 0),
                _dose("HepB", 2, "HepB", Age(1), Age(12), 28),
                _dose("HepB", 3, "HepB", Age(6), Age(12), 60),
            ),
            catch_up_before=_UNDER_18,
        ),
        AntigenRule(
            "BCG",
            "卡介苗",
            "BCG",
            (_dose("BCG", 1, "BCG", Age(0), Age(3), 0),),
            # <3 months: give; 3 months to 3 years: give after a negative TB test; 4 years and older: not given.
            catch_up_before=_y(4),
        ),
        AntigenRule(
            "Polio",
            "脊灰疫苗",
            "Polio (IPV/bOPV)",
            (
                _dose("Polio", 1, "IPV", Age(2), Age(12), 0),
                _dose("Polio", 2, "IPV", Age(3), Age(12), 28),
                _dose("Polio", 3, "bOPV", Age(4), Age(12), 28),
                _dose("Polio", 4, "bOPV", _y(4), _y(5), 28),
            ),
            catch_up_before=_UNDER_18,
        ),
        AntigenRule(
            "DTaP",
            "百白破疫苗/白破疫苗",
            "DTaP / DT",
            (
                _dose("DTaP", 1, "DTaP", Age(3), Age(12), 0),
                _dose("DTaP", 2, "DTaP", Age(4), Age(12), 28),
                _dose("DTaP", 3, "DTaP", Age(5), Age(12), 28),
                _dose("DTaP", 4, "DTaP", Age(18), Age(24), 183),  # >= 6 months after dose 3
                _dose("DTaP", 5, "DT", _y(6), _y(7), 28),
            ),
            catch_up_before=_UNDER_18,
            # Children of 6 years and older catch up with DT, not DTaP.
            catch_up_vaccine=("DT", _y(6)),
        ),
        AntigenRule(
            "MMR",
            "麻腮风疫苗",
            "Measles, mumps, rubella",
            (
                _dose("MMR", 1, "MMR", Age(8), Age(12), 0),
                _dose("MMR", 2, "MMR", Age(18), Age(24), 28),
            ),
            catch_up_before=_UNDER_18,
        ),
        AntigenRule(
            "JE",
            "乙脑减毒活疫苗",
            "Japanese encephalitis (live)",
            (
                _dose("JE", 1, "JE-L", Age(8), Age(12), 0),
                _dose("JE", 2, "JE-L", _y(2), _y(3), 365),
            ),
            catch_up_before=_UNDER_18,
        ),
        AntigenRule(
            "MenA",
            "A群流脑多糖疫苗",
            "Meningococcal A",
            (
                _dose("MenA", 1, "MPSV-A", Age(6), Age(18), 0),
                _dose("MenA", 2, "MPSV-A", Age(9), Age(18), 90),
            ),
            # From 24 months a child without MenA catches up with MenAC instead.
            catch_up_before=Age(24),
        ),
        AntigenRule(
            "MenAC",
            "A群C群流脑多糖疫苗",
            "Meningococcal A+C",
            (
                _dose("MenAC", 1, "MPSV-AC", _y(3), _y(4), 0),
                _dose("MenAC", 2, "MPSV-AC", _y(6), _y(7), 3 * 365),
            ),
            catch_up_before=_UNDER_18,
        ),
        AntigenRule(
            "HepA",
            "甲肝减毒活疫苗",
            "Hepatitis A (live)",
            (_dose("HepA", 1, "HepA-L", Age(18), Age(24), 0),),
            catch_up_before=_UNDER_18,
        ),
    ),
)

#: Chain product `series` id -> schedule antigen.
SERIES_ANTIGEN: dict[str, str] = {
    "HepB": "HepB",
    "BCG": "BCG",
    "IPV": "Polio",
    "bOPV": "Polio",
    "Polio": "Polio",
    "DTaP": "DTaP",
    "DT": "DTaP",
    "MMR": "MMR",
    "JE": "JE",
    "JE-L": "JE",
    "MenA": "MenA",
    "MPSV-A": "MenA",
    "MenAC": "MenAC",
    "MPSV-AC": "MenAC",
    "HepA": "HepA",
    "HepA-L": "HepA",
}
