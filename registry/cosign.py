"""The registry's co-signature of one dose, which the site's `record_dose` transaction carries (issue #22, §5).

digest = sha256(b"vaxchain/registry-dose/v1" + b"\\x00" + rlp([chain_id, site_org_id, trace_code, administered_ms,
dose_ref, record_hash])), signed with the registry's secp256k1 key (65 bytes, vaxcrypto). The chain accepts the
dose only if the signer is an active registry key (`set_registry`, `vax_registryKeys`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import rlp

from vaxcrypto.keys import Address, PrivateKey, recover_address

DOSE_TAG = b"vaxchain/registry-dose/v1"


@dataclass(frozen=True, slots=True)
class DoseCosignature:
    """What the registry returns for a dose: the per-dose reference, the record's hash and its signature."""

    dose_ref: bytes
    record_hash: bytes
    registry_signature: bytes

    def to_json(self) -> dict[str, str]:
        """0x-hex fields, as the API and the dose CLI pass them on."""
        return {
            "dose_ref": "0x" + self.dose_ref.hex(),
            "record_hash": "0x" + self.record_hash.hex(),
            "registry_signature": "0x" + self.registry_signature.hex(),
        }


def dose_digest(
    chain_id: int,
    site_org_id: str,
    trace_code: str,
    administered_ms: int,
    dose_ref: bytes,
    record_hash: bytes,
) -> bytes:
    """The 32-byte digest the registry signs for one dose."""
    body = rlp.encode(
        [
            chain_id,
            site_org_id.encode("utf-8"),
            trace_code.encode("utf-8"),
            administered_ms,
            dose_ref,
            record_hash,
        ]
    )
    return hashlib.sha256(DOSE_TAG + b"\x00" + body).digest()


def sign_dose(
    key: PrivateKey,
    chain_id: int,
    site_org_id: str,
    trace_code: str,
    administered_ms: int,
    dose_ref: bytes,
    record_hash: bytes,
) -> DoseCosignature:
    """Co-sign a dose the registry has checked and stored."""
    digest = dose_digest(chain_id, site_org_id, trace_code, administered_ms, dose_ref, record_hash)
    return DoseCosignature(dose_ref, record_hash, key.sign(digest))


def dose_signer(
    chain_id: int,
    site_org_id: str,
    trace_code: str,
    administered_ms: int,
    cosig: DoseCosignature,
) -> Address:
    """The address that co-signed this dose (raises vaxcrypto's InvalidSignature if it does not recover)."""
    digest = dose_digest(
        chain_id, site_org_id, trace_code, administered_ms, cosig.dose_ref, cosig.record_hash
    )
    return recover_address(digest, cosig.registry_signature)
