"""The 2021 schedule with the DTaP change in force since 2025-01-01, as a second edition.

Source: National Administration of Disease Control and Prevention (国家疾病预防控制局) and five other departments,
notice of December 2024 adjusting the DTaP schedule (reported by China Daily, 2024-12-27, "Infant immunization
schedule changes from Jan 1"): from 2025-01-01 DTaP is given at 2, 4, 6 and 18 months and a fifth DTaP dose at 6
years replaces the DT dose. Every other antigen is the 2021 edition's, unchanged.

Transition assumption (a district must confirm it against the notice's own transition rules):
- each dose is judged by the edition in force on the day it was given: a DTaP dose given at 3 or 5 months before
  2025-01-01 keeps counting (2021 minimum ages), and a DT dose given before 2025-01-01 (at 6 years, or as a 2021
  catch-up dose from 6 years) counts as that dose;
- what is still due is read from this edition for every child, whatever their birth date: the next DTaP dose
  follows the new ages and intervals, and the 6-year dose is DTaP;
- a DT dose given on or after 2025-01-01 does not count as a DTaP dose (this edition names DTaP for all five; the
  conservative reading, since the change exists to add pertussis protection at 6 years);
- the "complete by" ages and minimum intervals are carried over from the 2021 edition (dose 3 before 12 months,
  dose 4 before 24 months and >= 6 months after dose 3, the 6-year dose before 7 years, otherwise >= 28 days); the
  2021 rule that children of 6 and older catch up with DT is not carried over (DTaP is given).
"""

from __future__ import annotations

import datetime as dt

from registry.schedule import Age, AntigenRule, Course, DoseRule, Schedule
from registry.schedule_nip2021 import DTAP, NIP_2021

EFFECTIVE_FROM = dt.date(2025, 1, 1)

_D28 = Age(0, 28)
_NO_INTERVAL = Age(0)  # a course's first dose


def _dose(n: int, age: Age, before: Age, interval: Age = _NO_INTERVAL) -> DoseRule:
    return DoseRule("DTaP", n, "DTaP", age, age, before, interval)


DTAP_2025 = AntigenRule(
    "DTaP",
    "百白破疫苗",
    "DTaP",
    (
        Course(  # the same course name as 2021's, so a dose given before 2025 is read by the 2021 course
            "DTaP",
            (
                _dose(1, Age(2), Age(12)),
                _dose(2, Age(4), Age(12), _D28),
                _dose(3, Age(6), Age(12), _D28),
                _dose(4, Age(18), Age(24), Age(6)),
                _dose(5, Age(72), Age(84), _D28),
            ),
        ),
    ),
    catch_up_before=DTAP.catch_up_before,
)

NIP_2021_DTAP_2025 = Schedule(
    edition="NIP-2021-DTaP2025",
    source=(
        NIP_2021.source
        + "；百白破疫苗免疫程序调整（国家疾病预防控制局等六部门通知，2024年12月），2025年1月1日起施行"
    ),
    antigens=tuple(DTAP_2025 if a.antigen == "DTaP" else a for a in NIP_2021.antigens),
    effective_from=EFFECTIVE_FROM,
    previous=NIP_2021,
)
