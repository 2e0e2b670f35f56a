"""School-entry credentials (issue #22, §4) and the registry's signed revocation list.

A credential is the text ``VAXSCHOOL1.<payload>.<signature>`` (base64url, no padding), small enough for a QR code.
The payload is canonical JSON with exactly: ``v`` (1), ``status`` ("complete" or "incomplete"), ``missing`` (the
schedule antigens to catch up, empty when complete), ``student`` (an opaque per-school reference), ``school`` (the
school's org id: the audience), ``issued`` and ``expires`` (ISO dates) and ``serial`` (random, for revocation) —
no name, birth date or dose. The signature is the registry key's over sha256(b"vaxchain/school-credential/v1" +
b"\\x00" + payload). A school checks it offline against the registry keys the CDC registered on chain
(`vax_registryKeys`) and the registry's latest signed revocation list (``VAXREVOKE1.<payload>.<signature>``, payload
``{"v":1,"issued_ms":…,"serials":[…]}``), which it fetches from the registry (`GET /revocations`) and may keep
for up to `MAX_LIST_AGE_MS`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from vaxcrypto.keys import Address, PrivateKey, recover_address, to_checksum_address
from vaxcrypto.secp256k1 import CryptoError

CREDENTIAL_PREFIX = "VAXSCHOOL1"
REVOCATION_PREFIX = "VAXREVOKE1"
CREDENTIAL_TAG = b"vaxchain/school-credential/v1"
REVOCATION_TAG = b"vaxchain/school-revocations/v1"
MAX_LIST_AGE_MS = 7 * 24 * 3600 * 1000
MAX_TEXT = 4096
_FIELDS = ("expires", "issued", "missing", "school", "serial", "status", "student", "v")
_ANTIGEN_RE = re.compile(r"^[A-Za-z0-9-]{1,16}$")


class CredentialRefused(Exception):
    """A credential or revocation list the school must not accept; `reason` is a stable short code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SchoolCredential:
    """What a school learns about a child: entry status, missing antigens, its own student reference, dates."""

    status: str
    missing: tuple[str, ...]
    student: str
    school: str
    issued: dt.date
    expires: dt.date
    serial: str

    def payload(self) -> bytes:
        """Canonical JSON bytes (sorted keys, no spaces)."""
        return orjson.dumps(
            {
                "v": 1,
                "status": self.status,
                "missing": list(self.missing),
                "student": self.student,
                "school": self.school,
                "issued": self.issued.isoformat(),
                "expires": self.expires.isoformat(),
                "serial": self.serial,
            },
            option=orjson.OPT_SORT_KEYS,
        )


@dataclass(frozen=True, slots=True)
class Verified:
    """A credential that passed every check, with the registry key that signed it."""

    credential: SchoolCredential
    signer: Address


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    # validate=True: characters outside the alphabet are an error, not silently dropped
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _digest(tag: bytes, payload: bytes) -> bytes:
    return hashlib.sha256(tag + b"\x00" + payload).digest()


def new_serial() -> str:
    """A random credential serial (links to nothing outside the registry)."""
    return secrets.token_hex(12)


def issue(key: PrivateKey, credential: SchoolCredential) -> str:
    """The signed credential text."""
    payload = credential.payload()
    return f"{CREDENTIAL_PREFIX}.{_b64(payload)}.{_b64(key.sign(_digest(CREDENTIAL_TAG, payload)))}"


def _split(text: str, prefix: str) -> tuple[bytes, bytes]:
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise CredentialRefused("malformed", "too long")
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise CredentialRefused("malformed", f"not a {prefix} text")
    try:
        return _unb64(parts[1]), _unb64(parts[2])
    except (binascii.Error, ValueError):
        raise CredentialRefused("malformed", "not base64url") from None


def _signer(tag: bytes, payload: bytes, signature: bytes, trusted: Iterable[Address]) -> Address:
    try:
        signer = recover_address(_digest(tag, payload), signature)
    except (CryptoError, ValueError):
        raise CredentialRefused("forged", "the signature does not verify") from None
    if signer not in set(trusted):
        raise CredentialRefused(
            "forged", f"signed by {to_checksum_address(signer)}, which is not an active registry key on chain"
        )
    return signer


def _parse_payload(payload: bytes) -> SchoolCredential:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise CredentialRefused("malformed", "payload is not JSON") from None
    if not isinstance(obj, dict) or tuple(sorted(obj)) != _FIELDS or obj["v"] != 1:
        raise CredentialRefused("malformed", "payload fields are not those of a v1 credential")
    try:
        cred = SchoolCredential(
            status=_str(obj["status"]),
            missing=tuple(_str(m) for m in obj["missing"]),
            student=_str(obj["student"]),
            school=_str(obj["school"]),
            issued=dt.date.fromisoformat(_str(obj["issued"])),
            expires=dt.date.fromisoformat(_str(obj["expires"])),
            serial=_str(obj["serial"]),
        )
    except (TypeError, ValueError) as exc:
        raise CredentialRefused("malformed", str(exc)) from None
    if cred.status not in ("complete", "incomplete") or (cred.status == "complete") != (not cred.missing):
        raise CredentialRefused("malformed", "status and missing antigens disagree")
    if not all(_ANTIGEN_RE.match(m) for m in cred.missing):
        raise CredentialRefused("malformed", "bad antigen name")
    if cred.payload() != payload:
        raise CredentialRefused("malformed", "payload is not canonical")
    return cred


def _str(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise TypeError("expected a short string")
    return value


def verify(
    text: str,
    trusted_keys: Iterable[Address],
    revocations: RevocationList,
    today: dt.date,
    school: str | None = None,
) -> Verified:
    """Every check a school makes; CredentialRefused("malformed"|"forged"|"altered"|"expired"|"revoked"|...) else.

    An altered payload no longer matches its signature, and recovery then yields some other address: reported as
    "forged or altered".
    """
    payload, signature = _split(text, CREDENTIAL_PREFIX)
    try:
        signer = _signer(CREDENTIAL_TAG, payload, signature, trusted_keys)
    except CredentialRefused as exc:
        raise CredentialRefused("forged_or_altered", exc.detail) from None
    cred = _parse_payload(payload)
    if today > cred.expires:
        raise CredentialRefused("expired", f"expired on {cred.expires.isoformat()}")
    if today < cred.issued:
        raise CredentialRefused("not_yet_valid", f"issued for {cred.issued.isoformat()}")
    if school is not None and cred.school != school:
        raise CredentialRefused("wrong_school", f"issued for school {cred.school}")
    if cred.serial in revocations.serials:
        raise CredentialRefused("revoked", f"serial {cred.serial} is on the registry's revocation list")
    return Verified(cred, signer)


@dataclass(frozen=True, slots=True)
class RevocationList:
    """The serials the registry revoked, as of `issued_ms`."""

    issued_ms: int
    serials: frozenset[str]

    def payload(self) -> bytes:
        """Canonical JSON bytes."""
        return orjson.dumps(
            {"v": 1, "issued_ms": self.issued_ms, "serials": sorted(self.serials)},
            option=orjson.OPT_SORT_KEYS,
        )


def sign_revocations(key: PrivateKey, revocations: RevocationList) -> str:
    """The signed revocation list text."""
    payload = revocations.payload()
    return f"{REVOCATION_PREFIX}.{_b64(payload)}.{_b64(key.sign(_digest(REVOCATION_TAG, payload)))}"


def read_revocations(
    text: str, trusted_keys: Iterable[Address], now_ms: int, max_age_ms: int = MAX_LIST_AGE_MS
) -> RevocationList:
    """A signed revocation list a school may rely on: signed by a registry key and not older than `max_age_ms`."""
    parts = text.strip().split(".")
    if len(parts) != 3 or parts[0] != REVOCATION_PREFIX:
        raise CredentialRefused("revocations_malformed", "not a VAXREVOKE1 text")
    try:
        payload, signature = _unb64(parts[1]), _unb64(parts[2])
        obj = orjson.loads(payload)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise CredentialRefused("revocations_malformed", "not base64url JSON") from None
    try:
        _signer(REVOCATION_TAG, payload, signature, trusted_keys)
    except CredentialRefused as exc:
        raise CredentialRefused("revocations_forged", exc.detail) from None
    if not isinstance(obj, Mapping) or obj.get("v") != 1 or not isinstance(obj.get("issued_ms"), int):
        raise CredentialRefused("revocations_malformed", "fields are not those of a v1 list")
    serials = obj.get("serials")
    if not isinstance(serials, list) or not all(isinstance(s, str) for s in serials):
        raise CredentialRefused("revocations_malformed", "serials must be strings")
    if now_ms - int(obj["issued_ms"]) > max_age_ms:
        raise CredentialRefused("revocations_stale", "the revocation list is too old: fetch a fresh one")
    return RevocationList(int(obj["issued_ms"]), frozenset(serials))
