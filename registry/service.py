"""The registry's rules: who may do what, person records, doses and their co-signature, family access codes, the
guardian's view, school credentials and the access log with its on-chain anchor.

Transport-free: the HTTP server (`registry.server`) authenticates a request, then calls one method here with the
caller's address. Every read or write of a personal record appends to the access log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from registry import appointments
from registry.anchor import anchor_transaction
from registry.chain import Caller, Chain, Unsupported
from registry.cosign import DoseCosignature, sign_dose
from registry.errors import (
    AccessCodeInvalid,
    BadRequest,
    ChainUnavailable,
    DoseAlreadyRecorded,
    DoseIntervalTooShort,
    DoseOnChain,
    Forbidden,
    PersonErased,
    PersonExists,
    PersonNotFound,
    SealError,
)
from registry.ids import canonical_id_number, dose_ref, person_id, student_ref
from registry.schedule import Assessment, GivenDose, Schedule, assess
from registry.schedule_editions import AUTO, EDITIONS, select
from registry.schedule_nip2021 import SERIES_ANTIGEN, SERIES_VACCINE
from registry.store import DoseRow, LogEntry, PersonRow, Store
from registry.vault import Vault
from vaxcrypto import credential as cred
from vaxcrypto.keys import Address, PrivateKey, parse_address, to_checksum_address

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 12
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
SEXES = ("F", "M")
ID_TYPES = ("id_card", "birth_certificate", "passport", "other")


@dataclass(frozen=True, slots=True)
class RegistrySecrets:
    """The registry's keys: master key (wraps person keys), district secret (person ids), registry secret (dose
    references, student references, access codes), the co-signing key, and the on-chain account that anchors the log."""

    master_key: bytes = field(repr=False)
    district_secret: bytes = field(repr=False)
    registry_secret: bytes = field(repr=False)
    signing_key: PrivateKey
    anchor_key: PrivateKey | None = None


@dataclass(frozen=True, slots=True)
class Guardian:
    """A guardian as the personal record names them."""

    name: str
    phone: str
    relation: str


@dataclass(frozen=True, slots=True)
class PersonInput:
    """What a site enters at a first visit."""

    name: str
    sex: str
    birth_date: dt.date
    id_type: str
    id_number: str
    guardians: tuple[Guardian, ...]


@dataclass(frozen=True, slots=True)
class DoseInput:
    """A dose a site is about to record on chain."""

    person_id: bytes
    trace_code: str
    lot_id: str
    dose_number: int
    administered_ms: int
    vaccinator: Address


@dataclass(frozen=True, slots=True)
class DoseView:
    """One dose as the guardian's page shows it."""

    dose_ref: str
    record: dict[str, Any]
    record_intact: bool  # the stored record still hashes to the hash the chain holds
    on_chain: str  # confirmed | mismatch | included | pending | not_found | not_reported | unavailable
    verdict: dict[str, Any] | None  # the chain's vial verdict, None when the node does not give one
    site_name: str  # the site's name on chain (its org id when the chain does not answer)


@dataclass(frozen=True, slots=True)
class ChildView:
    """One child of a family code: record, doses, standing against the schedule, who looked at the record."""

    person_id: str
    record: dict[str, Any]
    doses: tuple[DoseView, ...]
    assessment: Assessment
    access_log: tuple[LogEntry, ...]
    next_visit: appointments.NextVisit | None = None  # the booked appointment, or what the schedule asks for


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(fieldname: str, value: Any, max_len: int = 64) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len or _CONTROL.search(value):
        raise BadRequest(fieldname, f"must be 1 to {max_len} characters without control characters")
    return value.strip()


def canonical_json(obj: Any) -> bytes:
    """The bytes hashed and sealed: orjson with sorted keys."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def parse_person(obj: Any) -> PersonInput:
    """A PersonInput from request JSON; BadRequest naming the first bad field."""
    if not isinstance(obj, dict):
        raise BadRequest("person", "must be an object")
    sex = obj.get("sex")
    if sex not in SEXES:
        raise BadRequest("sex", "must be F or M")
    try:
        birth = dt.date.fromisoformat(str(obj.get("birth_date")))
    except ValueError:
        raise BadRequest("birth_date", "must be YYYY-MM-DD") from None
    if birth > dt.date.today() + dt.timedelta(days=1) or birth.year < 1900:
        raise BadRequest("birth_date", "must be a past date")
    id_type = obj.get("id_type", "id_card")
    if id_type not in ID_TYPES:
        raise BadRequest("id_type", f"must be one of {', '.join(ID_TYPES)}")
    guardians_in = obj.get("guardians", [])
    if not isinstance(guardians_in, list) or len(guardians_in) > 4:
        raise BadRequest("guardians", "must be a list of at most 4")
    guardians = []
    for g in guardians_in:
        if not isinstance(g, dict):
            raise BadRequest("guardians", "each must be an object")
        phone = _text("guardians.phone", g.get("phone"), 20)
        if not _PHONE.match(phone):
            raise BadRequest("guardians.phone", "must be digits, spaces or hyphens, optionally after +")
        guardians.append(
            Guardian(
                _text("guardians.name", g.get("name")),
                phone,
                _text("guardians.relation", g.get("relation", "guardian"), 20),
            )
        )
    return PersonInput(
        _text("name", obj.get("name")),
        str(sex),
        birth,
        str(id_type),
        canonical_id_number(str(obj.get("id_number", ""))),
        tuple(guardians),
    )


def parse_hash(fieldname: str, value: Any) -> bytes:
    """32 bytes from 0x + 64 hex digits."""
    if not isinstance(value, str) or not _HEX32.match(value):
        raise BadRequest(fieldname, "must be 0x and 64 hex digits")
    return bytes.fromhex(value[2:])


def parse_dose(obj: Any) -> DoseInput:
    """A DoseInput from request JSON."""
    if not isinstance(obj, dict):
        raise BadRequest("dose", "must be an object")
    number, at = obj.get("dose_number"), obj.get("administered_ms")
    if not isinstance(number, int) or not 1 <= number <= 20:
        raise BadRequest("dose_number", "must be an integer from 1 to 20")
    if not isinstance(at, int) or not 0 < at < 1 << 63:
        raise BadRequest("administered_ms", "must be milliseconds since the epoch")
    try:
        vaccinator = parse_address(str(obj.get("vaccinator")))
    except ValueError as exc:
        raise BadRequest("vaccinator", str(exc)) from None
    return DoseInput(
        parse_hash("person_id", obj.get("person_id")),
        _text("trace_code", obj.get("trace_code"), 200),
        _text("lot_id", obj.get("lot_id"), 120),
        number,
        at,
        vaccinator,
    )


class Registry:
    """The registry service over its store, secrets and the chain."""

    def __init__(
        self,
        store: Store,
        keys: RegistrySecrets,
        chain: Chain,
        *,
        clock: Callable[[], int] = _now_ms,
        schedule: Schedule | str = AUTO,
        credential_days: int = 90,
    ) -> None:
        self.store = store
        self.keys = keys
        self.chain = chain
        self.clock = clock
        if isinstance(schedule, str) and schedule != AUTO and schedule not in EDITIONS:
            raise ValueError(f"unknown schedule edition {schedule!r}: {AUTO!r} or one of {sorted(EDITIONS)}")
        self._schedule = schedule
        self.credential_days = credential_days
        self.vault = Vault(keys.master_key)
        self._check_master_key()
        appointments.backfill_index(self)  # a registry from before the per-site index: fill it once

    @property
    def schedule(self) -> Schedule:
        """The schedule edition children are read against today: the one configured, or for "auto" the edition in
        force on the registry's date."""
        if isinstance(self._schedule, Schedule):
            return self._schedule
        return select(self._schedule, self.today())

    def _check_master_key(self) -> None:
        """Refuse to start with another master key than the one this database was sealed under (SealError):
        otherwise every record would fail to open one request at a time."""
        canary = self.store.meta("master_key_check")
        if canary is None:
            self.store.set_meta("master_key_check", self.vault.wrap(b"\x00" * 32, b"master-key-check").hex())
            return
        try:
            self.vault.unwrap(bytes.fromhex(canary), b"master-key-check")
        except SealError:
            raise SealError("this database with this master key (it was sealed under another)") from None

    @property
    def address(self) -> Address:
        """The registry's co-signing address (registered on chain by the CDC)."""
        return self.keys.signing_key.address

    # who may do what

    def authorize(self, address: Address, action: str, site_org: str | None = None) -> Caller:
        """The caller if its on-chain account may do `action`; Forbidden else.

        CDC accounts may do everything district-wide; site accounts may register, look up and vaccinate, and
        read or change only records their organisation touched (`site_org`).
        """
        who = to_checksum_address(address)
        caller = self.chain.caller(address)
        if caller is None or not caller.active:
            raise Forbidden(who, action, "not an active account of an active organisation on chain")
        if caller.org_type == "cdc":
            return caller
        if caller.org_type != "site" or action in ("erase", "read_log"):
            raise Forbidden(who, action, f"a {caller.org_type} account may not")
        if site_org is not None and site_org != caller.org_id:
            raise Forbidden(who, action, "the record belongs to another site's visits")
        return caller

    @staticmethod
    def actor(caller: Caller) -> str:
        """How the access log names an account."""
        return f"{caller.org_id}/{to_checksum_address(caller.address)}"

    def log_access(
        self, db: sqlite3.Connection, actor: str, action: str, reason: str, person: bytes | None
    ) -> None:
        """Append one access to the hash-chained access log (anchored on chain)."""
        self.store.append_log(db, self.clock(), actor, action, reason[:200], person)

    # person records

    def person_key(self, row: PersonRow) -> bytes:
        """The person's own record key, unwrapped; PersonErased once it was destroyed."""
        if row.wrapped_key is None:
            raise PersonErased("0x" + row.person_id.hex())
        return self.vault.unwrap(row.wrapped_key, row.person_id)

    def load_person(self, db: sqlite3.Connection, pid: bytes) -> tuple[PersonRow, bytes, dict[str, Any]]:
        """A person's row, key and unsealed record; PersonNotFound or PersonErased."""
        row = self.store.person(db, pid)
        if row is None:
            raise PersonNotFound("0x" + pid.hex())
        key = self.person_key(row)
        record = orjson.loads(self.vault.open(key, row.sealed or b"", b"person" + pid))
        return row, key, record

    def person_doses(
        self, db: sqlite3.Connection, pid: bytes, key: bytes
    ) -> list[tuple[DoseRow, dict[str, Any]]]:
        """A person's dose rows with their unsealed records."""
        return [
            (r, orjson.loads(self.vault.open(key, r.sealed, b"dose" + r.dose_ref)))
            for r in self.store.doses_of(db, pid)
        ]

    def _touched_by(
        self, record: dict[str, Any], doses: Sequence[tuple[DoseRow, dict[str, Any]]]
    ) -> set[str]:
        return {str(record.get("registered_by"))} | {str(d["site_org_id"]) for _, d in doses}

    def register_person(self, address: Address, person: PersonInput, reason: str) -> tuple[str, str]:
        """Register a person at their first visit: (person id, a family access code for the guardian)."""
        caller = self.authorize(address, "register")
        pid = person_id(self.keys.district_secret, person.id_number)
        key = self.vault.new_person_key()
        record = {
            "v": 1,
            "name": person.name,
            "sex": person.sex,
            "birth_date": person.birth_date.isoformat(),
            "id_type": person.id_type,
            "id_number": person.id_number,
            "guardians": [
                {"name": g.name, "phone": g.phone, "relation": g.relation} for g in person.guardians
            ],
            "registered_by": caller.org_id,
            "registered_ms": self.clock(),
        }
        code = new_access_code()
        with self.store.tx() as db:
            row = PersonRow(
                pid,
                self.vault.wrap(key, pid),
                self.vault.seal(key, canonical_json(record), b"person" + pid),
                self.clock(),
                None,
            )
            if not self.store.insert_person(db, row):
                raise PersonExists("0x" + pid.hex())
            appointments.index_person(self, db, pid, record, [], None)
            self.store.add_code(db, self.code_id(code), pid, self.clock())
            self.log_access(db, self.actor(caller), "register", reason, pid)
        return "0x" + pid.hex(), code

    def find_person(self, address: Address, id_number: str, reason: str) -> dict[str, Any]:
        """Look a person up by ID number (the site holds the document): id, name, sex, birth date, doses."""
        caller = self.authorize(address, "find")
        pid = person_id(self.keys.district_secret, id_number)
        with self.store.tx() as db:
            row = self.store.person(db, pid)
            if row is None:
                raise PersonNotFound("with this ID number")
            _, key, record = self.load_person(db, pid)
            doses = self.person_doses(db, pid, key)
            self.log_access(db, self.actor(caller), "find", reason, pid)
        return self._summary(pid, record, doses)

    def show_person(self, address: Address, pid: bytes, reason: str) -> dict[str, Any]:
        """The full record and doses; a site only for persons it registered or vaccinated."""
        caller = self.authorize(address, "show")
        with self.store.tx() as db:
            _, key, record = self.load_person(db, pid)
            doses = self.person_doses(db, pid, key)
            if caller.org_type != "cdc" and caller.org_id not in self._touched_by(record, doses):
                raise Forbidden(
                    self.actor(caller), "show", "the person was neither registered nor vaccinated here"
                )
            self.log_access(db, self.actor(caller), "show", reason, pid)
        out = self._summary(pid, record, doses)
        out["record"] = record
        return out

    def _summary(
        self, pid: bytes, record: dict[str, Any], doses: Sequence[tuple[DoseRow, dict[str, Any]]]
    ) -> dict[str, Any]:
        birth = dt.date.fromisoformat(record["birth_date"])
        assessment = assess(self.schedule, birth, self.given_doses(d for _, d in doses), self.today())
        return {
            "person_id": "0x" + pid.hex(),
            "name": record["name"],
            "sex": record["sex"],
            "birth_date": record["birth_date"],
            "doses": [{"dose_ref": "0x" + r.dose_ref.hex(), "tx_hash": r.tx_hash, **d} for r, d in doses],
            "due_next": [
                {
                    "antigen": n.rule.antigen,
                    "dose_number": n.rule.dose_number,
                    "vaccine": n.vaccine,
                    "earliest": n.earliest.isoformat(),
                    "give_by": n.give_by.isoformat(),
                    "state": n.state.value,
                }
                for n in assessment.due_next()
            ],
        }

    def erase_person(self, address: Address, pid: bytes, reason: str) -> None:
        """Crypto-shred a person: their key is destroyed, so their record and doses can never be read again."""
        caller = self.authorize(address, "erase")
        with self.store.tx() as db:
            row = self.store.person(db, pid)
            if row is None:
                raise PersonNotFound("0x" + pid.hex())
            self.store.shred_person(db, pid, self.clock())
            self.log_access(db, self.actor(caller), "erase", reason, pid)

    # doses

    def record_dose(self, address: Address, dose: DoseInput, reason: str = "vaccination") -> DoseCosignature:
        """Check the person's series rules, store the full record and co-sign it for the site's transaction.

        A retry of a dose already stored (same series, dose number, unit code and time, same site) gets the same
        co-signature back, so a site whose first answer was lost can ask again.
        """
        caller = self.authorize(address, "record_dose")
        product_code = self.chain.unit_product(dose.trace_code)
        if product_code is None:
            raise BadRequest("trace_code", "the chain does not read it as a unit code")
        rule = self.chain.series_rule(product_code)
        if rule is None:
            raise BadRequest("trace_code", f"product {product_code} is not registered on chain")
        if not 1 <= dose.dose_number <= len(rule.min_intervals_days):
            raise BadRequest("dose_number", f"series {rule.series} has {len(rule.min_intervals_days)} doses")
        chain_id = self.chain.chain_id()
        with self.store.tx() as db:
            _, key, _record = self.load_person(db, dose.person_id)
            doses = self.person_doses(db, dose.person_id, key)
            for row, d in doses:
                if d["series"] == rule.series and d["dose_number"] == dose.dose_number:
                    if (d["trace_code"], d["administered_ms"], d["site_org_id"]) == (
                        dose.trace_code,
                        dose.administered_ms,
                        caller.org_id,
                    ):
                        return sign_dose(
                            self.keys.signing_key,
                            chain_id,
                            caller.org_id,
                            dose.trace_code,
                            dose.administered_ms,
                            row.dose_ref,
                            row.record_hash,
                        )
                    raise DoseAlreadyRecorded(rule.series, dose.dose_number)
            if dose.dose_number > 1:
                prev = [
                    d
                    for _, d in doses
                    if d["series"] == rule.series and d["dose_number"] == dose.dose_number - 1
                ]
                min_days = rule.min_intervals_days[dose.dose_number - 1]
                # earlier doses given before the registry existed are not here: only what is known is checked
                if prev and dose.administered_ms - int(prev[0]["administered_ms"]) < min_days * DAY_MS:
                    days = (dose.administered_ms - int(prev[0]["administered_ms"])) // DAY_MS
                    raise DoseIntervalTooShort(rule.series, dose.dose_number, days, min_days)
            ref, nonce = dose_ref(self.keys.registry_secret, dose.person_id)
            record = {
                "v": 1,
                "dose_ref": "0x" + ref.hex(),
                "nonce": nonce.hex(),
                "person_id": "0x" + dose.person_id.hex(),
                "site_org_id": caller.org_id,
                "recorded_by": to_checksum_address(caller.address),
                "trace_code": dose.trace_code,
                "product_code": product_code,
                "product_name": rule.name,
                "lot_id": dose.lot_id,
                "series": rule.series,
                "dose_number": dose.dose_number,
                "administered_ms": dose.administered_ms,
                "vaccinator": to_checksum_address(dose.vaccinator),
            }
            body = canonical_json(record)
            record_hash = hashlib.sha256(body).digest()
            self.store.insert_dose(
                db,
                DoseRow(
                    ref,
                    dose.person_id,
                    self.vault.seal(key, body, b"dose" + ref),
                    record_hash,
                    None,
                    self.clock(),
                ),
            )
            given = [*(d for _, d in doses), record]
            appointments.after_dose(
                self, db, dose.person_id, key, _record, given, caller.org_id, self.actor(caller)
            )
            self.log_access(db, self.actor(caller), "record_dose", reason, dose.person_id)
        return sign_dose(
            self.keys.signing_key,
            chain_id,
            caller.org_id,
            dose.trace_code,
            dose.administered_ms,
            ref,
            record_hash,
        )

    def confirm_dose(self, address: Address, ref: bytes, tx_hash: bytes) -> None:
        """The site reports the transaction that carries a dose (the guardian's page then checks it on chain)."""
        caller = self.authorize(address, "confirm_dose")  # the chain is asked before the database is locked
        with self.store.tx() as db:
            row = self.store.dose(db, ref)
            if row is None:
                raise BadRequest("dose_ref", "no such dose")
            _, key, _record = self.load_person(db, row.person_id)
            dose = orjson.loads(self.vault.open(key, row.sealed, b"dose" + ref))
            if caller.org_type != "cdc" and caller.org_id != dose["site_org_id"]:
                raise Forbidden(self.actor(caller), "confirm_dose", "the dose was recorded by another site")
            self.store.set_dose_tx(db, ref, "0x" + tx_hash.hex())
            self.log_access(db, self.actor(caller), "confirm_dose", "dose transaction sent", row.person_id)

    def cancel_dose(self, address: Address, ref: bytes, reason: str) -> None:
        """Withdraw a co-signed dose whose transaction never reached the chain (the site gave up or gave another
        vial), so the person's series is not blocked by a dose that did not happen. DoseOnChain otherwise."""
        caller = self.authorize(address, "cancel_dose")
        try:
            on_chain = self.chain.dose_record(ref)
        except Unsupported:
            on_chain = None  # without the chain's dose record, a reported transaction decides (below)
        with self.store.tx() as db:
            row = self.store.dose(db, ref)
            if row is None:
                raise BadRequest("dose_ref", "no such dose")
            _, key, _record = self.load_person(db, row.person_id)
            dose = orjson.loads(self.vault.open(key, row.sealed, b"dose" + ref))
            if caller.org_type != "cdc" and caller.org_id != dose["site_org_id"]:
                raise Forbidden(self.actor(caller), "cancel_dose", "the dose was recorded by another site")
            if on_chain is not None or row.tx_hash is not None:
                raise DoseOnChain("0x" + ref.hex())
            self.store.delete_dose(db, ref)
            left = [d for _, d in self.person_doses(db, row.person_id, key)]
            appointments.after_dose(
                self, db, row.person_id, key, _record, left, str(dose["site_org_id"]), self.actor(caller)
            )
            self.log_access(db, self.actor(caller), "cancel_dose", reason, row.person_id)

    # family access codes

    def code_id(self, code: str) -> bytes:
        """What the database keeps of a code: an HMAC, so a database copy does not hand out codes."""
        canon = normalise_code(code)
        return hmac.new(
            self.keys.registry_secret, b"vaxchain/access-code/v1\x00" + canon.encode(), hashlib.sha256
        ).digest()

    def issue_access_code(self, address: Address, pids: Sequence[bytes], reason: str) -> str:
        """A new family code opening these persons' records (e.g. siblings); old codes stay until revoked."""
        if not 1 <= len(pids) <= 10:
            raise BadRequest("person_ids", "must name 1 to 10 persons")
        caller = self.authorize(address, "issue_code")
        code = new_access_code()
        with self.store.tx() as db:
            for pid in pids:
                _, key, record = self.load_person(db, pid)
                if caller.org_type != "cdc" and caller.org_id not in self._touched_by(
                    record, self.person_doses(db, pid, key)
                ):
                    raise Forbidden(
                        self.actor(caller),
                        "issue_code",
                        "the person was neither registered nor vaccinated here",
                    )
                self.store.add_code(db, self.code_id(code), pid, self.clock())
                self.log_access(db, self.actor(caller), "issue_code", reason, pid)
        return code

    def revoke_access_codes(self, address: Address, pid: bytes, reason: str) -> int:
        """Revoke every family code of a person (a lost certificate); returns how many."""
        caller = self.authorize(address, "revoke_code")
        with self.store.tx() as db:
            _, key, record = self.load_person(db, pid)
            if caller.org_type != "cdc" and caller.org_id not in self._touched_by(
                record, self.person_doses(db, pid, key)
            ):
                raise Forbidden(
                    self.actor(caller), "revoke_code", "the person was neither registered nor vaccinated here"
                )
            count = self.store.revoke_codes(db, pid, self.clock())
            self.log_access(db, self.actor(caller), "revoke_code", reason, pid)
        return count

    # the guardian's view

    def today(self) -> dt.date:
        """Today in the district (UTC+8)."""
        return dt.datetime.fromtimestamp(self.clock() / 1000, dt.timezone(dt.timedelta(hours=8))).date()

    def family_of(self, db: sqlite3.Connection, code: str) -> tuple[bytes, list[bytes]]:
        """A family access code's id and the persons it opens; AccessCodeInvalid when unknown or revoked."""
        try:
            cid = self.code_id(code)
        except BadRequest:
            raise AccessCodeInvalid() from None
        pids = self.store.code_persons(db, cid)
        if not pids:
            raise AccessCodeInvalid()
        return cid, pids

    def guardian_view(self, code: str) -> list[ChildView]:
        """Every child the code opens, with doses, their checks on chain, the schedule and the access log."""
        with self.store.tx() as db:
            cid, pids = self.family_of(db, code)
            loaded = []
            for pid in pids:
                row = self.store.person(db, pid)
                if row is None or row.wrapped_key is None:
                    continue
                _, key, record = self.load_person(db, pid)
                self.log_access(db, f"guardian/{cid[:4].hex()}", "guardian_view", "family access code", pid)
                appt = appointments.load(self, db, pid, key)
                loaded.append(
                    (pid, record, self.person_doses(db, pid, key), self.store.log_of(db, pid), appt)
                )
        return [
            appointments.with_visit(self, self._child(pid, record, doses, entries), appt)
            for pid, record, doses, entries, appt in loaded
        ]

    def _child(
        self,
        pid: bytes,
        record: dict[str, Any],
        doses: list[tuple[DoseRow, dict[str, Any]]],
        entries: list[LogEntry],
    ) -> ChildView:
        views = []
        for row, d in doses:
            intact = hashlib.sha256(canonical_json(d)).digest() == row.record_hash
            views.append(
                DoseView(
                    "0x" + row.dose_ref.hex(),
                    d,
                    intact,
                    self._on_chain(row),
                    self._verdict(d["trace_code"]),
                    self._site_name(str(d["site_org_id"])),
                )
            )
        birth = dt.date.fromisoformat(record["birth_date"])
        assessment = assess(self.schedule, birth, self.given_doses(d for _, d in doses), self.today())
        return ChildView("0x" + pid.hex(), record, tuple(views), assessment, tuple(entries))

    def _site_name(self, org_id: str) -> str:
        try:
            org = self.chain.organisation(org_id)
        except ChainUnavailable:
            return org_id
        return org.name if org is not None and org.name else org_id

    def _verdict(self, trace_code: str) -> dict[str, Any] | None:
        try:
            return self.chain.unit_verdict(trace_code)
        except ChainUnavailable:
            return None

    def _on_chain(self, row: DoseRow) -> str:
        """Whether the chain holds this dose with this record's hash.

        First the chain's own dose record by its per-dose reference (`vax_doseRecord`, a signed read by the
        registry's CDC account); a node without it (or a registry without a reading account) falls back to the
        transaction the site reported, whose public view may not show the hash ("included")."""
        try:
            on_chain = self.chain.dose_record(row.dose_ref)
        except ChainUnavailable:
            return "unavailable"
        except Unsupported:
            return self._tx_check(row)
        if on_chain is None:
            return "not_reported" if row.tx_hash is None else self._tx_check(row)
        held = str(on_chain.get("record_hash", "")).lower()
        return "confirmed" if held == "0x" + row.record_hash.hex() else "mismatch"

    def _tx_check(self, row: DoseRow) -> str:
        if row.tx_hash is None:
            return "not_reported"
        try:
            tx = self.chain.transaction(row.tx_hash)
        except ChainUnavailable:
            return "unavailable"
        if tx is None:
            return "not_found"
        if tx.get("status") != "included":
            return "pending"
        return "confirmed" if row.record_hash.hex() in orjson.dumps(tx).decode().lower() else "included"

    @staticmethod
    def given_doses(doses: Any) -> list[GivenDose]:
        """Unsealed dose records as the schedule reads them (antigen, date, vaccine)."""
        out = []
        for d in doses:
            antigen = SERIES_ANTIGEN.get(str(d["series"]))
            if antigen is not None:
                when = dt.datetime.fromtimestamp(
                    int(d["administered_ms"]) / 1000, dt.timezone(dt.timedelta(hours=8))
                )
                out.append(GivenDose(antigen, when.date(), SERIES_VACCINE.get(str(d["series"]), "")))
        return out

    # school credentials

    def school_credential(self, code: str, pid: bytes, school: str) -> str:
        """A signed school-entry credential for one child of the code, for one school admitted on chain."""
        _text("school", school, 64)
        org = self.chain.organisation(school)
        if org is None or not org.active or org.org_type != "school":
            raise BadRequest("school", "not an active school organisation on chain")
        with self.store.tx() as db:
            cid, pids = self.family_of(db, code)
            if pid not in pids:
                raise AccessCodeInvalid()
            _, key, record = self.load_person(db, pid)
            doses = self.person_doses(db, pid, key)
            birth = dt.date.fromisoformat(record["birth_date"])
            today = self.today()
            missing = tuple(
                a.antigen.antigen
                for a in assess(self.schedule, birth, self.given_doses(d for _, d in doses), today).overdue
            )
            credential = cred.SchoolCredential(
                status="incomplete" if missing else "complete",
                missing=missing,
                student=student_ref(self.keys.registry_secret, pid, school).hex(),
                school=school,
                issued=today,
                expires=today + dt.timedelta(days=self.credential_days),
                serial=cred.new_serial(),
            )
            self.store.add_credential(db, credential.serial, pid, school, self.clock())
            self.log_access(
                db, f"guardian/{cid[:4].hex()}", "school_credential", f"school entry check at {school}", pid
            )
        return cred.issue(self.keys.signing_key, credential)

    def revoke_school_credentials(self, code: str, pid: bytes, serial: str | None = None) -> int:
        """The guardian withdraws a credential (or all of a child's); the next revocation list carries it."""
        with self.store.tx() as db:
            cid, pids = self.family_of(db, code)
            if pid not in pids:
                raise AccessCodeInvalid()
            count = self.store.revoke_credentials(db, pid, self.clock(), serial)
            self.log_access(db, f"guardian/{cid[:4].hex()}", "revoke_credential", "guardian withdrew", pid)
        return count

    def revocation_list(self) -> str:
        """The signed list of revoked credential serials, dated now."""
        with self.store.tx() as db:
            serials = frozenset(self.store.revoked_serials(db))
        return cred.sign_revocations(self.keys.signing_key, cred.RevocationList(self.clock(), serials))

    # the access log's anchor

    def read_log(self, address: Address, after_seq: int, limit: int) -> list[LogEntry]:
        """Entries after `after_seq` (CDC only; the auditor compares their digests with the anchors)."""
        caller = self.authorize(address, "read_log")
        with self.store.tx() as db:
            entries = self.store.log_range(db, after_seq, min(limit, 1000))
            self.log_access(db, self.actor(caller), "read_log", "audit", None)
        return entries

    def anchor_log(self) -> str | None:
        """Send an `attest` of the log's head digest if entries arrived since the last anchor; its tx hash."""
        if self.keys.anchor_key is None:
            return None
        with self.store.tx() as db:
            seq, digest = self.store.log_head(db)
            last = self.store.last_anchor(db)
        if seq == 0 or (last is not None and last[0] >= seq):
            return None
        key = self.keys.anchor_key
        raw = anchor_transaction(key, self.chain.chain_id(), self.chain.nonce(key.address), seq, digest)
        tx_hash = self.chain.send_raw("0x" + raw.hex())
        with self.store.tx() as db:
            self.store.add_anchor(db, seq, digest, tx_hash, self.clock())
        log.info("anchored the access log up to #%d in %s", seq, tx_hash)
        return tx_hash


def new_access_code() -> str:
    """12 random Crockford base32 characters (60 bits), shown as XXXX-XXXX-XXXX."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(chars[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalise_code(text: str) -> str:
    """Upper-case, without separators; O/I/L read as 0/1/1 (Crockford). BadRequest if it cannot be a code."""
    value = text.strip().upper().replace("-", "").replace(" ", "")
    value = value.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(value) != CODE_LENGTH or not set(value) <= set(CODE_ALPHABET):
        raise BadRequest("code", "not an access code")
    return value
