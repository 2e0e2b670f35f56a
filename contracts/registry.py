"""Transaction kinds, the one authorization table, the payload codec entry points and `execute`."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from contracts import codec, schema
from contracts.errors import (
    DeviceInactive,
    NotAMember,
    OrganisationSuspended,
    PayloadDecodeError,
    PayloadEncodeError,
    RoleNotAllowed,
    Unauthorized,
    UnknownDevice,
    UnknownKind,
    UnknownOrganisation,
)
from contracts.interfaces import Context, ReadState, State
from contracts.kinds import (
    aefi,
    attest,
    custody,
    doses,
    nodes,
    organisations,
    products,
    readings,
    recalls,
    registry_signers,
)
from contracts.records import RECORD_TYPES, Account, Device, Organisation
from contracts.statekeys import load
from contracts.types import OrgType, Role


class Signer(enum.IntEnum):
    """Which kind of key may sign a transaction kind."""

    ACCOUNT = 1  # an active account of an active organisation whose type PERMISSIONS allows
    DEVICE = 2  # an active temperature logger
    ANY = 3  # an active account or an active device (checked by the kind itself)


# The one table: which organisation type may submit which kind (by name). Kinds signed by devices or by
# anyone registered are not listed here; see `_SIGNERS`.
PERMISSIONS: Mapping[OrgType, frozenset[str]] = MappingProxyType(
    {
        OrgType.MANUFACTURER: frozenset(
            {
                "set_account",
                "set_node",
                "register_storage_unit",
                "set_device",
                "register_product",
                "register_lot",
                "ship",
                "receive",
                "reject_shipment",
                "quarantine",
                "destroy",
                "recall_lot",
                "report_suspect_unit",
                "cancel_shipment",
            }
        ),
        OrgType.DISTRIBUTOR: frozenset(
            {
                "set_account",
                "set_node",
                "register_storage_unit",
                "set_device",
                "ship",
                "receive",
                "reject_shipment",
                "quarantine",
                "destroy",
                "report_suspect_unit",
            }
        ),
        OrgType.CDC: frozenset(
            {
                "set_account",
                "set_node",
                "register_storage_unit",
                "set_device",
                "ship",
                "receive",
                "reject_shipment",
                "quarantine",
                "quality_decision",
                "destroy",
                "report_suspect_unit",
                "set_registry",
                "cancel_shipment",
                "report_aefi",
            }
        ),
        OrgType.SITE: frozenset(
            {
                "set_account",
                "set_node",
                "register_storage_unit",
                "set_device",
                "ship",
                "receive",
                "reject_shipment",
                "quarantine",
                "destroy",
                "record_dose",
                "report_suspect_unit",
                "cancel_shipment",
                "report_aefi",
            }
        ),
        OrgType.REGULATOR: frozenset(
            {
                "admit_organisation",
                "set_organisation_status",
                "set_account",
                "set_node",
                "approve_product",
                "quality_decision",
                "recall_lot",
                "report_suspect_unit",
            }
        ),
        # the county health authority designates vaccination sites (Vaccine Administration Law art. 44)
        OrgType.HEALTH_COMMISSION: frozenset(
            {"set_account", "set_node", "admit_organisation", "set_organisation_status"}
        ),
        OrgType.SCHOOL: frozenset({"set_account", "set_node"}),
    }
)

_SIGNERS: Mapping[str, Signer] = MappingProxyType({"attest": Signer.ANY, "record_readings": Signer.DEVICE})

# Kinds only an admin account of the organisation may send (their rules check it again: `sender_admin`).
ADMIN_KINDS: frozenset[str] = frozenset(
    {"set_account", "set_node", "register_storage_unit", "set_device", "set_registry"}
)

# Rules of a kind that read nothing but the payload: the node runs them when it first decodes a payload (at
# admission), so such a transaction is refused before it is gossiped; the kind's rule runs them again.
_PAYLOAD_CHECKS: Mapping[str, Callable[[Any], None]] = MappingProxyType(
    {"record_readings": readings.check_readings_range}
)


@dataclass(frozen=True, slots=True)
class TxKind:
    """A transaction kind: wire code, name, payload dataclass and apply rule.

    `allowed` is derived from PERMISSIONS: the org types that may submit it, or None when any active
    account or device may (`attest`); device-signed kinds have an empty set and `signer` DEVICE.
    """

    code: int
    name: str
    payload_type: type
    apply: Callable[[State, Context, Any], None]
    allowed: frozenset[OrgType] | None
    signer: Signer = Signer.ACCOUNT
    admin_only: bool = False
    check: Callable[[Any], None] | None = None


def _kind(code: int, name: str, payload_type: type, apply: Callable[[State, Context, Any], None]) -> TxKind:
    signer = _SIGNERS.get(name, Signer.ACCOUNT)
    allowed: frozenset[OrgType] | None
    if signer is Signer.ANY:
        allowed = None
    else:
        allowed = frozenset(t for t, names in PERMISSIONS.items() if name in names)
    return TxKind(
        code, name, payload_type, apply, allowed, signer, name in ADMIN_KINDS, _PAYLOAD_CHECKS.get(name)
    )


_KINDS: list[TxKind] = [
    _kind(1, "attest", attest.Attest, attest.apply_attest),
    _kind(2, "admit_organisation", organisations.AdmitOrganisation, organisations.apply_admit_organisation),
    _kind(
        3,
        "set_organisation_status",
        organisations.SetOrganisationStatus,
        organisations.apply_set_organisation_status,
    ),
    _kind(4, "set_account", organisations.SetAccount, organisations.apply_set_account),
    _kind(
        5,
        "register_storage_unit",
        organisations.RegisterStorageUnit,
        organisations.apply_register_storage_unit,
    ),
    _kind(6, "set_device", organisations.SetDevice, organisations.apply_set_device),
    _kind(7, "register_product", products.RegisterProduct, products.apply_register_product),
    _kind(8, "approve_product", products.ApproveProduct, products.apply_approve_product),
    _kind(9, "register_lot", products.RegisterLot, products.apply_register_lot),
    _kind(10, "ship", custody.Ship, custody.apply_ship),
    _kind(11, "receive", custody.Receive, custody.apply_receive),
    _kind(12, "reject_shipment", custody.RejectShipment, custody.apply_reject_shipment),
    _kind(13, "record_readings", readings.RecordReadings, readings.apply_record_readings),
    _kind(14, "quarantine", custody.QuarantineUnits, custody.apply_quarantine_units),
    _kind(15, "quality_decision", custody.QualityDecision, custody.apply_quality_decision),
    _kind(16, "destroy", custody.Destroy, custody.apply_destroy),
    _kind(17, "record_dose", doses.RecordDose, doses.apply_record_dose),
    _kind(18, "recall_lot", products.RecallLot, recalls.apply_recall),
    _kind(19, "report_suspect_unit", doses.ReportSuspectUnit, doses.apply_report_suspect_unit),
    _kind(20, "set_node", nodes.SetNode, nodes.apply_set_node),
    _kind(21, "set_registry", registry_signers.SetRegistry, registry_signers.apply_set_registry),
    _kind(22, "cancel_shipment", custody.CancelShipment, custody.apply_cancel_shipment),
    _kind(23, "report_aefi", aefi.ReportAefi, aefi.apply_report_aefi),
]

REGISTRY: Mapping[int, TxKind] = MappingProxyType({k.code: k for k in _KINDS})
BY_NAME: Mapping[str, TxKind] = MappingProxyType({k.name: k for k in _KINDS})
BY_TYPE: Mapping[type, TxKind] = MappingProxyType({k.payload_type: k for k in _KINDS})


def prepare_codecs() -> None:
    """Compile the codec of every payload and state record type now (``codec.prepare``)."""
    codec.prepare([*(k.payload_type for k in _KINDS), *RECORD_TYPES])


def decode_payload(kind_code: int, data: bytes) -> Any:
    """Decode canonical payload bytes of a kind; PayloadDecodeError for anything malformed."""
    kind = REGISTRY.get(kind_code) if isinstance(kind_code, int) else None
    if kind is None:
        raise PayloadDecodeError(kind_code if isinstance(kind_code, int) else -1, "unknown kind")
    try:
        return codec.decode(kind.payload_type, data)
    except codec.CodecError as e:
        raise PayloadDecodeError(kind_code, str(e)) from None


def encode_payload(payload: Any) -> bytes:
    """Canonical RLP bytes of a payload; PayloadEncodeError for an unknown type or out-of-bounds field."""
    kind = BY_TYPE.get(type(payload))
    if kind is None:
        raise PayloadEncodeError(type(payload).__name__, "not a payload type of any kind")
    try:
        return codec.encode(payload)
    except codec.CodecError as e:
        raise PayloadEncodeError(kind.name, str(e)) from None


def kind_of(payload: Any) -> TxKind:
    """The kind whose payload type this value has."""
    kind = BY_TYPE.get(type(payload))
    if kind is None:
        raise PayloadEncodeError(type(payload).__name__, "not a payload type of any kind")
    return kind


def check_payload(kind_code: int, payload: Any) -> None:
    """Run the kind's payload-only rules (e.g. ReadingOutOfRange), if it has any."""
    kind = REGISTRY.get(kind_code)
    if kind is not None and kind.check is not None:
        kind.check(payload)


@dataclass(frozen=True, slots=True)
class Member:
    """A sender admission lets in: an active account or an active logger (``role`` None) of an active organisation."""

    org_id: str
    org_type: OrgType
    role: Role | None

    @property
    def label(self) -> str:
        """The role as errors name it: "site/staff", "regulator/admin" or "logger"."""
        return "logger" if self.role is None else f"{self.org_type.name.lower()}/{self.role.name.lower()}"


def member_of(state: State | ReadState, sender: bytes) -> Member | None:
    """The sender as a member, or None: unknown, deactivated, or of a suspended organisation."""
    acct = load(state, schema.account(sender), Account)
    if acct is not None:
        org_id, role = acct.org_id, acct.role
        active = acct.active
    else:  # an address is an account or a device, never both (check_address_free)
        dev = load(state, schema.device(sender), Device)
        if dev is None:
            return None
        org_id, role, active = dev.org_id, None, dev.active
    if not active:
        return None
    org = load(state, schema.organisation(org_id), Organisation)
    if org is None or not org.active:
        return None
    return Member(org.org_id, org.org_type, role)


def may_send(member: Member, kind: TxKind) -> bool:
    """Whether the member's role may send ``kind`` (the PERMISSIONS table, the signer rule and ADMIN_KINDS)."""
    if kind.signer is Signer.ANY:
        return True
    if kind.signer is Signer.DEVICE:
        return member.role is None
    if member.role is None or kind.allowed is None or member.org_type not in kind.allowed:
        return False
    return member.role is Role.ADMIN or not kind.admin_only


def check_sender(member: Member | None, sender: bytes, kind_code: int) -> None:
    """Admission by membership: NotAMember, or RoleNotAllowed when the member's role may not send this kind."""
    if member is None:
        raise NotAMember(sender)
    kind = REGISTRY.get(kind_code)
    if kind is None:
        raise UnknownKind(kind_code)
    if not may_send(member, kind):
        raise RoleNotAllowed(kind.name, member.label)


def authorize(state: State, ctx: Context, kind: TxKind) -> None:
    """Check the sender against the kind's signer rule and the PERMISSIONS table."""
    if kind.signer is Signer.ANY:
        return  # the kind checks the sender itself
    if kind.signer is Signer.DEVICE:
        dev = load(state, schema.device(ctx.sender), Device)
        if dev is None:
            raise UnknownDevice(ctx.sender)
        if not dev.active:
            raise DeviceInactive(ctx.sender)
        return
    acct = load(state, schema.account(ctx.sender), Account)
    if acct is None or not acct.active:
        raise Unauthorized(ctx.sender, kind.name, "sender is not an active account")
    org = load(state, schema.organisation(acct.org_id), Organisation)
    if org is None:
        raise UnknownOrganisation(acct.org_id)
    if not org.active:
        raise OrganisationSuspended(org.org_id)
    if kind.allowed is None or org.org_type not in kind.allowed:
        raise Unauthorized(ctx.sender, kind.name, f"organisation type {org.org_type.name.lower()} may not")


def execute(state: State, ctx: Context, kind_code: int, payload: Any) -> None:
    """Authorize the sender, then run the kind's apply rule (a ContractError means: discard the writes)."""
    kind = REGISTRY.get(kind_code)
    if kind is None:
        raise UnknownKind(kind_code)
    if type(payload) is not kind.payload_type:
        got, want = type(payload).__name__, kind.payload_type.__name__
        raise PayloadDecodeError(kind_code, f"payload is a {got}, not {want}")
    authorize(state, ctx, kind)
    kind.apply(state, ctx, payload)
