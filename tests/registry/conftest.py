"""Registry test helpers: a chain stand-in with the answers the registry asks for, and a ready registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from registry.chain import Caller, Organisation, SeriesRule
from registry.service import Registry, RegistrySecrets
from registry.store import Store
from vaxcrypto.keys import Address, PrivateKey

CHAIN_ID = 860604
SITE_A = PrivateKey.from_seed("test/site-a/staff")
SITE_B = PrivateKey.from_seed("test/site-b/staff")
CDC = PrivateKey.from_seed("test/cdc/staff")
SCHOOL = PrivateKey.from_seed("test/school/admin")
OUTSIDER = PrivateKey.from_seed("test/nobody")
HEPB_GTIN = "06901234567892"
HEPB_CODE = "(01)06901234567892(17)271231(10)HB20792A(21){:010d}"
T0 = 1_796_357_265_000  # 2026-12-04


class FakeChain:
    """The chain's answers as plain data (the real RPC chain is tested against a real node elsewhere)."""

    def __init__(self) -> None:
        self.callers: dict[Address, Caller] = {
            SITE_A.address: Caller(SITE_A.address, "site-a", "site", "staff", True),
            SITE_B.address: Caller(SITE_B.address, "site-b", "site", "staff", True),
            CDC.address: Caller(CDC.address, "cdc", "cdc", "staff", True),
            SCHOOL.address: Caller(SCHOOL.address, "school-1", "school", "admin", True),
        }
        self.orgs = {"site-a": "site", "site-b": "site", "cdc": "cdc", "school-1": "school"}
        self.products = {HEPB_GTIN: SeriesRule(HEPB_GTIN, "HepB vaccine", "HepB", (0, 28, 60))}
        self.keys: list[tuple[Address, bool]] = []
        self.verdicts: dict[str, dict[str, Any]] = {}
        self.txs: dict[str, dict[str, Any]] = {}
        self.doses: dict[bytes, dict[str, Any]] | None = None  # None: the node cannot answer vax_doseRecord
        self.sent: list[str] = []
        self.down = False

    def _check(self) -> None:
        from registry.errors import ChainUnavailable

        if self.down:
            raise ChainUnavailable("node down")

    def chain_id(self) -> int:
        self._check()
        return CHAIN_ID

    def caller(self, address: Address) -> Caller | None:
        self._check()
        return self.callers.get(address)

    def organisation(self, org_id: str) -> Organisation | None:
        self._check()
        kind = self.orgs.get(org_id)
        return None if kind is None else Organisation(org_id, kind, f"Test {org_id}", True)

    def series_rule(self, product_code: str) -> SeriesRule | None:
        self._check()
        return self.products.get(product_code)

    def unit_product(self, trace_code: str) -> str | None:
        self._check()
        return trace_code[4:18] if trace_code.startswith("(01)") else None

    def registry_keys(self) -> list[tuple[Address, bool]]:
        self._check()
        return list(self.keys)

    def unit_verdict(self, trace_code: str) -> dict[str, Any] | None:
        self._check()
        return self.verdicts.get(trace_code)

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        self._check()
        return self.txs.get(tx_hash)

    def dose_record(self, dose_ref: bytes) -> dict[str, Any] | None:
        from registry.chain import Unsupported

        self._check()
        if self.doses is None:
            raise Unsupported("no vax_doseRecord")
        return self.doses.get(dose_ref)

    def nonce(self, address: Address) -> int:
        return len(self.sent)

    def send_raw(self, tx_hex: str) -> str:
        self._check()
        self.sent.append(tx_hex)
        return "0x" + f"{len(self.sent):064x}"


class Clock:
    """A settable clock in milliseconds."""

    def __init__(self, now_ms: int = T0) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def make_secrets() -> RegistrySecrets:
    return RegistrySecrets(
        master_key=b"\x01" * 32,
        district_secret=b"\x02" * 32,
        registry_secret=b"\x03" * 32,
        signing_key=PrivateKey.from_seed("test/registry-signing"),
        anchor_key=PrivateKey.from_seed("test/registry-anchor"),
    )


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(tmp_path: Path, chain: FakeChain, clock: Clock) -> Iterator[Registry]:
    store = Store(tmp_path / "registry.sqlite")
    reg = Registry(store, make_secrets(), chain, clock=clock)
    chain.keys = [(reg.address, True)]
    yield reg
    store.close()


def child(
    id_number: str = "110101202001010012", name: str = "测试儿童甲", birth: str = "2020-01-01"
) -> dict[str, Any]:
    return {
        "name": name,
        "sex": "F",
        "birth_date": birth,
        "id_type": "id_card",
        "id_number": id_number,
        "guardians": [{"name": "测试家长", "phone": "+86 138-0000-0000", "relation": "mother"}],
    }
