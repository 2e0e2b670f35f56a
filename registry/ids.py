"""Keyed identifiers: the registry's person id, and per-dose references that link to nobody outside it."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata

from registry.errors import BadRequest

DOSE_NONCE_BYTES = 16
_ID_NUMBER_RE = re.compile(r"^[0-9A-Z]{6,32}$")


def canonical_id_number(text: str) -> str:
    """One spelling per document number: NFKC (full-width digits), no spaces or hyphens, upper-case (the ID
    card's check letter X)."""
    value = unicodedata.normalize("NFKC", text).replace(" ", "").replace("-", "").upper()
    if not _ID_NUMBER_RE.match(value):
        raise BadRequest(
            "id_number", "must be 6 to 32 letters or digits (ID card or birth-certificate number)"
        )
    return value


def person_id(district_secret: bytes, id_number: str) -> bytes:
    """HMAC-SHA256(district secret, canonical ID number): stable inside the registry, useless without the secret."""
    return hmac.new(district_secret, canonical_id_number(id_number).encode("ascii"), hashlib.sha256).digest()


def dose_ref(registry_secret: bytes, person: bytes, nonce: bytes | None = None) -> tuple[bytes, bytes]:
    """(dose_ref, nonce): HMAC-SHA256(registry secret, person id || fresh 16-byte nonce), a new value per dose."""
    fresh = secrets.token_bytes(DOSE_NONCE_BYTES) if nonce is None else nonce
    if len(fresh) != DOSE_NONCE_BYTES:
        raise BadRequest("nonce", f"must be {DOSE_NONCE_BYTES} bytes")
    return hmac.new(registry_secret, person + fresh, hashlib.sha256).digest(), fresh


def student_ref(registry_secret: bytes, person: bytes, school_org_id: str) -> bytes:
    """The opaque reference of a child for one school: two schools cannot match their references."""
    return hmac.new(
        registry_secret,
        b"vaxchain/student-ref/v1\x00" + person + school_org_id.encode("utf-8"),
        hashlib.sha256,
    ).digest()[:16]
