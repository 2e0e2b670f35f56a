"""State record types (stored RLP-encoded with the payload codec). Fields are in storage order."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from contracts.types import (
    U16,
    U32,
    U64,
    Address,
    Hash32,
    Id,
    Label,
    Name,
    OrgType,
    PeerId,
    Role,
    StorageKind,
    Temp,
    Text,
)


class ShipmentStatus(enum.IntEnum):
    """EPCIS-like disposition of a shipment."""

    IN_TRANSIT = 1
    RECEIVED = 2
    REJECTED = 3
    CANCELLED = 4  # withdrawn by the sender before receipt; the units went back to it


class QuarantineCause(enum.IntEnum):
    """Why units were isolated."""

    HEAT_BREACH = 1
    FREEZE_BREACH = 2
    STRICT_BREACH = 3
    RETURNED = 4  # shipment rejected by the receiver
    MANUAL = 5  # isolated by the holder (art. 40)
    RECALLED = 6  # held units of a recalled lot, waiting to go back up the supply path or be destroyed
    UNFIT_LEG = 7  # received from a leg whose temperature record failed (receiver's choice, art. 39)
    LABEL_EXCURSION = 8  # Chinese rule: outside the product's label range longer than the parameter (#20)


class QuarantineStatus(enum.IntEnum):
    """Quality decision state."""

    OPEN = 1
    RELEASED = 2
    CONDEMNED = 3
    CLEARED = 4  # a recall quarantine whose units all left: returned up the path or destroyed


class AlertKind(enum.IntEnum):
    """Kinds of alerts kept in state (queried by site and time)."""

    TEMPERATURE_EXCURSION = 1  # one out-of-range sample
    HEAT_BREACH = 2
    FREEZE_BREACH = 3
    STRICT_BREACH = 4
    QUANTITY_MISMATCH = 5
    RECALL = 6
    SUSPECT_UNIT = 7  # reported counterfeit / repeated unit code
    SHIPMENT_REJECTED = 8
    MONITORING_GAP = 9  # a storage unit's logger went silent longer than monitoring_interval_minutes
    EXPIRY_SOON = 10  # a held lot expires within expiry_warning_days (once per lot and holder)
    AEFI_SIGNAL = 11  # a lot's serious AEFI reports reached aefi_signal_threshold (once per lot)


class DestroyReason(enum.IntEnum):
    """Why units were destroyed (CBV dispositions: expired, damaged, destroyed...)."""

    EXPIRED = 1
    DAMAGED = 2
    BREACH = 3
    RECALLED = 4
    LOST = 5  # shortfall found at receipt
    OTHER = 6


@dataclass(frozen=True, slots=True)
class Organisation:
    """A member organisation of the chain."""

    org_id: Id
    org_type: OrgType
    name: Name
    active: bool
    admitted_by: Id  # admitting organisation, or "genesis"
    admitted_height: U64


@dataclass(frozen=True, slots=True)
class Account:
    """A signing account of an organisation."""

    address: Address
    org_id: Id
    role: Role
    active: bool


@dataclass(frozen=True, slots=True)
class OrgNode:
    """A libp2p node an organisation registered: its peer id may connect while the organisation is active."""

    peer_id: PeerId
    org_id: Id
    name: Name
    added_height: U64


@dataclass(frozen=True, slots=True)
class StorageUnit:
    """A fridge, freezer, cold room or vehicle of an organisation (its logger history: UnitMonitor)."""

    unit_id: Id
    org_id: Id
    kind: StorageKind
    name: Name
    min_temp: Temp
    max_temp: Temp
    active: bool
    breach_count: U32  # bumped by every breach; shipments and opened vials compare snapshots


@dataclass(frozen=True, slots=True)
class Device:
    """A temperature logger with its own key, bound to one storage unit."""

    address: Address
    org_id: Id
    unit_id: Id
    serial: Name
    active: bool


@dataclass(frozen=True, slots=True)
class DeviceState:
    """Running rule counters of one logger: O(1) per sample, never the history."""

    samples: U64
    last_time_s: U64
    last_temp: Temp
    heat_start_s: U64 | None
    heat_breached: bool
    freeze_start_s: U64 | None
    freeze_breached: bool
    strict_start_s: U64 | None
    strict_breached: bool
    window_start_s: U64
    window_heat_s: U64
    window_breached: bool


@dataclass(frozen=True, slots=True)
class Product:
    """A vaccine product registered by its MAH and approved by the regulator."""

    product_code: str  # GTIN-14 or 7-digit Chinese product identifier
    manufacturer: Id
    name: Name
    programme: bool  # national immunisation programme vaccine
    storage_min: Temp
    storage_max: Temp
    freeze_sensitive: bool
    doses_per_vial: U16
    opened_vial_hours: U16
    series: Id  # series/antigen id shared by interchangeable products
    min_intervals_days: tuple[U16, ...]  # per dose number: minimum days since the previous dose
    approved: bool
    approval_hash: Hash32 | None


@dataclass(frozen=True, slots=True)
class Lot:
    """A lot with its unit commitment and conservation counters (held units live in Holding records)."""

    lot_id: str  # "<product_code>:<lot_number>"
    product_code: str
    lot_number: str
    manufacturer: Id
    manufactured_date: U32  # YYYYMMDD
    expiry_date: U32  # YYYYMMDD, last valid day (local time)
    units: U64
    release_cert_hash: Hash32
    unit_root: Hash32
    commissioned_ms: U64
    in_transit: U64
    administered: U64  # units (vials) opened for administration
    destroyed: U64
    quarantined: U64  # held units currently quarantined (subset of held)
    doses: U64
    subjects: U64
    recalled: bool
    recall_reason: Text
    recall_height: U64
    breaches: U32


@dataclass(frozen=True, slots=True)
class Holding:
    """Units of one lot in one storage unit."""

    available: U64
    quarantined: U64


@dataclass(frozen=True, slots=True)
class UnitLots:
    """Lots with units in a storage unit (so a breach quarantines them without a scan)."""

    lot_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LegStart:
    """The leg's record at departure: the sender unit's last reading and the vehicle's counters."""

    sender_last_s: U64
    sender_last_temp: Temp
    sender_in_range: bool
    sender_monitored: bool  # a reading no older than the monitoring interval at departure, outside any gap
    vehicle_last_s: U64
    vehicle_monitored: bool
    vehicle_out_of_range: U64
    vehicle_gaps: U64


@dataclass(frozen=True, slots=True)
class LegVerdict:
    """A receipt's verdict on the whole leg; `issues` names each failure (empty = fit)."""

    fit: bool
    issues: tuple[Name, ...]
    arrival_s: U64
    vehicle_last_s: U64
    quarantined: bool  # the receiver chose to take an unfit leg into quarantine


@dataclass(frozen=True, slots=True)
class LotUnits:
    """Storage units holding units of a lot (so a recall quarantines every holder without a scan)."""

    unit_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecallHolder:
    """One holder's progress on a recall: what it held at the recall, returned up the path and destroyed."""

    org_id: Id
    held_at_recall: U64
    returned: U64
    destroyed: U64


@dataclass(frozen=True, slots=True)
class Shipment:
    """One custody leg; the id is the ship tx hash."""

    shipment_id: Hash32
    lot_id: str
    quantity: U64
    from_org: Id
    from_unit: Id
    to_org: Id
    vehicle: Id | None
    shipped_ms: U64
    vehicle_breaches_at_ship: U32
    status: ShipmentStatus
    to_unit: Id | None
    counted: U64 | None
    closed_ms: U64 | None
    reason: Text
    carrier: Id | None  # owner of the vehicle: the sender, the receiver or a contracted distributor
    recall_return: bool  # shipped while its lot was recalled (a return up the supply path)
    leg_start: LegStart
    leg: LegVerdict | None  # the receipt's verdict on the whole leg (art. 39)


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Isolated units awaiting a quality decision by the CDC or regulator."""

    quarantine_id: Hash32
    lot_id: str
    unit_id: Id
    org_id: Id
    quantity: U64
    cause: QuarantineCause
    since_s: U64 | None  # start of the excursion for breach quarantines
    created_ms: U64
    status: QuarantineStatus
    decided_by: Id | None
    decision_hash: Hash32 | None
    decided_ms: U64 | None
    note: Text


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert kept in state, indexed by organisation and time."""

    time_ms: U64
    org_id: Id
    kind: AlertKind
    unit_id: Id | None
    lot_id: str | None
    device: Address | None
    temperature: Temp | None
    detail: Text
    tx_hash: Hash32


@dataclass(frozen=True, slots=True)
class UnitUse:
    """A unit (vial) opened for administration."""

    trace_code: str  # canonical unit code
    lot_id: str
    site: Id
    unit_id: Id
    opened_ms: U64
    doses: U16
    first_tx: Hash32
    breach_epoch: U32  # storage unit's breach_count when opened


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """One administered dose, keyed by its per-dose reference (the person and the full record stay in the registry)."""

    dose_ref: Hash32
    series: Id
    dose_number: U16
    product_code: str
    lot_id: str
    trace_code: str
    site: Id
    vaccinator: Address
    administered_ms: U64
    record_hash: Hash32
    tx_hash: Hash32
    block_height: U64


@dataclass(frozen=True, slots=True)
class RegistrySigner:
    """A personal-record registry's co-signing key, registered by the CDC (`set_registry`, or genesis)."""

    address: Address
    org_id: Id
    active: bool
    changed_height: U64


@dataclass(frozen=True, slots=True)
class Attestation:
    """An anchored document hash: who, when, what."""

    document_hash: Hash32
    sender: Address
    org_id: Id | None
    label: Label
    media_type: Name
    block_height: U64
    block_time_ms: U64
    tx_hash: Hash32


@dataclass(frozen=True, slots=True)
class BreachRecord:
    """A breach of one storage unit, with the lots it quarantined."""

    cause: QuarantineCause
    since_s: U64
    at_s: U64
    device: Address
    lots: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SuspectReport:
    """A reported suspect (e.g. repeated or unknown) unit code."""

    trace_code: str
    lot_id: str | None
    org_id: Id
    reporter: Address
    evidence_hash: Hash32
    note: Text
    time_ms: U64
    tx_hash: Hash32


class EpisodeKind(enum.IntEnum):
    """What an episode of a storage unit is."""

    EXCURSION = 1  # samples outside the unit's range
    MONITORING_GAP = 2  # no sample for longer than monitoring_interval_minutes


@dataclass(frozen=True, slots=True)
class Episode:
    """One excursion or monitoring gap of a storage unit, updated as readings arrive (end None = still open)."""

    episode_id: Hash32
    kind: EpisodeKind
    unit_id: Id
    org_id: Id
    start_ms: U64  # excursion: first out-of-range sample; gap: last sample before the silence
    end_ms: U64 | None  # excursion: first in-range sample after it; gap: first sample after it
    min_temp: Temp | None
    max_temp: Temp | None
    last_ms: U64  # latest out-of-range sample counted (excursion), or start (gap)
    lots: tuple[str, ...]  # lots in the unit while the episode was open
    quarantined: bool  # the label rule quarantined the unit's stock for it
    doses: U32  # doses given from the unit during it (flagged at recording)


@dataclass(frozen=True, slots=True)
class UnitMonitor:
    """A storage unit's logger history over all its loggers, updated once per reading batch: the counters a
    receipt's leg verdict compares, its open episodes and its place in the monitoring deadline index."""

    last_sample_s: U64  # latest sample time from any bound logger (0 = none yet)
    last_temp: Temp  # the temperature of that sample
    last_heard_s: U64  # later of last_sample_s and the block time of the reading carrying it (deadlines)
    samples: U64
    out_of_range: U64  # samples outside the unit's registered range
    # sample-to-sample holes longer than monitoring_interval_minutes (every newer sample when it is 0); unlike
    # gap episodes, a hole that ends a gap the block hook opened counts here too
    gaps: U64
    longest_gap_s: U64
    last_gap_start_s: U64  # the latest hole: the sample before it and the one that ended it (0 = none)
    last_gap_end_s: U64
    open_excursion: Hash32 | None
    open_gap: Hash32 | None
    due_minute: U64  # bucket of schema.monitor_due holding the unit (0 = not indexed)


@dataclass(frozen=True, slots=True)
class DueUnits:
    """Storage units (or lots) whose deadline falls in one bucket of an index kept without iteration."""

    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DueMinutes:
    """The minutes whose monitoring buckets hold units, ascending (so the block hook never walks empty ones)."""

    minutes: tuple[U64, ...]


class AefiClass(enum.IntEnum):
    """A report's classification by the CDC's investigation (全国疑似预防接种异常反应监测方案, WHO causality)."""

    PENDING = 1  # reported, not classified yet
    REACTION = 2  # 不良反应: vaccine product-related reaction
    QUALITY_DEFECT = 3  # 疫苗质量事故: vaccine quality defect
    IMMUNIZATION_ERROR = 4  # 接种事故: immunization error
    COINCIDENTAL = 5  # 偶合症
    ANXIETY = 6  # 心因性反应: immunization anxiety-related reaction
    UNCLASSIFIABLE = 7  # 待定 / 不能明确: not classifiable


@dataclass(frozen=True, slots=True)
class AefiReport:
    """One AEFI report, keyed by its first record hash: counts only, nothing of the person or the dose."""

    report: Hash32  # the record hash of the first report (the registry's record)
    lot_id: str
    org_id: Id  # the reporting site
    serious: bool
    classification: AefiClass
    record_hash: Hash32  # the registry record of the latest report or classification
    reported_height: U64
    updated_height: U64


@dataclass(frozen=True, slots=True)
class LotAefi:
    """AEFI counters of one lot: reports, serious ones, per classification (indexed by AefiClass - 1)."""

    reported: U64
    serious: U64
    serious_pending: U64  # serious reports not classified yet (under investigation)
    classes: tuple[U64, ...]
    signal_height: U64  # the block of the aefi_signal alert (0 = none)


# Every state record type above (for codec.prepare).
RECORD_TYPES: tuple[type, ...] = tuple(
    value
    for value in list(globals().values())
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == __name__
)
