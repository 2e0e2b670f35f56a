"""A school's checks: one credential, or a class list (CSV) of them, against the registry keys and revocations.

Class list CSV: a header row with `student` (the school's own name or number for the child, never sent
anywhere) and `credential` (the VAXSCHOOL1 text); other columns are ignored. The result says per student
whether the entry check passes, which antigens need catch-up doses, or why the credential was refused.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass

from vaxcrypto.credential import CredentialRefused, RevocationList, read_revocations, verify
from vaxcrypto.keys import Address

MAX_ROWS = 5000


@dataclass(frozen=True, slots=True)
class StudentResult:
    """One row of a class list: passed (complete), needs catch-up (missing antigens) or refused (reason)."""

    student: str
    outcome: str  # complete | catch_up | refused
    missing: tuple[str, ...]
    reason: str


class ClassListError(ValueError):
    """A class list that is not a CSV with `student` and `credential` columns."""


def check_class_list(
    text: str,
    trusted_keys: Iterable[Address],
    revocations: RevocationList,
    today: dt.date,
    school: str | None = None,
) -> list[StudentResult]:
    """Every row's result, in order."""
    keys = list(trusted_keys)
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"student", "credential"} <= set(reader.fieldnames):
        raise ClassListError("the CSV needs a header row with student and credential columns")
    out = []
    for i, row in enumerate(reader):
        if i >= MAX_ROWS:
            raise ClassListError(f"more than {MAX_ROWS} rows")
        student = (row.get("student") or "").strip()
        try:
            verified = verify(row.get("credential") or "", keys, revocations, today, school)
        except CredentialRefused as exc:
            out.append(StudentResult(student, "refused", (), f"{exc.reason}: {exc.detail}"))
            continue
        cred = verified.credential
        outcome = "complete" if cred.status == "complete" else "catch_up"
        out.append(StudentResult(student, outcome, cred.missing, ""))
    return out


def catch_up_list(results: Iterable[StudentResult]) -> list[StudentResult]:
    """Students who need catch-up doses or whose credential was refused (they must show a valid one)."""
    return [r for r in results if r.outcome != "complete"]


def check_one(
    credential_text: str,
    trusted_keys: Iterable[Address],
    revocation_text: str,
    now_ms: int,
    today: dt.date,
    school: str | None = None,
) -> StudentResult:
    """One pasted or scanned credential, for a page (the explorer's /verify): never raises for a bad credential or
    list, the refusal is the result. `trusted_keys` are the active addresses of `vax_registryKeys`."""
    keys = list(trusted_keys)
    try:
        revoked = read_revocations(revocation_text, keys, now_ms)
        cred = verify(credential_text, keys, revoked, today, school).credential
    except CredentialRefused as exc:
        return StudentResult("", "refused", (), f"{exc.reason}: {exc.detail}")
    return StudentResult(
        cred.student, "complete" if cred.status == "complete" else "catch_up", cred.missing, ""
    )
