"""Organisations, member accounts, storage units and logger devices.

The regulator admits organisations of any type; the health commission (the county health authority, Vaccine
Administration Law art. 44) designates vaccination sites and admits schools, and suspends or reactivates them.
Each organisation's admin accounts manage its own accounts, storage units and devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from contracts import schema
from contracts.errors import AlreadyExists, InvalidPayload, Unauthorized
from contracts.interfaces import Context, State
from contracts.records import Account, Device, DeviceState, Organisation, StorageUnit
from contracts.statekeys import load, store
from contracts.types import Address, Id, MaxLen, Name, OrgType, Role, StorageKind, Temp, Text

from .common import check_id, check_text, emit, get_org, own_unit, sender_account, sender_admin

HEALTH_COMMISSION_MAY_ADMIT = frozenset({OrgType.SITE, OrgType.SCHOOL})


@dataclass(frozen=True, slots=True)
class AdmitOrganisation:
    """Admit a new organisation with its first admin accounts."""

    org_id: Id
    org_type: OrgType
    name: Name
    admins: Annotated[tuple[Address, ...], MaxLen(16)]


@dataclass(frozen=True, slots=True)
class SetOrganisationStatus:
    """Suspend or reactivate an organisation (regulator)."""

    org_id: Id
    active: bool
    reason: Text


@dataclass(frozen=True, slots=True)
class SetAccount:
    """Add, change or deactivate a member account of the sender's organisation."""

    address: Address
    role: Role
    active: bool


@dataclass(frozen=True, slots=True)
class RegisterStorageUnit:
    """Register a fridge, freezer, cold room or vehicle of the sender's organisation."""

    unit_id: Id
    kind: StorageKind
    name: Name
    min_temp: Temp
    max_temp: Temp


@dataclass(frozen=True, slots=True)
class SetDevice:
    """Register, rebind or deactivate a logger (its own key) bound to one of the organisation's units."""

    address: Address
    unit_id: Id
    serial: Name
    active: bool


def put_organisation(state: State, org: Organisation) -> None:
    """Write an organisation record."""
    store(state, schema.organisation(org.org_id), org)


def put_account(state: State, acct: Account) -> None:
    """Write an account and its per-organisation index entry."""
    store(state, schema.account(acct.address), acct)
    state.set(schema.org_account(acct.org_id, acct.address), b"")


def put_storage_unit(state: State, unit: StorageUnit) -> None:
    """Write a storage unit and its per-organisation index entry."""
    store(state, schema.storage_unit(unit.unit_id), unit)
    state.set(schema.org_unit(unit.org_id, unit.unit_id), b"")


def put_device(state: State, dev: Device, previous_unit: str | None) -> None:
    """Write a device, move its unit index entry, and reset its excursion runs when rebound."""
    if previous_unit is not None and previous_unit != dev.unit_id:
        state.delete(schema.unit_device(previous_unit, dev.address))
    store(state, schema.device(dev.address), dev)
    state.set(schema.unit_device(dev.unit_id, dev.address), b"")
    old = load(state, schema.device_state(dev.address), DeviceState)
    last = old.last_time_s if old else 0  # keep per-device time monotonic across rebinding
    samples = old.samples if old else 0
    if old is None or previous_unit != dev.unit_id:
        fresh = DeviceState(
            samples, last, old.last_temp if old else 0, None, False, None, False, None, False, last, 0, False
        )
        store(state, schema.device_state(dev.address), fresh)


def check_address_free(state: State, address: bytes, field: str) -> None:
    """An address is either an account or a device, never both, and not reused across organisations."""
    if state.get(schema.account(address)) is not None:
        raise AlreadyExists("account", "0x" + address.hex())
    if state.get(schema.device(address)) is not None:
        raise AlreadyExists("device", "0x" + address.hex())


def validate_storage_range(kind: StorageKind, min_temp: int, max_temp: int) -> None:
    """A unit's range must be non-empty; vehicles and rooms may be chilled or frozen."""
    if min_temp >= max_temp:
        raise InvalidPayload("min_temp", "must be below max_temp")


def apply_admit_organisation(state: State, ctx: Context, p: AdmitOrganisation) -> None:
    """Create the organisation and its admin accounts."""
    check_id("org_id", p.org_id)
    check_text("name", p.name)
    if not p.admins:
        raise InvalidPayload("admins", "at least one admin account")
    if len(set(p.admins)) != len(p.admins):
        raise InvalidPayload("admins", "duplicate address")
    _, admitter = sender_account(state, ctx, "admit_organisation")
    if admitter.org_type is OrgType.HEALTH_COMMISSION and p.org_type not in HEALTH_COMMISSION_MAY_ADMIT:
        raise Unauthorized(
            ctx.sender, "admit_organisation", "the health commission admits only sites and schools"
        )
    if state.get(schema.organisation(p.org_id)) is not None:
        raise AlreadyExists("organisation", p.org_id)
    for i, address in enumerate(p.admins):
        check_address_free(state, address, f"admins[{i}]")
    put_organisation(
        state, Organisation(p.org_id, p.org_type, p.name, True, admitter.org_id, ctx.block_height)
    )
    for address in p.admins:
        put_account(state, Account(address, p.org_id, Role.ADMIN, True))
    emit(
        ctx,
        "OrganisationAdmitted",
        org_id=p.org_id,
        org_type=p.org_type,
        name=p.name,
        admitted_by=admitter.org_id,
        admins=list(p.admins),
    )


def apply_set_organisation_status(state: State, ctx: Context, p: SetOrganisationStatus) -> None:
    """Suspend/reactivate; the regulator cannot suspend itself (it would lock the chain's governance)."""
    _, sender_org = sender_account(state, ctx, "set_organisation_status")
    org = get_org(state, p.org_id)
    if org.org_id == sender_org.org_id:
        raise Unauthorized(ctx.sender, "set_organisation_status", "cannot change its own status")
    if sender_org.org_type is OrgType.HEALTH_COMMISSION and org.org_type not in HEALTH_COMMISSION_MAY_ADMIT:
        raise Unauthorized(
            ctx.sender, "set_organisation_status", "the health commission suspends only sites and schools"
        )
    check_text("reason", p.reason, required=not p.active)
    put_organisation(
        state,
        Organisation(org.org_id, org.org_type, org.name, p.active, org.admitted_by, org.admitted_height),
    )
    emit(ctx, "OrganisationStatusChanged", org_id=org.org_id, active=p.active, reason=p.reason)


def apply_set_account(state: State, ctx: Context, p: SetAccount) -> None:
    """Admins manage their own organisation's accounts, never their own account (no self lock-out)."""
    _, org = sender_admin(state, ctx, "set_account")
    if p.address == ctx.sender:
        raise Unauthorized(ctx.sender, "set_account", "an admin cannot change its own account")
    existing = load(state, schema.account(p.address), Account)
    if existing is None:
        check_address_free(state, p.address, "address")
    elif existing.org_id != org.org_id:
        raise Unauthorized(ctx.sender, "set_account", f"account belongs to {existing.org_id}")
    put_account(state, Account(p.address, org.org_id, p.role, p.active))
    emit(ctx, "AccountSet", org_id=org.org_id, address=p.address, role=p.role, active=p.active)


def apply_register_storage_unit(state: State, ctx: Context, p: RegisterStorageUnit) -> None:
    """Create a storage unit owned by the sender's organisation (ids are chain-wide unique)."""
    check_id("unit_id", p.unit_id)
    check_text("name", p.name)
    validate_storage_range(p.kind, p.min_temp, p.max_temp)
    _, org = sender_admin(state, ctx, "register_storage_unit")
    if state.get(schema.storage_unit(p.unit_id)) is not None:
        raise AlreadyExists("storage_unit", p.unit_id)
    put_storage_unit(
        state, StorageUnit(p.unit_id, org.org_id, p.kind, p.name, p.min_temp, p.max_temp, True, 0)
    )
    emit(
        ctx,
        "StorageUnitRegistered",
        unit_id=p.unit_id,
        org_id=org.org_id,
        kind=p.kind,
        name=p.name,
        min_temp=p.min_temp,
        max_temp=p.max_temp,
    )


def apply_set_device(state: State, ctx: Context, p: SetDevice) -> None:
    """Register or rebind a logger to one of the organisation's storage units."""
    check_text("serial", p.serial)
    _, org = sender_admin(state, ctx, "set_device")
    own_unit(state, ctx, "set_device", org, p.unit_id)
    existing = load(state, schema.device(p.address), Device)
    if existing is None:
        check_address_free(state, p.address, "address")
    elif existing.org_id != org.org_id:
        raise Unauthorized(ctx.sender, "set_device", f"device belongs to {existing.org_id}")
    put_device(
        state,
        Device(p.address, org.org_id, p.unit_id, p.serial, p.active),
        existing.unit_id if existing else None,
    )
    emit(
        ctx,
        "DeviceSet",
        org_id=org.org_id,
        address=p.address,
        unit_id=p.unit_id,
        serial=p.serial,
        active=p.active,
    )
