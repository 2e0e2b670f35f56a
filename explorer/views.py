"""View models: frozen records parsed from the node's JSON-RPC answers.

Parsing is tolerant (a missing field gets a neutral default) because the explorer must keep rendering against
nodes of slightly different versions; what a page shows is decided by these types, not by raw JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JsonObj = Mapping[str, Any]

# Payload fields never shown on a public page: per-dose references, record hashes and what could link to them.
PRIVATE_FIELDS = frozenset({"subject", "record_hash", "subjects_ids", "dose_ref", "registry_signature"})


def _s(obj: JsonObj, name: str, default: str = "") -> str:
    v = obj.get(name)
    return default if v is None else str(v)


def _i(obj: JsonObj, name: str, default: int = 0) -> int:
    v = obj.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        return default
    return v


def _oi(obj: JsonObj, name: str) -> int | None:
    v = obj.get(name)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _os(obj: JsonObj, name: str) -> str | None:
    v = obj.get(name)
    return None if v is None else str(v)


def _m(obj: JsonObj, name: str) -> JsonObj:
    v = obj.get(name)
    return v if isinstance(v, Mapping) else {}


def _l(obj: JsonObj, name: str) -> Sequence[Any]:
    v = obj.get(name)
    return v if isinstance(v, list) else []


@dataclass(frozen=True, slots=True)
class Validator:
    """A validator: address and name."""

    address: str
    name: str

    @classmethod
    def from_json(cls, o: JsonObj) -> Validator:
        return cls(_s(o, "address"), _s(o, "name"))


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """chain_status."""

    chain_id: int
    chain_name: str
    height: int
    head_hash: str
    finalized_height: int
    last_block_time_ms: int
    validators: tuple[Validator, ...]

    @classmethod
    def from_json(cls, o: JsonObj) -> ChainStatus:
        return cls(
            _i(o, "chain_id"),
            _s(o, "chain_name"),
            _i(o, "height"),
            _s(o, "head_hash"),
            _i(o, "finalized_height", _i(o, "height")),
            _i(o, "last_block_time_ms"),
            tuple(Validator.from_json(v) for v in _l(o, "validators") if isinstance(v, Mapping)),
        )


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

    @classmethod
    def from_json(cls, o: JsonObj) -> Header:
        return cls(
            _s(o, "hash"),
            _i(o, "chain_id"),
            _i(o, "height"),
            _i(o, "time_ms"),
            _s(o, "parent_hash"),
            _s(o, "proposer"),
            _s(o, "tx_root"),
            _s(o, "receipts_root"),
            _s(o, "state_root"),
            _s(o, "validators_hash"),
            _s(o, "last_commit_hash"),
            _s(o, "evidence_root"),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction's outcome."""

    status: str
    error: str | None
    error_data: Any
    events: tuple[tuple[str, Any], ...]

    @property
    def ok(self) -> bool:
        return self.status == "success"

    @classmethod
    def from_json(cls, o: JsonObj) -> Receipt:
        events = tuple((_s(e, "name"), e.get("data")) for e in _l(o, "events") if isinstance(e, Mapping))
        return cls(_s(o, "status"), _os(o, "error"), o.get("error_data"), events)


@dataclass(frozen=True, slots=True)
class Tx:
    """A transaction with its decoded payload (and receipt when included)."""

    hash: str
    kind: int
    kind_name: str
    sender: str
    nonce: int
    payload: JsonObj
    status: str  # pending | included | success | failure
    block_height: int | None
    index: int | None
    receipt: Receipt | None
    time_ms: int | None = None

    @classmethod
    def from_json(cls, o: JsonObj, time_ms: int | None = None) -> Tx:
        receipt = o.get("receipt")
        return cls(
            _s(o, "hash"),
            _i(o, "kind"),
            _s(o, "kind_name", f"kind {_i(o, 'kind')}"),
            _s(o, "sender"),
            _i(o, "nonce"),
            _m(o, "payload"),
            _s(o, "status", "included"),
            _oi(o, "block_height"),
            _oi(o, "index"),
            Receipt.from_json(receipt) if isinstance(receipt, Mapping) else None,
            _oi(o, "block_time_ms") if time_ms is None else time_ms,
        )

    @property
    def ok(self) -> bool | None:
        """Receipt outcome, None while unknown."""
        if self.receipt is not None:
            return self.receipt.ok
        if self.status in ("success", "failure"):
            return self.status == "success"
        return None


@dataclass(frozen=True, slots=True)
class Block:
    """A block with its full transactions."""

    header: Header
    txs: tuple[Tx, ...]
    tx_hashes: tuple[str, ...]
    tx_count: int
    commit: str | None

    @classmethod
    def from_json(cls, o: JsonObj) -> Block:
        header = Header.from_json(_m(o, "header"))
        raw = _l(o, "transactions")
        txs = tuple(
            Tx.from_json({**t, "block_height": header.height, "index": i}, header.time_ms)
            for i, t in enumerate(raw)
            if isinstance(t, Mapping)
        )
        hashes = tuple(t.hash for t in txs) if txs else tuple(str(t) for t in raw if isinstance(t, str))
        return cls(header, txs, hashes, _i(o, "tx_count", len(raw)), _os(o, "commit"))


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

    @classmethod
    def from_json(cls, o: JsonObj) -> Alert:
        return cls(
            _i(o, "time_ms"),
            _s(o, "org_id"),
            _s(o, "kind"),
            _os(o, "unit_id"),
            _os(o, "lot_id"),
            _os(o, "device"),
            _oi(o, "temperature"),
            _s(o, "detail"),
            _s(o, "tx_hash"),
        )


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
    status: str

    @classmethod
    def from_json(cls, o: JsonObj) -> Lot:
        return cls(
            _s(o, "lot_id"),
            _s(o, "product_code"),
            _s(o, "lot_number"),
            _s(o, "manufacturer"),
            _i(o, "manufactured_date"),
            _i(o, "expiry_date"),
            _i(o, "units"),
            _i(o, "held"),
            _i(o, "in_transit"),
            _i(o, "administered"),
            _i(o, "destroyed"),
            _i(o, "quarantined"),
            _i(o, "doses"),
            _i(o, "subjects"),
            bool(o.get("recalled")),
            _s(o, "recall_reason"),
            _i(o, "commissioned_ms"),
            _s(o, "status", "active"),
        )

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

    @classmethod
    def from_json(cls, o: JsonObj) -> Shipment:
        return cls(
            _s(o, "shipment_id"),
            _s(o, "lot_id"),
            _i(o, "quantity"),
            _s(o, "from_org"),
            _s(o, "from_unit"),
            _s(o, "to_org"),
            _os(o, "vehicle"),
            _i(o, "shipped_ms"),
            _s(o, "status"),
            _os(o, "to_unit"),
            _oi(o, "counted"),
            _oi(o, "closed_ms"),
            _s(o, "reason"),
        )


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

    @classmethod
    def from_json(cls, o: JsonObj) -> Quarantine:
        return cls(
            _s(o, "quarantine_id"),
            _s(o, "lot_id"),
            _s(o, "unit_id"),
            _s(o, "org_id"),
            _i(o, "quantity"),
            _s(o, "cause"),
            _oi(o, "since_s"),
            _i(o, "created_ms"),
            _s(o, "status"),
            _os(o, "decided_by"),
            _oi(o, "decided_ms"),
            _s(o, "note"),
        )


@dataclass(frozen=True, slots=True)
class Holder:
    """Where units of a lot are."""

    org_id: str
    unit_id: str | None
    available: int
    quarantined: int
    in_transit: int

    @classmethod
    def from_json(cls, o: JsonObj) -> Holder:
        return cls(
            _s(o, "org_id"), _os(o, "unit_id"), _i(o, "available"), _i(o, "quarantined"), _i(o, "in_transit")
        )


@dataclass(frozen=True, slots=True)
class Destruction:
    """Destroyed units."""

    time_ms: int
    org_id: str
    unit_id: str | None
    quantity: int
    reason: str

    @classmethod
    def from_json(cls, o: JsonObj) -> Destruction:
        return cls(_i(o, "time_ms"), _s(o, "org_id"), _os(o, "unit_id"), _i(o, "quantity"), _s(o, "reason"))


@dataclass(frozen=True, slots=True)
class Trace:
    """vax_traceLot."""

    lot: Lot
    status: str
    custody: tuple[Shipment, ...]
    holders: tuple[Holder, ...]
    quarantines: tuple[Quarantine, ...]
    destructions: tuple[Destruction, ...]
    doses_per_site: tuple[tuple[str, int], ...]
    doses: int
    subjects: int

    @classmethod
    def from_json(cls, o: JsonObj) -> Trace:
        per_site = _m(o, "doses_per_site")
        return cls(
            Lot.from_json(_m(o, "lot")),
            _s(o, "status", "active"),
            tuple(
                sorted(
                    (Shipment.from_json(s) for s in _l(o, "custody") if isinstance(s, Mapping)),
                    key=lambda s: (s.shipped_ms, s.to_org),
                )
            ),
            tuple(Holder.from_json(x) for x in _l(o, "holders") if isinstance(x, Mapping)),
            tuple(Quarantine.from_json(x) for x in _l(o, "quarantines") if isinstance(x, Mapping)),
            tuple(Destruction.from_json(x) for x in _l(o, "destructions") if isinstance(x, Mapping)),
            tuple(sorted((str(k), int(v)) for k, v in per_site.items() if isinstance(v, int))),
            _i(o, "doses"),
            _i(o, "subjects"),
        )


@dataclass(frozen=True, slots=True)
class Product:
    """A vaccine product."""

    product_code: str
    manufacturer: str
    name: str
    storage_min: int
    storage_max: int
    doses_per_vial: int
    approved: bool

    @classmethod
    def from_json(cls, o: JsonObj) -> Product:
        return cls(
            _s(o, "product_code"),
            _s(o, "manufacturer"),
            _s(o, "name"),
            _i(o, "storage_min"),
            _i(o, "storage_max"),
            _i(o, "doses_per_vial", 1),
            bool(o.get("approved")),
        )


@dataclass(frozen=True, slots=True)
class Org:
    """An organisation."""

    org_id: str
    org_type: str
    name: str
    active: bool
    admitted_by: str
    storage_units: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObj) -> Org:
        return cls(
            _s(o, "org_id"),
            _s(o, "org_type"),
            _s(o, "name"),
            bool(o.get("active", True)),
            _s(o, "admitted_by"),
            tuple(str(u) for u in _l(o, "storage_units")),
        )


@dataclass(frozen=True, slots=True)
class Breach:
    """A breach of a storage unit."""

    cause: str
    since_s: int
    at_s: int
    lots: tuple[str, ...]

    @classmethod
    def from_json(cls, o: JsonObj) -> Breach:
        return cls(_s(o, "cause"), _i(o, "since_s"), _i(o, "at_s"), tuple(str(x) for x in _l(o, "lots")))


@dataclass(frozen=True, slots=True)
class StorageUnit:
    """A fridge, freezer, cold room or vehicle."""

    unit_id: str
    org_id: str
    kind: str
    name: str
    min_temp: int
    max_temp: int
    active: bool
    last_sample_s: int
    devices: tuple[str, ...]
    breaches: tuple[Breach, ...]
    holdings: tuple[tuple[str, int, int], ...]  # lot, available, quarantined

    @classmethod
    def from_json(cls, o: JsonObj) -> StorageUnit:
        return cls(
            _s(o, "unit_id"),
            _s(o, "org_id"),
            _s(o, "kind"),
            _s(o, "name"),
            _i(o, "min_temp"),
            _i(o, "max_temp"),
            bool(o.get("active", True)),
            _i(o, "last_sample_s"),
            tuple(str(d) for d in _l(o, "devices")),
            tuple(Breach.from_json(b) for b in _l(o, "breaches") if isinstance(b, Mapping)),
            tuple(
                (_s(x, "lot_id"), _i(x, "available"), _i(x, "quarantined"))
                for x in _l(o, "holdings")
                if isinstance(x, Mapping)
            ),
        )


@dataclass(frozen=True, slots=True)
class Sample:
    """One temperature sample: unix seconds, hundredths of a degree C."""

    time_s: int
    temp: int


@dataclass(frozen=True, slots=True)
class UnitCode:
    """vax_findUnit."""

    valid: bool
    error: str
    canonical: str
    scheme: str
    product_code: str
    serial: str
    lot_id: str | None
    recalled: bool
    used: bool
    use_site: str | None
    use_unit: str | None
    opened_ms: int | None
    suspect_reports: tuple[tuple[int, str, str], ...]  # time, org, note

    @classmethod
    def from_json(cls, o: JsonObj) -> UnitCode:
        use = _m(o, "use")
        err = _m(o, "error")
        return cls(
            bool(o.get("valid")),
            _s(err, "reason", _s(err, "error")),
            _s(o, "canonical"),
            _s(o, "scheme"),
            _s(o, "product_code"),
            _s(o, "serial"),
            _os(o, "lot_id"),
            bool(o.get("recalled")),
            bool(o.get("used")),
            _os(use, "site"),
            _os(use, "unit_id"),
            _oi(use, "opened_ms"),
            tuple(
                (_i(r, "time_ms"), _s(r, "org_id"), _s(r, "note"))
                for r in _l(o, "suspect_reports")
                if isinstance(r, Mapping)
            ),
        )


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
