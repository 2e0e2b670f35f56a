"""The devnet's synthetic people: clearly fake, deterministic, and planned into multi-vaccine visits and returning
children that the registry accepts."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

from harness.district import district_roster
from harness.make_genesis import dev_key
from harness.registry_people import (
    FAKE_NAME_PREFIX,
    DosePlanner,
    fill_registry,
    init_dev_registry,
    main,
    synthetic_people,
)
from registry.chain import Caller, SeriesRule
from registry.config import load_registry_config
from registry.server import RegistryHTTPServer
from registry.service import DoseInput, Registry, parse_person
from vaxcrypto.keys import PrivateKey

from .conftest import HEPB_CODE, SITE_A, T0, FakeChain

DAY = 86_400_000
IPV = "06901234567809"


def test_people_are_fake_and_deterministic() -> None:
    people = synthetic_people(1, 50, dt.date(2026, 12, 4))
    assert people == synthetic_people(1, 50, dt.date(2026, 12, 4))
    assert all(p.name.startswith(FAKE_NAME_PREFIX) and p.id_number.startswith("99") for p in people)
    assert len({p.id_number for p in people}) == 50
    assert all(parse_person(p.to_json()).id_number == p.id_number for p in people)


def test_plan_has_multi_vaccine_visits_and_returning_children(registry: Registry, chain: FakeChain) -> None:
    chain.products[IPV] = SeriesRule(IPV, "IPV", "IPV", (0, 28, 28))
    people = synthetic_people(2, 40, dt.date(2026, 12, 4))
    planner = DosePlanner(people, {"HepB": (0, 28, 60), "IPV": (0, 28, 28)}, seed=2)
    plan = []
    for day in (0, 30, 60):  # three clinic days a month apart
        for k in range(30):
            at = T0 + day * DAY + k * 600_000
            plan.append(planner.assign("site-a", "HepB" if k % 2 else "IPV", at))
    per_visit = Counter((d.person, d.administered_ms // DAY) for d in plan)
    assert max(per_visit.values()) >= 2  # several vaccines at one visit
    assert any(d.dose_number > 1 for d in plan)  # returning for the next dose
    ids = [registry.register_person(SITE_A.address, parse_person(p.to_json()), "devnet")[0] for p in people]
    for i, d in enumerate(plan):
        code = HEPB_CODE.format(i) if d.series == "HepB" else f"(01){IPV}(17)271231(10)IPV1(21){i:010d}"
        registry.record_dose(
            SITE_A.address,
            DoseInput(
                bytes.fromhex(ids[d.person][2:]),
                code,
                "lot",
                d.dose_number,
                d.administered_ms,
                SITE_A.address,
            ),
        )


def test_the_dev_registry_uses_the_genesis_registry_key_and_a_cdc_account(tmp_path: Path) -> None:
    config = load_registry_config(init_dev_registry(tmp_path / "reg", "http://127.0.0.1:8545"))
    keys = config.secrets()
    assert keys.signing_key == PrivateKey.from_seed("vaxchain-dev/chancheng/registry/cosign")
    assert keys.anchor_key == dev_key("cdc/registry")  # its own account: the load never races its nonces


def test_fill_registers_through_the_api_as_site_staff(
    registry: Registry, chain: FakeChain, tmp_path: Path
) -> None:
    for site in district_roster().sites:
        key = dev_key(site.staff_labels[0])
        chain.callers[key.address] = Caller(key.address, site.org_id, "site", "staff", True)
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.port}"
        assert fill_registry(url, 12, seed=5) == 12
        assert fill_registry(url, 12, seed=5) == 0  # a rerun finds them registered
        assert registry.store.person_count() == 12
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert main(["init", "--dir", str(tmp_path / "reg")]) == 0
    assert (tmp_path / "reg" / "registry.toml").is_file()
