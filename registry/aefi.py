"""Adverse events following immunization (AEFI, 疑似预防接种异常反应): reports per person and dose, the CDC's
investigation and classification, and the registry's co-signature of what the chain counts.

A site reports a suspected AEFI on a dose it gave (or a guardian reports it from the family pages: "reported by
the guardian, awaiting the site's confirmation" until the dose's site confirms it); the CDC investigates and
classifies it (全国疑似预防接种异常反应监测方案: 不良反应, 疫苗质量事故, 接种事故, 偶合症, 心因性反应, 待定). Each
report is sealed with its person's key like a dose; every read or write is in the access log.

On chain a report is counts only (`report_aefi`, contracts/kinds/aefi.py): the lot, the serious flag, the
classification and the hash of this registry record, co-signed here. The site's or CDC's CLI sends the
transaction (as for a dose: the registry never sends one) and then tells the registry which transaction carries
each version (`confirm_tx`, like a dose's confirm): the sealed record keeps them under "chain_tx", which is not part
of the record hash. The CDC may classify a report only once its first report's transaction is known (AefiNotOnChain
else). Statuses: awaiting_site → reported → investigating → classified → closed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
import rlp

from registry.chain import Caller
from registry.errors import BadRequest, Forbidden, RegistryError
from registry.service import Registry, canonical_json, parse_hash
from registry.store import AefiRow
from vaxcrypto.keys import Address, PrivateKey, recover_address

#: Domain tag of the registry's AEFI co-signature (version 1): the same bytes as contracts.kinds.aefi.
AEFI_TAG = b"vaxchain/registry-aefi/v1"
NOTE_MAX = 500
LIST_MAX = 500
DAY_MS = 86_400_000

#: Symptom categories (code: Chinese, English), a small fixed list after the national surveillance plan.
SYMPTOMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "fever": ("发热（腋温≥38.5℃）", "fever ≥ 38.5 °C (axillary)"),
        "local_reaction": ("局部红肿或硬结（直径>5 cm）", "local redness or induration > 5 cm"),
        "allergic": ("过敏反应（皮疹、荨麻疹等）", "allergic reaction (rash, urticaria…)"),
        "anaphylaxis": ("过敏性休克", "anaphylaxis"),
        "febrile_convulsion": ("热性惊厥", "febrile convulsion"),
        "thrombocytopenia": ("血小板减少性紫癜", "thrombocytopenia (purpura)"),
        "other": ("其他", "other"),
    }
)
#: What makes a report serious (any one of them).
SERIOUS_CRITERIA: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "death": ("死亡", "death"),
        "life_threatening": ("危及生命", "life-threatening"),
        "hospitalisation": ("住院或延长住院", "hospitalisation or a longer stay"),
        "disability": ("永久或显著的残疾", "persistent or significant disability"),
        "cluster": ("群体性反应", "a cluster of reactions"),
    }
)
#: Classifications, in the chain's order (AefiClass: code = position + 1).
CLASSES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "pending": ("待调查诊断", "pending investigation"),
        "reaction": ("不良反应", "vaccine product-related reaction"),
        "quality_defect": ("疫苗质量事故", "vaccine quality defect"),
        "immunization_error": ("接种事故", "immunization error"),
        "coincidental": ("偶合症", "coincidental event"),
        "anxiety": ("心因性反应", "immunization anxiety-related reaction"),
        "unclassifiable": ("待定（不能明确）", "unclassifiable"),
    }
)
STATUSES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "awaiting_site": (
            "家长报告，等待接种单位确认",
            "reported by the guardian, awaiting the site's confirmation",
        ),
        "reported": ("已报告", "reported"),
        "investigating": ("调查中", "under investigation"),
        "classified": ("已诊断分类", "classified"),
        "closed": ("已结案", "closed"),
    }
)
OUTCOMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "": ("", ""),
        "recovered": ("痊愈", "recovered"),
        "recovering": ("好转", "recovering"),
        "sequelae": ("有后遗症", "recovered with sequelae"),
        "died": ("死亡", "died"),
        "unknown": ("不详", "unknown"),
    }
)


class AefiNotFound(RegistryError):
    """No AEFI report with this id."""

    code = "AefiNotFound"
    status = 404

    def __init__(self, report_id: str) -> None:
        super().__init__(f"no AEFI report {report_id}")
        self.report_id = report_id


class AefiWrongStatus(RegistryError):
    """The report's status does not allow this step (e.g. confirming a report the site already reported)."""

    code = "AefiWrongStatus"
    status = 409

    def __init__(self, report_id: str, status: str, action: str) -> None:
        super().__init__(f"AEFI report {report_id} is {status}: cannot {action}")
        self.report_id = report_id
        self.report_status = status
        self.action = action


class AefiNotOnChain(RegistryError):
    """The CDC classifies a report whose first transaction the site has not reported as included: the chain would
    refuse the classification (UnknownAefiReport), so the registry does first."""

    code = "AefiNotOnChain"
    status = 409

    def __init__(self, report_id: str) -> None:
        super().__init__(
            f"AEFI report {report_id} is not on chain yet: the site must send its report first "
            "(`vaxchain aefi report` tells the registry the transaction once it is included)"
        )
        self.report_id = report_id


class AefiTxNotFound(RegistryError):
    """The transaction a site names does not carry this version of the report on the registry's node (unknown
    there, not yet included, refused, or another record): a report shows "on chain" only for one the chain holds."""

    code = "AefiTxNotFound"
    status = 409

    def __init__(self, tx_hash: str, record_hash: str, why: str) -> None:
        super().__init__(f"transaction {tx_hash} does not carry AEFI record {record_hash} on chain: {why}")
        self.tx_hash, self.record_hash, self.why = tx_hash, record_hash, why


@dataclass(frozen=True, slots=True)
class AefiInput:
    """What a reporter says: which dose, when it began, what it is, how serious, a short note."""

    dose_ref: bytes
    onset_ms: int
    symptom: str
    serious: bool
    criteria: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class AefiCosignature:
    """What the `report_aefi` transaction carries, co-signed by the registry for the caller's organisation."""

    report_id: bytes
    lot_id: str
    serious: bool
    classification: int  # AefiClass code: 1 pending … 7 unclassifiable
    record_hash: bytes
    first_report: bytes | None
    registry_signature: bytes

    def to_json(self) -> dict[str, Any]:
        """0x-hex fields, as the API and the CLI pass them on."""
        return {
            "report_id": "0x" + self.report_id.hex(),
            "lot_id": self.lot_id,
            "serious": self.serious,
            "classification": list(CLASSES)[self.classification - 1],
            "record_hash": "0x" + self.record_hash.hex(),
            "first_report": None if self.first_report is None else "0x" + self.first_report.hex(),
            "registry_signature": "0x" + self.registry_signature.hex(),
        }


def aefi_digest(
    chain_id: int,
    org_id: str,
    lot_id: str,
    serious: bool,
    classification: int,
    record_hash: bytes,
    first_report: bytes | None,
) -> bytes:
    """sha256(tag || 0x00 || rlp([chain_id, org, lot_id, serious, classification, record_hash, first_report or
    empty])): the digest the registry signs for one `report_aefi` transaction."""
    body = rlp.encode(
        [
            chain_id,
            org_id.encode("utf-8"),
            lot_id.encode("utf-8"),
            int(serious),
            classification,
            record_hash,
            first_report or b"",
        ]
    )
    return hashlib.sha256(AEFI_TAG + b"\x00" + body).digest()


def parse_aefi(obj: Any, now_ms: int) -> AefiInput:
    """An AefiInput from request JSON; BadRequest naming the first bad field."""
    if not isinstance(obj, dict):
        raise BadRequest("aefi", "must be an object")
    onset, symptom, serious = obj.get("onset_ms"), obj.get("symptom"), obj.get("serious", False)
    if not isinstance(onset, int) or isinstance(onset, bool) or not 0 < onset <= now_ms + 300_000:
        raise BadRequest("onset_ms", "must be milliseconds since the epoch, not in the future")
    if symptom not in SYMPTOMS:
        raise BadRequest("symptom", f"must be one of {', '.join(SYMPTOMS)}")
    if not isinstance(serious, bool):
        raise BadRequest("serious", "must be true or false")
    criteria = obj.get("criteria", [])
    if not isinstance(criteria, list) or any(c not in SERIOUS_CRITERIA for c in criteria):
        raise BadRequest("criteria", f"must be a list of {', '.join(SERIOUS_CRITERIA)}")
    if serious != bool(criteria):
        raise BadRequest("criteria", "a serious report names its criteria, and only a serious one")
    note = obj.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE_MAX or any(ord(c) < 32 and c != "\n" for c in note):
        raise BadRequest("note", f"at most {NOTE_MAX} characters without control characters")
    return AefiInput(
        parse_hash("dose_ref", obj.get("dose_ref")),
        onset,
        str(symptom),
        serious,
        tuple(sorted(set(criteria))),
        note.strip(),
    )


def _sign(
    key: PrivateKey, chain_id: int, org_id: str, record: dict[str, Any], row: AefiRow
) -> AefiCosignature:
    cls = list(CLASSES).index(record["classification"]) + 1
    first = None if row.first_hash == row.record_hash else row.first_hash
    digest = aefi_digest(chain_id, org_id, record["lot_id"], record["serious"], cls, row.record_hash, first)
    return AefiCosignature(
        row.report_id, record["lot_id"], record["serious"], cls, row.record_hash, first, key.sign(digest)
    )


class AefiDesk:
    """The registry's AEFI desk: reports, confirmations, classifications and the lists, over a Registry."""

    def __init__(self, registry: Registry) -> None:
        self.r = registry

    # sealing (the person's key, bound to the report: like a dose)

    def _open(self, key: bytes, row: AefiRow) -> dict[str, Any]:
        return dict(orjson.loads(self.r.vault.open(key, row.sealed, b"aefi" + row.report_id)))

    def _seal(
        self, key: bytes, row_of: AefiRow | None, rid: bytes, pid: bytes, record: dict[str, Any], chain: bool
    ) -> AefiRow:
        """The row holding `record`; `chain` marks a version the chain will count (its hash is the first report's
        when the report has none yet)."""
        body = canonical_json(record)
        digest = record_digest(record)
        first = row_of.first_hash if row_of is not None else None
        if chain and first is None:
            first = digest
        created = row_of.created_ms if row_of is not None else self.r.clock()
        return AefiRow(rid, pid, self.r.vault.seal(key, body, b"aefi" + rid), digest, first, created)

    def _dose(self, db: sqlite3.Connection, dose_ref: bytes) -> tuple[bytes, bytes, dict[str, Any]]:
        """(person id, person key, dose record) of a dose."""
        row = self.r.store.dose(db, dose_ref)
        if row is None:
            raise BadRequest("dose_ref", "no such dose")
        _, key, _record = self.r.load_person(db, row.person_id)
        return row.person_id, key, dict(orjson.loads(self.r.vault.open(key, row.sealed, b"dose" + dose_ref)))

    def _new_record(self, inp: AefiInput, dose: dict[str, Any], reporter: str, status: str) -> dict[str, Any]:
        if inp.onset_ms < int(dose["administered_ms"]) - 60_000:
            raise BadRequest("onset_ms", "before the dose was given")
        now = self.r.clock()
        return {
            "v": 1,
            "nonce": secrets.token_hex(16),  # the record hash on chain cannot be guessed from the fields
            "dose_ref": dose["dose_ref"],
            "person_id": dose["person_id"],
            "site_org_id": dose["site_org_id"],
            "trace_code": dose["trace_code"],
            "lot_id": dose["lot_id"],
            "product_name": dose.get("product_name"),
            "administered_ms": dose["administered_ms"],
            "onset_ms": inp.onset_ms,
            "symptom": inp.symptom,
            "serious": inp.serious,
            "criteria": list(inp.criteria),
            "note": inp.note,
            "reported_by": reporter,
            "reported_ms": now,
            "status": status,
            "classification": "pending",
            "outcome": "",
            "history": [{"at_ms": now, "by": reporter, "status": status}],
        }

    def _check_site(self, caller: Caller, action: str, dose: dict[str, Any]) -> None:
        """A CDC account, or an account of the site that gave the dose (Forbidden else)."""
        if caller.org_type != "cdc" and caller.org_id != dose["site_org_id"]:
            raise Forbidden(self.r.actor(caller), action, "the dose was given by another site")

    def report(self, address: Address, inp: AefiInput, reason: str = "AEFI report") -> AefiCosignature:
        """A site (of the dose) or the CDC reports a suspected AEFI: stored, logged, co-signed for the chain.

        A retry of the same report (same dose, symptom and onset) gets the same co-signature back."""
        caller = self.r.authorize(address, "report_aefi")  # the chain is asked before the database is locked
        chain_id = self.r.chain.chain_id()
        with self.r.store.tx() as db:
            pid, key, dose = self._dose(db, inp.dose_ref)
            self._check_site(caller, "report_aefi", dose)
            for row in self.r.store.aefi_of(db, pid):
                known = self._open(key, row)
                if (known["dose_ref"], known["symptom"], known["onset_ms"]) == (
                    dose["dose_ref"],
                    inp.symptom,
                    inp.onset_ms,
                ):
                    if known["status"] == "awaiting_site" or row.first_hash != row.record_hash:
                        raise AefiWrongStatus(
                            "0x" + row.report_id.hex(),
                            known["status"],
                            "report it again (a guardian's report is confirmed, a classified one stays)",
                        )
                    return _sign(self.r.keys.signing_key, chain_id, caller.org_id, known, row)
            rid = secrets.token_bytes(32)
            record = self._new_record(inp, dose, self.r.actor(caller), "reported")
            row = self._seal(key, None, rid, pid, record, chain=True)
            self.r.store.put_aefi(db, row)
            self.r.log_access(db, self.r.actor(caller), "report_aefi", reason, pid)
        return _sign(self.r.keys.signing_key, chain_id, caller.org_id, record, row)

    def guardian_report(self, code: str, inp: AefiInput) -> str:
        """A guardian reports from the family pages for one of the code's children: kept as awaiting the site's
        confirmation (nothing goes on chain until the site confirms). The report id."""
        with self.r.store.tx() as db:
            cid, pids = self.r.family_of(db, code)
            pid, key, dose = self._dose(db, inp.dose_ref)
            if pid not in pids:
                raise BadRequest("dose_ref", "not a dose of this family's children")
            given = int(dose["administered_ms"])
            if (
                given - DAY_MS < inp.onset_ms < given
            ):  # a guardian gives a day: the dose's day counts from the dose
                inp = dataclasses.replace(inp, onset_ms=given)
            rid = secrets.token_bytes(32)
            who = f"guardian/{cid[:4].hex()}"
            record = self._new_record(inp, dose, who, "awaiting_site")
            self.r.store.put_aefi(db, self._seal(key, None, rid, pid, record, chain=False))
            self.r.log_access(db, who, "guardian_report_aefi", "family access code", pid)
        return "0x" + rid.hex()

    def _update(self, db: sqlite3.Connection, rid: bytes) -> tuple[AefiRow, bytes, dict[str, Any]]:
        row = self.r.store.aefi(db, rid)
        if row is None:
            raise AefiNotFound("0x" + rid.hex())
        _, key, _record = self.r.load_person(db, row.person_id)
        return row, key, self._open(key, row)

    def confirm(
        self,
        address: Address,
        rid: bytes,
        serious: bool | None = None,
        reason: str = "guardian's AEFI report",
    ) -> AefiCosignature:
        """The dose's site (or the CDC) confirms a guardian's report, optionally correcting the serious flag
        (criteria then as the guardian gave them, or "hospitalisation" when none): now reported, co-signed."""
        caller = self.r.authorize(address, "confirm_aefi")
        chain_id = self.r.chain.chain_id()
        with self.r.store.tx() as db:
            row, key, record = self._update(db, rid)
            self._check_site(caller, "confirm_aefi", record)
            if record["status"] != "awaiting_site":
                if row.first_hash == row.record_hash:  # a retried confirmation: the same co-signature
                    return _sign(self.r.keys.signing_key, chain_id, caller.org_id, record, row)
                raise AefiWrongStatus("0x" + rid.hex(), record["status"], "confirm it")
            if serious is not None and serious != record["serious"]:
                record["serious"] = serious
                record["criteria"] = (record["criteria"] or ["hospitalisation"]) if serious else []
            record["status"] = "reported"
            record["confirmed_by"] = self.r.actor(caller)
            record["history"].append(
                {"at_ms": self.r.clock(), "by": self.r.actor(caller), "status": "reported"}
            )
            row = self._seal(key, row, rid, row.person_id, record, chain=True)
            self.r.store.put_aefi(db, row)
            self.r.log_access(db, self.r.actor(caller), "confirm_aefi", reason, row.person_id)
        return _sign(self.r.keys.signing_key, chain_id, caller.org_id, record, row)

    def classify(
        self,
        address: Address,
        rid: bytes,
        classification: str,
        *,
        serious: bool | None = None,
        outcome: str = "",
        close: bool = False,
        reason: str = "AEFI investigation",
    ) -> AefiCosignature:
        """The CDC records its investigation: "pending" marks it under investigation, a class classifies it,
        `close` closes it; the serious flag may be corrected. Co-signed as an update of the first report."""
        if classification not in CLASSES:
            raise BadRequest("classification", f"must be one of {', '.join(CLASSES)}")
        if outcome not in OUTCOMES:
            raise BadRequest("outcome", f"must be one of {', '.join(o for o in OUTCOMES if o)}")
        if close and classification == "pending":
            raise BadRequest("close", "classify a report before closing it")
        caller = self.r.authorize(address, "classify_aefi")
        if caller.org_type != "cdc":
            raise Forbidden(self.r.actor(caller), "classify_aefi", "only the CDC investigates and classifies")
        chain_id = self.r.chain.chain_id()
        status = "closed" if close else ("investigating" if classification == "pending" else "classified")
        with self.r.store.tx() as db:
            row, key, record = self._update(db, rid)
            if row.first_hash is None:
                raise AefiWrongStatus(
                    "0x" + rid.hex(), record["status"], "classify it before the site confirms"
                )
            if _chain_tx(record, row.first_hash) is None:
                raise AefiNotOnChain("0x" + rid.hex())
            new_serious = record["serious"] if serious is None else serious
            wanted = (classification, new_serious, outcome, status)
            if (record["classification"], record["serious"], record["outcome"], record["status"]) == wanted:
                return _sign(self.r.keys.signing_key, chain_id, caller.org_id, record, row)  # a retry
            if new_serious != record["serious"]:
                record["criteria"] = (record["criteria"] or ["hospitalisation"]) if new_serious else []
            record.update(classification=classification, serious=new_serious, outcome=outcome, status=status)
            record["history"].append(
                {
                    "at_ms": self.r.clock(),
                    "by": self.r.actor(caller),
                    "status": status,
                    "class": classification,
                }
            )
            row = self._seal(key, row, rid, row.person_id, record, chain=True)
            self.r.store.put_aefi(db, row)
            self.r.log_access(db, self.r.actor(caller), "classify_aefi", reason, row.person_id)
        return _sign(self.r.keys.signing_key, chain_id, caller.org_id, record, row)

    def confirm_tx(self, address: Address, rid: bytes, record_hash: bytes | None, tx_hash: bytes) -> bytes:
        """The site (or the CDC) reports the transaction that carries one version of a report (its record hash;
        without it, the version the transaction carries): kept in the sealed record, shown with the report; the
        first report's lets the CDC classify it. A repeat is harmless; a version the registry never co-signed, or a
        transaction the chain does not hold with it (AefiTxNotFound), is refused. Returns the version's hash."""
        caller = self.r.authorize(address, "confirm_aefi_tx")  # before the database is locked
        with self.r.store.tx() as db:  # refusals first, without asking the chain
            row, _, record = self._update(db, rid)
            versions = self._versions(caller, rid, row, record, record_hash)
        record_hash = self._carried_version(
            tx_hash, sorted(versions) if record_hash is None else [record_hash]
        )
        with self.r.store.tx() as db:  # again: the report may have changed while the chain was asked
            row, key, record = self._update(db, rid)
            self._versions(caller, rid, row, record, record_hash)
            record.setdefault("chain_tx", {})["0x" + record_hash.hex()] = "0x" + tx_hash.hex()
            row = self._seal(key, row, rid, row.person_id, record, chain=False)
            self.r.store.put_aefi(db, row)
            self.r.log_access(
                db, self.r.actor(caller), "confirm_aefi_tx", "AEFI transaction sent", row.person_id
            )
        return record_hash

    def _versions(
        self, caller: Caller, rid: bytes, row: AefiRow, record: dict[str, Any], record_hash: bytes | None
    ) -> set[bytes]:
        """The record hashes of a report ``caller`` may confirm a transaction of, that the registry co-signed;
        BadRequest when ``record_hash`` is given and not one of them."""
        self._check_site(caller, "confirm_aefi_tx", record)
        if row.first_hash is None:
            raise AefiWrongStatus("0x" + rid.hex(), record["status"], "confirm a transaction")
        versions = {row.first_hash, row.record_hash} | {
            bytes.fromhex(h[2:]) for h in record.get("chain_tx", {})
        }
        if record_hash is not None and record_hash not in versions:
            raise BadRequest("record_hash", "not a version of this report the registry co-signed")
        return versions

    def _carried_version(self, tx_hash: bytes, versions: Sequence[bytes]) -> bytes:
        """The one of ``versions`` that ``tx_hash`` carries as a successful `report_aefi` on chain, else
        AefiTxNotFound."""
        tx_text = "0x" + tx_hash.hex()
        record_text = "0x" + versions[0].hex() if len(versions) == 1 else "of this report"
        tx = self.r.chain.transaction(tx_text)  # ChainUnavailable (503): the caller tries again
        if tx is None:
            raise AefiTxNotFound(tx_text, record_text, "the registry's node does not know it")
        if tx.get("kind_name") != "report_aefi":
            raise AefiTxNotFound(tx_text, record_text, f"it is a {tx.get('kind_name')} transaction")
        # Public answers leave the record hash out of the decoded payload (contracts.privacy); the raw payload
        # keeps its 32 bytes.
        try:
            raw = bytes.fromhex(str(tx.get("payload_hex", "")).removeprefix("0x"))
        except ValueError:
            raw = b""
        carried = [v for v in versions if v in raw]
        if not carried:
            raise AefiTxNotFound(tx_text, record_text, "it carries another record")
        if tx.get("status") != "included":
            raise AefiTxNotFound(tx_text, record_text, "not included in a block yet")
        if (tx.get("receipt") or {}).get("status") != "success":
            raise AefiTxNotFound(tx_text, record_text, "the chain refused it")
        return carried[0]

    def list_reports(
        self, address: Address, status: str | None = None, limit: int = 100, reason: str = "AEFI follow-up"
    ) -> list[dict[str, Any]]:
        """The latest reports with their follow-up: the CDC all of them, a site those on doses it gave. No name
        or ID number: the person id, dose, lot, onset, symptom, seriousness, status and classification."""
        if status is not None and status not in STATUSES:
            raise BadRequest("status", f"must be one of {', '.join(STATUSES)}")
        if not 1 <= limit <= LIST_MAX:
            raise BadRequest("limit", f"1 to {LIST_MAX}")
        caller = self.r.authorize(address, "list_aefi")
        out: list[dict[str, Any]] = []
        with self.r.store.tx() as db:
            for row in self.r.store.aefi_latest(db, LIST_MAX * 4):
                person = self.r.store.person(db, row.person_id)
                if person is None or person.wrapped_key is None:
                    continue  # erased: the report can no longer be read
                _, key, _record = self.r.load_person(db, row.person_id)
                record = self._open(key, row)
                if caller.org_type != "cdc" and record["site_org_id"] != caller.org_id:
                    continue
                if status is not None and record["status"] != status:
                    continue
                self.r.log_access(db, self.r.actor(caller), "list_aefi", reason, row.person_id)
                out.append(report_json(row, record))
                if len(out) >= limit:
                    break
        return out

    def family_reports(self, code: str) -> dict[str, list[dict[str, Any]]]:
        """Each child's reports for the family page, by person id (the page view is logged by guardian_view)."""
        out: dict[str, list[dict[str, Any]]] = {}
        with self.r.store.tx() as db:
            _, pids = self.r.family_of(db, code)
            for pid in pids:
                person = self.r.store.person(db, pid)
                if person is None or person.wrapped_key is None:
                    continue
                _, key, _record = self.r.load_person(db, pid)
                out["0x" + pid.hex()] = [
                    report_json(row, self._open(key, row)) for row in self.r.store.aefi_of(db, pid)
                ]
        return out


def report_json(row: AefiRow, record: dict[str, Any]) -> dict[str, Any]:
    """A report as the API lists it (no name, ID number or phone: those stay in the person record)."""
    return {
        "report_id": "0x" + row.report_id.hex(),
        "person_id": record["person_id"],
        "dose_ref": record["dose_ref"],
        "site_org_id": record["site_org_id"],
        "lot_id": record["lot_id"],
        "product_name": record.get("product_name"),
        "onset_ms": record["onset_ms"],
        "symptom": record["symptom"],
        "serious": record["serious"],
        "criteria": record["criteria"],
        "note": record["note"],
        "reported_by": record["reported_by"],
        "status": record["status"],
        "classification": record["classification"],
        "outcome": record["outcome"],
        "record_hash": "0x" + row.record_hash.hex(),
        "first_report": None if row.first_hash is None else "0x" + row.first_hash.hex(),
        # the transactions the site or CDC reported: the current version's, and the first report's (classify
        # needs it)
        "tx_hash": _chain_tx(record, row.record_hash),
        "first_report_tx": _chain_tx(record, row.first_hash),
    }


def record_digest(record: Mapping[str, Any]) -> bytes:
    """The record hash the chain carries: sha256 of the canonical record without "chain_tx" (the transactions are
    learnt after the hash is on chain)."""
    return hashlib.sha256(canonical_json({k: v for k, v in record.items() if k != "chain_tx"})).digest()


def _chain_tx(record: Mapping[str, Any], record_hash: bytes | None) -> str | None:
    """The transaction reported for one version of the report, or None."""
    if record_hash is None:
        return None
    tx = record.get("chain_tx", {}).get("0x" + record_hash.hex())
    return None if tx is None else str(tx)


def onset_from_date(text: str) -> int:
    """A guardian's onset date (YYYY-MM-DD, district time UTC+8) as milliseconds at the day's start."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise BadRequest("onset_date", "must be YYYY-MM-DD") from None
    start = dt.datetime.combine(day, dt.time(), dt.timezone(dt.timedelta(hours=8)))
    return int(start.timestamp() * 1000)


def sequence_names(codes: Sequence[str], table: Mapping[str, tuple[str, str]], lang: str) -> str:
    """Codes as their names in `lang` (zh-CN first), joined."""
    i, sep = (0, "、") if lang == "zh-CN" else (1, ", ")
    return sep.join(table[c][i] if c in table else c for c in codes)


def signer_of(cosig: AefiCosignature, chain_id: int, org_id: str) -> Address:
    """The address that co-signed (raises vaxcrypto's InvalidSignature if it does not recover)."""
    digest = aefi_digest(
        chain_id,
        org_id,
        cosig.lot_id,
        cosig.serious,
        cosig.classification,
        cosig.record_hash,
        cosig.first_report,
    )
    return recover_address(digest, cosig.registry_signature)


# the signed API (registry.server adds these paths to its table)


def _reason(p: dict[str, Any], default: str) -> str:
    value = p.get("reason", default)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise BadRequest("reason", "say why the record is accessed (1 to 200 characters)")
    return value.strip()


def _opt_bool(p: dict[str, Any], name: str) -> bool | None:
    value = p.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(name, "must be true, false or absent")
    return value


def _api_report(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    return AefiDesk(r).report(caller, parse_aefi(p, r.clock()), _reason(p, "AEFI report")).to_json()


def _api_confirm(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    rid = parse_hash("report_id", p.get("report_id"))
    desk = AefiDesk(r)
    return desk.confirm(caller, rid, _opt_bool(p, "serious"), _reason(p, "guardian's AEFI report")).to_json()


def _api_classify(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    rid = parse_hash("report_id", p.get("report_id"))
    outcome, close = p.get("outcome", ""), p.get("close", False)
    if not isinstance(outcome, str) or not isinstance(close, bool):
        raise BadRequest("outcome/close", "a string and true or false")
    return (
        AefiDesk(r)
        .classify(
            caller,
            rid,
            str(p.get("classification")),
            serious=_opt_bool(p, "serious"),
            outcome=outcome,
            close=close,
            reason=_reason(p, "AEFI investigation"),
        )
        .to_json()
    )


def _api_confirm_tx(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    given = p.get("record_hash")
    record_hash = AefiDesk(r).confirm_tx(
        caller,
        parse_hash("report_id", p.get("report_id")),
        None if given is None else parse_hash("record_hash", given),
        parse_hash("tx_hash", p.get("tx_hash")),
    )
    return {"confirmed": True, "record_hash": "0x" + record_hash.hex()}


def _api_list(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    status, limit = p.get("status"), p.get("limit", 100)
    if (status is not None and not isinstance(status, str)) or not isinstance(limit, int):
        raise BadRequest("status/limit", "a status name and an integer")
    return AefiDesk(r).list_reports(caller, status, limit, _reason(p, "AEFI follow-up"))


API_HANDLERS: Mapping[str, Callable[[Registry, Address, dict[str, Any]], Any]] = MappingProxyType(
    {
        "/api/v1/aefi": _api_report,
        "/api/v1/aefi/confirm": _api_confirm,
        "/api/v1/aefi/classify": _api_classify,
        "/api/v1/aefi/confirm_tx": _api_confirm_tx,
        "/api/v1/aefi/list": _api_list,
    }
)
