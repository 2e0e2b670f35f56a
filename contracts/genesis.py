"""Genesis organisations (JSON section "organisations") and seeding of the initial state.

Genesis must contain at least a regulator, a health commission and a CDC; a district genesis may also seed the
manufacturer, distributor and vaccination sites with their storage units and loggers so a devnet starts at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import schema
from contracts.errors import GenesisInvalid
from contracts.interfaces import State
from contracts.kinds.nodes import MAX_NODES_PER_ORG, peer_id_error, put_node
from contracts.kinds.organisations import put_account, put_device, put_organisation, put_storage_unit
from contracts.names import put_local_name
from contracts.params import Params
from contracts.records import Account, Device, Organisation, OrgNode, RegistrySigner, StorageUnit
from contracts.statekeys import store
from contracts.types import OrgType, Role, StorageKind

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ADDR_RE = re.compile(r"^0[xX][0-9a-fA-F]{40}$")
REQUIRED_TYPES = (OrgType.REGULATOR, OrgType.HEALTH_COMMISSION, OrgType.CDC)
DEFAULT_RANGES: Mapping[StorageKind, tuple[int, int]] = {
    StorageKind.FRIDGE: (200, 800),
    StorageKind.COLD_ROOM: (200, 800),
    StorageKind.VEHICLE: (200, 800),
    StorageKind.FREEZER: (-5000, -2000),
}


@dataclass(frozen=True, slots=True)
class GenesisDevice:
    """A logger bound at genesis."""

    address: bytes
    serial: str


@dataclass(frozen=True, slots=True)
class GenesisStorageUnit:
    """A storage unit with its loggers."""

    unit_id: str
    kind: StorageKind
    name: str
    min_temp: int
    max_temp: int
    devices: tuple[GenesisDevice, ...] = ()
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class GenesisNode:
    """A libp2p node registered at genesis (base58 peer id and a label)."""

    peer_id: str
    name: str


@dataclass(frozen=True, slots=True)
class GenesisOrganisation:
    """An organisation present from block 0; `accounts` are admins, `staff` operational accounts, `nodes` the
    libp2p peer ids of its nodes (a genesis that lists any makes nodes admit only registered peers);
    `registry_signers` (a CDC's only) the co-signing keys of its personal-record registry."""

    org_id: str
    org_type: OrgType
    name: str
    accounts: tuple[bytes, ...]
    staff: tuple[bytes, ...] = ()
    storage_units: tuple[GenesisStorageUnit, ...] = ()
    nodes: tuple[GenesisNode, ...] = ()
    registry_signers: tuple[bytes, ...] = ()
    name_zh: str = ""
    product_names_zh: tuple[tuple[str, str], ...] = ()  # (product code, Chinese name) of a manufacturer


def _get(obj: Mapping[str, Any], name: str, path: str, kind: type, *, required: bool = True) -> Any:
    if name not in obj:
        if required:
            raise GenesisInvalid(f"{path}.{name}", "missing")
        return None
    value = obj[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise GenesisInvalid(f"{path}.{name}", "must be an integer")
    if kind is not int and not isinstance(value, kind):
        raise GenesisInvalid(f"{path}.{name}", f"must be a{'n' if kind is list else ''} {kind.__name__}")
    return value


def _address(value: Any, path: str) -> bytes:
    if not isinstance(value, str) or not _ADDR_RE.match(value):
        raise GenesisInvalid(path, "must be a 0x-prefixed 20-byte hex address")
    return bytes.fromhex(value[2:])


def _ident(value: str, path: str) -> str:
    if not _ID_RE.match(value):
        raise GenesisInvalid(path, "id must match [a-z0-9][a-z0-9._-]{0,63}")
    return value


def _name(value: str, path: str) -> str:
    if not value.strip() or len(value) > 200 or any(ord(c) < 32 for c in value):
        raise GenesisInvalid(path, "1-200 characters, no control characters")
    return value


def _name_zh(obj: Mapping[str, Any], path: str) -> str:
    value = _get(obj, "name_zh", path, str, required=False)
    return "" if value is None else _name(value, f"{path}.name_zh")


def _enum(cls: type[OrgType] | type[StorageKind], value: Any, path: str) -> Any:
    if not isinstance(value, str) or value.upper() not in cls.__members__:
        names = ", ".join(m.lower() for m in cls.__members__)
        raise GenesisInvalid(path, f"must be one of: {names}")
    return cls[value.upper()]


def _unit(obj: Any, path: str) -> GenesisStorageUnit:
    if not isinstance(obj, Mapping):
        raise GenesisInvalid(path, "must be an object")
    unit_id = _ident(_get(obj, "unit_id", path, str), f"{path}.unit_id")
    kind: StorageKind = _enum(StorageKind, _get(obj, "kind", path, str), f"{path}.kind")
    name = _name(_get(obj, "name", path, str), f"{path}.name")
    lo_default, hi_default = DEFAULT_RANGES[kind]
    lo = _get(obj, "min_temp", path, int, required=False)
    hi = _get(obj, "max_temp", path, int, required=False)
    lo = lo_default if lo is None else lo
    hi = hi_default if hi is None else hi
    if not -30000 <= lo < hi <= 30000:
        raise GenesisInvalid(f"{path}.min_temp", "need -30000 <= min_temp < max_temp <= 30000")
    devices_raw = _get(obj, "devices", path, list, required=False) or []
    devices = []
    for i, d in enumerate(devices_raw):
        dpath = f"{path}.devices[{i}]"
        if not isinstance(d, Mapping):
            raise GenesisInvalid(dpath, "must be an object")
        devices.append(
            GenesisDevice(
                _address(d.get("address"), f"{dpath}.address"),
                _name(_get(d, "serial", dpath, str), f"{dpath}.serial"),
            )
        )
    return GenesisStorageUnit(unit_id, kind, name, lo, hi, tuple(devices), _name_zh(obj, path))


def _node(obj: Any, path: str) -> GenesisNode:
    if not isinstance(obj, Mapping):
        raise GenesisInvalid(path, "must be an object with peer_id and name")
    peer_id = _get(obj, "peer_id", path, str)
    reason = peer_id_error(peer_id)
    if reason is not None:
        raise GenesisInvalid(f"{path}.peer_id", reason)
    return GenesisNode(peer_id, _name(_get(obj, "name", path, str), f"{path}.name"))


def parse_organisations(obj: Any, path: str = "organisations") -> tuple[GenesisOrganisation, ...]:
    """Parse and cross-check the genesis organisations (unique ids and addresses, required org types)."""
    if not isinstance(obj, list):
        raise GenesisInvalid(path, "must be a list")
    orgs: list[GenesisOrganisation] = []
    for i, o in enumerate(obj):
        opath = f"{path}[{i}]"
        if not isinstance(o, Mapping):
            raise GenesisInvalid(opath, "must be an object")
        org_id = _ident(_get(o, "org_id", opath, str), f"{opath}.org_id")
        org_type: OrgType = _enum(OrgType, _get(o, "org_type", opath, str), f"{opath}.org_type")
        name = _name(_get(o, "name", opath, str), f"{opath}.name")
        accounts_raw = _get(o, "accounts", opath, list)
        if not accounts_raw:
            raise GenesisInvalid(f"{opath}.accounts", "at least one admin account")
        accounts = tuple(_address(a, f"{opath}.accounts[{j}]") for j, a in enumerate(accounts_raw))
        staff_raw = _get(o, "staff", opath, list, required=False) or []
        staff = tuple(_address(a, f"{opath}.staff[{j}]") for j, a in enumerate(staff_raw))
        units_raw = _get(o, "storage_units", opath, list, required=False) or []
        units = tuple(_unit(u, f"{opath}.storage_units[{j}]") for j, u in enumerate(units_raw))
        nodes_raw = _get(o, "nodes", opath, list, required=False) or []
        nodes = tuple(_node(n, f"{opath}.nodes[{j}]") for j, n in enumerate(nodes_raw))
        signers_raw = _get(o, "registry_signers", opath, list, required=False) or []
        signers = tuple(_address(a, f"{opath}.registry_signers[{j}]") for j, a in enumerate(signers_raw))
        if signers and org_type is not OrgType.CDC:
            raise GenesisInvalid(f"{opath}.registry_signers", "only a cdc registers registry keys")
        products_zh = _get(o, "product_names_zh", opath, dict, required=False) or {}
        names = tuple(
            (
                str(code),
                _name(_get(products_zh, code, f"{opath}.product_names_zh", str), f"{opath}.product_names_zh"),
            )
            for code in sorted(products_zh)
        )
        orgs.append(
            GenesisOrganisation(
                org_id, org_type, name, accounts, staff, units, nodes, signers, _name_zh(o, opath), names
            )
        )
    check_organisations(orgs, path)
    return tuple(orgs)


def check_organisations(orgs: Sequence[GenesisOrganisation], path: str = "organisations") -> None:
    """Ids, addresses and node peer ids unique chain-wide; the regulator, health commission and CDC present."""
    seen_orgs: set[str] = set()
    seen_nodes: set[str] = set()
    seen_units: set[str] = set()
    seen_addr: set[bytes] = set()
    for i, o in enumerate(orgs):
        opath = f"{path}[{i}]"
        if o.org_id in seen_orgs:
            raise GenesisInvalid(f"{opath}.org_id", f"duplicate organisation id {o.org_id}")
        seen_orgs.add(o.org_id)
        if len(o.nodes) > MAX_NODES_PER_ORG:
            raise GenesisInvalid(f"{opath}.nodes", f"at most {MAX_NODES_PER_ORG} nodes per organisation")
        for j, n in enumerate(o.nodes):
            if n.peer_id in seen_nodes:
                raise GenesisInvalid(f"{opath}.nodes[{j}].peer_id", "peer id registered twice")
            seen_nodes.add(n.peer_id)
        addrs = [(f"{opath}.accounts[{j}]", a) for j, a in enumerate(o.accounts)]
        addrs += [(f"{opath}.staff[{j}]", a) for j, a in enumerate(o.staff)]
        addrs += [(f"{opath}.registry_signers[{j}]", a) for j, a in enumerate(o.registry_signers)]
        for j, u in enumerate(o.storage_units):
            if u.unit_id in seen_units:
                raise GenesisInvalid(
                    f"{opath}.storage_units[{j}].unit_id", f"duplicate storage unit {u.unit_id}"
                )
            seen_units.add(u.unit_id)
            addrs += [
                (f"{opath}.storage_units[{j}].devices[{k}].address", d.address)
                for k, d in enumerate(u.devices)
            ]
        for where, a in addrs:
            if len(a) != 20:
                raise GenesisInvalid(where, "address must be 20 bytes")
            if a in seen_addr:
                raise GenesisInvalid(where, "address used twice")
            seen_addr.add(a)
    present = {o.org_type for o in orgs}
    for t in REQUIRED_TYPES:
        if t not in present:
            raise GenesisInvalid(path, f"genesis needs a {t.name.lower()} organisation")


def seed_genesis(state: State, orgs: Sequence[GenesisOrganisation], params: Params) -> None:
    """Write the genesis organisations, accounts, storage units, devices and the parameters."""
    check_organisations(orgs)
    store(state, schema.params(), params)
    for o in orgs:
        put_organisation(state, Organisation(o.org_id, o.org_type, o.name, True, "genesis", 0))
        put_local_name(state, "org", o.org_id, o.name_zh)
        for code, name_zh in o.product_names_zh:
            put_local_name(state, "product", code, name_zh)
        for a in o.accounts:
            put_account(state, Account(a, o.org_id, Role.ADMIN, True))
        for a in o.staff:
            put_account(state, Account(a, o.org_id, Role.STAFF, True))
        for u in o.storage_units:
            put_storage_unit(
                state, StorageUnit(u.unit_id, o.org_id, u.kind, u.name, u.min_temp, u.max_temp, True, 0)
            )
            put_local_name(state, "unit", u.unit_id, u.name_zh)
            for d in u.devices:
                put_device(state, Device(d.address, o.org_id, u.unit_id, d.serial, True), None)
        for n in o.nodes:
            put_node(state, OrgNode(n.peer_id, o.org_id, n.name, 0))
        for a in o.registry_signers:
            store(state, schema.registry_signer(a), RegistrySigner(a, o.org_id, True, 0))


def organisations_to_json(orgs: Sequence[GenesisOrganisation]) -> list[dict[str, Any]]:
    """The JSON form parse_organisations accepts (for writing genesis files)."""
    out = [
        {
            "org_id": o.org_id,
            "org_type": o.org_type.name.lower(),
            "name": o.name,
            "accounts": ["0x" + a.hex() for a in o.accounts],
            "staff": ["0x" + a.hex() for a in o.staff],
            "storage_units": [
                {
                    "unit_id": u.unit_id,
                    "kind": u.kind.name.lower(),
                    "name": u.name,
                    "min_temp": u.min_temp,
                    "max_temp": u.max_temp,
                    "devices": [{"address": "0x" + d.address.hex(), "serial": d.serial} for d in u.devices],
                    **({"name_zh": u.name_zh} if u.name_zh else {}),
                }
                for u in o.storage_units
            ],
            "nodes": [{"peer_id": n.peer_id, "name": n.name} for n in o.nodes],
            **({"name_zh": o.name_zh} if o.name_zh else {}),
            **({"product_names_zh": dict(o.product_names_zh)} if o.product_names_zh else {}),
        }
        for o in orgs
    ]
    for o, obj in zip(orgs, out, strict=True):
        if o.registry_signers:  # only then: other organisations' JSON is unchanged
            obj["registry_signers"] = ["0x" + a.hex() for a in o.registry_signers]
    return out
