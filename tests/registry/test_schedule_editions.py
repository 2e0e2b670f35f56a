"""Schedule editions: the DTaP change in force since 2025-01-01, the choice by date or config, the transition."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from registry.config import RegistryConfigError, init_registry, load_registry_config
from registry.schedule import Age, GivenDose, Invalid, NextState, assess, in_force
from registry.schedule_dtap2025 import EFFECTIVE_FROM, NIP_2021_DTAP_2025
from registry.schedule_editions import AUTO, EDITIONS, select
from registry.schedule_nip2021 import NIP_2021
from registry.service import Registry

from .conftest import Clock

NEW = NIP_2021_DTAP_2025


BIRTH_2025 = dt.date(2025, 3, 10)


def months(birth: dt.date, m: int, d: int = 0) -> dt.date:
    return Age(m, d).date_from(birth)


def test_the_edition_in_force_follows_the_effective_date() -> None:
    assert dt.date(2025, 1, 1) == EFFECTIVE_FROM and NEW.previous is NIP_2021
    assert in_force(NEW, dt.date(2024, 12, 31)) is NIP_2021
    assert in_force(NEW, EFFECTIVE_FROM) is NEW
    assert select(AUTO, dt.date(2024, 12, 31)) is NIP_2021 and select(AUTO, dt.date(2026, 1, 1)) is NEW
    assert select("NIP-2021", dt.date(2026, 1, 1)) is NIP_2021  # a pinned edition whatever the day
    assert set(EDITIONS) == {"NIP-2021", "NIP-2021-DTaP2025"} and "2024年12月" in NEW.source
    # Every other antigen is the 2021 edition's, unchanged.
    assert [a for a in NEW.antigens if a.antigen != "DTaP"] == [
        a for a in NIP_2021.antigens if a.antigen != "DTaP"
    ]


def test_a_child_born_in_march_2025_is_due_dtap_at_two_months() -> None:
    at_two = months(BIRTH_2025, 2)
    dose = assess(NEW, BIRTH_2025, [], at_two).status("DTaP")
    assert dose is not None and dose.next_dose is not None
    assert (dose.next_dose.vaccine, dose.next_dose.earliest, dose.next_dose.state) == (
        "DTaP",
        at_two,
        NextState.DUE,
    )
    old = assess(NIP_2021, BIRTH_2025, [], at_two).status("DTaP")  # the 2021 table: not before 3 months
    assert old is not None and old.next_dose is not None and old.next_dose.state is NextState.UPCOMING


def test_the_2025_course_is_dtap_at_2_4_6_18_months_and_6_years() -> None:
    given = [GivenDose("DTaP", months(BIRTH_2025, m), "DTaP") for m in (2, 4, 6, 18, 72)]
    for i, m in enumerate((2, 4, 6, 18, 72)):
        s = assess(NEW, BIRTH_2025, given[:i], months(BIRTH_2025, m)).status("DTaP")
        assert s is not None and s.next_dose is not None and s.next_dose.state is NextState.DUE
        assert s.next_dose.vaccine == "DTaP"  # the 6-year dose too, from 6 years
    done = assess(NEW, BIRTH_2025, given, months(BIRTH_2025, 84)).status("DTaP")
    assert done is not None and done.complete and done.invalid == ()
    # A dose at 5 months given under this edition is too early for its 6-month third dose.
    early = [*given[:2], GivenDose("DTaP", months(BIRTH_2025, 5), "DTaP")]
    s = assess(NEW, BIRTH_2025, early, months(BIRTH_2025, 5, 1)).status("DTaP")
    assert s is not None and s.invalid == ((months(BIRTH_2025, 5), Invalid.TOO_EARLY),)


def test_doses_given_before_2025_keep_the_2021_rules() -> None:
    born = dt.date(2018, 6, 1)
    given = [GivenDose("DTaP", months(born, m), "DTaP") for m in (3, 4, 5, 18)]
    # A DT at 6 years, given before 2025-01-01, counts as the 6-year dose.
    with_dt = assess(NEW, born, [*given, GivenDose("DTaP", months(born, 72), "DT")], dt.date(2025, 7, 1))
    s = with_dt.status("DTaP")
    assert s is not None and s.complete and s.invalid == ()
    # A DTaP at 2 months given in 2024 was too early then (3 months), and stays so.
    born = dt.date(2024, 10, 1)
    s = assess(NEW, born, [GivenDose("DTaP", months(born, 2), "DTaP")], dt.date(2025, 1, 15)).status("DTaP")
    assert s is not None and s.invalid == ((months(born, 2), Invalid.TOO_EARLY),)
    # Dose 1 is still to give, now by this edition's table (from 2 months): due.
    assert s.next_dose is not None and s.next_dose.rule.dose_number == 1
    assert (s.next_dose.earliest, s.next_dose.state) == (months(born, 2), NextState.DUE)


def test_the_6_year_dose_from_2025_is_dtap() -> None:
    born = dt.date(2019, 3, 1)
    infant = [GivenDose("DTaP", months(born, m), "DTaP") for m in (3, 4, 5, 18)]
    s = assess(NEW, born, infant, months(born, 72)).status("DTaP")
    assert s is not None and s.next_dose is not None and s.next_dose.vaccine == "DTaP"
    # A DT given in 2025 or later does not count as it (the change adds pertussis at 6 years).
    dt_2025 = GivenDose("DTaP", months(born, 72), "DT")
    s = assess(NEW, born, [*infant, dt_2025], months(born, 73)).status("DTaP")
    assert s is not None and not s.complete and s.invalid == ((months(born, 72), Invalid.WRONG_VACCINE),)
    # Under the 2021 edition pinned, the same DT counts.
    s = assess(NIP_2021, born, [*infant, dt_2025], months(born, 73)).status("DTaP")
    assert s is not None and s.complete


def test_the_registry_reads_children_against_the_edition_in_force_or_the_pinned_one(
    registry: Registry, clock: Clock
) -> None:
    assert registry.schedule is NEW  # the registry's clock is in 2026; "auto" by default
    pinned = Registry(registry.store, registry.keys, registry.chain, clock=clock, schedule="NIP-2021")
    assert pinned.schedule is NIP_2021
    with pytest.raises(ValueError, match="unknown schedule edition"):
        Registry(registry.store, registry.keys, registry.chain, clock=clock, schedule="NIP-1999")


@pytest.mark.parametrize(("value", "expected"), [(None, AUTO), ('"auto"', AUTO), ('"NIP-2021"', "NIP-2021")])
def test_the_config_names_the_schedule(tmp_path: Path, value: str | None, expected: str) -> None:
    path = init_registry(tmp_path / "r", "http://127.0.0.1:8545")
    if value is not None:
        path.write_text(path.read_text(encoding="utf-8") + f"schedule = {value}\n", encoding="utf-8")
    assert load_registry_config(path).schedule == expected


@pytest.mark.parametrize("value", ['"NIP-1999"', "2021", "[]"])
def test_a_bad_schedule_in_the_config_is_named(tmp_path: Path, value: str) -> None:
    path = init_registry(tmp_path / "r", "http://127.0.0.1:8545")
    path.write_text(path.read_text(encoding="utf-8") + f"schedule = {value}\n", encoding="utf-8")
    with pytest.raises(RegistryConfigError) as err:
        load_registry_config(path)
    assert err.value.key == "schedule"
