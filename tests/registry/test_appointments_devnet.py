"""The devnet's synthetic children get their next appointments without anyone booking them: each dose goes through
`harness.registry_people.doses_through_registry` (the registry's API, as `scripts/devnet` sends it), and every
child then has an appointment at the site of its latest dose, or nothing left to give."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from contracts.kinds.doses import RecordDose, UnitProof
from contracts.kinds.products import LotRef
from harness import registry_people
from harness.district import Action
from registry import appointments
from registry.chain import SeriesRule
from registry.server import RegistryHTTPServer
from registry.service import Registry

from .conftest import CDC, HEPB_CODE, HEPB_GTIN, SITE_A, SITE_B, T0, Clock, FakeChain

DAY = 86_400_000
CHINA = dt.timezone(dt.timedelta(hours=8))
IPV = "06901234567809"


def day_of_doses() -> list[Action]:
    """Three clinic days a month apart at two sites, HepB and IPV doses every ten minutes."""
    actions = []
    for day in (0, 30, 60):
        for k in range(24):
            at = T0 + day * DAY + k * 600_000
            hepb = k % 2 == 0
            code = (
                HEPB_CODE.format(day * 100 + k)
                if hepb
                else f"(01){IPV}(17)271231(10)IPV1(21){day * 100 + k:010d}"
            )
            payload = RecordDose(
                code,
                LotRef(HEPB_GTIN if hepb else IPV, "HB20792A" if hepb else "IPV1"),
                UnitProof(0, ()),
                "fridge-1",
                1,
                at,
                SITE_A.address,
                b"\x00" * 32,
                b"\x00" * 32,
                b"\x00" * 65,
            )
            actions.append(Action(at, "site-a/staff" if k % 4 < 2 else "site-b/staff", 0, payload))
    return actions


def test_the_devnet_children_get_their_next_appointments(
    registry: Registry, chain: FakeChain, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain.products[IPV] = SeriesRule(IPV, "IPV", "IPV", (0, 28, 28))
    monkeypatch.setattr(registry_people, "RpcChain", lambda url: chain)
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    registered: dict[str, str] = {}

    def on_the_day(actions: Iterable[Action]) -> Iterator[Action]:
        for a in actions:
            clock.now_ms = a.time_ms  # the registry's day is the clinic's
            yield a

    try:
        sent: list[Any] = list(
            registry_people.doses_through_registry(
                on_the_day(day_of_doses()),
                {"site-a/staff": SITE_A, "site-b/staff": SITE_B},
                f"http://127.0.0.1:{srv.port}",
                "http://127.0.0.1:1",
                seed=3,
                people=60,
                today=dt.date(2026, 12, 4),
                multi_visit_p=0.8,
                visit_window_ms=2 * 3_600_000,
                on_register=registered.__setitem__,
            )
        )
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert len(sent) == 72 and all(p.payload.registry_signature != b"\x00" * 65 for p in sent)

    states: dict[str, str] = {}
    upcoming = within_a_year = grouped = 0
    for pid in registered:
        shown = appointments.show(registry, CDC.address, bytes.fromhex(pid[2:]), "devnet check")
        states[pid] = shown["state"]
        appt = shown["appointment"]
        if shown["proposal"] is None:
            assert appt is None and shown["state"] == "none"
            continue
        # every child with a dose left to give got an appointment, at the site of its latest dose, not before it
        record = registry.show_person(CDC.address, bytes.fromhex(pid[2:]), "devnet check")
        latest = max(record["doses"], key=lambda d: d["administered_ms"])
        latest_day = dt.datetime.fromtimestamp(latest["administered_ms"] / 1000, CHINA).date().isoformat()
        assert appt is not None and appt["source"] == "proposed"
        assert appt["site_org_id"] == latest["site_org_id"] and appt["date"] >= latest_day
        upcoming += appt["date"] >= "2027-02-02"  # from the registry's today on: shown as booked
        within_a_year += "2027-02-02" <= appt["date"] <= "2028-02-02"
        grouped += len(appt["doses"]) > 1
    assert len(registered) > 10 and Counter(states.values())["booked"] == upcoming > 10
    assert grouped > 0  # several vaccines due at the next visit are booked together
    counts = appointments.coverage(registry, CDC.address, dt.date(2027, 2, 2), dt.date(2028, 2, 2))
    assert {s["site"] for s in counts["sites"]} == {"site-a", "site-b"}
    assert sum(s["booked"] for s in counts["sites"]) == within_a_year > 0
    # each family's page says the same as the registry's answer to the site
    for pid, code in registered.items():
        (child,) = registry.guardian_view(code)
        assert child.next_visit is not None and child.next_visit.state == states[pid]
