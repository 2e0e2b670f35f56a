"""The registry's dose co-signature: its digest is pinned (the registry signs the same bytes), and only an active
registry key the CDC registered makes a dose acceptable."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import rlp
from contracts_testkit import REGISTRY_KEY, MemoryState, addr

from contracts import queries
from contracts.errors import GenesisInvalid
from contracts.genesis import organisations_to_json, parse_organisations, seed_genesis
from contracts.kinds.registry_signers import REGISTRY_DOSE_TAG, registry_dose_digest
from contracts.params import Params
from contracts.privacy import PRIVATE_PAYLOAD_FIELDS, public_payload
from harness.district import district_roster

TRACE = "(01)06901234567892(17)271231(10)HB20792A(21)0000000001"
GOLDEN = "66e0263ef5de567d116f88da4617e60cf42a40363174b67320678840d4a517e7"


def test_golden_vector() -> None:
    digest = registry_dose_digest(
        860604, "site-01", TRACE, 1796357265000, bytes(range(32)), bytes(range(32, 64))
    )
    assert digest.hex() == GOLDEN


@pytest.mark.parametrize(
    ("chain_id", "administered_ms"), [(0, 0), (1, 1), (127, 128), (860604, 1796357265000), (2**64 - 1, 2**63)]
)
def test_digest_is_the_rlp_library_encoding(chain_id: int, administered_ms: int) -> None:
    body = rlp.encode([chain_id, b"site-01", TRACE.encode(), administered_ms, b"\x01" * 32, b"\x02" * 32])
    expected = hashlib.sha256(REGISTRY_DOSE_TAG + b"\x00" + body).digest()
    assert (
        registry_dose_digest(chain_id, "site-01", TRACE, administered_ms, b"\x01" * 32, b"\x02" * 32)
        == expected
    )


def test_every_field_changes_the_digest() -> None:
    base = (860604, "site-01", TRACE, 1796357265000, bytes(32), bytes(32))
    variants = [
        (860605, *base[1:]),
        (base[0], "site-02", *base[2:]),
        (*base[:2], TRACE.replace("0001", "0002"), *base[3:]),
        (*base[:3], base[3] + 1, *base[4:]),
        (*base[:4], b"\x01" * 32, base[5]),
        (*base[:5], b"\x01" * 32),
    ]
    digests = {registry_dose_digest(*v) for v in [base, *variants]}  # type: ignore[arg-type]
    assert len(digests) == len(variants) + 1


def test_public_payload_drops_the_per_dose_values_only() -> None:
    dose = {"trace_code": TRACE, "dose_ref": "0x01", "record_hash": "0x02", "registry_signature": "0x03"}
    assert public_payload("record_dose", dose) == {"trace_code": TRACE}
    assert public_payload("attest", {"document_hash": "0x01"}) == {"document_hash": "0x01"}
    assert public_payload(None, None) is None
    assert PRIVATE_PAYLOAD_FIELDS["record_dose"] == {"dose_ref", "record_hash", "registry_signature"}


def _genesis_json(signers: tuple[bytes, ...]) -> list[dict[str, Any]]:
    roster = district_roster(sites=2)
    return organisations_to_json(roster.to_genesis({lbl: addr(lbl) for lbl in roster.labels()}, signers))


def test_genesis_registers_the_cdcs_registry_keys() -> None:
    key = REGISTRY_KEY.address
    obj = json.loads(json.dumps(_genesis_json((key,))))
    cdc = next(o for o in obj if o["org_type"] == "cdc")
    assert cdc["registry_signers"] == ["0x" + key.hex()]
    assert all(
        "registry_signers" not in o for o in obj if o is not cdc
    )  # other organisations' JSON unchanged
    state = MemoryState()
    seed_genesis(state, parse_organisations(obj), Params())
    assert queries.registry_keys(state) == [
        {"address": "0x" + key.hex(), "active": True, "org_id": cdc["org_id"], "changed_height": 0}
    ]
    assert "registry_signers" not in next(o for o in _genesis_json(()) if o["org_type"] == "cdc")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda orgs: _org(orgs, "site")["registry_signers"].append("0x" + "11" * 20), "only a cdc"),
        (
            lambda orgs: _org(orgs, "cdc")["registry_signers"].append(_org(orgs, "cdc")["accounts"][0]),
            "used twice",
        ),
        (lambda orgs: _org(orgs, "cdc")["registry_signers"].append("0x12"), "20-byte"),
    ],
)
def test_genesis_refuses_misplaced_or_reused_registry_keys(mutate: Any, reason: str) -> None:
    obj = _genesis_json((REGISTRY_KEY.address,))
    _org(obj, "site").setdefault("registry_signers", [])
    mutate(obj)
    with pytest.raises(GenesisInvalid) as info:
        parse_organisations(obj)
    assert reason in info.value.fields()["reason"]


def _org(orgs: list[dict[str, Any]], org_type: str) -> dict[str, Any]:
    return next(o for o in orgs if o["org_type"] == org_type)
