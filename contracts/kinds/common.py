"""Helpers shared by the apply rules: sender lookup, id checks, alerts and events."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from contracts import schema
from contracts.errors import (
    InvalidPayload,
    OrganisationSuspended,
    Unauthorized,
    UnknownLot,
    UnknownOrganisation,
    UnknownStorageUnit,
)
from contracts.interfaces import Context, Event, State
from contracts.jsonable import to_json
from contracts.records import Account, Alert, AlertKind, Lot, Organisation, StorageUnit
from contracts.statekeys import load, store
from contracts.types import Role

ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
SERIES_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MEDIA_TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


def check_id(field: str, value: str) -> None:
    """Ids are short lower-case ASCII so they are safe in keys, URLs and logs."""
    if not ID_RE.match(value):
        raise InvalidPayload(field, "id must match [a-z0-9][a-z0-9._-]{0,63}")


def check_text(field: str, value: str, *, required: bool = True) -> None:
    """Free text: no control characters (they would confuse keys and logs)."""
    if required and not value.strip():
        raise InvalidPayload(field, "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidPayload(field, "must not contain control characters")


def block_year(ctx: Context) -> int:
    """The UTC year of the block being executed (what a rule reads two-digit years against)."""
    return dt.datetime.fromtimestamp(ctx.block_time_ms / 1000, tz=dt.UTC).year


def emit(ctx: Context, event_name: str, /, **data: Any) -> None:
    """Emit an event with JSON-able data."""
    ctx.emit(Event(event_name, to_json(data)))


def sender_account(state: State, ctx: Context, kind: str) -> tuple[Account, Organisation]:
    """The sender's active account and its active organisation."""
    acct = load(state, schema.account(ctx.sender), Account)
    if acct is None or not acct.active:
        raise Unauthorized(ctx.sender, kind, "sender is not an active account")
    org = load(state, schema.organisation(acct.org_id), Organisation)
    if org is None:
        raise UnknownOrganisation(acct.org_id)
    if not org.active:
        raise OrganisationSuspended(org.org_id)
    return acct, org


def sender_admin(state: State, ctx: Context, kind: str) -> tuple[Account, Organisation]:
    """Like sender_account, and the account must be an admin of its organisation."""
    acct, org = sender_account(state, ctx, kind)
    if acct.role is not Role.ADMIN:
        raise Unauthorized(ctx.sender, kind, "only an admin account of the organisation may do this")
    return acct, org


def get_org(state: State, org_id: str) -> Organisation:
    """An existing organisation."""
    org = load(state, schema.organisation(org_id), Organisation)
    if org is None:
        raise UnknownOrganisation(org_id)
    return org


def get_unit(state: State, unit_id: str) -> StorageUnit:
    """An existing storage unit."""
    unit = load(state, schema.storage_unit(unit_id), StorageUnit)
    if unit is None:
        raise UnknownStorageUnit(unit_id)
    return unit


def get_lot(state: State, lot_id: str) -> Lot:
    """An existing lot."""
    lot = load(state, schema.lot(lot_id), Lot)
    if lot is None:
        raise UnknownLot(lot_id)
    return lot


def own_unit(state: State, ctx: Context, kind: str, org: Organisation, unit_id: str) -> StorageUnit:
    """A storage unit that belongs to the sender's organisation."""
    unit = get_unit(state, unit_id)
    if unit.org_id != org.org_id:
        raise Unauthorized(ctx.sender, kind, f"storage unit {unit_id} belongs to {unit.org_id}")
    return unit


def raise_alert(state: State, ctx: Context, alert: Alert, seq: int) -> None:
    """Store an alert under the organisation and the global time index, and emit it.

    `seq` distinguishes several alerts of one tx (e.g. one per out-of-range sample).
    """
    store(state, schema.org_alert(alert.org_id, alert.time_ms, ctx.tx_hash, seq), alert)
    store(state, schema.alert(alert.time_ms, ctx.tx_hash, seq), alert)
    emit(
        ctx,
        "Alert",
        kind=alert.kind,
        org_id=alert.org_id,
        time_ms=alert.time_ms,
        unit_id=alert.unit_id,
        lot_id=alert.lot_id,
        device=alert.device,
        temperature=alert.temperature,
        detail=alert.detail,
    )


def new_alert(
    ctx: Context,
    kind: AlertKind,
    org_id: str,
    *,
    time_ms: int | None = None,
    unit_id: str | None = None,
    lot_id: str | None = None,
    device: bytes | None = None,
    temperature: int | None = None,
    detail: str = "",
) -> Alert:
    """An Alert record stamped with this tx."""
    return Alert(
        time_ms=ctx.block_time_ms if time_ms is None else time_ms,
        org_id=org_id,
        kind=kind,
        unit_id=unit_id,
        lot_id=lot_id,
        device=device,
        temperature=temperature,
        detail=detail[:1000],
        tx_hash=ctx.tx_hash,
    )
