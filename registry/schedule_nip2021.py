"""The national immunization programme's childhood schedule, 2021 edition, as data.

Source: National Health Commission of the PRC, 《国家免疫规划疫苗儿童免疫程序及说明（2021年版）》 (国卫办疾控发〔2021〕
10号, issued March 2021); English translation: China CDC Weekly, "National Immunization Program Vaccine Schedule for
Children — China, 2021". Sections cited below:
- the table: recommended ages, which are also each dose's minimum age (一、一般原则, 接种起始年龄);
- 一.(三) "complete by" ages: `complete_before` (HepB 1 within 24 h; BCG <3 m; HepB 3, polio 3, DTaP 3, MMR 1,
  JE-L 1 / JE-I 2 <12 m; MPSV-A 2 <18 m; MMR 2, HepA-L 1 / HepA-I 1, DTaP 4 <24 m; HepA-I 2, JE-L 2 / JE-I 3 <3 y;
  MPSV-AC 1 <4 y; polio 4 <5 y; DT, MPSV-AC 2, JE-I 4 <7 y);
- the general catch-up principles (补种通用原则): people under 18 who missed doses catch up only the missing doses,
  without restarting a series; hence `catch_up_before` = 18 years except where a vaccine's own notes say otherwise
  (BCG, MPSV-A). No verified lower general limit (such as 14 years) is encoded;
- section 二 (per-vaccine instructions, 补种原则): minimum intervals. Where a vaccine's notes give no interval
  between two doses, 28 days (the general interval between doses of one vaccine) is used.
Ages and spans are calendar months + days. Where the exact catch-up interval could not be verified against the
document here, the conservative (longer) value is chosen and the comment says so: a district must confirm those.

The antigen ids are the chain's product `series` ids where a district uses them (HepB, IPV...); `SERIES_ANTIGEN`
maps a product series to its schedule antigen and `SERIES_VACCINE` to the vaccine the schedule counts (IPV and bOPV
are both doses of the polio series; JE-I and HepA-I are the inactivated courses).
"""

from __future__ import annotations

from registry.schedule import Age, AntigenRule, Course, DoseRule, Schedule, Since


def _y(years: int) -> Age:
    return Age(12 * years)


_D28 = Age(0, 28)  # the general minimum interval between doses of one vaccine
_NO_INTERVAL = Age(0)  # a course's first dose
_UNDER_18 = _y(18)  # 补种通用原则: catch-up for people under 18


def _dose(
    antigen: str,
    n: int,
    vaccine: str,
    age: Age,
    before: Age,
    interval: Age = _NO_INTERVAL,
    since: tuple[Since, ...] = (),
    accepts: tuple[str, ...] = (),
) -> DoseRule:
    # The table's age is the dose's minimum age (一、一般原则).
    return DoseRule(antigen, n, vaccine, age, age, before, interval, since, accepts)


HEPB = AntigenRule(
    "HepB",
    "乙肝疫苗",
    "Hepatitis B",
    (
        Course(
            "HepB",
            (
                _dose("HepB", 1, "HepB", Age(0), Age(0, 1)),  # within 24 hours of birth
                # 二 HepB 补种原则: dose 2 >= 28 days after dose 1; dose 3 >= 60 days after dose 2 and >= 4 months
                # after dose 1.
                _dose("HepB", 2, "HepB", Age(1), Age(12), _D28),
                _dose("HepB", 3, "HepB", Age(6), Age(12), Age(0, 60), (Since(Age(4), 1),)),
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
)

BCG = AntigenRule(
    "BCG",
    "卡介苗",
    "BCG",
    (Course("BCG", (_dose("BCG", 1, "BCG", Age(0), Age(3)),)),),
    # 二 BCG 补种原则: under 3 months give it; 3 months to 3 years (up to the 4th birthday) only after a negative
    # TB-PPD / BCG-PPD test; from 4 years it is not given.
    catch_up_before=_y(4),
    catch_up_condition=("tb_test_negative", Age(3)),
)

POLIO = AntigenRule(
    "Polio",
    "脊灰疫苗",
    "Polio (IPV/bOPV)",
    (
        # The table: IPV at 2 and 3 months, bOPV at 4 months and 4 years; 二 polio 补种原则: doses >= 28 days apart,
        # IPV before bOPV (so doses 1-2 count only as IPV), and an IPV(-containing) dose counts as the
        # corresponding polio dose (so doses 3-4 also accept IPV). Under 4 years 3 doses, from 4 years 4: dose 4's
        # minimum age of 4 years.
        Course(
            "IPV+bOPV",
            (
                _dose("Polio", 1, "IPV", Age(2), Age(12)),
                _dose("Polio", 2, "IPV", Age(3), Age(12), _D28),
                _dose("Polio", 3, "bOPV", Age(4), Age(12), _D28, accepts=("IPV",)),
                _dose("Polio", 4, "bOPV", _y(4), _y(5), _D28, accepts=("IPV",)),
            ),
        ),
        # 二 polio 其他事项: a child who completed 4 doses of IPV-containing vaccine needs no bOPV at 4 years. Those
        # products (e.g. DTaP-IPV/Hib) give their 4th dose by their label at 18 months: its minimum age here, a
        # value from the product label, not from the edition's table (a district must confirm it for its products).
        Course(
            "IPV",
            (
                _dose("Polio", 1, "IPV", Age(2), Age(12)),
                _dose("Polio", 2, "IPV", Age(3), Age(12), _D28),
                _dose("Polio", 3, "IPV", Age(4), Age(12), _D28),
                _dose("Polio", 4, "IPV", Age(18), _y(5), _D28),
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
)

DTAP = AntigenRule(
    "DTaP",
    "百白破疫苗/白破疫苗",
    "DTaP / DT",
    (
        Course(
            "DTaP",
            (
                # 二 DTaP 补种原则: doses 1-3 >= 28 days apart, dose 4 >= 6 months after dose 3.
                _dose("DTaP", 1, "DTaP", Age(3), Age(12)),
                _dose("DTaP", 2, "DTaP", Age(4), Age(12), _D28),
                _dose("DTaP", 3, "DTaP", Age(5), Age(12), _D28),
                _dose("DTaP", 4, "DTaP", Age(18), Age(24), Age(6)),
                # DT at 6 years; the notes give no DT-specific interval here: the general 28 days. A DTaP dose
                # (diphtheria and tetanus and more) counts as it too.
                _dose("DTaP", 5, "DT", _y(6), _y(7), _D28, accepts=("DTaP",)),
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
    # 二 DTaP 补种原则: children of 6 years and older catch up with DT, not DTaP (any missing dose). The edition
    # also reduces the number of doses such a child needs (by how many DTaP/DT doses they had); that reduction is
    # not encoded: the model asks for every missing dose (a district must confirm, see the module docstring).
    catch_up_vaccine=("DT", _y(6)),
)

MMR = AntigenRule(
    "MMR",
    "麻腮风疫苗",
    "Measles, mumps, rubella",
    (
        Course(
            "MMR",
            (
                _dose("MMR", 1, "MMR", Age(8), Age(12)),
                _dose("MMR", 2, "MMR", Age(18), Age(24), _D28),  # 二 MMR 补种原则: 2 doses >= 28 days apart
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
)

JE = AntigenRule(
    "JE",
    "乙脑疫苗",
    "Japanese encephalitis",
    (
        # Live (JE-L): 8 months and 2 years; 二 JE 补种原则: the 2 doses >= 12 months apart.
        Course(
            "JE-L",
            (
                _dose("JE", 1, "JE-L", Age(8), Age(12)),
                _dose("JE", 2, "JE-L", _y(2), _y(3), Age(12)),
            ),
        ),
        # Inactivated (JE-I): 2 doses at 8 months 7-10 days apart, then 2 and 6 years. The 7-day lower bound is
        # enforced (a later 2nd dose still counts). The catch-up intervals of doses 3 and 4 could not be verified
        # here: the edition's catch-up note is recalled as "dose 3 1-12 months after dose 2, dose 4 >= 3 years after
        # dose 3"; the conservative 12 months (the upper end) is used for dose 3, 3 years for dose 4. A district that
        # confirms the shorter value changes dose 3's interval to Age(1).
        Course(
            "JE-I",
            (
                _dose("JE", 1, "JE-I", Age(8), Age(12)),
                _dose("JE", 2, "JE-I", Age(8), Age(12), Age(0, 7)),
                _dose("JE", 3, "JE-I", _y(2), _y(3), Age(12)),
                _dose("JE", 4, "JE-I", _y(6), _y(7), _y(3)),
            ),
        ),
        # Mixing JE-L and JE-I doses in one course is not encoded (no verified rule): each course counts only its
        # own product's doses; the conservative reading.
    ),
    catch_up_before=_UNDER_18,
)

MENA = AntigenRule(
    "MenA",
    "A群流脑多糖疫苗",
    "Meningococcal A",
    (
        Course(
            "MPSV-A",
            (
                _dose("MenA", 1, "MPSV-A", Age(6), Age(18)),
                _dose("MenA", 2, "MPSV-A", Age(9), Age(18), Age(3)),  # 二 流脑 补种原则: >= 3 months apart
            ),
        ),
    ),
    # 二 流脑 补种原则: from 24 months a child without MPSV-A catches up with MPSV-AC instead (never MPSV-A). The
    # limit governs what is offered: an MPSV-A dose given later is still read by its rules (and MPSV-AC 1 waits
    # 12 months after it).
    catch_up_before=Age(24),
)

MENAC = AntigenRule(
    "MenAC",
    "A群C群流脑多糖疫苗",
    "Meningococcal A+C",
    (
        Course(
            "MPSV-AC",
            (
                # 二 流脑 补种原则: MPSV-AC 1 >= 12 months after MPSV-A 2 (if given); MPSV-AC doses >= 3 years apart.
                # Its minimum age stays the table's 3 years also for a child catching up from 24 months (the
                # conservative reading: no earlier MPSV-AC age was verified).
                _dose("MenAC", 1, "MPSV-AC", _y(3), _y(4), since=(Since(Age(12), 2, "MenA"),)),
                _dose("MenAC", 2, "MPSV-AC", _y(6), _y(7), _y(3)),
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
)

HEPA = AntigenRule(
    "HepA",
    "甲肝疫苗",
    "Hepatitis A",
    (
        Course("HepA-L", (_dose("HepA", 1, "HepA-L", Age(18), Age(24)),)),
        # Inactivated (HepA-I): 18 months and 2 years; 二 HepA 补种原则: the 2 doses >= 6 months apart. A HepA-L dose
        # after one HepA-I dose is its own (complete) live course; no mixed course is encoded.
        Course(
            "HepA-I",
            (
                _dose("HepA", 1, "HepA-I", Age(18), Age(24)),
                _dose("HepA", 2, "HepA-I", _y(2), _y(3), Age(6)),
            ),
        ),
    ),
    catch_up_before=_UNDER_18,
)

NIP_2021 = Schedule(
    edition="NIP-2021",
    source="国家免疫规划疫苗儿童免疫程序及说明（2021年版），国家卫生健康委员会，国卫办疾控发〔2021〕10号",
    antigens=(HEPB, BCG, POLIO, DTAP, MMR, JE, MENA, MENAC, HEPA),  # MenA before MenAC (MenAC 1 refers to it)
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
    "JE-I": "JE",
    "HepA-I": "HepA",
}

#: Chain product `series` id -> the vaccine the schedule counts; a generic id ("Polio", "JE", "HepA") names none
#: ("") and counts in the antigen's table course only.
SERIES_VACCINE: dict[str, str] = {
    "HepB": "HepB",
    "BCG": "BCG",
    "IPV": "IPV",
    "bOPV": "bOPV",
    "DTaP": "DTaP",
    "DT": "DT",
    "MMR": "MMR",
    "JE-L": "JE-L",
    "JE-I": "JE-I",
    "MenA": "MPSV-A",
    "MPSV-A": "MPSV-A",
    "MenAC": "MPSV-AC",
    "MPSV-AC": "MPSV-AC",
    "HepA-L": "HepA-L",
    "HepA-I": "HepA-I",
}
