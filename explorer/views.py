"""View models: frozen records the node's JSON-RPC answers decode into (`explorer.decode.decode`).

A missing field gets its default (the explorer keeps rendering against nodes of slightly different versions);
a value of the wrong type is a named `DecodeError`. What a page shows is decided by these types, not raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JsonObj = Mapping[str, Any]

# Payload fields never shown on a public page: per-dose references, record hashes and what could link to them.
PRIVATE_FIELDS = frozenset(
    {"subject", "record_hash", "subjects_ids", "dose_ref", "registry_signature", "first_report"}
)


def _default(value: object) -> Any:
    """A field whose default differs from the neutral one."""
    return field(default=value)


def _key(*keys: str, default: object = None) -> Any:
    """A field read from the first of `keys` the answer has."""
    return field(default=default, metadata={"keys": keys})


def _path(*path: str) -> Any:
    """A field read from a nested object (default None)."""
    return field(default=None, metadata={"paths": (path,)})


@dataclass(frozen=True, slots=True)
class Validator:
    """A validator: address and name."""

    address: str
    name: str


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """chain_status."""

    chain_id: int
    chain_name: str
    height: int
    head_hash: str
    finalized_height: int = field(metadata={"keys": ("finalized_height", "height")})
    last_block_time_ms: int = field(default=0)
    validators: tuple[Validator, ...] = ()


@dataclass(frozen=True, slots=True)
class Header:
    """A block header."""

    hash: str
    chain_id: int
    height: int
    time_ms: int
    parent_hash: str
    proposer: str
    tx_root: str
    receipts_root: str
    state_root: str
    validators_hash: str
    last_commit_hash: str
    evidence_root: str


@dataclass(frozen=True, slots=True)
class Event:
    """One event of a receipt."""

    name: str
    data: Any


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction's outcome."""

    status: str
    error: str | None
    error_data: Any
    events: tuple[Event, ...]

    @property
    def ok(self) -> bool:
        return self.status == "success"


@dataclass(frozen=True, slots=True)
class Tx:
    """A transaction with its decoded payload (and receipt when included)."""

    hash: str
    kind: int
    kind_name: str
    sender: str
    nonce: int
    payload: JsonObj
    status: str = _default("included")  # pending | included | success | failure
    block_height: int | None = None
    index: int | None = None
    receipt: Receipt | None = None
    time_ms: int | None = _key("block_time_ms")

    @property
    def ok(self) -> bool | None:
        """Receipt outcome, None while unknown."""
        if self.receipt is not None:
            return self.receipt.ok
        if self.status in ("success", "failure"):
            return self.status == "success"
        return None

    @property
    def kind_label(self) -> str:
        return self.kind_name or f"kind {self.kind}"


@dataclass(frozen=True, slots=True)
class Block:
    """A block with its full transactions."""

    header: Header
    txs: tuple[Tx, ...]
    tx_hashes: tuple[str, ...]
    tx_count: int
    commit: str | None


@dataclass(frozen=True, slots=True)
class Alert:
    """A chain alert."""

    time_ms: int
    org_id: str
    kind: str
    unit_id: str | None
    lot_id: str | None
    device: str | None
    temperature: int | None
    detail: str
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Lot:
    """A lot's counters and status."""

    lot_id: str
    product_code: str
    lot_number: str
    manufacturer: str
    manufactured_date: int
    expiry_date: int
    units: int
    held: int
    in_transit: int
    administered: int
    destroyed: int
    quarantined: int
    doses: int
    subjects: int
    recalled: bool
    recall_reason: str
    commissioned_ms: int
    status: str = _default("active")
    recall_ms: int | None = _key("recall_ms", "recalled_ms")
    recall_height: int | None = None

    @property
    def badge(self) -> str:
        """Status for the badge: the chain's status, with "in_transit" when nothing is held yet."""
        if self.status == "active" and self.in_transit > 0 and self.held == 0:
            return "in_transit"
        return self.status


@dataclass(frozen=True, slots=True)
class Shipment:
    """One custody leg."""

    shipment_id: str
    lot_id: str
    quantity: int
    from_org: str
    from_unit: str
    to_org: str
    vehicle: str | None
    shipped_ms: int
    status: str
    to_unit: str | None
    counted: int | None
    closed_ms: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Isolated units and their quality decision."""

    quarantine_id: str
    lot_id: str
    unit_id: str
    org_id: str
    quantity: int
    cause: str
    since_s: int | None
    created_ms: int
    status: str
    decided_by: str | None
    decided_ms: int | None
    note: str


@dataclass(frozen=True, slots=True)
class Holder:
    """Where units of a lot are."""

    org_id: str
    unit_id: str | None
    available: int
    quarantined: int
    in_transit: int


@dataclass(frozen=True, slots=True)
class Destruction:
    """Destroyed units."""

    time_ms: int
    org_id: str
    unit_id: str | None
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class Trace:
    """vax_traceLot (custody sorted by shipping time by `Data.trace`)."""

    lot: Lot
    status: str = _default("active")
    custody: tuple[Shipment, ...] = ()
    holders: tuple[Holder, ...] = ()
    quarantines: tuple[Quarantine, ...] = ()
    destructions: tuple[Destruction, ...] = ()
    doses_per_site: tuple[tuple[str, int], ...] = ()
    doses: int = 0
    subjects: int = 0


@dataclass(frozen=True, slots=True)
class Product:
    """A vaccine product."""

    product_code: str
    manufacturer: str
    name: str
    storage_min: int
    storage_max: int
    doses_per_vial: int = _default(1)
    approved: bool = False
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation."""

    org_id: str
    org_type: str
    name: str
    active: bool = _default(True)
    admitted_by: str = ""
    storage_units: tuple[str, ...] = ()
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class Breach:
    """A breach of a storage unit."""

    cause: str
    since_s: int
    at_s: int
    lots: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Holding:
    """Units of one lot in a storage unit."""

    lot_id: str
    available: int
    quarantined: int


@dataclass(frozen=True, slots=True)
class StorageUnit:
    """A fridge, freezer, cold room or vehicle."""

    unit_id: str
    org_id: str
    kind: str
    name: str
    min_temp: int
    max_temp: int
    active: bool = _default(True)
    last_sample_s: int = 0
    devices: tuple[str, ...] = ()
    breaches: tuple[Breach, ...] = ()
    holdings: tuple[Holding, ...] = ()
    name_zh: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    """One temperature sample: unix seconds, hundredths of a degree C."""

    time_s: int
    temp: int


@dataclass(frozen=True, slots=True)
class SuspectReport:
    """A report that a unit code was seen again or looked wrong."""

    time_ms: int
    org_id: str
    note: str


@dataclass(frozen=True, slots=True)
class UnitCode:
    """vax_findUnit."""

    valid: bool
    error: str = field(metadata={"paths": (("error", "reason"), ("error", "error"))})
    canonical: str = ""
    scheme: str = ""
    product_code: str = ""
    serial: str = ""
    lot_id: str | None = None
    recalled: bool = False
    used: bool = False
    use_site: str | None = _path("use", "site")
    use_unit: str | None = _path("use", "unit_id")
    opened_ms: int | None = _path("use", "opened_ms")
    suspect_reports: tuple[SuspectReport, ...] = ()


def public_fields(payload: JsonObj) -> list[tuple[str, Any]]:
    """A payload's fields without the private ones, flattened one level (lot refs)."""
    out: list[tuple[str, Any]] = []
    for k, v in payload.items():
        if k in PRIVATE_FIELDS:
            continue
        if k == "proof" or (isinstance(v, list) and (len(v) > 12 or any(isinstance(x, Mapping) for x in v))):
            out.append((k, f"[{len(v) if isinstance(v, list) else '…'} items]"))
        elif isinstance(v, Mapping):
            out.extend((f"{k}.{k2}", v2) for k2, v2 in v.items() if k2 not in PRIVATE_FIELDS)
        else:
            out.append((k, v))
    return out


@dataclass(frozen=True, slots=True)
class Episode:
    """An excursion or monitoring gap of one storage unit, from start to end (None: still open)."""

    episode_id: str
    kind: str  # excursion | monitoring_gap
    start_ms: int
    end_ms: int | None
    min_c: float | None
    max_c: float | None
    minutes_out: int
    org_id: str = ""
    unit_id: str = _key("unit_id", "storage_unit", default="")
    lots: tuple[str, ...] = ()
    doses: int | None = _key("doses", "doses_given")


@dataclass(frozen=True, slots=True)
class StorageStay:
    """A storage unit a vial sat in, with the episodes while it was there."""

    org_id: str
    storage_unit: str
    from_ms: int
    to_ms: int | None
    episodes: tuple[Episode, ...] = ()


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """What a printed code says."""

    gtin: str
    lot: str | None  # None: a Chinese 20-digit code carries no lot number
    expiry: int | str | None  # the node gives YYYYMMDD (an int); None when the code carries no date
    serial: str


@dataclass(frozen=True, slots=True)
class Recall:
    """When and why a lot was recalled."""

    time_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class VerdictLot:
    """The lot a code belongs to, as the chain holds it."""

    lot_id: str
    product_id: str
    product_name: str | None
    expiry_ms: int | None
    status: str
    recall: Recall | None = None


@dataclass(frozen=True, slots=True)
class Opened:
    """Where and when a vial was opened."""

    org_id: str
    storage_unit: str
    time_ms: int
    episode_id: str | None = None


@dataclass(frozen=True, slots=True)
class Flag:
    """One named reason of a verdict, with its data."""

    flag: str
    data: JsonObj = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Verdict:
    """vax_unitVerdict: what the chain says of one vial."""

    code: str
    verdict: str  # ok | do_not_use | ask_site
    known: bool
    parsed: ParsedCode | None = None
    parse_error: str | None = None
    lot: VerdictLot | None = None
    lot_matches: bool | None = None
    expiry_matches: bool | None = None
    storage: tuple[StorageStay, ...] = ()
    opened: Opened | None = None
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True, slots=True)
class HolderProgress:
    """One holder's part in a recall."""

    org_id: str
    held: int
    returned: int
    destroyed: int
    in_transit: int


@dataclass(frozen=True, slots=True)
class RecallProgress:
    """vax_recallProgress: every holder of a recalled lot, with totals and the doses given (a count)."""

    holders: tuple[HolderProgress, ...] = ()
    totals: HolderProgress | None = None
    doses_given: int | None = None


@dataclass(frozen=True, slots=True)
class RegistryKey:
    """vax_registryKeys: a registry signing key the CDC registered, and whether it is active."""

    address: str
    active: bool
    org_id: str = ""
    changed_height: int = 0
