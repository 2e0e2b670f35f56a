"""Genesis parsing, Params.from_json and trace-code parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contracts_testkit import MemoryState, addr, peer_id

from contracts import queries
from contracts.errors import GenesisInvalid, InvalidTraceCode
from contracts.genesis import organisations_to_json, parse_organisations, seed_genesis
from contracts.params import Params
from contracts.tracecodes import UnitTree, parse_trace_code, verify_unit
from harness.district import district_roster


def roster_json() -> list[dict[str, Any]]:
    roster = district_roster(sites=47)
    return organisations_to_json(roster.to_genesis({lbl: addr(lbl) for lbl in roster.labels()}))


def test_district_genesis_round_trip_and_seed() -> None:
    obj = json.loads(json.dumps(roster_json()))
    obj[0]["accounts"][0] = obj[0]["accounts"][0].upper().replace("0X", "0x")  # any case accepted
    orgs = parse_organisations(obj)
    assert len(orgs) == 52
    state = MemoryState()
    seed_genesis(state, orgs, Params())
    assert len(queries.list_organisations(state, "site")) == 47
    assert queries.get_storage_unit(state, "site-01-fridge-1")["devices"]  # type: ignore[index]
    assert queries.get_params(state)["heat_threshold"] == 800


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda o: o.__setitem__(3, "x"), "organisations[3]"),
        (lambda o: o[3]["accounts"].__setitem__(0, "0x12"), "organisations[3].accounts[0]"),
        (lambda o: o[3].__setitem__("accounts", []), "organisations[3].accounts"),
        (lambda o: o[3].__setitem__("org_type", "pharmacy"), "organisations[3].org_type"),
        (lambda o: o[3].__setitem__("org_id", "Bad Id"), "organisations[3].org_id"),
        (lambda o: o[4].__setitem__("org_id", o[3]["org_id"]), "organisations[4].org_id"),
        (lambda o: o[4]["accounts"].__setitem__(0, o[3]["accounts"][0]), "organisations[4].accounts[0]"),
        (
            lambda o: o[5]["storage_units"][0].__setitem__("kind", "box"),
            "organisations[5].storage_units[0].kind",
        ),
        (
            lambda o: o[5]["storage_units"][0].__setitem__("min_temp", 900),
            "organisations[5].storage_units[0].min_temp",
        ),
        (
            lambda o: o[5]["storage_units"][0]["devices"][0].__setitem__("address", 7),
            "organisations[5].storage_units[0].devices[0].address",
        ),
        (lambda o: o.pop(0), "organisations"),
        (lambda o: o[3].__setitem__("name_zh", "\x01"), "organisations[3].name_zh"),
        (lambda o: o[3].__setitem__("name_zh", 5), "organisations[3].name_zh"),
        (
            lambda o: o[5]["storage_units"][0].__setitem__("name_zh", ""),
            "organisations[5].storage_units[0].name_zh",
        ),
        (
            lambda o: o[3].__setitem__("product_names_zh", {"0690": 1}),
            "organisations[3].product_names_zh.0690",
        ),
    ],
)
def test_genesis_errors_have_precise_paths(mutate: Any, path: str) -> None:
    obj = roster_json()
    mutate(obj)
    with pytest.raises(GenesisInvalid) as info:
        parse_organisations(obj)
    assert info.value.fields()["path"] == path


def test_chinese_names_from_genesis_are_answered_beside_the_english_ones() -> None:
    orgs = parse_organisations(roster_json())
    state = MemoryState()
    seed_genesis(state, orgs, Params())
    cdc = queries.get_organisation(state, "cdc")
    assert cdc is not None and cdc["name_zh"] == "禅城区疾病预防控制中心" and cdc["name"]
    sites = {o["org_id"]: o["name_zh"] for o in queries.list_organisations(state, "site")}
    assert sites["site-01"] == "祖庙街道社区卫生服务中心" and all(sites.values())
    assert len(set(sites.values())) == len(sites)  # every site its own name
    fridge = queries.get_storage_unit(state, "site-01-fridge-1")
    assert fridge is not None and fridge["name_zh"] == "疫苗冷藏冰箱 1 号"
    mah = next(o for o in orgs if o.org_id == "mah")
    assert dict(mah.product_names_zh)  # the MAH names its products in Chinese; stored for the product query
    assert organisations_to_json(orgs)[0]["name_zh"]  # and written back to genesis JSON


def test_genesis_registers_nodes_and_round_trips() -> None:
    obj = roster_json()
    obj[2]["nodes"] = [{"peer_id": peer_id("cdc-1"), "name": "cdc validator"}]
    obj[5]["nodes"] = [{"peer_id": peer_id("site-1"), "name": "site server"}]
    orgs = parse_organisations(json.loads(json.dumps(obj)))
    assert organisations_to_json(orgs) == obj
    state = MemoryState()
    seed_genesis(state, orgs, Params())
    assert queries.member_peer_ids(state) == {peer_id("cdc-1"), peer_id("site-1")}
    (node,) = queries.list_nodes(state, obj[2]["org_id"])
    assert (node["name"], node["added_height"], node["org_active"]) == ("cdc validator", 0, True)


@pytest.mark.parametrize(
    ("nodes", "path"),
    [
        ([{"peer_id": "not a peer id", "name": "x"}], "organisations[3].nodes[0].peer_id"),
        ([{"peer_id": peer_id("a")}], "organisations[3].nodes[0].name"),
        (["12D3KooW"], "organisations[3].nodes[0]"),
        ("12D3KooW", "organisations[3].nodes"),
        ([{"peer_id": peer_id("a"), "name": "x"}] * 2, "organisations[3].nodes[1].peer_id"),
        ([{"peer_id": peer_id(str(i)), "name": "x"} for i in range(17)], "organisations[3].nodes"),
    ],
)
def test_genesis_node_errors_have_precise_paths(nodes: Any, path: str) -> None:
    obj = roster_json()
    obj[3]["nodes"] = nodes
    with pytest.raises(GenesisInvalid) as info:
        parse_organisations(obj)
    assert info.value.fields()["path"] == path


def test_a_peer_id_is_registered_by_one_organisation_only() -> None:
    obj = roster_json()
    obj[3]["nodes"] = [{"peer_id": peer_id("a"), "name": "x"}]
    obj[4]["nodes"] = [{"peer_id": peer_id("a"), "name": "x"}]
    with pytest.raises(GenesisInvalid) as info:
        parse_organisations(obj)
    assert info.value.fields()["path"] == "organisations[4].nodes[0].peer_id"


def test_params_from_json() -> None:
    assert Params.from_json(None) == Params()
    p = Params.from_json({"strict_rule": True, "heat_continuous_minutes": 300})
    assert p.strict_rule and p.heat_continuous_minutes == 300
    assert Params.from_json(p.to_json()) == p
    for bad, where in [
        ({"nope": 1}, "parameters.nope"),
        ({"strict_rule": 1}, "parameters.strict_rule"),
        ({"heat_threshold": "8"}, "parameters.heat_threshold"),
        ({"heat_threshold": True}, "parameters.heat_threshold"),
        ({"max_samples_per_reading": -1}, "parameters.max_samples_per_reading"),
        ({"freeze_threshold": 900}, "parameters.freeze_threshold"),
        ([], "parameters"),
    ]:
        with pytest.raises(GenesisInvalid) as info:
            Params.from_json(bad)
        assert info.value.fields()["path"] == where


def test_trace_codes() -> None:
    tc = parse_trace_code("(01)06901234567892(17)251200(10)AB12(21)XYZ123")
    assert (tc.scheme, tc.product_code, tc.lot_number, tc.expiry_date) == (
        "gs1",
        "06901234567892",
        "AB12",
        20251231,
    )
    scanned = parse_trace_code("]d2010690123456789217251200" + "10AB12\x1d21XYZ123")
    assert scanned.canonical == tc.canonical
    cn = parse_trace_code(" 86012345678901234567 ")
    assert (cn.scheme, cn.product_code) == ("cn", "8601234")
    for bad, reason in [
        ("", "empty"),
        ("12345", "20 digits"),
        ("(01)06901234567891(21)1", "check digit"),
        ("(01)06901234567892(10)A", "(21)"),
        ("(21)ABC", "(01)"),
        ("(01)06901234567892(17)251301(21)1", "(17)"),
        ("hello", "Application Identifier"),
    ]:
        with pytest.raises(InvalidTraceCode) as info:
            parse_trace_code(bad)
        assert reason in info.value.fields()["reason"]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 100])
def test_merkle_proofs(n: int) -> None:
    codes = [f"cn:{i:020d}" for i in range(n)]
    tree = UnitTree(codes)
    for i in range(n):
        assert verify_unit(tree.root, n, codes[i], i, tree.proof(i))
        assert not verify_unit(tree.root, n, codes[i] + "x", i, tree.proof(i))
        assert not verify_unit(tree.root, n, codes[i], i, (*tree.proof(i), b"\x00" * 32))
        if n > 1:
            assert not verify_unit(tree.root, n, codes[i], (i + 1) % n, tree.proof(i))
    assert not verify_unit(tree.root, n, codes[0], n, tree.proof(0))
