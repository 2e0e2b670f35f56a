"""Builders of the sending commands: one per transaction kind, each returning the payloads to sign.

Registered as typer commands by node/cli/tx.py through `tx_common.sending`, which adds the common options.
"""

from __future__ import annotations

import mimetypes
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from contracts.kinds.attest import Attest
from contracts.kinds.common import ID_RE, MEDIA_TYPE_RE
from contracts.kinds.custody import (
    CancelShipment,
    Destroy,
    QualityDecision,
    QuarantineUnits,
    Receive,
    RejectShipment,
    Ship,
)
from contracts.kinds.doses import RecordDose, ReportSuspectUnit, UnitProof
from contracts.kinds.nodes import SetNode, peer_id_error
from contracts.kinds.organisations import (
    AdmitOrganisation,
    RegisterStorageUnit,
    SetAccount,
    SetDevice,
    SetOrganisationStatus,
)
from contracts.kinds.products import ApproveProduct, RecallLot, RegisterLot, RegisterProduct
from contracts.kinds.readings import RecordReadings
from contracts.records import DestroyReason
from contracts.tracecodes import product_code_error
from contracts.types import OrgType, Role, StorageKind
from node.cli.person import registry_cosignature, registry_errors, report_dose_transaction
from node.cli.tx_common import Plan, Session, parse_address_opt, parse_choice
from node.cli.tx_parse import (
    DOSE_REF_HELP,
    REGISTRY_SIGNATURE_HELP,
    CosignedDose,
    InputError,
    batches,
    check_codes_match_lot,
    hash_file,
    hash_from,
    lot_for_code,
    parse_code,
    parse_cosigned_dose,
    parse_date,
    parse_hash,
    parse_hash_list,
    parse_int_list,
    parse_lot,
    parse_temp,
    parse_time_ms,
    read_samples,
    read_unit_codes,
)

LotArg = Annotated[
    str, typer.Argument(metavar="LOT", help="Lot id PRODUCT_CODE:LOT_NUMBER, e.g. 06901234567892:HB001A.")
]
ShipmentArg = Annotated[str, typer.Argument(metavar="SHIPMENT_ID", help="Shipment id, 0x + 64 hex digits.")]
CodeArg = Annotated[
    str,
    typer.Argument(
        metavar="CODE",
        help="Unit code: GS1 element string, e.g. '(01)…(17)YYMMDD(10)LOT(21)SERIAL', or a 20-digit Chinese code.",
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (free text, kept on chain).")]
UnitOpt = Annotated[str, typer.Option("--unit", help="Storage unit id of the sender's organisation.")]
QuantityOpt = Annotated[int, typer.Option("--quantity", min=1, help="Number of units (vials).")]
LotOpt = Annotated[
    str | None,
    typer.Option("--lot", metavar="LOT", help="Lot id PRODUCT_CODE:LOT_NUMBER (default: from the code)."),
]


def _id(value: str, what: str) -> str:
    if not ID_RE.match(value):
        raise InputError(what, f"{value!r} is not an id: use [a-z0-9][a-z0-9._-]*, at most 64 characters")
    return value


def _text(value: str, what: str, *, required: bool = True) -> str:
    if required and not value.strip():
        raise InputError(what, "must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InputError(what, "must not contain control characters")
    return value


# --- organisations ------------------------------------------------------------------------------


def org_admit(
    session: Session,
    org_id: Annotated[str, typer.Argument(help="New organisation id ([a-z0-9][a-z0-9._-]*).")],
    org_type: Annotated[
        str,
        typer.Option(
            "--type", help="manufacturer, distributor, cdc, site, regulator, health-commission or school."
        ),
    ],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    admins: Annotated[
        list[str],
        typer.Option("--admin", metavar="ADDRESS", help="Address of a first admin account (repeatable)."),
    ],
) -> Plan:
    """Admit an organisation with its first admin accounts (regulator; the health commission designates sites
    and admits schools, Vaccine Administration Law art. 44)."""
    addresses = tuple(parse_address_opt(a, "--admin") for a in admins)
    return Plan(
        [
            AdmitOrganisation(
                _id(org_id, "ORG_ID"),
                parse_choice(OrgType, org_type, "--type"),
                _text(name, "--name"),
                addresses,
            )
        ]
    )


def org_status(
    session: Session,
    org_id: Annotated[str, typer.Argument(help="Organisation id.")],
    active: Annotated[bool, typer.Option("--activate/--suspend", help="Reactivate or suspend.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required to suspend).")] = "",
) -> Plan:
    """Suspend or reactivate an organisation (regulator; the health commission: sites and schools)."""
    return Plan([SetOrganisationStatus(org_id, active, _text(reason, "--reason", required=not active))])


def org_account(
    session: Session,
    address: Annotated[str, typer.Argument(help="Account address.")],
    role: Annotated[str, typer.Option("--role", help="admin or staff.")] = "staff",
    active: Annotated[
        bool, typer.Option("--active/--inactive", help="Enable or disable the account.")
    ] = True,
) -> Plan:
    """Add, change or deactivate an account of the sender's organisation (admins only)."""
    return Plan(
        [SetAccount(parse_address_opt(address, "ADDRESS"), parse_choice(Role, role, "--role"), active)]
    )


def org_unit(
    session: Session,
    unit_id: Annotated[str, typer.Argument(help="New storage unit id (chain-wide unique).")],
    kind: Annotated[str, typer.Option("--kind", help="fridge, freezer, cold-room or vehicle.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    min_temp: Annotated[
        str, typer.Option("--min-temp", metavar="CELSIUS", help="Lowest allowed °C, e.g. 2.")
    ] = "2",
    max_temp: Annotated[
        str, typer.Option("--max-temp", metavar="CELSIUS", help="Highest allowed °C, e.g. 8.")
    ] = "8",
) -> Plan:
    """Register a fridge, freezer, cold room or vehicle of the sender's organisation (admins only)."""
    low, high = parse_temp(min_temp, "--min-temp"), parse_temp(max_temp, "--max-temp")
    if low >= high:
        raise InputError("--min-temp", "must be below --max-temp")
    return Plan(
        [
            RegisterStorageUnit(
                _id(unit_id, "UNIT_ID"),
                parse_choice(StorageKind, kind, "--kind"),
                _text(name, "--name"),
                low,
                high,
            )
        ]
    )


def org_device(
    session: Session,
    address: Annotated[str, typer.Argument(help="The logger's own key address.")],
    unit: Annotated[str, typer.Option("--unit", help="Storage unit the logger measures.")],
    serial: Annotated[str, typer.Option("--serial", help="The logger's serial number.")],
    active: Annotated[bool, typer.Option("--active/--inactive", help="Enable or disable the logger.")] = True,
) -> Plan:
    """Register, rebind or deactivate a temperature logger of the sender's organisation (admins only)."""
    return Plan(
        [
            SetDevice(
                parse_address_opt(address, "ADDRESS"), _id(unit, "--unit"), _text(serial, "--serial"), active
            )
        ]
    )


PeerIdArg = Annotated[
    str,
    typer.Argument(
        metavar="PEER_ID", help="The node's libp2p peer id (12D3KooW…; `vaxchain init` prints it)."
    ),
]


def _peer_id(value: str) -> str:
    reason = peer_id_error(value)
    if reason is not None:
        raise InputError("PEER_ID", f"{value!r}: {reason}")
    return value


def org_node_add(
    session: Session,
    peer_id: PeerIdArg,
    name: Annotated[str, typer.Option("--name", help="A label for people, e.g. the node's host name.")],
) -> Plan:
    """Register a node of the sender's organisation: its peer id may then connect (admins only)."""
    return Plan([SetNode(_peer_id(peer_id), _text(name, "--name"), True)])


def org_node_remove(session: Session, peer_id: PeerIdArg) -> Plan:
    """Remove a node of the sender's organisation: its connections close at the next block (admins only)."""
    return Plan([SetNode(_peer_id(peer_id), "", False)])


# --- products and lots --------------------------------------------------------------------------


def product_register(
    session: Session,
    product_code: Annotated[
        str, typer.Argument(metavar="CODE", help="GTIN-14 or 7-digit Chinese product id.")
    ],
    name: Annotated[str, typer.Option("--name", help="Product name.")],
    series: Annotated[
        str, typer.Option("--series", help="Series/antigen id shared by interchangeable products.")
    ],
    intervals: Annotated[
        str,
        typer.Option(
            "--intervals",
            metavar="DAYS,…",
            help="Minimum days since the previous dose, per dose; first is 0.",
        ),
    ],
    freeze_sensitive: Annotated[
        bool, typer.Option("--freeze-sensitive/--freeze-tolerant", help="Damaged by freezing?")
    ],
    programme: Annotated[
        bool, typer.Option("--programme", help="A national immunisation programme vaccine.")
    ] = False,
    storage_min: Annotated[
        str, typer.Option("--storage-min", metavar="CELSIUS", help="Lowest storage °C.")
    ] = "2",
    storage_max: Annotated[
        str, typer.Option("--storage-max", metavar="CELSIUS", help="Highest storage °C.")
    ] = "8",
    doses_per_vial: Annotated[
        int, typer.Option("--doses-per-vial", min=1, max=65535, help="Doses per vial.")
    ] = 1,
    opened_vial_hours: Annotated[
        int,
        typer.Option(
            "--opened-vial-hours", min=0, max=65535, help="Hours an opened multi-dose vial may be used."
        ),
    ] = 0,
) -> Plan:
    """Register a vaccine product of the sender's MAH (it needs the regulator's approval before lots)."""
    err = product_code_error(product_code)
    if err:
        raise InputError("CODE", f"{product_code!r} {err}")
    low, high = parse_temp(storage_min, "--storage-min"), parse_temp(storage_max, "--storage-max")
    if low >= high:
        raise InputError("--storage-min", "must be below --storage-max")
    days = parse_int_list(intervals, "--intervals")
    if days[0] != 0:
        raise InputError("--intervals", "one entry per dose and the first is 0")
    if doses_per_vial > 1 and opened_vial_hours < 1:
        raise InputError(
            "--opened-vial-hours", "multi-dose vials need an opened-vial limit of at least 1 hour"
        )
    return Plan(
        [
            RegisterProduct(
                product_code,
                _text(name, "--name"),
                programme,
                low,
                high,
                freeze_sensitive,
                doses_per_vial,
                opened_vial_hours,
                series,
                days,
            )
        ]
    )


def product_approve(
    session: Session,
    product_code: Annotated[str, typer.Argument(metavar="CODE", help="Product code.")],
    decision: Annotated[
        Path | None,
        typer.Option("--decision", metavar="FILE", help="Decision document (hashed with SHA-256)."),
    ] = None,
    decision_hash: Annotated[
        str | None,
        typer.Option("--decision-hash", metavar="0xHASH", help="SHA-256 of the decision document."),
    ] = None,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="Withdraw the approval instead.")] = False,
) -> Plan:
    """Approve (or --withdraw) a product, anchoring the decision document's hash (regulator)."""
    digest = hash_from(decision, decision_hash, "decision")
    if digest is None:  # pragma: no cover - required=True
        raise InputError("--decision", "missing")
    return Plan([ApproveProduct(product_code, not withdraw, digest)], {"decision_hash": "0x" + digest.hex()})


def lot_register(
    session: Session,
    lot: LotArg,
    expiry: Annotated[
        str, typer.Option("--expiry", metavar="YYYY-MM-DD", help="Last day the lot may be used.")
    ],
    storage_unit: Annotated[
        str, typer.Option("--storage-unit", help="MAH storage unit the lot is commissioned into.")
    ],
    manufactured: Annotated[
        str | None,
        typer.Option("--manufactured", metavar="YYYY-MM-DD", help="Manufacture date (default: today, UTC)."),
    ] = None,
    codes: Annotated[
        Path | None,
        typer.Option(
            "--codes",
            metavar="FILE",
            help="The lot's unit codes, one per line in commitment order: sets the unit count and Merkle root.",
        ),
    ] = None,
    units: Annotated[
        int | None, typer.Option("--units", min=1, help="Unit count (with --unit-root).")
    ] = None,
    unit_root: Annotated[
        str | None,
        typer.Option("--unit-root", metavar="0xHASH", help="Merkle root of the unit codes (with --units)."),
    ] = None,
    release_cert: Annotated[
        Path | None, typer.Option("--release-cert", metavar="FILE", help="Lot release certificate (hashed).")
    ] = None,
    release_cert_hash: Annotated[
        str | None,
        typer.Option("--release-cert-hash", metavar="0xHASH", help="SHA-256 of the release certificate."),
    ] = None,
) -> Plan:
    """Commission a lot into an MAH storage unit, committing to its unit codes (Merkle root)."""
    ref = parse_lot(lot)
    expiry_date = parse_date(expiry, "--expiry")
    made = (
        parse_date(manufactured, "--manufactured")
        if manufactured
        else int(time.strftime("%Y%m%d", time.gmtime()))
    )
    if made > expiry_date:
        raise InputError("--expiry", "is before the manufacture date")
    if codes is not None:
        if units is not None or unit_root is not None:
            raise InputError("--codes", "give either --codes FILE or --units N with --unit-root, not both")
        unit_codes = read_unit_codes(codes)
        check_codes_match_lot(unit_codes, ref, expiry_date)
        count, root = len(unit_codes.codes), unit_codes.root
    elif units is not None and unit_root is not None:
        count, root = units, parse_hash(unit_root, "--unit-root")
    else:
        raise InputError("--codes", "give the unit codes (--codes FILE) or --units N and --unit-root 0x…")
    cert = hash_from(release_cert, release_cert_hash, "release-cert")
    if cert is None:  # pragma: no cover - required=True
        raise InputError("--release-cert", "missing")
    payload = RegisterLot(ref, made, expiry_date, count, cert, root, _id(storage_unit, "--storage-unit"))
    return Plan([payload], {"lot_id": ref.lot_id, "units": count, "unit_root": "0x" + root.hex()})


def lot_recall(
    session: Session,
    lot: LotArg,
    reason: ReasonOpt,
) -> Plan:
    """Recall a lot (its MAH or the regulator): from the next block nothing of it ships or is given."""
    ref = parse_lot(lot)
    return Plan([RecallLot(ref, _text(reason, "--reason"))], {"lot_id": ref.lot_id})


# --- custody ------------------------------------------------------------------------------------


def ship(
    session: Session,
    lot: LotArg,
    quantity: QuantityOpt,
    from_unit: Annotated[str, typer.Option("--from-unit", help="Sender's storage unit the units leave.")],
    to_org: Annotated[str, typer.Option("--to", metavar="ORG", help="Receiving organisation id.")],
    vehicle: Annotated[
        str | None, typer.Option("--vehicle", help="Vehicle storage unit whose logger records the leg.")
    ] = None,
    shipment_id: Annotated[
        str | None,
        typer.Option("--shipment-id", metavar="0xID", help="Shipment id (default: 32 random bytes)."),
    ] = None,
) -> Plan:
    """Ship units of a lot to another organisation; prints the shipment id the receiver needs."""
    ref = parse_lot(lot)
    for value, what in ((from_unit, "--from-unit"), (to_org, "--to"), (vehicle, "--vehicle")):
        if value is not None:
            _id(value, what)
    sid = parse_hash(shipment_id, "--shipment-id") if shipment_id else secrets.token_bytes(32)
    return Plan(
        [Ship(sid, ref, quantity, from_unit, to_org, vehicle)],
        {"shipment_id": "0x" + sid.hex(), "lot_id": ref.lot_id},
    )


def receive(
    session: Session,
    shipment: ShipmentArg,
    to_unit: Annotated[str, typer.Option("--to-unit", help="Receiver's fridge, freezer or cold room.")],
    counted: Annotated[
        int | None,
        typer.Option("--counted", min=0, help="Units counted on arrival (default: the quantity shipped)."),
    ] = None,
    quarantine_if_unfit: Annotated[
        bool,
        typer.Option(
            "--quarantine-if-unfit",
            help="If the leg's temperature record is out of range or has a gap (art. 39), receive the units "
            "into quarantine for a quality decision instead of having the receipt refused.",
        ),
    ] = False,
) -> Plan:
    """Receive a shipment into one of the receiver's storage units (a shortfall is recorded as lost).

    The receipt judges the whole leg: the sender's unit before departure and the vehicle through arrival."""
    sid = parse_hash(shipment, "SHIPMENT_ID")
    if counted is None:
        counted = int(session.node.call("vax_getShipment", shipment_id=shipment)["quantity"])
    return Plan(
        [Receive(sid, _id(to_unit, "--to-unit"), counted, quarantine_if_unfit)], {"shipment_id": shipment}
    )


def reject(session: Session, shipment: ShipmentArg, reason: ReasonOpt) -> Plan:
    """Refuse a shipment: its units return quarantined to the shipper for a quality decision."""
    return Plan([RejectShipment(parse_hash(shipment, "SHIPMENT_ID"), _text(reason, "--reason"))])


def cancel(session: Session, shipment: ShipmentArg, reason: ReasonOpt) -> Plan:
    """Withdraw a shipment you sent that is not yet received: its units come back to the unit they left."""
    return Plan([CancelShipment(parse_hash(shipment, "SHIPMENT_ID"), _text(reason, "--reason"))])


def return_(
    session: Session,
    lot: LotArg,
    quantity: QuantityOpt,
    from_unit: Annotated[str, typer.Option("--from-unit", help="Sender's storage unit the units leave.")],
    to_org: Annotated[
        str, typer.Option("--to", metavar="ORG", help="The organisation up the path: the CDC, or the MAH.")
    ],
    vehicle: Annotated[
        str | None, typer.Option("--vehicle", help="Vehicle storage unit whose logger records the leg.")
    ] = None,
    shipment_id: Annotated[
        str | None,
        typer.Option("--shipment-id", metavar="0xID", help="Shipment id (default: 32 random bytes)."),
    ] = None,
) -> Plan:
    """Send units back up the supply path (site -> CDC, CDC -> MAH): the only way a recalled lot moves."""
    return ship(session, lot, quantity, from_unit, to_org, vehicle, shipment_id)


def quarantine(
    session: Session, lot: LotArg, unit: UnitOpt, quantity: QuantityOpt, reason: ReasonOpt
) -> Plan:
    """Isolate available units of a lot held in one of the sender's storage units."""
    return Plan([QuarantineUnits(parse_lot(lot), _id(unit, "--unit"), quantity, _text(reason, "--reason"))])


def decide(
    session: Session,
    quarantine_id: Annotated[str, typer.Argument(metavar="QUARANTINE_ID", help="0x + 64 hex digits.")],
    release: Annotated[bool, typer.Option("--release/--condemn", help="Release the units or condemn them.")],
    evidence: Annotated[
        Path | None, typer.Option("--evidence", metavar="FILE", help="Signed decision / inspection (hashed).")
    ] = None,
    evidence_hash: Annotated[
        str | None, typer.Option("--evidence-hash", metavar="0xHASH", help="SHA-256 of the evidence.")
    ] = None,
    note: Annotated[str, typer.Option("--note", help="Short note kept on chain.")] = "",
) -> Plan:
    """Quality decision on a quarantine (CDC or regulator): --release to stock or --condemn (destroy)."""
    digest = hash_from(evidence, evidence_hash, "evidence")
    if digest is None:  # pragma: no cover - required=True
        raise InputError("--evidence", "missing")
    qid = parse_hash(quarantine_id, "QUARANTINE_ID")
    return Plan([QualityDecision(qid, release, digest, _text(note, "--note", required=False))])


def destroy(
    session: Session,
    lot: LotArg,
    unit: UnitOpt,
    quantity: QuantityOpt,
    reason: Annotated[
        str, typer.Option("--reason", help="expired, damaged, breach, recalled, lost or other.")
    ],
    note: Annotated[str, typer.Option("--note", help="Short note kept on chain.")] = "",
) -> Plan:
    """Destroy available units of a lot held in one of the sender's storage units."""
    return Plan(
        [
            Destroy(
                parse_lot(lot),
                _id(unit, "--unit"),
                quantity,
                parse_choice(DestroyReason, reason, "--reason"),
                _text(note, "--note", required=False),
            )
        ]
    )


# --- readings, doses, units, attestations -------------------------------------------------------


def reading_send(
    session: Session,
    csv: Annotated[
        Path,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="Samples as 'time,temp_c' lines (time ISO 8601 with offset or unix seconds; °C like 5.2).",
        ),
    ],
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=4096, help="Samples per record_readings tx.")
    ] = 60,
) -> Plan:
    """Send a logger's samples, signed by the logger's own key, in batches of --batch samples."""
    samples = read_samples(csv)
    parts = batches(samples, batch)
    return Plan([RecordReadings(p) for p in parts], {"samples": len(samples)})


def dose_record(
    session: Session,
    code: CodeArg,
    unit: UnitOpt,
    dose_number: Annotated[
        int, typer.Option("--dose-number", min=1, max=65535, help="Dose number in the series.")
    ],
    lot: LotOpt = None,
    codes: Annotated[
        Path | None,
        typer.Option("--codes", metavar="FILE", help="The lot's unit code list, to compute the proof."),
    ] = None,
    proof_index: Annotated[
        int | None, typer.Option("--proof-index", min=0, help="Leaf index (without --codes).")
    ] = None,
    proof: Annotated[
        str, typer.Option("--proof", metavar="0xHASH,…", help="Merkle sibling hashes (without --codes).")
    ] = "",
    at: Annotated[
        str | None,
        typer.Option(
            "--time", metavar="TIME", help="When given: ISO 8601 with offset or unix seconds (default: now)."
        ),
    ] = None,
    vaccinator: Annotated[
        str | None,
        typer.Option("--vaccinator", metavar="ADDRESS", help="Vaccinator's account (default: --from)."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", metavar="FILE", help="Clinical record kept off chain (hashed).")
    ] = None,
    record_hash: Annotated[
        str | None, typer.Option("--record-hash", metavar="0xHASH", help="SHA-256 of the clinical record.")
    ] = None,
    dose_ref: Annotated[str | None, typer.Option("--dose-ref", metavar="0xREF", help=DOSE_REF_HELP)] = None,
    registry_signature: Annotated[
        str | None,
        typer.Option("--registry-signature", metavar="0xSIG", help=REGISTRY_SIGNATURE_HELP),
    ] = None,
    person: Annotated[
        str | None,
        typer.Option(
            "--person",
            metavar="ID",
            help="The vaccinee (registry person id 0x… or ID number): the registry checks the person's rules, "
            "keeps the record and co-signs (instead of --dose-ref/--record/--registry-signature).",
        ),
    ] = None,
    registry_url: Annotated[
        str | None, typer.Option("--registry", metavar="URL", help="The district registry (with --person).")
    ] = None,
    registry_ca: Annotated[
        Path | None,
        typer.Option("--registry-ca", metavar="PEM", help="CA of the registry's TLS certificate."),
    ] = None,
) -> Plan:
    """Record one dose given at the sender's site: unit code, Merkle proof, and the registry's dose reference,
    record hash and co-signature (asked of the registry with --person, which waits while the registry is down)."""
    tc = parse_code(code)
    ref = lot_for_code(tc, parse_lot(lot, "--lot") if lot else None)
    given_ms = parse_time_ms(at) if at else int(time.time()) * 1000
    nurse = parse_address_opt(vaccinator, "--vaccinator") if vaccinator else session.address
    if person is not None:
        if dose_ref or record or record_hash or registry_signature:
            raise InputError(
                "--person", "give --person (the registry co-signs) or the registry's values, not both"
            )
        if not registry_url:
            raise InputError("--registry", "--person needs the registry's URL")
        with registry_errors():  # DoseAlreadyRecorded, DoseIntervalTooShort… : named, and nothing is sent
            _, cosignature = registry_cosignature(
                registry_url,
                session.unlock(),
                person,
                code,  # the registry signs the code exactly as the payload carries it
                ref.lot_id,
                dose_number,
                given_ms,
                nurse,
                ca_file=registry_ca,
            )
        cosigned = CosignedDose(cosignature.dose_ref, cosignature.record_hash, cosignature.registry_signature)
    else:
        digest = hash_from(record, record_hash, "record")
        if digest is None:  # pragma: no cover - required=True
            raise InputError("--record", "missing")
        cosigned = parse_cosigned_dose(dose_ref, digest, registry_signature)
    if codes is not None:
        if proof_index is not None or proof:
            raise InputError("--codes", "give either --codes FILE or --proof-index with --proof, not both")
        unit_proof = read_unit_codes(codes).proof_for(tc)
    elif proof_index is not None:
        unit_proof = UnitProof(proof_index, parse_hash_list(proof, "--proof"))
    else:
        raise InputError(
            "--codes", "a dose needs the unit's Merkle proof: --codes FILE or --proof-index/--proof"
        )
    payload = RecordDose(
        code,
        ref,
        unit_proof,
        _id(unit, "--unit"),
        dose_number,
        given_ms,
        nurse,
        cosigned.dose_ref,
        cosigned.record_hash,
        cosigned.signature,
    )
    if person is None or not registry_url:
        return Plan([payload], {"lot_id": ref.lot_id, "unit": tc.canonical})
    site_key, url, dose_ref_bytes = session.unlock(), registry_url, cosigned.dose_ref

    def tell_registry(results: list[dict[str, Any]]) -> None:
        # the guardian's page shows the dose's transaction (the on-chain check's fallback on an older node)
        tx_hash = bytes.fromhex(str(results[0]["tx_hash"]).removeprefix("0x"))
        report_dose_transaction(url, site_key, dose_ref_bytes, tx_hash, ca_file=registry_ca)

    return Plan([payload], {"lot_id": ref.lot_id, "unit": tc.canonical}, after_sent=tell_registry)


def unit_report(
    session: Session,
    code: Annotated[
        str, typer.Argument(metavar="CODE", help="The suspect code exactly as scanned or printed.")
    ],
    note: Annotated[str, typer.Option("--note", help="What is wrong (repeated code, damaged packaging…).")],
    lot: LotOpt = None,
    evidence: Annotated[
        Path | None, typer.Option("--evidence", metavar="FILE", help="Photo or scan (hashed).")
    ] = None,
    evidence_hash: Annotated[
        str | None, typer.Option("--evidence-hash", metavar="0xHASH", help="SHA-256 of the evidence.")
    ] = None,
) -> Plan:
    """Report a suspect unit code (e.g. after UnitAlreadyUsed) so it shows as an alert and in `unit find`."""
    digest = hash_from(evidence, evidence_hash, "evidence")
    if digest is None:  # pragma: no cover - required=True
        raise InputError("--evidence", "missing")
    ref = parse_lot(lot, "--lot") if lot else None
    if ref is None:
        try:
            ref = lot_for_code(parse_code(code), None)
        except InputError:
            ref = None  # unparseable or no printed lot: the report keeps the code as typed
    return Plan([ReportSuspectUnit(_text(code, "CODE"), ref, digest, _text(note, "--note", required=False))])


def attest(
    session: Session,
    file: Annotated[
        Path | None, typer.Argument(metavar="[FILE]", help="Document to anchor (hashed with SHA-256).")
    ] = None,
    document_hash: Annotated[
        str | None, typer.Option("--hash", metavar="0xHASH", help="SHA-256 of the document, instead of FILE.")
    ] = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Short label (default: the file name).")
    ] = None,
    media_type: Annotated[
        str | None, typer.Option("--media-type", help="e.g. application/pdf (default: guessed from FILE).")
    ] = None,
) -> Plan:
    """Anchor the SHA-256 of a document (release certificate, log scan, video) on chain."""
    if (file is None) == (document_hash is None):
        raise InputError("attest", "give a FILE to hash or --hash 0x…, exactly one")
    digest = hash_file(file, "FILE") if file is not None else parse_hash(document_hash or "", "--hash")
    if label is None:
        if file is None:
            raise InputError("--label", "required with --hash")
        label = file.name
    if media_type is None:
        guessed = mimetypes.guess_type(file.name)[0] if file is not None else None
        media_type = guessed or "application/octet-stream"
    if not MEDIA_TYPE_RE.match(media_type):
        raise InputError(
            "--media-type", f"{media_type!r} is not a lower-case media type like application/pdf"
        )
    return Plan([Attest(digest, _text(label, "--label"), media_type)], {"document_hash": "0x" + digest.hex()})
