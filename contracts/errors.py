"""Contract errors: a small hierarchy, each a dataclass with named JSON-able fields.

`code` is the class name; `fields()` goes into failure receipts and the RPC error `data`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from contracts.jsonable import to_json


@dataclass(eq=False)
class ContractError(Exception):
    """Base of every rule violation; a tx that raises one has all its writes discarded."""

    code: ClassVar[str] = "ContractError"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = cls.__name__

    def __post_init__(self) -> None:
        Exception.__init__(self, *[getattr(self, f.name) for f in dataclasses.fields(self)])

    def fields(self) -> dict[str, Any]:
        """Named fields as JSON-able values."""
        return {f.name: to_json(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.fields().items())
        return f"{self.code}({inner})"


# --- encoding, genesis, authorization -------------------------------------------------------


@dataclass(eq=False)
class PayloadDecodeError(ContractError):
    """Payload bytes are not the canonical encoding of a valid payload of this kind."""

    kind: int
    reason: str


@dataclass(eq=False)
class PayloadEncodeError(ContractError):
    """A payload value cannot be encoded (wrong type or out of the field's bounds)."""

    kind: str
    reason: str


@dataclass(eq=False)
class UnknownKind(ContractError):
    """No transaction kind has this code."""

    kind: int


@dataclass(eq=False)
class GenesisInvalid(ContractError):
    """A genesis field is wrong; `path` is like "organisations[3].accounts[0]"."""

    path: str
    reason: str


@dataclass(eq=False)
class Unauthorized(ContractError):
    """The sender may not submit this kind (or act for this organisation/object)."""

    sender: bytes
    kind: str
    reason: str = ""


@dataclass(eq=False)
class NotAMember(ContractError):
    """The sender is neither an active account nor an active logger of an active organisation (admission)."""

    sender: bytes


@dataclass(eq=False)
class RoleNotAllowed(ContractError):
    """The sender's role may not send this kind (admission); `role` is like "site/staff" or "logger"."""

    kind: str
    role: str


@dataclass(eq=False)
class InvalidPayload(ContractError):
    """A decoded payload breaks a rule of its kind (bad id, range, length...)."""

    field: str
    reason: str


# --- registry objects -------------------------------------------------------------------------


@dataclass(eq=False)
class AlreadyExists(ContractError):
    """An object with this id already exists."""

    what: str
    id: str


@dataclass(eq=False)
class UnknownOrganisation(ContractError):
    """No organisation with this id."""

    org_id: str


@dataclass(eq=False)
class OrganisationSuspended(ContractError):
    """The organisation is suspended and cannot act or receive."""

    org_id: str


@dataclass(eq=False)
class UnknownNode(ContractError):
    """No node with this peer id is registered."""

    peer_id: str


@dataclass(eq=False)
class NodeLimitReached(ContractError):
    """The organisation already registered as many nodes as one organisation may."""

    org_id: str
    limit: int


@dataclass(eq=False)
class UnknownStorageUnit(ContractError):
    """No storage unit with this id."""

    unit_id: str


@dataclass(eq=False)
class UnknownDevice(ContractError):
    """No logger device with this address."""

    address: bytes


@dataclass(eq=False)
class UnknownProduct(ContractError):
    """No product with this code."""

    product_code: str


@dataclass(eq=False)
class ProductNotApproved(ContractError):
    """The product has not been approved by the regulator."""

    product_code: str


@dataclass(eq=False)
class UnknownLot(ContractError):
    """No lot with this id."""

    lot_id: str


# --- lot status -------------------------------------------------------------------------------


@dataclass(eq=False)
class LotRecalled(ContractError):
    """The lot was recalled: nothing from it may be shipped or given."""

    lot_id: str


@dataclass(eq=False)
class LotQuarantined(ContractError):
    """The units at this storage unit are quarantined (breach, return, or manual isolation)."""

    lot_id: str
    unit_id: str


@dataclass(eq=False)
class LotExpired(ContractError):
    """The lot's expiry has passed at the relevant time."""

    lot_id: str
    expiry_date: int


@dataclass(eq=False)
class InsufficientStock(ContractError):
    """The holder has fewer available units than requested."""

    lot_id: str
    unit_id: str
    available: int
    requested: int


# --- custody ----------------------------------------------------------------------------------


@dataclass(eq=False)
class UnknownShipment(ContractError):
    """No shipment with this id."""

    shipment_id: bytes


@dataclass(eq=False)
class ShipmentClosed(ContractError):
    """The shipment was already received or rejected."""

    shipment_id: bytes
    status: str


@dataclass(eq=False)
class TransitBreach(ContractError):
    """Receipt refused: the leg's vehicle logger recorded a breach (reject the shipment instead)."""

    shipment_id: bytes
    vehicle: str


@dataclass(eq=False)
class NoTransitReadings(ContractError):
    """Receipt refused: no temperature record for the leg (Vaccine Administration Law art. 39)."""

    shipment_id: bytes
    vehicle: str | None


@dataclass(eq=False)
class UnknownQuarantine(ContractError):
    """No quarantine with this id."""

    quarantine_id: bytes


@dataclass(eq=False)
class QuarantineClosed(ContractError):
    """The quarantine was already released or condemned."""

    quarantine_id: bytes
    status: str


# --- readings ---------------------------------------------------------------------------------


@dataclass(eq=False)
class DeviceInactive(ContractError):
    """The logger is deactivated or not bound to a storage unit."""

    address: bytes


@dataclass(eq=False)
class ReadingOutOfRange(ContractError):
    """A sample outside what a logger can physically measure (hundredths of a degree C, bounds inclusive)."""

    value: int
    min: int
    max: int


@dataclass(eq=False)
class SampleOutOfOrder(ContractError):
    """Sample times per device must strictly increase (duplicates are refused)."""

    address: bytes
    time_s: int
    last_time_s: int


@dataclass(eq=False)
class SampleInFuture(ContractError):
    """A sample is later than block time plus the allowed skew."""

    address: bytes
    time_s: int
    block_time_ms: int


# --- doses ------------------------------------------------------------------------------------


@dataclass(eq=False)
class InvalidTraceCode(ContractError):
    """A unit trace code (GS1 element string or 20-digit Chinese code) is malformed."""

    trace_code: str
    reason: str


@dataclass(eq=False)
class UnitNotInLot(ContractError):
    """The unit code does not belong to the lot (wrong product/lot/expiry or bad Merkle proof)."""

    trace_code: str
    lot_id: str
    reason: str


@dataclass(eq=False)
class UnitAlreadyUsed(ContractError):
    """The unit code was already used: a counterfeit signal (the failure receipt is the alert)."""

    trace_code: str
    lot_id: str
    first_site: str
    first_tx: bytes


@dataclass(eq=False)
class OpenedVialExpired(ContractError):
    """A multi-dose vial was opened longer ago than the product's opened-vial limit."""

    trace_code: str
    opened_ms: int
    limit_hours: int


@dataclass(eq=False)
class DoseRefReused(ContractError):
    """A dose reference is per dose: this one is already on chain (first used by `first_tx`)."""

    first_tx: bytes


@dataclass(eq=False)
class RegistrySignatureInvalid(ContractError):
    """The dose's registry co-signature is malformed or does not recover to a key."""

    reason: str


@dataclass(eq=False)
class UnknownRegistrySigner(ContractError):
    """The key is not a registered registry co-signing key."""

    signer: bytes


@dataclass(eq=False)
class RegistrySignerInactive(ContractError):
    """The registry co-signing key was deactivated by the CDC."""

    signer: bytes


# --- supply path, recalls and receipt verdicts ---------------------------------------------------


@dataclass(eq=False)
class CannotReceive(ContractError):
    """Shipment refused: this organisation type never holds vaccine stock (school, regulator, commission...)."""

    org_id: str
    org_type: str


@dataclass(eq=False)
class NotOnSupplyPath(ContractError):
    """Shipment refused: not a leg of the legal path (MAH -> CDC -> site, returns back up; arts. 35-36)."""

    from_org: str
    from_type: str
    to_org: str
    to_type: str


@dataclass(eq=False)
class CarrierNotAllowed(ContractError):
    """The vehicle belongs to neither party nor to a distributor (the only contracted carriers, art. 36)."""

    vehicle: str
    owner: str
    owner_type: str


@dataclass(eq=False)
class LegOutOfRange(ContractError):
    """Receipt refused: the leg's record shows temperatures outside range (receive into quarantine instead)."""

    shipment_id: bytes
    issues: str


@dataclass(eq=False)
class LegUnmonitored(ContractError):
    """Receipt refused: the leg's record has a gap longer than the monitoring interval (art. 39)."""

    shipment_id: bytes
    issues: str
    interval_minutes: int


# --- storage rule per product (#20) ---------------------------------------------------------------


@dataclass(eq=False)
class StorageClassMismatch(ContractError):
    """The storage unit's range does not lie within the product's registered storage range."""

    unit_id: str
    lot_id: str
    unit_min: int
    unit_max: int
    product_min: int
    product_max: int


@dataclass(eq=False)
class UnknownEpisode(ContractError):
    """No excursion or monitoring-gap episode has this id."""

    episode_id: bytes


@dataclass(eq=False)
class UnknownAefiReport(ContractError):
    """No AEFI report has this first record hash."""

    report: bytes


@dataclass(eq=False)
class AefiReportExists(ContractError):
    """An AEFI report with this record hash is already on chain."""

    report: bytes
    reported_height: int
