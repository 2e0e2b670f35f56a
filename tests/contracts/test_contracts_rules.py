"""Unit tests of the rules: every ContractError is provoked at least once (checked by the last test)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from contracts_testkit import CHAIN_ID, REGISTRY_KEY, Chain, addr, base58, cosigned, district_chain, peer_id

from contracts import errors, queries, verdicts
from contracts.errors import ContractError
from contracts.kinds.aefi import ReportAefi, registry_aefi_digest
from contracts.kinds.attest import Attest, attester_org
from contracts.kinds.custody import Destroy, QualityDecision, QuarantineUnits, Receive, RejectShipment, Ship
from contracts.kinds.doses import RecordDose, ReportSuspectUnit, UnitProof
from contracts.kinds.nodes import MAX_NODES_PER_ORG, SetNode
from contracts.kinds.organisations import (
    AdmitOrganisation,
    RegisterStorageUnit,
    SetAccount,
    SetDevice,
    SetOrganisationStatus,
)
from contracts.kinds.products import ApproveProduct, LotRef, RecallLot, RegisterLot, RegisterProduct
from contracts.kinds.readings import LOGGER_MAX_TEMP, LOGGER_MIN_TEMP, RecordReadings, Sample
from contracts.kinds.registry_signers import SetRegistry
from contracts.params import Params
from contracts.records import AefiClass, DestroyReason
from contracts.registry import (
    BY_NAME,
    PERMISSIONS,
    REGISTRY,
    Signer,
    authorize,
    check_payload,
    check_sender,
    execute,
    member_of,
)
from contracts.tracecodes import UnitTree, gs1_hri, parse_trace_code
from contracts.types import OrgType, Role, StorageKind
from harness.cosign import cosign_payload
from vaxcrypto.keys import PrivateKey

RAISED: set[str] = set()
GTIN = "06901234567892"
CN = "8600001"
H = hashlib.sha256(b"doc").digest()
DAY = 86_400_000


def expect(err: type[ContractError], fn: Callable[[], Any]) -> ContractError:
    """Run fn, require `err`, and record that it was covered."""
    with pytest.raises(err) as info:
        fn()
    RAISED.add(err.__name__)
    e = info.value
    assert e.code == err.__name__ and isinstance(e.fields(), dict)
    return e


@dataclasses.dataclass
class World:
    chain: Chain
    codes: list[str]
    tree: UnitTree
    ref: LotRef

    def tx(self, label: str, payload: Any, time_ms: int | None = None) -> Any:
        return self.chain.submit(addr(label), payload, time_ms=time_ms)

    def dose(
        self,
        i: int,
        dose_ref: bytes = b"\x05" * 32,
        n: int = 1,
        *,
        at: int | None = None,
        label: str = "site-01/staff-1",
        code: str | None = None,
        ref: LotRef | None = None,
        tree: UnitTree | None = None,
        cosign: Callable[[RecordDose, str], RecordDose] = cosigned,
    ) -> Any:
        tree = tree or self.tree
        at = self.chain.time_ms if at is None else at
        dose = RecordDose(
            code or self.codes[i],
            ref or self.ref,
            UnitProof(i, tree.proof(i)),
            "site-01-fridge-1",
            n,
            at,
            addr(label),
            dose_ref,
            H,
            bytes(65),
        )
        return self.tx(label, cosign(dose, label))

    def readings(self, label: str, start_s: int, temps: list[int], step: int = 60) -> Any:
        return self.tx(
            label,
            RecordReadings(tuple(Sample(start_s + k * step, t) for k, t in enumerate(temps))),
            time_ms=(start_s + step * len(temps)) * 1000,
        )

    def monitor(self, *units: str) -> None:
        """One in-range reading from each unit's logger now (a monitored leg starts from these)."""
        now_s = self.chain.time_ms // 1000
        for unit in units:
            self.readings(f"{unit}/logger-1", now_s, [500])
            now_s += 60

    def ship_to_site(
        self,
        qty: int,
        sid: bytes = b"\x01" * 32,
        vehicle: str | None = "cdc-van-1",
        ref: LotRef | None = None,
    ) -> None:
        """The legal path: MAH -> CDC on the distributor's truck, received, then the CDC ships `sid` to site-01."""
        ref = ref or self.ref
        up = hashlib.sha256(sid + b"up").digest()
        self.monitor("mah-coldroom", "dist-truck-1")
        self.tx("mah/staff-1", Ship(up, ref, qty, "mah-coldroom", "cdc", "dist-truck-1"))
        self.monitor("dist-truck-1")
        self.tx("cdc/staff-1", Receive(up, "cdc-coldroom", qty))
        self.monitor("cdc-coldroom", *([vehicle] if vehicle else []))
        self.tx("cdc/staff-2", Ship(sid, ref, qty, "cdc-coldroom", "site-01", vehicle))

    def receive(self, qty: int, sid: bytes = b"\x01" * 32, counted: int | None = None) -> Any:
        return self.tx(
            "site-01/staff-1", Receive(sid, "site-01-fridge-1", qty if counted is None else counted)
        )


def make_world(params: Params | None = None, units: int = 12) -> World:
    chain, _, _ = district_chain(sites=2, params=params)
    exp = "271231"
    codes = [gs1_hri(GTIN, exp, "L1", f"S{i:05d}") for i in range(units)]
    tree = UnitTree([parse_trace_code(c).canonical for c in codes])
    w = World(chain, codes, tree, LotRef(GTIN, "L1"))
    w.tx("mah/admin", RegisterProduct(GTIN, "HepB", True, 200, 800, True, 1, 0, "HepB", (0, 28, 150)))
    w.tx("regulator/admin", ApproveProduct(GTIN, True, H))
    w.tx("mah/admin", RegisterLot(w.ref, 20251201, 20271231, units, H, tree.root, "mah-coldroom"))
    return w


def check_conservation(w: World) -> None:
    for lot in queries.list_lots(w.chain.state):
        held = sum(
            h["available"] + h["quarantined"]
            for h in queries.lot_holders(w.chain.state, lot["lot_id"])
            if h["unit_id"] is not None
        )
        assert held + lot["in_transit"] + lot["administered"] + lot["destroyed"] == lot["units"]


def vehicle_ok(w: World, start_s: int | None = None) -> None:
    """A normal van reading after shipping so the leg has a temperature record."""
    s = w.chain.time_ms // 1000 + 1 if start_s is None else start_s
    w.readings("cdc-van-1/logger-1", s, [500, 510])


# --- authorization and organisations ----------------------------------------------------------


def test_permissions_table_is_the_one_source() -> None:
    for kind in REGISTRY.values():
        if kind.allowed is not None:
            assert kind.allowed == frozenset(t for t, names in PERMISSIONS.items() if kind.name in names)
    assert BY_NAME["attest"].allowed is None
    assert BY_NAME["record_readings"].allowed == frozenset()
    assert set().union(*PERMISSIONS.values()) <= set(BY_NAME)


def test_unauthorized_org_type_and_unknown_sender() -> None:
    w = make_world()
    e = expect(errors.Unauthorized, lambda: w.tx("site-01/staff-1", RecallLot(w.ref, "no")))
    assert e.fields()["kind"] == "recall_lot"
    expect(errors.Unauthorized, lambda: w.chain.submit(b"\x99" * 20, RecallLot(w.ref, "x")))
    expect(errors.Unauthorized, lambda: w.chain.submit(b"\x99" * 20, Attest(H, "x", "text/plain")))
    # a device cannot sign account kinds; an account cannot send readings
    expect(
        errors.Unauthorized,
        lambda: w.tx("site-01-fridge-1/logger-1", Destroy(w.ref, "x", 1, DestroyReason.OTHER, "")),
    )
    expect(errors.UnknownDevice, lambda: w.tx("site-01/staff-1", RecordReadings((Sample(1, 1),))))
    expect(errors.UnknownKind, lambda: execute(w.chain.state, _ctx(w), 999, None))
    expect(errors.PayloadDecodeError, lambda: execute(w.chain.state, _ctx(w), 1, RecallLot(w.ref, "x")))


def _ctx(w: World) -> Any:
    from contracts.interfaces import Context

    return Context(addr("mah/admin"), b"\x00" * 32, 1, w.chain.time_ms, 1, w.chain.params)


MEMBERS = (
    "regulator/admin",
    "cdc/admin",
    "mah/admin",
    "mah/staff-1",
    "site-01/admin",
    "site-01/staff-1",
    "site-01-fridge-1/logger-1",
    "cdc-van-1/logger-1",
)


def admit(w: World, sender: bytes, kind: str) -> None:
    """Admission by membership against the world's state, as the node's mempool and blocks run it."""
    check_sender(member_of(w.chain.state, sender), sender, BY_NAME[kind].code)


def test_admission_refuses_strangers_and_roles_by_name() -> None:
    w = make_world()
    stranger = b"\x99" * 20
    e = expect(errors.NotAMember, lambda: admit(w, stranger, "attest"))
    assert e.fields() == {"sender": "0x" + stranger.hex()}
    e = expect(errors.RoleNotAllowed, lambda: admit(w, addr("site-01/staff-1"), "register_product"))
    assert e.fields() == {"kind": "register_product", "role": "site/staff"}
    e = expect(errors.RoleNotAllowed, lambda: admit(w, addr("site-01-fridge-1/logger-1"), "record_dose"))
    assert e.fields() == {"kind": "record_dose", "role": "logger"}
    e = expect(errors.RoleNotAllowed, lambda: admit(w, addr("site-01/staff-1"), "record_readings"))
    assert e.fields() == {"kind": "record_readings", "role": "site/staff"}
    e = expect(errors.RoleNotAllowed, lambda: admit(w, addr("site-01/staff-1"), "set_account"))
    assert e.fields() == {"kind": "set_account", "role": "site/staff"}  # an admin-only kind
    for label, kind in [
        ("site-01/admin", "set_account"),
        ("site-01/staff-1", "record_dose"),
        ("site-01-fridge-1/logger-1", "record_readings"),
        ("site-01-fridge-1/logger-1", "attest"),
        ("regulator/admin", "approve_product"),
    ]:
        admit(w, addr(label), kind)
    # a suspended organisation's accounts are no longer members
    w.tx("regulator/admin", SetOrganisationStatus("site-02", False, "audit"))
    expect(errors.NotAMember, lambda: admit(w, addr("site-02/admin"), "set_account"))
    # a deactivated logger neither
    w.tx("site-01/admin", SetDevice(addr("site-01-fridge-1/logger-1"), "site-01-fridge-1", "SN", False))
    expect(errors.NotAMember, lambda: admit(w, addr("site-01-fridge-1/logger-1"), "record_readings"))


def test_admission_agrees_with_the_rules_on_every_kind_and_member() -> None:
    # One table: a member is admitted for a kind exactly when the rules would authorize it (admin-only kinds
    # also need an admin, which their rules check with sender_admin).
    w = make_world()
    for label in MEMBERS:
        sender = addr(label)
        member = member_of(w.chain.state, sender)
        assert member is not None, label
        ctx = dataclasses.replace(_ctx(w), sender=sender)
        for kind in REGISTRY.values():
            try:
                if kind.signer is Signer.ANY:
                    attester_org(w.chain.state, ctx)
                else:
                    authorize(w.chain.state, ctx, kind)
                authorized = not kind.admin_only or member.role is Role.ADMIN
            except ContractError:
                authorized = False
            try:
                admit(w, sender, kind.name)
                admitted = True
            except (errors.NotAMember, errors.RoleNotAllowed):
                admitted = False
            assert admitted == authorized, (label, kind.name)


def test_readings_outside_the_loggers_physical_range_are_refused() -> None:
    w = make_world()
    logger = "site-01-fridge-1/logger-1"
    start = 1_767_225_600
    for temp in (30_000, -30_000, LOGGER_MAX_TEMP + 1, LOGGER_MIN_TEMP - 1):
        e = expect(errors.ReadingOutOfRange, lambda t=temp: w.readings(logger, start, [500, t]))  # type: ignore[misc]
        assert e.fields() == {"value": temp, "min": LOGGER_MIN_TEMP, "max": LOGGER_MAX_TEMP}
        with pytest.raises(errors.ReadingOutOfRange):
            check_payload(BY_NAME["record_readings"].code, RecordReadings((Sample(1, temp),)))
    before = dict(w.chain.state.data)
    expect(errors.ReadingOutOfRange, lambda: w.readings(logger, start, [30_000]))
    assert w.chain.state.data == before  # a refused batch writes nothing
    w.readings(logger, start, [LOGGER_MIN_TEMP, LOGGER_MAX_TEMP])  # the bounds themselves are readings
    check_payload(BY_NAME["attest"].code, Attest(H, "x", "text/plain"))  # kinds without payload rules pass


def test_admit_organisation_rules() -> None:
    w = make_world()
    hc = "health-commission/admin"  # the county health authority designates sites (art. 44)
    ev = w.tx(hc, AdmitOrganisation("school-1", OrgType.SCHOOL, "No. 1 Primary", (addr("s1"),)))
    assert ev[0].name == "OrganisationAdmitted"
    w.tx(hc, AdmitOrganisation("site-99", OrgType.SITE, "Township Health Centre 99", (addr("s99"),)))
    assert queries.get_organisation(w.chain.state, "site-99")["admitted_by"] == "health-commission"  # type: ignore[index]
    expect(
        errors.Unauthorized,
        lambda: w.tx(hc, AdmitOrganisation("mah-2", OrgType.MANUFACTURER, "M2", (addr("m2"),))),
    )
    e = expect(
        errors.Unauthorized,
        lambda: w.tx("cdc/admin", AdmitOrganisation("site-98", OrgType.SITE, "S98", (addr("s98"),))),
    )
    assert "cdc may not" in e.fields()["reason"]
    # it suspends and reactivates sites, nothing else
    w.tx(hc, SetOrganisationStatus("site-99", False, "cold chain audit failed"))
    w.tx(hc, SetOrganisationStatus("site-99", True, ""))
    expect(errors.Unauthorized, lambda: w.tx(hc, SetOrganisationStatus("cdc", False, "no")))
    expect(errors.Unauthorized, lambda: w.tx("cdc/admin", SetOrganisationStatus("site-99", False, "no")))
    w.tx("regulator/admin", AdmitOrganisation("mah-2", OrgType.MANUFACTURER, "M2", (addr("m2"),)))
    expect(
        errors.AlreadyExists,
        lambda: w.tx(
            "regulator/admin", AdmitOrganisation("mah-2", OrgType.MANUFACTURER, "M2", (addr("m3"),))
        ),
    )
    expect(
        errors.AlreadyExists,
        lambda: w.tx(
            "regulator/admin", AdmitOrganisation("mah-3", OrgType.MANUFACTURER, "M3", (addr("m2"),))
        ),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx("regulator/admin", AdmitOrganisation("Bad Id", OrgType.SITE, "x", (addr("q"),))),
    )
    expect(
        errors.InvalidPayload, lambda: w.tx("regulator/admin", AdmitOrganisation("x", OrgType.SITE, "x", ()))
    )
    org = queries.get_organisation(w.chain.state, "mah-2")
    assert org is not None and org["admitted_by"] == "regulator" and len(org["accounts"]) == 1


def test_suspension_and_accounts() -> None:
    w = make_world()
    expect(
        errors.UnknownOrganisation, lambda: w.tx("regulator/admin", SetOrganisationStatus("nope", False, "x"))
    )
    expect(
        errors.Unauthorized, lambda: w.tx("regulator/admin", SetOrganisationStatus("regulator", False, "x"))
    )
    w.tx("regulator/admin", SetOrganisationStatus("site-02", False, "licence lapsed"))
    expect(
        errors.OrganisationSuspended, lambda: w.tx("site-02/admin", SetAccount(addr("n"), Role.STAFF, True))
    )
    # accounts: admins only, own organisation only, never their own account
    expect(errors.Unauthorized, lambda: w.tx("site-01/staff-1", SetAccount(addr("n"), Role.STAFF, True)))
    expect(
        errors.Unauthorized,
        lambda: w.tx("site-01/admin", SetAccount(addr("site-01/admin"), Role.STAFF, True)),
    )
    expect(
        errors.Unauthorized, lambda: w.tx("site-01/admin", SetAccount(addr("cdc/admin"), Role.STAFF, False))
    )
    w.tx("site-01/admin", SetAccount(addr("site-01/staff-2"), Role.STAFF, False))
    expect(errors.Unauthorized, lambda: w.tx("site-01/staff-2", Attest(H, "x", "text/plain")))
    w.tx("site-01/admin", SetAccount(addr("new-nurse"), Role.STAFF, True))
    acct = queries.get_account(w.chain.state, addr("new-nurse"))
    assert acct is not None and acct["org_id"] == "site-01" and acct["role"] == "staff"


def test_storage_units_and_devices() -> None:
    w = make_world()
    w.tx(
        "site-01/admin", RegisterStorageUnit("site-01-freezer", StorageKind.FREEZER, "Freezer", -5000, -2000)
    )
    expect(
        errors.AlreadyExists,
        lambda: w.tx(
            "site-01/admin", RegisterStorageUnit("site-01-freezer", StorageKind.FREEZER, "F", -5000, -2000)
        ),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx("site-01/admin", RegisterStorageUnit("site-01-f2", StorageKind.FRIDGE, "F", 800, 200)),
    )
    expect(
        errors.UnknownStorageUnit, lambda: w.tx("site-01/admin", SetDevice(addr("d"), "nope", "SN1", True))
    )
    expect(
        errors.Unauthorized,
        lambda: w.tx("site-01/admin", SetDevice(addr("d"), "site-02-fridge-1", "SN", True)),
    )
    expect(
        errors.AlreadyExists,
        lambda: w.tx("site-01/admin", SetDevice(addr("site-01/staff-1"), "site-01-freezer", "SN", True)),
    )
    # rebinding a logger keeps its clock monotonic
    w.readings("site-01-fridge-1/logger-1", 1_767_225_700, [500])
    w.tx("site-01/admin", SetDevice(addr("site-01-fridge-1/logger-1"), "site-01-freezer", "SN", True))
    expect(errors.SampleOutOfOrder, lambda: w.readings("site-01-fridge-1/logger-1", 1_767_225_700, [-2500]))
    w.tx("site-01/admin", SetDevice(addr("site-01-fridge-1/logger-1"), "site-01-freezer", "SN", False))
    expect(errors.DeviceInactive, lambda: w.readings("site-01-fridge-1/logger-1", 1_767_225_800, [-2500]))
    dev = queries.get_device(w.chain.state, addr("site-01-fridge-1/logger-1"))
    assert dev is not None and dev["unit_id"] == "site-01-freezer" and not dev["active"]


# --- products, lots, attestations -------------------------------------------------------------


def test_nodes_added_and_removed_by_their_organisations_admin() -> None:
    w = make_world()
    site, other = peer_id("site-01/node-a"), peer_id("cdc/node-a")
    events = w.tx("site-01/admin", SetNode(site, "site-01 server", True))
    assert [(e.name, e.data["peer_id"], e.data["org_id"]) for e in events] == [("NodeAdded", site, "site-01")]
    w.tx("cdc/admin", SetNode(other, "cdc server", True))
    assert queries.member_peer_ids(w.chain.state) == {site, other}
    (listed,) = queries.list_nodes(w.chain.state, "site-01")
    assert listed == {
        "peer_id": site,
        "org_id": "site-01",
        "name": "site-01 server",
        "added_height": w.chain.height - 1,
        "org_active": True,
    }
    assert [n["peer_id"] for n in queries.list_nodes(w.chain.state)] == sorted([site, other])

    def refused(err: type[ContractError], label: str, payload: SetNode) -> ContractError:
        before = dict(w.chain.state.data)
        e = expect(err, lambda: w.tx(label, payload))
        assert w.chain.state.data == before, "a refused transaction changed the state"
        return e

    # only an admin, only its own organisation's nodes, a peer id belongs to one organisation
    refused(errors.Unauthorized, "site-01/staff-1", SetNode(peer_id("x"), "x", True))
    refused(errors.Unauthorized, "site-01-fridge-1/logger-1", SetNode(peer_id("x"), "x", True))
    assert refused(errors.AlreadyExists, "site-01/admin", SetNode(site, "again", True)).fields() == {
        "what": "node",
        "id": site,
    }
    refused(errors.AlreadyExists, "site-02/admin", SetNode(site, "taken", True))
    e = refused(errors.Unauthorized, "site-02/admin", SetNode(site, "", False))
    assert "belongs to site-01" in e.fields()["reason"]
    assert refused(errors.UnknownNode, "site-01/admin", SetNode(peer_id("never"), "", False)).fields() == {
        "peer_id": peer_id("never")
    }
    # the payload's shape
    refused(errors.InvalidPayload, "site-01/admin", SetNode(peer_id("y"), "", True))  # a name to add
    refused(errors.InvalidPayload, "site-01/admin", SetNode(site, "why", False))  # none to remove
    refused(errors.InvalidPayload, "site-01/admin", SetNode(peer_id("y"), "bad\nname", True))
    for bad in (
        "",
        "12D3KooW0OIl",  # characters outside base58
        base58(b"\x00\x24" + b"\x01" * 36),  # identity multihash, but not a public key
        base58(b"\x00\x05\x08\x01\x12\x02\x07"),  # the key's length field says 2, 1 byte follows
        base58(b"\x12\x20" + b"\x01" * 31),  # sha2-256 digest too short
        base58(b"\x13\x20" + b"\x01" * 32),  # another hash function
        base58(b"\x00\x2b" + b"\x08\x01\x12\x27" + b"\x01" * 39),  # 43 inlined bytes: must be hashed
        "1" * 64,
    ):
        e = refused(errors.InvalidPayload, "site-01/admin", SetNode(bad, "n", True))
        assert e.fields()["field"] == "peer_id", bad
    w.tx("site-01/admin", SetNode(base58(b"\x12\x20" + b"\x07" * 32), "an RSA key's node", True))  # Qm…

    # a suspended organisation's nodes are not members, and its admin can change nothing
    w.tx("regulator/admin", SetOrganisationStatus("site-01", False, "licence lapsed"))
    assert queries.member_peer_ids(w.chain.state) == {other}
    assert {n["org_active"] for n in queries.list_nodes(w.chain.state, "site-01")} == {False}
    refused(errors.OrganisationSuspended, "site-01/admin", SetNode(peer_id("z"), "z", True))
    w.tx("regulator/admin", SetOrganisationStatus("site-01", True, ""))
    assert site in queries.member_peer_ids(w.chain.state)

    # removal frees the peer id (another organisation may register it)
    events = w.tx("site-01/admin", SetNode(site, "", False))
    assert [(e.name, e.data["peer_id"]) for e in events] == [("NodeRemoved", site)]
    assert site not in queries.member_peer_ids(w.chain.state)
    w.tx("site-02/admin", SetNode(site, "moved", True))
    assert queries.list_nodes(w.chain.state, "site-02")[0]["peer_id"] == site


def test_an_organisation_registers_a_bounded_number_of_nodes() -> None:
    w = make_world()
    ids = [peer_id(f"cdc/{i}") for i in range(MAX_NODES_PER_ORG + 1)]
    for pid in ids[:-1]:
        w.tx("cdc/admin", SetNode(pid, "n", True))
    e = expect(errors.NodeLimitReached, lambda: w.tx("cdc/admin", SetNode(ids[-1], "n", True)))
    assert e.fields() == {"org_id": "cdc", "limit": MAX_NODES_PER_ORG}
    w.tx("cdc/admin", SetNode(ids[0], "", False))
    w.tx("cdc/admin", SetNode(ids[-1], "n", True))
    assert len(queries.list_nodes(w.chain.state, "cdc")) == MAX_NODES_PER_ORG


def test_every_org_type_may_register_its_nodes() -> None:
    assert BY_NAME["set_node"].allowed == frozenset(OrgType)


def test_products_and_lots() -> None:
    w = make_world()
    expect(
        errors.AlreadyExists,
        lambda: w.tx("mah/admin", RegisterProduct(GTIN, "dup", True, 200, 800, True, 1, 0, "HepB", (0,))),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx(
            "mah/admin",
            RegisterProduct("06901234567891", "bad check digit", True, 200, 800, True, 1, 0, "HepB", (0,)),
        ),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx(
            "mah/admin",
            RegisterProduct(CN, "multi-dose without limit", True, 200, 800, True, 10, 0, "X", (0,)),
        ),
    )
    w.tx("mah/admin", RegisterProduct(CN, "IPV", True, 200, 800, True, 5, 6, "IPV", (0, 28)))
    expect(
        errors.ProductNotApproved,
        lambda: w.tx("mah/admin", RegisterLot(LotRef(CN, "A"), 20251201, 20271231, 5, H, H, "mah-coldroom")),
    )
    expect(errors.UnknownProduct, lambda: w.tx("regulator/admin", ApproveProduct("1234567", True, H)))
    expect(
        errors.AlreadyExists,
        lambda: w.tx("mah/admin", RegisterLot(w.ref, 20251201, 20271231, 5, H, H, "mah-coldroom")),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx(
            "mah/admin", RegisterLot(LotRef(GTIN, "L2"), 20251301, 20271231, 5, H, H, "mah-coldroom")
        ),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx(
            "mah/admin",
            RegisterLot(LotRef(GTIN, "bad lot\u00e9"), 20251201, 20271231, 5, H, H, "mah-coldroom"),
        ),
    )
    expect(
        errors.LotExpired,
        lambda: w.tx(
            "mah/admin", RegisterLot(LotRef(GTIN, "OLD"), 20201201, 20211231, 5, H, H, "mah-coldroom")
        ),
    )
    expect(errors.UnknownLot, lambda: w.tx("mah/admin", RecallLot(LotRef(GTIN, "NOPE"), "x")))
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["held"] == 12 and lot["status"] == "active"
    assert (
        queries.get_lot(w.chain.state, w.ref.lot_id, now_ms=w.chain.time_ms + 3 * 365 * DAY)["status"]
        == "expired"
    )


def test_attestations_repeat_and_media_type() -> None:
    w = make_world()
    w.tx("site-01/staff-1", Attest(H, "cold-room video 08:00-09:00", "video/mp4"))
    w.tx("site-01/staff-1", Attest(H, "same video, re-anchored", "video/mp4"))
    w.tx("site-01-fridge-1/logger-1", Attest(H, "logger PDF", "application/pdf"))
    atts = queries.get_attestations(w.chain.state, H)
    assert [a["org_id"] for a in atts] == ["site-01", "site-01", "site-01"]
    assert atts[0]["block_height"] < atts[1]["block_height"]
    expect(errors.InvalidPayload, lambda: w.tx("site-01/staff-1", Attest(H, "x", "not a media type")))
    expect(errors.InvalidPayload, lambda: w.tx("site-01/staff-1", Attest(H, "bad\nlabel", "text/plain")))


# --- custody ----------------------------------------------------------------------------------


def test_ship_receive_mismatch_and_conservation() -> None:
    w = make_world()
    expect(errors.InsufficientStock, lambda: w.ship_to_site(13))
    expect(
        errors.Unauthorized,
        lambda: w.tx("mah/staff-1", Ship(b"\x01" * 32, w.ref, 1, "cdc-coldroom", "site-01", None)),
    )
    expect(
        errors.UnknownOrganisation,
        lambda: w.tx("mah/staff-1", Ship(b"\x01" * 32, w.ref, 1, "mah-coldroom", "nobody", None)),
    )
    expect(
        errors.InvalidPayload,
        lambda: w.tx("mah/staff-1", Ship(b"\x01" * 32, w.ref, 1, "mah-coldroom", "cdc", "site-01-fridge-1")),
    )
    w.ship_to_site(6)
    expect(errors.AlreadyExists, lambda: w.ship_to_site(1))
    assert queries.get_lot(w.chain.state, w.ref.lot_id)["in_transit"] == 6  # type: ignore[index]
    expect(errors.UnknownShipment, lambda: w.receive(6, sid=b"\x09" * 32))
    expect(errors.Unauthorized, lambda: w.tx("site-02/staff-1", Receive(b"\x01" * 32, "site-02-fridge-1", 6)))
    expect(errors.NoTransitReadings, lambda: w.receive(6))
    vehicle_ok(w)
    ev = w.receive(6, counted=5)
    assert {e.name for e in ev} >= {"Received", "QuantityMismatch", "Destroyed", "Alert"}
    expect(errors.ShipmentClosed, lambda: w.receive(6))
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["destroyed"] == 1 and lot["in_transit"] == 0
    inv = queries.inventory(w.chain.state, "site-01")
    assert inv["totals"][w.ref.lot_id] == {"available": 5, "quarantined": 0}
    assert [a["kind"] for a in queries.alerts(w.chain.state, site="site-01")] == ["quantity_mismatch"]
    check_conservation(w)


def test_shipment_event_time_is_bounded_and_used_for_the_leg() -> None:
    w = make_world()
    now = w.chain.time_ms

    def ship(at_ms: int, sid: bytes) -> Any:
        return w.tx("mah/staff-1", Ship(sid, w.ref, 1, "mah-coldroom", "cdc", "cdc-van-1", at_ms))

    expect(errors.InvalidPayload, lambda: ship(now + 10 * 60_000, b"\x05" * 32))  # in the future
    expect(errors.InvalidPayload, lambda: ship(now - 49 * 3_600_000, b"\x06" * 32))  # recorded too late
    ship(now - 3_600_000, b"\x07" * 32)  # an offline depot recording an hour late is fine
    shipment = queries.get_shipment(w.chain.state, b"\x07" * 32)
    assert shipment is not None and shipment["shipped_ms"] == now - 3_600_000


def test_no_vehicle_leg_and_optional_readings_rule() -> None:
    w = make_world(Params(require_readings_on_receive=False))
    w.ship_to_site(2, vehicle=None)
    w.receive(2)
    w2 = make_world()
    w2.ship_to_site(2, vehicle=None)
    e = expect(errors.NoTransitReadings, lambda: w2.receive(2))
    assert e.fields()["vehicle"] is None


def test_transit_breach_then_reject_then_quality_decision() -> None:
    w = make_world()
    w.ship_to_site(4)
    start = w.chain.time_ms // 1000 + 1
    w.readings("cdc-van-1/logger-1", start, [1000] * 12, step=3600)  # 11 h at 10 C
    e = expect(errors.TransitBreach, lambda: w.receive(4))
    assert e.fields()["vehicle"] == "cdc-van-1"
    w.tx("site-01/staff-1", RejectShipment(b"\x01" * 32, "van logger shows heat breach"))
    expect(errors.ShipmentClosed, lambda: w.tx("site-01/staff-1", RejectShipment(b"\x01" * 32, "again")))
    holders = queries.lot_holders(w.chain.state, w.ref.lot_id)
    assert holders == [
        {"org_id": "cdc", "unit_id": "cdc-coldroom", "available": 0, "quarantined": 4, "in_transit": 0},
        {"org_id": "mah", "unit_id": "mah-coldroom", "available": 8, "quarantined": 0, "in_transit": 0},
    ]
    (q,) = queries.open_quarantines(w.chain.state, "cdc")
    qid = bytes.fromhex(q["quarantine_id"][2:])
    assert q["cause"] == "returned"
    expect(errors.Unauthorized, lambda: w.tx("site-01/admin", QualityDecision(qid, True, H, "release")))
    expect(errors.UnknownQuarantine, lambda: w.tx("cdc/admin", QualityDecision(b"\x07" * 32, True, H, "")))
    w.tx("cdc/admin", QualityDecision(qid, True, H, "VVM stage 1, logger within limits at product level"))
    expect(errors.QuarantineClosed, lambda: w.tx("regulator/admin", QualityDecision(qid, False, H, "")))
    assert queries.lot_holders(w.chain.state, w.ref.lot_id)[0]["available"] == 4
    check_conservation(w)


def test_manual_quarantine_destroy_and_recall() -> None:
    w = make_world()
    w.tx("mah/staff-1", QuarantineUnits(w.ref, "mah-coldroom", 3, "carton crushed"))
    expect(
        errors.InsufficientStock, lambda: w.tx("mah/staff-1", QuarantineUnits(w.ref, "mah-coldroom", 10, "x"))
    )
    w.tx("mah/staff-1", Destroy(w.ref, "mah-coldroom", 2, DestroyReason.DAMAGED, "dropped"))
    expect(
        errors.LotQuarantined,
        lambda: w.tx("mah/staff-1", Destroy(w.ref, "mah-coldroom", 8, DestroyReason.DAMAGED, "")),
    )
    expect(errors.InvalidPayload, lambda: w.tx("mah/admin", RecallLot(w.ref, "")))  # a recall needs a reason
    w.tx("mah/admin", RecallLot(w.ref, "sterility failure"))
    expect(errors.AlreadyExists, lambda: w.tx("regulator/admin", RecallLot(w.ref, "again")))
    expect(
        errors.LotRecalled,
        lambda: w.tx("mah/staff-1", Ship(b"\x03" * 32, w.ref, 1, "mah-coldroom", "cdc", None)),
    )
    w.tx("mah/staff-1", Destroy(w.ref, "mah-coldroom", 7, DestroyReason.RECALLED, "recalled stock"))
    trace = queries.trace_lot(w.chain.state, w.ref.lot_id)
    assert trace is not None and trace["status"] == "recalled"
    assert [d["reason"] for d in trace["destructions"]] == ["damaged", "recalled"]
    check_conservation(w)


# --- readings and breaches --------------------------------------------------------------------


def test_readings_validation() -> None:
    w = make_world(Params(max_samples_per_reading=3))
    now_s = w.chain.time_ms // 1000
    logger = "site-01-fridge-1/logger-1"
    expect(errors.InvalidPayload, lambda: w.tx(logger, RecordReadings(())))
    expect(errors.InvalidPayload, lambda: w.readings(logger, now_s - 600, [500] * 4))
    expect(
        errors.SampleOutOfOrder,
        lambda: w.tx(logger, RecordReadings((Sample(now_s - 5, 500), Sample(now_s - 5, 500)))),
    )
    expect(errors.SampleInFuture, lambda: w.tx(logger, RecordReadings((Sample(now_s + 10_000, 500),))))
    w.readings(logger, now_s - 600, [500, 900, 100])
    expect(errors.SampleOutOfOrder, lambda: w.readings(logger, now_s - 600, [500]))
    kinds = [a["kind"] for a in queries.alerts(w.chain.state, site="site-01")]
    assert kinds == ["temperature_excursion"]  # 9 C then 1 C: one excursion episode, one alert (#20)


def test_heat_breach_quarantines_fridge_stock_and_blocks_doses() -> None:
    w = make_world()
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    w.dose(0)
    t = w.chain.time_ms // 1000 + 60
    w.readings("site-01-fridge-1/logger-1", t, [850] * 10, step=3600)  # 9 h at 8.5 C: no breach yet
    assert queries.get_lot(w.chain.state, w.ref.lot_id)["quarantined"] == 0  # type: ignore[index]
    ev = w.readings("site-01-fridge-1/logger-1", t + 10 * 3600, [850, 850], step=3600)
    assert "Breach" in {e.name for e in ev}
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert (
        lot is not None
        and lot["quarantined"] == 5
        and lot["status"] == "quarantined"
        and lot["breaches"] == 1
    )
    expect(errors.LotQuarantined, lambda: w.dose(1, dose_ref=b"\x06" * 32, at=w.chain.time_ms))
    expect(
        errors.LotQuarantined,
        lambda: w.tx("site-01/staff-1", Ship(b"\x04" * 32, w.ref, 1, "site-01-fridge-1", "cdc", None)),
    )
    trace = queries.trace_lot(w.chain.state, w.ref.lot_id)
    assert trace is not None and trace["breaches"][0]["cause"] == "heat_breach"
    check_conservation(w)


def test_cumulative_heat_freeze_and_strict_rules() -> None:
    prm = Params(heat_cumulative_minutes=120, strict_rule=True, strict_grace_minutes=30)
    w = make_world(prm)
    w.tx("mah/admin", RegisterProduct(CN, "IPV", True, 200, 800, False, 5, 6, "IPV", (0, 28)))
    w.tx("regulator/admin", ApproveProduct(CN, True, H))
    w.tx("mah/admin", RegisterLot(LotRef(CN, "P1"), 20251201, 20271231, 5, H, H, "mah-coldroom"))
    logger = "mah-coldroom/logger-1"
    t = w.chain.time_ms // 1000 - 40_000
    # three separate 50-minute heat spells: cumulative 150 min >= 120 -> heat breach (strict also fires)
    temps = ([900] * 6 + [500]) * 3
    ev = w.readings(logger, t, temps, step=600)
    causes = [e.data["cause"] for e in ev if e.name == "Breach"]
    assert "heat_breach" in causes and "strict_breach" in causes
    # freeze: 70 minutes at -1 C, only the freeze-sensitive HepB lot is affected (already quarantined: no units)
    w2 = make_world()
    w2.tx("mah/admin", RegisterProduct(CN, "not freeze sensitive", True, 200, 800, False, 1, 0, "X", (0,)))
    w2.tx("regulator/admin", ApproveProduct(CN, True, H))
    w2.tx("mah/admin", RegisterLot(LotRef(CN, "P1"), 20251201, 20271231, 5, H, H, "mah-coldroom"))
    ev = w2.readings(logger, w2.chain.time_ms // 1000 - 5000, [-100] * 8, step=600)
    (breach,) = [e for e in ev if e.name == "Breach"]
    assert breach.data["cause"] == "freeze_breach" and breach.data["lots"] == [w2.ref.lot_id]
    assert queries.get_lot(w2.chain.state, f"{CN}:P1")["quarantined"] == 0  # type: ignore[index]
    assert queries.get_lot(w2.chain.state, w2.ref.lot_id)["quarantined"] == 12  # type: ignore[index]


# --- doses ------------------------------------------------------------------------------------


def replace_sig(dose: RecordDose, signature: bytes) -> RecordDose:
    return dataclasses.replace(dose, registry_signature=signature)


def test_registry_keys_are_the_cdc_admins_to_set() -> None:
    w = make_world()
    _site_stock(w)
    key = REGISTRY_KEY.address
    assert [(k["address"], k["active"]) for k in queries.registry_keys(w.chain.state)] == [
        ("0x" + key.hex(), True)
    ]
    expect(errors.Unauthorized, lambda: w.tx("site-01/admin", SetRegistry(key, False)))
    expect(errors.Unauthorized, lambda: w.tx("cdc/staff-1", SetRegistry(key, False)))
    expect(errors.UnknownRegistrySigner, lambda: w.tx("cdc/admin", SetRegistry(b"\x09" * 20, False)))
    ev = w.tx("cdc/admin", SetRegistry(key, False))
    assert ev[-1].name == "RegistrySet" and ev[-1].data["active"] is False
    expect(errors.RegistrySignerInactive, lambda: w.dose(0))
    w.tx("cdc/admin", SetRegistry(key, True))
    w.dose(0)
    new_key = PrivateKey.from_seed("second registry key").address
    w.tx("cdc/admin", SetRegistry(new_key, True))
    keys = {k["address"]: k["active"] for k in queries.registry_keys(w.chain.state)}
    assert keys == {"0x" + key.hex(): True, "0x" + new_key.hex(): True}


def _site_stock(w: World, qty: int = 6) -> None:
    w.ship_to_site(qty)
    vehicle_ok(w)
    w.receive(qty)


def test_dose_checks() -> None:
    w = make_world()
    _site_stock(w)
    ev = w.dose(0)
    assert ev[-1].name == "DoseAdministered"
    e = expect(errors.UnitAlreadyUsed, lambda: w.dose(0, dose_ref=b"\x06" * 32))
    assert e.fields()["first_site"] == "site-01"
    e = expect(errors.DoseRefReused, lambda: w.dose(1))  # a dose reference is per dose
    first = queries.dose_record(w.chain.state, b"\x05" * 32)
    assert first is not None and e.fields()["first_tx"] == first["tx_hash"]
    fresh = b"\x0b" * 32
    expect(errors.RegistrySignatureInvalid, lambda: w.dose(1, fresh, cosign=lambda d, _: d))  # unsigned
    expect(
        errors.RegistrySignatureInvalid,
        lambda: w.dose(1, fresh, cosign=lambda d, _: replace_sig(d, b"\x01" * 64 + b"\x07")),
    )
    stranger = PrivateKey.from_seed("not the registry")
    expect(
        errors.UnknownRegistrySigner,
        lambda: w.dose(1, fresh, cosign=lambda d, lbl: cosign_payload(d, CHAIN_ID, lbl, stranger)),
    )
    other_chain = lambda d, lbl: cosign_payload(d, CHAIN_ID + 1, lbl, REGISTRY_KEY)  # noqa: E731
    expect(
        errors.UnknownRegistrySigner, lambda: w.dose(1, fresh, cosign=other_chain)
    )  # recovers to another key
    other_site = lambda d, lbl: cosign_payload(d, CHAIN_ID, "site-02/staff-1", REGISTRY_KEY)  # noqa: E731
    expect(errors.UnknownRegistrySigner, lambda: w.dose(1, fresh, cosign=other_site))
    expect(errors.InvalidPayload, lambda: w.dose(1, n=4))
    expect(errors.InvalidTraceCode, lambda: w.dose(1, dose_ref=b"\x07" * 32, code="(01)06901234567891(21)S1"))
    expect(errors.UnitNotInLot, lambda: w.dose(1, dose_ref=b"\x07" * 32, code=w.codes[2]))
    wrong_lot = gs1_hri(GTIN, "271231", "L9", "S00001")
    e = expect(errors.UnitNotInLot, lambda: w.dose(1, dose_ref=b"\x07" * 32, code=wrong_lot))
    assert "L9" in e.fields()["reason"]
    expect(
        errors.UnitNotInLot,
        lambda: w.dose(1, dose_ref=b"\x07" * 32, code=gs1_hri(GTIN, "271130", "L1", "S00001")),
    )
    expect(errors.InvalidPayload, lambda: w.dose(1, dose_ref=b"\x07" * 32, at=w.chain.time_ms + 3_600_000))
    expect(
        errors.InvalidPayload,
        lambda: w.tx(
            "site-01/staff-1",
            RecordDose(
                w.codes[1],
                w.ref,
                UnitProof(1, w.tree.proof(1)),
                "site-01-fridge-1",
                1,
                w.chain.time_ms,
                addr("cdc/admin"),
                b"\x07" * 32,
                H,
                bytes(65),
            ),
        ),
    )
    later = w.chain.time_ms + 2 * 3_600_000
    w.chain.time_ms = later
    ev = w.dose(1, n=1, dose_ref=b"\x08" * 32)
    for i in range(2, 6):
        w.dose(i, dose_ref=bytes([0x20 + i]) * 32)
    expect(errors.InsufficientStock, lambda: w.dose(6, dose_ref=b"\x09" * 32))
    dose = queries.dose_record(w.chain.state, b"\x05" * 32)
    assert dose is not None and dose["dose_number"] == 1 and dose["site"] == "site-01"
    assert dose["record_hash"] == "0x" + H.hex() and queries.dose_record(w.chain.state, b"\x0b" * 32) is None
    unit = queries.find_unit(w.chain.state, w.codes[0])
    assert unit["used"] and unit["use"]["doses"] == 1
    assert not queries.find_unit(w.chain.state, "123")["valid"]
    check_conservation(w)


def test_series_doses_are_unlinked_on_chain_and_expiry() -> None:
    w = make_world()
    _site_stock(w)
    w.dose(0, dose_ref=b"\x05" * 32)
    w.chain.time_ms += (
        DAY  # the series interval (28 days) is the registry's rule now: the chain cannot link the doses
    )
    w.dose(1, dose_ref=b"\x06" * 32, n=2)
    first, second = (queries.dose_record(w.chain.state, bytes([b]) * 32) for b in (5, 6))
    assert first is not None and second is not None
    assert [first["dose_number"], second["dose_number"]] == [1, 2]
    assert first["record_hash"] == second["record_hash"] == "0x" + H.hex()  # this test's one hash, not a link
    w.chain.time_ms = 1_830_297_600_000 + DAY  # 2028-01-01: the lot (exp 2027-12-31) has expired
    expect(errors.LotExpired, lambda: w.dose(2, dose_ref=b"\x07" * 32))
    expect(
        errors.LotExpired,
        lambda: w.tx("site-01/staff-1", Ship(b"\x05" * 32, w.ref, 1, "site-01-fridge-1", "cdc", None)),
    )


def test_recalled_lot_cannot_be_given() -> None:
    w = make_world()
    _site_stock(w)
    w.dose(0)
    w.tx("regulator/admin", RecallLot(w.ref, "potency"))
    expect(errors.LotRecalled, lambda: w.dose(1, dose_ref=b"\x06" * 32))
    lot = queries.get_lot(w.chain.state, w.ref.lot_id)
    assert lot is not None and lot["subjects"] == 1
    assert {h["org_id"] for h in queries.lot_holders(w.chain.state, w.ref.lot_id)} == {"mah", "site-01"}
    assert [a["kind"] for a in queries.alerts(w.chain.state, site="regulator")] == ["recall"]


def test_multi_dose_vial() -> None:
    w = make_world()
    codes = [f"{CN}{i:013d}" for i in range(4)]
    tree = UnitTree([parse_trace_code(c).canonical for c in codes])
    ref = LotRef(CN, "M1")
    w.tx("mah/admin", RegisterProduct(CN, "IPV 5-dose", True, 200, 800, True, 5, 6, "IPV", (0, 28)))
    w.tx("regulator/admin", ApproveProduct(CN, True, H))
    w.tx("mah/admin", RegisterLot(ref, 20251201, 20271231, 4, H, tree.root, "mah-coldroom"))
    w.ship_to_site(4, sid=b"\x0a" * 32, ref=ref)
    vehicle_ok(w)
    w.tx("site-01/staff-1", Receive(b"\x0a" * 32, "site-01-fridge-1", 4))
    t0 = w.chain.time_ms
    for k in range(5):
        w.dose(0, dose_ref=bytes([k + 1]) * 32, code=codes[0], ref=ref, tree=tree, at=t0 + k)
    expect(
        errors.UnitAlreadyUsed, lambda: w.dose(0, dose_ref=b"\x10" * 32, code=codes[0], ref=ref, tree=tree)
    )
    w.dose(1, dose_ref=b"\x11" * 32, code=codes[1], ref=ref, tree=tree)
    w.chain.time_ms += 7 * 3_600_000
    expect(
        errors.OpenedVialExpired, lambda: w.dose(1, dose_ref=b"\x12" * 32, code=codes[1], ref=ref, tree=tree)
    )
    lot = queries.get_lot(w.chain.state, ref.lot_id)
    assert lot is not None and lot["doses"] == 6 and lot["administered"] == 2 and lot["subjects"] == 6
    # an opened vial in a fridge that breached afterwards may not be used
    w.dose(2, dose_ref=b"\x13" * 32, code=codes[2], ref=ref, tree=tree)
    t = w.chain.time_ms // 1000 + 1
    w.readings("site-01-fridge-1/logger-1", t, [-100] * 3, step=3600)  # freeze breach
    w.chain.time_ms = (t + 2 * 3600) * 1000 + 1
    expect(errors.LotQuarantined, lambda: w.dose(2, dose_ref=b"\x14" * 32, code=codes[2], ref=ref, tree=tree))
    check_conservation(w)


def test_suspect_report_is_stored() -> None:
    w = make_world()
    w.tx("site-01/staff-1", ReportSuspectUnit(w.codes[0], w.ref, H, "code already used elsewhere"))
    w.tx("site-01/staff-1", ReportSuspectUnit("garbage!", None, H, "unreadable"))
    unit = queries.find_unit(w.chain.state, w.codes[0])
    assert len(unit["suspect_reports"]) == 1
    assert [a["kind"] for a in queries.alerts(w.chain.state, site="site-01")] == ["suspect_unit"] * 2


def test_trace_lot_reports_destruction_times_and_tx_as_recorded() -> None:
    w = make_world()
    w.tx("mah/staff-1", Destroy(w.ref, "mah-coldroom", 2, DestroyReason.DAMAGED, "dropped"))
    first_ms, first_tx = w.chain.time_ms, hashlib.sha256(b"tx:%d" % w.chain.nonce).digest()
    w.tx(
        "mah/staff-1", Destroy(w.ref, "mah-coldroom", 1, DestroyReason.EXPIRED, ""), time_ms=first_ms + 5_000
    )
    trace = queries.trace_lot(w.chain.state, w.ref.lot_id)
    assert trace is not None
    assert [(d["time_ms"], d["quantity"]) for d in trace["destructions"]] == [
        (first_ms, 2),
        (first_ms + 5_000, 1),
    ]
    assert trace["destructions"][0]["tx_hash"] == "0x" + first_tx.hex()


def test_storage_fit_and_unknown_episode_errors() -> None:
    w = make_world()
    w.tx("mah/admin", RegisterStorageUnit("mah-frozen-van", StorageKind.VEHICLE, "Frozen van", -2500, -1500))
    expect(  # a 2-8 C product may not travel in a frozen van
        errors.StorageClassMismatch,
        lambda: w.tx("mah/staff-1", Ship(b"\x09" * 32, w.ref, 1, "mah-coldroom", "cdc", "mah-frozen-van")),
    )
    expect(errors.UnknownEpisode, lambda: verdicts.excursion_doses(w.chain.state, b"\x00" * 32))


# --- state layout -----------------------------------------------------------------------------

# SHA-256 over the sorted (key, value) pairs the scenario below leaves in state. Taken before the keys were
# built in contracts/schema.py: a key (or record) whose bytes change changes every state root, and shows here.
# #22: doses keyed by their per-dose reference ("dose") and the registry key ("regsigner") replaced "subj";
# #21: Chinese names from genesis ("namezh"); #20: shipments carry carrier and leg verdict, the supply path's
# monitoring and recall records ("lotunits", "unitwatch", "recallh", "recallq"), Params gained the label rule,
# quarantine and expiry-warning fields, the scenario's hourly readings leave monitoring-gap episodes with their
# indexes and the unit monitor ("episode", "epstart", "unitep", "unitmon", "monbuckets", "mondue") and lots
# queue for their expiry warning ("expcursor", "expdue"; holders are found in "lotunits"); the roster's CDC
# gained the registry's service account ("cdc/registry": one more account record, same key kinds); a storage
# unit's logger history became one record ("unitmon" holds the leg counters, "unitwatch" went, and the storage
# unit record lost its last_sample_s); AEFI: Params gained aefi_signal_threshold, the scenario reports one AEFI
# ("aefi", "lotaefi")
STATE_DIGEST = "b0e4713c79db44a07c8aded1c3918ac4497c893a281033bfb5993d13eacea437"
EVERY_KEY_KIND = {
    *(b"acct", b"alert", b"alerts", b"att", b"breach", b"dev", b"devstate", b"hold", b"inbound", b"lot"),
    *(b"lotdestroy", b"lotholder", b"lotq", b"lotship", b"lotsite", b"lotsubj", b"org", b"orgacct", b"orgq"),
    *(b"orgunit", b"params", b"prod", b"q", b"ship", b"sitedoses", b"dose", b"suspect", b"unit", b"unitdev"),
    *(b"unitlots", b"used", b"regsigner", b"namezh", b"lotunits", b"recallh", b"recallq"),
    # #20: episodes and their indexes, the unit monitor (the unit's logger history: leg counters and episodes)
    # and the monitoring deadline buckets and cursor
    *(b"episode", b"epstart", b"monbuckets", b"mondue", b"unitep", b"unitmon"),
    *(b"expcursor", b"expdue"),  # #20: expiry warnings queued at commissioning
    *(b"aefi", b"lotaefi"),  # AEFI reports and a lot's AEFI counters
}


def test_state_bytes_of_a_scenario_writing_every_key_kind_are_pinned() -> None:
    w = make_world()
    w.ship_to_site(6)
    vehicle_ok(w)
    w.receive(6)
    w.dose(0)
    aefi = registry_aefi_digest(CHAIN_ID, "site-01", w.ref.lot_id, True, AefiClass.PENDING, H, None)
    w.tx("site-01/staff-1", ReportAefi(w.ref, True, AefiClass.PENDING, H, None, REGISTRY_KEY.sign(aefi)))
    w.ship_to_site(2, sid=b"\x02" * 32)  # left in transit: an inbound entry
    w.tx("mah/staff-1", QuarantineUnits(w.ref, "mah-coldroom", 1, "carton crushed"))
    (q,) = queries.open_quarantines(w.chain.state, "mah")
    w.tx("cdc/admin", QualityDecision(bytes.fromhex(q["quarantine_id"][2:]), False, H, "condemned"))
    w.tx("mah/staff-1", Destroy(w.ref, "mah-coldroom", 1, DestroyReason.DAMAGED, "dropped"))
    t = w.chain.time_ms // 1000 + 60
    w.readings("site-01-fridge-1/logger-1", t, [850] * 12, step=3600)  # heat breach: a breach quarantine
    w.tx("site-01/staff-1", ReportSuspectUnit(w.codes[0], w.ref, H, "code already used elsewhere"))
    w.tx("site-01/staff-1", Attest(H, "cold-room video", "video/mp4"))
    w.tx("regulator/admin", RecallLot(w.ref, "potency"))  # recall quarantines and progress records
    data = w.chain.state.data
    assert {k.split(b"\x00")[0] for k in data} == EVERY_KEY_KIND
    digest = hashlib.sha256()
    for k in sorted(data):
        digest.update(len(k).to_bytes(4, "big") + k + len(data[k]).to_bytes(4, "big") + data[k])
    assert digest.hexdigest() == STATE_DIGEST


def test_every_contract_error_is_covered() -> None:
    # GenesisInvalid, PayloadEncodeError are covered in their own test modules, the supply path's and the
    # receipt verdict's errors in test_contracts_supply_path.py
    RAISED.update({"GenesisInvalid", "PayloadEncodeError"})
    RAISED.update(
        {"CannotReceive", "NotOnSupplyPath", "CarrierNotAllowed", "LegOutOfRange", "LegUnmonitored"}
    )
    RAISED.update({"UnknownAefiReport", "AefiReportExists"})  # test_contracts_aefi.py
    all_errors = {
        c.__name__
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, ContractError) and c is not ContractError
    }
    assert all_errors - RAISED == set()
