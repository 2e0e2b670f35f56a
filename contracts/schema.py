"""Every contract state key, built in one place (as py-evm's ``eth/db/schema.py``).

A key is a namespace followed by components joined with 0x00. Text components never contain 0x00 (ids,
product codes, lot numbers and trace codes are validated before they reach a key) and binary ones have a fixed
length, so a prefix of whole components selects exactly one group, and a key splits back into its components:
text from the front, fixed-length binary from the back. Integers are 8-byte big-endian so keys sort by time.

These keys are relative to the contracts' part of the state: the node stores each of them under ``c/``
(``node.state.schema.APP_PREFIX``). The byte layout is consensus: a changed byte changes every state root, and
``tests/contracts/test_contracts_schema.py`` pins each function's bytes.

Builders are plain concatenations (no loop over parts, no type dispatch): the rules build several keys per
transaction. ``parse_*`` functions give back the components of the index keys that queries read.
"""

from __future__ import annotations

SEP = b"\x00"

_ADDRESS = 20
_HASH = 32
_U64 = 8


def _text(raw: bytes) -> str:
    return raw.decode("utf-8")


# --- chain parameters -------------------------------------------------------------------------


def params() -> bytes:
    """The chain parameters fixed at genesis (Params)."""
    return b"params"


# --- organisations, accounts, storage units, devices --------------------------------------------


def organisation(org_id: str) -> bytes:
    """An organisation (Organisation)."""
    return b"org\x00" + org_id.encode()


def organisations_prefix() -> bytes:
    """Every organisation record, by id."""
    return b"org\x00"


def account(address: bytes) -> bytes:
    """An account (Account)."""
    return b"acct\x00" + address


def org_account(org_id: str, address: bytes) -> bytes:
    """Index entry (empty value): the organisation has this account."""
    return b"orgacct\x00" + org_id.encode() + b"\x00" + address


def org_accounts_prefix(org_id: str) -> bytes:
    """Every org_account entry of one organisation."""
    return b"orgacct\x00" + org_id.encode() + b"\x00"


def parse_org_account(k: bytes) -> tuple[str, bytes]:
    """(org_id, address) of an org_account key."""
    return _text(k[len(b"orgacct\x00") : -_ADDRESS - 1]), k[-_ADDRESS:]


def node(peer_id: str) -> bytes:
    """A registered libp2p node, by its base58 peer id (OrgNode)."""
    return b"node\x00" + peer_id.encode()


def nodes_prefix() -> bytes:
    """Every registered node, by peer id."""
    return b"node\x00"


def org_node(org_id: str, peer_id: str) -> bytes:
    """Index entry (empty value): the organisation registered this node."""
    return b"orgnode\x00" + org_id.encode() + b"\x00" + peer_id.encode()


def org_nodes_prefix(org_id: str) -> bytes:
    """Every org_node entry of one organisation."""
    return b"orgnode\x00" + org_id.encode() + b"\x00"


def parse_org_node(k: bytes) -> tuple[str, str]:
    """(org_id, peer_id) of an org_node key."""
    _, org_id, peer_id = k.split(SEP)
    return _text(org_id), _text(peer_id)


def org_node_count(org_id: str) -> bytes:
    """Counter: nodes the organisation has registered (bounded by the set_node rule)."""
    return b"nodecount\x00" + org_id.encode()


def storage_unit(unit_id: str) -> bytes:
    """A storage unit: fridge, freezer, cold room or vehicle (StorageUnit)."""
    return b"unit\x00" + unit_id.encode()


def org_unit(org_id: str, unit_id: str) -> bytes:
    """Index entry (empty value): the organisation owns this storage unit."""
    return b"orgunit\x00" + org_id.encode() + b"\x00" + unit_id.encode()


def org_units_prefix(org_id: str) -> bytes:
    """Every org_unit entry of one organisation."""
    return b"orgunit\x00" + org_id.encode() + b"\x00"


def parse_org_unit(k: bytes) -> tuple[str, str]:
    """(org_id, unit_id) of an org_unit key."""
    _, org_id, unit_id = k.split(SEP)
    return _text(org_id), _text(unit_id)


def device(address: bytes) -> bytes:
    """A temperature logger and its binding (Device)."""
    return b"dev\x00" + address


def device_state(address: bytes) -> bytes:
    """A logger's running rule counters: last sample, open excursions (DeviceState)."""
    return b"devstate\x00" + address


def unit_device(unit_id: str, address: bytes) -> bytes:
    """Index entry (empty value): the logger is bound to this storage unit."""
    return b"unitdev\x00" + unit_id.encode() + b"\x00" + address


def unit_devices_prefix(unit_id: str) -> bytes:
    """Every unit_device entry of one storage unit."""
    return b"unitdev\x00" + unit_id.encode() + b"\x00"


def parse_unit_device(k: bytes) -> tuple[str, bytes]:
    """(unit_id, address) of a unit_device key."""
    return _text(k[len(b"unitdev\x00") : -_ADDRESS - 1]), k[-_ADDRESS:]


# --- stock and breaches -----------------------------------------------------------------------


def holding(unit_id: str, lot_id: str) -> bytes:
    """Units of a lot in a storage unit (Holding)."""
    return b"hold\x00" + unit_id.encode() + b"\x00" + lot_id.encode()


def unit_holdings_prefix(unit_id: str) -> bytes:
    """Every holding of one storage unit."""
    return b"hold\x00" + unit_id.encode() + b"\x00"


def parse_holding(k: bytes) -> tuple[str, str]:
    """(unit_id, lot_id) of a holding key."""
    _, unit_id, lot_id = k.split(SEP)
    return _text(unit_id), _text(lot_id)


def unit_lots(unit_id: str) -> bytes:
    """The lots a storage unit holds, in arrival order (UnitLots): what a breach quarantines."""
    return b"unitlots\x00" + unit_id.encode()


def lot_holder(lot_id: str, org_id: str, unit_id: str) -> bytes:
    """Index entry (empty value): this organisation's storage unit holds units of the lot."""
    return b"lotholder\x00" + lot_id.encode() + b"\x00" + org_id.encode() + b"\x00" + unit_id.encode()


def lot_holders_prefix(lot_id: str) -> bytes:
    """Every lot_holder entry of one lot."""
    return b"lotholder\x00" + lot_id.encode() + b"\x00"


def parse_lot_holder(k: bytes) -> tuple[str, str, str]:
    """(lot_id, org_id, unit_id) of a lot_holder key."""
    _, lot_id, org_id, unit_id = k.split(SEP)
    return _text(lot_id), _text(org_id), _text(unit_id)


def breach(unit_id: str, time_ms: int, tx_hash: bytes, seq: int) -> bytes:
    """A temperature breach of a storage unit (BreachRecord); `seq` orders several of one transaction."""
    return (
        b"breach\x00"
        + unit_id.encode()
        + b"\x00"
        + time_ms.to_bytes(8, "big")
        + b"\x00"
        + tx_hash
        + b"\x00"
        + seq.to_bytes(8, "big")
    )


def unit_breaches_prefix(unit_id: str) -> bytes:
    """Every breach of one storage unit, oldest first."""
    return b"breach\x00" + unit_id.encode() + b"\x00"


# --- products and lots ------------------------------------------------------------------------


def product(product_code: str) -> bytes:
    """A product and its approval (Product)."""
    return b"prod\x00" + product_code.encode()


def products_prefix() -> bytes:
    """Every product, by code."""
    return b"prod\x00"


def lot(lot_id: str) -> bytes:
    """A lot and its counters (Lot); a lot id is "product_code:lot_number"."""
    return b"lot\x00" + lot_id.encode()


def lots_prefix(product_code: str | None = None) -> bytes:
    """Every lot, or every lot of one product."""
    return b"lot\x00" if not product_code else b"lot\x00" + product_code.encode() + b":"


def lot_subject(lot_id: str, dose_ref: bytes) -> bytes:
    """Marker (empty value): a dose of this lot, by its per-dose reference (never a stable person id)."""
    return b"lotsubj\x00" + lot_id.encode() + b"\x00" + dose_ref


def lot_site_doses(lot_id: str, org_id: str) -> bytes:
    """Counter: doses of the lot given at one site."""
    return b"lotsite\x00" + lot_id.encode() + b"\x00" + org_id.encode()


def lot_site_doses_prefix(lot_id: str) -> bytes:
    """Every lot_site_doses counter of one lot."""
    return b"lotsite\x00" + lot_id.encode() + b"\x00"


def parse_lot_site_doses(k: bytes) -> tuple[str, str]:
    """(lot_id, org_id) of a lot_site_doses key."""
    _, lot_id, org_id = k.split(SEP)
    return _text(lot_id), _text(org_id)


def site_doses(org_id: str) -> bytes:
    """Counter: doses given at a site."""
    return b"sitedoses\x00" + org_id.encode()


def lot_destruction(lot_id: str, time_ms: int, tx_hash: bytes) -> bytes:
    """A destruction of units of the lot (value: org, unit, quantity and reason joined with 0x00)."""
    return b"lotdestroy\x00" + lot_id.encode() + b"\x00" + time_ms.to_bytes(8, "big") + b"\x00" + tx_hash


def lot_destructions_prefix(lot_id: str) -> bytes:
    """Every destruction of one lot, oldest first."""
    return b"lotdestroy\x00" + lot_id.encode() + b"\x00"


def parse_lot_destruction(k: bytes) -> tuple[str, int, bytes]:
    """(lot_id, time_ms, tx_hash) of a lot_destruction key."""
    tail = _HASH + 1 + _U64  # tx hash, separator, time
    return (
        _text(k[len(b"lotdestroy\x00") : -tail - 1]),
        int.from_bytes(k[-tail : -_HASH - 1], "big"),
        k[-_HASH:],
    )


def lot_shipment(lot_id: str, time_ms: int, shipment_id: bytes) -> bytes:
    """Index entry (empty value): a shipment of the lot, by the time it was recorded."""
    return b"lotship\x00" + lot_id.encode() + b"\x00" + time_ms.to_bytes(8, "big") + b"\x00" + shipment_id


def lot_shipments_prefix(lot_id: str) -> bytes:
    """Every lot_shipment entry of one lot, oldest first."""
    return b"lotship\x00" + lot_id.encode() + b"\x00"


def parse_lot_shipment(k: bytes) -> tuple[str, int, bytes]:
    """(lot_id, time_ms, shipment_id) of a lot_shipment key."""
    tail = _HASH + 1 + _U64
    return _text(k[len(b"lotship\x00") : -tail - 1]), int.from_bytes(k[-tail : -_HASH - 1], "big"), k[-_HASH:]


def lot_quarantine(lot_id: str, quarantine_id: bytes) -> bytes:
    """Index entry (empty value): a quarantine of units of the lot."""
    return b"lotq\x00" + lot_id.encode() + b"\x00" + quarantine_id


def lot_quarantines_prefix(lot_id: str) -> bytes:
    """Every lot_quarantine entry of one lot."""
    return b"lotq\x00" + lot_id.encode() + b"\x00"


def parse_lot_quarantine(k: bytes) -> tuple[str, bytes]:
    """(lot_id, quarantine_id) of a lot_quarantine key."""
    return _text(k[len(b"lotq\x00") : -_HASH - 1]), k[-_HASH:]


# --- custody ----------------------------------------------------------------------------------


def shipment(shipment_id: bytes) -> bytes:
    """A shipment, one custody leg (Shipment)."""
    return b"ship\x00" + shipment_id


def inbound_shipment(org_id: str, shipment_id: bytes) -> bytes:
    """Index entry (empty value): a shipment addressed to the organisation, still in transit."""
    return b"inbound\x00" + org_id.encode() + b"\x00" + shipment_id


def inbound_shipments_prefix(org_id: str) -> bytes:
    """Every inbound_shipment entry of one organisation."""
    return b"inbound\x00" + org_id.encode() + b"\x00"


def parse_inbound_shipment(k: bytes) -> tuple[str, bytes]:
    """(org_id, shipment_id) of an inbound_shipment key."""
    return _text(k[len(b"inbound\x00") : -_HASH - 1]), k[-_HASH:]


def quarantine(quarantine_id: bytes) -> bytes:
    """A quarantine and its decision (Quarantine)."""
    return b"q\x00" + quarantine_id


def quarantine_id_preimage(unit_id: str, lot_id: str, cause: int, since_s: int | None) -> bytes:
    """Not a key: what a quarantine id hashes (with the tx hash appended when `since_s` is None).

    It has always been built like a key of the quarantine namespace; it stays here, byte for byte, because the
    ids it gives are stored in keys and records.
    """
    out = b"q\x00" + unit_id.encode() + b"\x00" + lot_id.encode() + b"\x00" + cause.to_bytes(8, "big")
    return out if since_s is None else out + b"\x00" + since_s.to_bytes(8, "big")


def org_quarantine(org_id: str, quarantine_id: bytes) -> bytes:
    """Index entry (empty value): a quarantine at the organisation."""
    return b"orgq\x00" + org_id.encode() + b"\x00" + quarantine_id


def org_quarantines_prefix(org_id: str) -> bytes:
    """Every org_quarantine entry of one organisation."""
    return b"orgq\x00" + org_id.encode() + b"\x00"


def parse_org_quarantine(k: bytes) -> tuple[str, bytes]:
    """(org_id, quarantine_id) of an org_quarantine key."""
    return _text(k[len(b"orgq\x00") : -_HASH - 1]), k[-_HASH:]


# --- doses and unit codes ---------------------------------------------------------------------


def unit_use(canonical_code: str) -> bytes:
    """The use of one unit (vial) by its canonical trace code (UnitUse)."""
    return b"used\x00" + canonical_code.encode()


def dose(dose_ref: bytes) -> bytes:
    """One administered dose by its per-dose reference (DoseRecord); unlinkable to the person's other doses."""
    return b"dose\x00" + dose_ref


def registry_signer(address: bytes) -> bytes:
    """A registry co-signing key (RegistrySigner)."""
    return b"regsigner\x00" + address


def registry_signers_prefix() -> bytes:
    """Every registry co-signing key, by address."""
    return b"regsigner\x00"


def suspect_report(canonical_code: str, time_ms: int, tx_hash: bytes) -> bytes:
    """A report of a suspect unit code (SuspectReport)."""
    return b"suspect\x00" + canonical_code.encode() + b"\x00" + time_ms.to_bytes(8, "big") + b"\x00" + tx_hash


def suspect_reports_prefix(canonical_code: str) -> bytes:
    """Every report about one unit code, oldest first."""
    return b"suspect\x00" + canonical_code.encode() + b"\x00"


# --- alerts and attestations ------------------------------------------------------------------


def org_alert(org_id: str, time_ms: int, tx_hash: bytes, seq: int) -> bytes:
    """An alert of one organisation (Alert); `seq` orders several of one transaction."""
    return (
        b"alert\x00"
        + org_id.encode()
        + b"\x00"
        + time_ms.to_bytes(8, "big")
        + b"\x00"
        + tx_hash
        + b"\x00"
        + seq.to_bytes(8, "big")
    )


def org_alerts_prefix(org_id: str) -> bytes:
    """Every alert of one organisation, in time order."""
    return b"alert\x00" + org_id.encode() + b"\x00"


def parse_org_alert(k: bytes) -> tuple[str, int, bytes, int]:
    """(org_id, time_ms, tx_hash, seq) of an org_alert key."""
    time_at = len(k) - _U64 - 1 - _HASH - 1 - _U64
    org_id = _text(k[len(b"alert\x00") : time_at - 1])
    return (org_id, *_alert_tail(k, time_at))


def alert(time_ms: int, tx_hash: bytes, seq: int) -> bytes:
    """An alert in the chain-wide time index (Alert, the same record as its org_alert)."""
    return b"alerts\x00" + time_ms.to_bytes(8, "big") + b"\x00" + tx_hash + b"\x00" + seq.to_bytes(8, "big")


def alerts_prefix() -> bytes:
    """Every alert of the chain, in time order."""
    return b"alerts\x00"


def parse_alert(k: bytes) -> tuple[int, bytes, int]:
    """(time_ms, tx_hash, seq) of an alert key."""
    return _alert_tail(k, len(b"alerts\x00"))


def _alert_tail(k: bytes, time_at: int) -> tuple[int, bytes, int]:
    hash_at = time_at + _U64 + 1
    seq_at = hash_at + _HASH + 1
    return (
        int.from_bytes(k[time_at : time_at + _U64], "big"),
        k[hash_at : hash_at + _HASH],
        int.from_bytes(k[seq_at:], "big"),
    )


def attestation(document_hash: bytes, block_height: int, tx_hash: bytes) -> bytes:
    """Who anchored a document hash, at which height and in which transaction (Attestation)."""
    return b"att\x00" + document_hash + b"\x00" + block_height.to_bytes(8, "big") + b"\x00" + tx_hash


def attestations_prefix(document_hash: bytes) -> bytes:
    """Every attestation of one document hash, oldest first."""
    return b"att\x00" + document_hash + b"\x00"


# --- names in the district's language ---------------------------------------------------------


def local_name(group: str, object_id: str) -> bytes:
    """The Chinese name of an organisation ("org"), storage unit ("unit") or product ("product") (LocalName)."""
    return b"namezh\x00" + group.encode() + b"\x00" + object_id.encode()


# --- supply path, recalls and leg monitoring ---------------------------------------------------


def lot_units(lot_id: str) -> bytes:
    """The storage units holding units of a lot (LotUnits): what a recall quarantines, whom expiry warns."""
    return b"lotunits\x00" + lot_id.encode()


def recall_holder(lot_id: str, org_id: str) -> bytes:
    """One holder's progress on the lot's recall (RecallHolder)."""
    return b"recallh\x00" + lot_id.encode() + b"\x00" + org_id.encode()


def recall_holders_prefix(lot_id: str) -> bytes:
    """Every recall_holder record of one lot."""
    return b"recallh\x00" + lot_id.encode() + b"\x00"


def recall_quarantine(unit_id: str, lot_id: str) -> bytes:
    """The id (32 bytes) of the recall quarantine currently holding the lot's units in this storage unit."""
    return b"recallq\x00" + unit_id.encode() + b"\x00" + lot_id.encode()


def lot_subjects_prefix(lot_id: str) -> bytes:
    """Every lot_subject marker of one lot (the subjects vaccinated from it)."""
    return b"lotsubj\x00" + lot_id.encode() + b"\x00"


def parse_lot_subject(k: bytes) -> tuple[str, bytes]:
    """(lot_id, subject) of a lot_subject key."""
    return _text(k[len(b"lotsubj\x00") : -_HASH - 1]), k[-_HASH:]


# --- excursion and monitoring-gap episodes, expiry warnings (#20) ---------------------------------


def episode(episode_id: bytes) -> bytes:
    """An excursion or monitoring-gap episode (Episode)."""
    return b"episode\x00" + episode_id


def episode_id_preimage(unit_id: str, kind: int, start_ms: int) -> bytes:
    """What an episode id is the sha256 of: unit, kind and start (anyone can compute it)."""
    return b"episode\x00" + unit_id.encode() + b"\x00" + kind.to_bytes(8, "big") + start_ms.to_bytes(8, "big")


def unit_episode(unit_id: str, start_ms: int, episode_id: bytes) -> bytes:
    """Index entry (empty value): the storage unit had this episode, by start time."""
    return b"unitep\x00" + unit_id.encode() + b"\x00" + start_ms.to_bytes(8, "big") + b"\x00" + episode_id


def unit_episodes_prefix(unit_id: str) -> bytes:
    """Every unit_episode entry of one storage unit."""
    return b"unitep\x00" + unit_id.encode() + b"\x00"


def episode_by_time(start_ms: int, episode_id: bytes) -> bytes:
    """Index entry (empty value): every episode of the chain by start time."""
    return b"epstart\x00" + start_ms.to_bytes(8, "big") + b"\x00" + episode_id


def episodes_by_time_prefix() -> bytes:
    """Every episode_by_time entry."""
    return b"epstart\x00"


def parse_episode_index(k: bytes) -> tuple[int, bytes]:
    """(start_ms, episode_id) of a unit_episode or episode_by_time key."""
    return int.from_bytes(k[-_HASH - 1 - _U64 : -_HASH - 1], "big"), k[-_HASH:]


def unit_monitor(unit_id: str) -> bytes:
    """A storage unit's logger history: leg counters, open episodes and monitoring deadline (UnitMonitor)."""
    return b"unitmon\x00" + unit_id.encode()


def monitor_due(minute: int) -> bytes:
    """Storage units whose logger is due to be heard from by this minute (DueUnits)."""
    return b"mondue\x00" + minute.to_bytes(8, "big")


def monitor_buckets() -> bytes:
    """The minutes of the monitor_due buckets that hold units, ascending (DueMinutes)."""
    return b"monbuckets"


def episode_dose(episode_id: bytes, time_ms: int, tx_hash: bytes) -> bytes:
    """Index entry: a dose given during the episode; the value is the dose record's key."""
    return b"epdose\x00" + episode_id + b"\x00" + time_ms.to_bytes(8, "big") + b"\x00" + tx_hash


def episode_doses_prefix(episode_id: bytes) -> bytes:
    """Every episode_dose entry of one episode."""
    return b"epdose\x00" + episode_id + b"\x00"


def flagged_lot_doses(lot_id: str) -> bytes:
    """Counter: doses of the lot given during an excursion or monitoring gap."""
    return b"flaglot\x00" + lot_id.encode()


def flagged_site_doses(org_id: str) -> bytes:
    """Counter: doses of the site given during an excursion or monitoring gap."""
    return b"flagsite\x00" + org_id.encode()


def expiry_due(day: int) -> bytes:
    """Lots whose expiry warning falls on this day number (days since 1970-01-01, local) (DueUnits)."""
    return b"expdue\x00" + day.to_bytes(8, "big")


def expiry_cursor() -> bytes:
    """Counter: the last day whose expiry_due bucket the block hook has processed."""
    return b"expcursor"


def expiry_warned(lot_id: str, org_id: str) -> bytes:
    """Marker (empty value): the holder got the lot's expiry_soon alert."""
    return b"expwarn\x00" + lot_id.encode() + b"\x00" + org_id.encode()


def expiry_active(lot_id: str) -> bytes:
    """Marker (empty value): the lot's expiry warning is out (later holders are warned when they receive it)."""
    return b"expactive\x00" + lot_id.encode()


def block_hook_tx(height: int) -> bytes:
    """What the block hook's pseudo transaction hash (alert keys, quarantine ids) is the sha256 of."""
    return b"blockhook\x00" + height.to_bytes(8, "big")


# --- adverse events following immunization (AEFI) ---------------------------------------------------


def aefi_report(report: bytes) -> bytes:
    """An AEFI report by its first record hash (AefiReport)."""
    return b"aefi\x00" + report


def lot_aefi(lot_id: str) -> bytes:
    """A lot's AEFI counters (LotAefi)."""
    return b"lotaefi\x00" + lot_id.encode()
