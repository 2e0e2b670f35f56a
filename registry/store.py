"""The registry's embedded database (SQLite, stdlib): sealed person and dose rows, access codes, the access log.

Personal fields never appear in a column: a person row holds their wrapped key and their sealed record, a dose
row its sealed full record and the hash the chain holds. One connection, serialised by a lock (the HTTP server's
worker threads share it); WAL mode so a reader never waits for the writer's fsync.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS persons (
    person_id BLOB PRIMARY KEY, wrapped_key BLOB, sealed BLOB, created_ms INTEGER NOT NULL, erased_ms INTEGER);
CREATE TABLE IF NOT EXISTS doses (
    dose_ref BLOB PRIMARY KEY, person_id BLOB NOT NULL, sealed BLOB NOT NULL, record_hash BLOB NOT NULL,
    tx_hash TEXT, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS doses_by_person ON doses (person_id);
CREATE TABLE IF NOT EXISTS access_codes (
    code_id BLOB NOT NULL, person_id BLOB NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER,
    PRIMARY KEY (code_id, person_id));
CREATE INDEX IF NOT EXISTS codes_by_person ON access_codes (person_id);
CREATE TABLE IF NOT EXISTS access_log (
    seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    reason TEXT NOT NULL, person_id BLOB, digest BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS log_by_person ON access_log (person_id);
CREATE TABLE IF NOT EXISTS anchors (
    seq INTEGER PRIMARY KEY, digest BLOB NOT NULL, tx_hash TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    serial TEXT PRIMARY KEY, person_id BLOB NOT NULL, school TEXT NOT NULL, issued_ms INTEGER NOT NULL,
    revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS appointments (
    person_id BLOB PRIMARY KEY, sealed BLOB NOT NULL, updated_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS person_home (
    person_id BLOB PRIMARY KEY, site TEXT NOT NULL, due_from INTEGER, overdue_from INTEGER, until INTEGER,
    edition TEXT NOT NULL, updated_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS person_home_by_site ON person_home (site, due_from);

CREATE TABLE IF NOT EXISTS aefi (
    report_id BLOB PRIMARY KEY, person_id BLOB NOT NULL, sealed BLOB NOT NULL, record_hash BLOB NOT NULL,
    first_hash BLOB, created_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS aefi_by_person ON aefi (person_id);
"""
GENESIS_DIGEST = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class PersonRow:
    """A person's row: wrapped key and sealed record, both None once erased."""

    person_id: bytes
    wrapped_key: bytes | None
    sealed: bytes | None
    created_ms: int
    erased_ms: int | None


@dataclass(frozen=True, slots=True)
class DoseRow:
    """A dose's row: its per-dose reference, sealed record, record hash and the chain transaction once known."""

    dose_ref: bytes
    person_id: bytes
    sealed: bytes
    record_hash: bytes
    tx_hash: str | None
    created_ms: int


@dataclass(frozen=True, slots=True)
class HomeRow:
    """A person's row of the per-site index of reminder lists: the home site and three month bounds (month numbers,
    year * 12 + month - 1), never a personal field.

    In plaintext on purpose: no name, ID number, birth date or appointment date; the keyed person id is already in
    plaintext beside the sealed record, dose rows and access log (whose actors name the sites that touched the
    person), so the site adds nothing a copy of the database does not already link. The bounds are whole months so
    a birth date or booking cannot be read back from them to the day."""

    person_id: bytes
    site: str  # the site of the latest dose or booking (registration's without either)
    due_from: int | None  # no next dose may be given, nor is one booked, before this month
    overdue_from: int | None  # no next dose is overdue before this month
    until: int | None  # every next dose is no longer given after this month; None: nothing left to give
    edition: str  # the schedule edition the bounds were read against


@dataclass(frozen=True, slots=True)
class AefiRow:
    """An AEFI report's row: sealed with its person's key, the hash of that record, and the record hash of its
    first chain report (None until a site reported it on chain)."""

    report_id: bytes
    person_id: bytes
    sealed: bytes
    record_hash: bytes
    first_hash: bytes | None
    created_ms: int


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One access to a personal record: who, when, what, why; `digest` chains it to every entry before it."""

    seq: int
    at_ms: int
    actor: str
    action: str
    reason: str
    person_id: bytes | None
    digest: bytes


def log_digest(
    prev: bytes, at_ms: int, actor: str, action: str, reason: str, person_id: bytes | None
) -> bytes:
    """sha256(previous digest || entry): changing or dropping an entry changes every later digest."""
    h = hashlib.sha256(b"vaxchain/registry-access-log/v1\x00" + prev)
    for part in (str(at_ms), actor, action, reason, (person_id or b"").hex()):
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(4, "big") + data)
    return h.digest()


def first_broken(entries: Sequence[LogEntry], prev: bytes = GENESIS_DIGEST) -> int | None:
    """The seq of the first entry whose digest does not follow from those before it, or None if all do.

    An auditor reads the log from the start (or from an anchored entry, passing its digest as `prev`) and compares
    the digest at each anchored seq with the `attest` on chain: an edited or dropped entry cannot hide.
    """
    for e in entries:
        if e.digest != log_digest(prev, e.at_ms, e.actor, e.action, e.reason, e.person_id):
            return e.seq
        prev = e.digest
    return None


class Store:
    """The database; every method is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One serialised transaction (committed on success, rolled back on any exception)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def meta(self, key: str) -> str | None:
        """A value of the meta table."""
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table."""
        with self.tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # persons

    def insert_person(self, db: sqlite3.Connection, row: PersonRow) -> bool:
        """Add a person; False if the id is already there."""
        cur = db.execute(
            "INSERT OR IGNORE INTO persons (person_id, wrapped_key, sealed, created_ms, erased_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            (row.person_id, row.wrapped_key, row.sealed, row.created_ms, row.erased_ms),
        )
        return cur.rowcount == 1

    def person(self, db: sqlite3.Connection, person_id: bytes) -> PersonRow | None:
        """A person's row, or None."""
        r = db.execute(
            "SELECT person_id, wrapped_key, sealed, created_ms, erased_ms FROM persons WHERE person_id = ?",
            (person_id,),
        ).fetchone()
        return None if r is None else PersonRow(*r)

    def update_person_record(self, db: sqlite3.Connection, person_id: bytes, sealed: bytes) -> None:
        """Replace a person's sealed record."""
        db.execute("UPDATE persons SET sealed = ? WHERE person_id = ?", (sealed, person_id))

    def shred_person(self, db: sqlite3.Connection, person_id: bytes, at_ms: int) -> None:
        """Destroy the person's key and record, and their access codes; dose rows stay sealed under a lost key."""
        db.execute(
            "UPDATE persons SET wrapped_key = NULL, sealed = NULL, erased_ms = ? WHERE person_id = ?",
            (at_ms, person_id),
        )
        db.execute(
            "UPDATE access_codes SET revoked_ms = ? WHERE person_id = ? AND revoked_ms IS NULL",
            (at_ms, person_id),
        )
        db.execute("DELETE FROM appointments WHERE person_id = ?", (person_id,))
        db.execute("DELETE FROM person_home WHERE person_id = ?", (person_id,))

    def person_count(self) -> int:
        """Registered persons (erased ones included)."""
        with self.tx() as db:
            return int(db.execute("SELECT COUNT(*) FROM persons").fetchone()[0])

    # doses

    def insert_dose(self, db: sqlite3.Connection, row: DoseRow) -> None:
        """Add a dose row."""
        db.execute(
            "INSERT INTO doses (dose_ref, person_id, sealed, record_hash, tx_hash, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (row.dose_ref, row.person_id, row.sealed, row.record_hash, row.tx_hash, row.created_ms),
        )

    def doses_of(self, db: sqlite3.Connection, person_id: bytes) -> list[DoseRow]:
        """A person's dose rows in the order they were recorded."""
        rows = db.execute(
            "SELECT dose_ref, person_id, sealed, record_hash, tx_hash, created_ms FROM doses "
            "WHERE person_id = ? ORDER BY created_ms, rowid",
            (person_id,),
        ).fetchall()
        return [DoseRow(*r) for r in rows]

    def dose(self, db: sqlite3.Connection, dose_ref: bytes) -> DoseRow | None:
        """One dose row, or None."""
        r = db.execute(
            "SELECT dose_ref, person_id, sealed, record_hash, tx_hash, created_ms FROM doses WHERE dose_ref = ?",
            (dose_ref,),
        ).fetchone()
        return None if r is None else DoseRow(*r)

    def delete_dose(self, db: sqlite3.Connection, dose_ref: bytes) -> None:
        """Forget a dose that never reached the chain."""
        db.execute("DELETE FROM doses WHERE dose_ref = ?", (dose_ref,))

    def set_dose_tx(self, db: sqlite3.Connection, dose_ref: bytes, tx_hash: str) -> None:
        """Remember the chain transaction that carries this dose."""
        db.execute("UPDATE doses SET tx_hash = ? WHERE dose_ref = ?", (tx_hash, dose_ref))

    # access codes

    def add_code(self, db: sqlite3.Connection, code_id: bytes, person_id: bytes, at_ms: int) -> None:
        """Let a code open one person's record."""
        db.execute(
            "INSERT OR REPLACE INTO access_codes (code_id, person_id, created_ms, revoked_ms) VALUES (?, ?, ?, NULL)",
            (code_id, person_id, at_ms),
        )

    def code_persons(self, db: sqlite3.Connection, code_id: bytes) -> list[bytes]:
        """The persons a live code opens (none if unknown or revoked)."""
        rows = db.execute(
            "SELECT person_id FROM access_codes WHERE code_id = ? AND revoked_ms IS NULL ORDER BY created_ms, rowid",
            (code_id,),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def revoke_codes(self, db: sqlite3.Connection, person_id: bytes, at_ms: int) -> int:
        """Revoke every live code of a person; returns how many."""
        return db.execute(
            "UPDATE access_codes SET revoked_ms = ? WHERE person_id = ? AND revoked_ms IS NULL",
            (at_ms, person_id),
        ).rowcount

    # access log

    def append_log(
        self,
        db: sqlite3.Connection,
        at_ms: int,
        actor: str,
        action: str,
        reason: str,
        person_id: bytes | None,
    ) -> LogEntry:
        """Append one entry, chained to the last."""
        last = db.execute("SELECT seq, digest FROM access_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (int(last[0]) + 1, bytes(last[1])) if last else (1, GENESIS_DIGEST)
        digest = log_digest(prev, at_ms, actor, action, reason, person_id)
        db.execute(
            "INSERT INTO access_log (seq, at_ms, actor, action, reason, person_id, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, at_ms, actor, action, reason, person_id, digest),
        )
        return LogEntry(seq, at_ms, actor, action, reason, person_id, digest)

    def log_of(self, db: sqlite3.Connection, person_id: bytes, limit: int = 200) -> list[LogEntry]:
        """The latest entries about one person, newest first."""
        rows = db.execute(
            "SELECT seq, at_ms, actor, action, reason, person_id, digest FROM access_log "
            "WHERE person_id = ? ORDER BY seq DESC LIMIT ?",
            (person_id, limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def log_range(self, db: sqlite3.Connection, after_seq: int, limit: int = 10_000) -> list[LogEntry]:
        """Entries after `after_seq`, oldest first."""
        rows = db.execute(
            "SELECT seq, at_ms, actor, action, reason, person_id, digest FROM access_log WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def log_head(self, db: sqlite3.Connection) -> tuple[int, bytes]:
        """(last seq, its digest), or (0, zero digest) for an empty log."""
        last = db.execute("SELECT seq, digest FROM access_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(last[0]), bytes(last[1])) if last else (0, GENESIS_DIGEST)

    def add_anchor(self, db: sqlite3.Connection, seq: int, digest: bytes, tx_hash: str, at_ms: int) -> None:
        """Remember that the log up to `seq` was anchored in `tx_hash`."""
        db.execute(
            "INSERT OR REPLACE INTO anchors (seq, digest, tx_hash, at_ms) VALUES (?, ?, ?, ?)",
            (seq, digest, tx_hash, at_ms),
        )

    def last_anchor(self, db: sqlite3.Connection) -> tuple[int, bytes, str] | None:
        """(seq, digest, tx hash) of the latest anchor."""
        r = db.execute("SELECT seq, digest, tx_hash FROM anchors ORDER BY seq DESC LIMIT 1").fetchone()
        return None if r is None else (int(r[0]), bytes(r[1]), str(r[2]))

    # school credentials

    def add_credential(
        self, db: sqlite3.Connection, serial: str, person_id: bytes, school: str, at_ms: int
    ) -> None:
        """Remember an issued credential (so it can be revoked)."""
        db.execute(
            "INSERT INTO credentials (serial, person_id, school, issued_ms, revoked_ms) VALUES (?, ?, ?, ?, NULL)",
            (serial, person_id, school, at_ms),
        )

    def revoke_credentials(
        self, db: sqlite3.Connection, person_id: bytes, at_ms: int, serial: str | None
    ) -> int:
        """Revoke one credential of a person, or all of them."""
        if serial is None:
            sql, args = "person_id = ?", (person_id,)
        else:
            sql, args = "person_id = ? AND serial = ?", (person_id, serial)  # type: ignore[assignment]
        return db.execute(
            f"UPDATE credentials SET revoked_ms = ? WHERE {sql} AND revoked_ms IS NULL", (at_ms, *args)
        ).rowcount

    def revoked_serials(self, db: sqlite3.Connection) -> list[str]:
        """Every revoked credential serial."""
        return [
            str(r[0])
            for r in db.execute("SELECT serial FROM credentials WHERE revoked_ms IS NOT NULL ORDER BY serial")
        ]

    # appointments (one per person, sealed under the person's key)

    def appointment(self, db: sqlite3.Connection, person_id: bytes) -> bytes | None:
        """A person's sealed appointment, or None."""
        r = db.execute("SELECT sealed FROM appointments WHERE person_id = ?", (person_id,)).fetchone()
        return None if r is None else bytes(r[0])

    def put_appointment(self, db: sqlite3.Connection, person_id: bytes, sealed: bytes, at_ms: int) -> None:
        """Book (or replace) a person's appointment."""
        db.execute(
            "INSERT OR REPLACE INTO appointments (person_id, sealed, updated_ms) VALUES (?, ?, ?)",
            (person_id, sealed, at_ms),
        )

    def delete_appointment(self, db: sqlite3.Connection, person_id: bytes) -> bool:
        """Cancel a person's appointment; False if there was none."""
        return db.execute("DELETE FROM appointments WHERE person_id = ?", (person_id,)).rowcount == 1

    def live_person_ids(self, db: sqlite3.Connection, after: bytes = b"", limit: int = 1000) -> list[bytes]:
        """Ids of persons not erased, after `after` in id order (a due list reads the district in batches)."""
        rows = db.execute(
            "SELECT person_id FROM persons WHERE wrapped_key IS NOT NULL AND person_id > ? "
            "ORDER BY person_id LIMIT ?",
            (after, limit),
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    # the per-site index of reminder lists (registry.appointments keeps it current in each write's transaction)

    def put_home(self, db: sqlite3.Connection, row: HomeRow, at_ms: int) -> None:
        """Set (or replace) a person's index row."""
        db.execute(
            "INSERT OR REPLACE INTO person_home (person_id, site, due_from, overdue_from, until, edition, "
            "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row.person_id, row.site, row.due_from, row.overdue_from, row.until, row.edition, at_ms),
        )

    def home(self, db: sqlite3.Connection, person_id: bytes) -> HomeRow | None:
        """A person's index row, or None."""
        r = db.execute(
            "SELECT person_id, site, due_from, overdue_from, until, edition FROM person_home WHERE person_id = ?",
            (person_id,),
        ).fetchone()
        return None if r is None else HomeRow(bytes(r[0]), *r[1:])

    def home_count(self, db: sqlite3.Connection) -> int:
        """Rows in the index."""
        return int(db.execute("SELECT COUNT(*) FROM person_home").fetchone()[0])

    def due_candidates(
        self,
        db: sqlite3.Connection,
        site: str | None,
        edition: str,
        month: int,
        due_by: int | None,
    ) -> list[tuple[bytes, str]]:
        """(person id, edition) of a site's persons (every site's for None) who may be on a reminder list today:
        something still given (`until` not before this `month`) and a dose overdue by its bounds or (`due_by` not
        None) a dose or booking possible by the month `due_by`; rows of another edition always (stale bounds)."""
        sql = (
            "SELECT person_id, edition FROM person_home WHERE "
            + ("site = ? AND " if site is not None else "")
            + "(edition != ? OR (until >= ? AND (overdue_from <= ? OR due_from <= ?))) ORDER BY person_id"
        )
        args = (edition, month, month, due_by)
        rows = db.execute(sql, args if site is None else (site, *args)).fetchall()
        return [(bytes(r[0]), str(r[1])) for r in rows]

    # adverse events following immunization (registry.aefi)

    def put_aefi(self, db: sqlite3.Connection, row: AefiRow) -> None:
        """Add or replace an AEFI report row."""
        db.execute(
            "INSERT OR REPLACE INTO aefi (report_id, person_id, sealed, record_hash, first_hash, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (row.report_id, row.person_id, row.sealed, row.record_hash, row.first_hash, row.created_ms),
        )

    def aefi(self, db: sqlite3.Connection, report_id: bytes) -> AefiRow | None:
        """One AEFI report row, or None."""
        rows = _aefi_rows(db, "WHERE report_id = ?", (report_id,))
        return rows[0] if rows else None

    def aefi_of(self, db: sqlite3.Connection, person_id: bytes) -> list[AefiRow]:
        """A person's AEFI reports, oldest first."""
        return _aefi_rows(db, "WHERE person_id = ? ORDER BY created_ms, rowid", (person_id,))

    def aefi_latest(self, db: sqlite3.Connection, limit: int) -> list[AefiRow]:
        """The latest AEFI reports of the district, newest first."""
        return _aefi_rows(db, "ORDER BY created_ms DESC, rowid DESC LIMIT ?", (limit,))


def _aefi_rows(db: sqlite3.Connection, where: str, args: tuple[object, ...]) -> list[AefiRow]:
    rows = db.execute(
        "SELECT report_id, person_id, sealed, record_hash, first_hash, created_ms FROM aefi " + where, args
    ).fetchall()
    return [AefiRow(*r) for r in rows]


def _entry(r: tuple[object, ...]) -> LogEntry:
    pid = r[5]
    return LogEntry(
        int(r[0]),  # type: ignore[call-overload]
        int(r[1]),  # type: ignore[call-overload]
        str(r[2]),
        str(r[3]),
        str(r[4]),
        None if pid is None else bytes(pid),  # type: ignore[call-overload]
        bytes(r[6]),  # type: ignore[call-overload]
    )
