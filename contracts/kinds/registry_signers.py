"""Kind `set_registry`: the CDC registers or deactivates a personal-record registry's co-signing key.

Every dose carries the registry's signature over what it recorded (`registry_dose_digest`), so a site cannot put a
dose on chain around the registry, which alone holds the person and enforces the per-person rules (dose already
given, series interval): the chain never sees anything that links two doses of one person.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from contracts import schema
from contracts.codec import rlp_encode
from contracts.errors import (
    InvalidPayload,
    RegistrySignatureInvalid,
    RegistrySignerInactive,
    UnknownRegistrySigner,
)
from contracts.interfaces import Context, State
from contracts.records import RegistrySigner
from contracts.statekeys import load, store
from contracts.types import Address

from .common import emit, sender_admin

#: Domain tag of the registry's dose co-signature (version 1).
REGISTRY_DOSE_TAG = b"vaxchain/registry-dose/v1"
SIGNATURE_LENGTH = 65


@dataclass(frozen=True, slots=True)
class SetRegistry:
    """Register (`active` true) or deactivate a registry co-signing key."""

    signer: Address
    active: bool


def _int_bytes(value: int) -> bytes:
    """An unsigned integer as RLP encodes it: big-endian without leading zeros (0 is empty)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def registry_dose_digest(
    chain_id: int,
    site_org_id: str,
    trace_code: str,
    administered_ms: int,
    dose_ref: bytes,
    record_hash: bytes,
) -> bytes:
    """sha256(tag || 0x00 || rlp([chain_id, site, trace_code, administered_ms, dose_ref, record_hash])): what the
    registry signs for one dose (the trace code exactly as the payload carries it)."""
    body = rlp_encode(
        [
            _int_bytes(chain_id),
            site_org_id.encode("utf-8"),
            trace_code.encode("utf-8"),
            _int_bytes(administered_ms),
            dose_ref,
            record_hash,
        ]
    )
    return hashlib.sha256(REGISTRY_DOSE_TAG + b"\x00" + body).digest()


def check_registry_signature(state: State, ctx: Context, digest: bytes, signature: bytes) -> bytes:
    """The active registry key that signed `digest`, else the named error."""
    if len(signature) != SIGNATURE_LENGTH:
        raise RegistrySignatureInvalid(f"must be {SIGNATURE_LENGTH} bytes")
    signer = ctx.recover(digest, signature)
    if signer is None:
        raise RegistrySignatureInvalid("does not recover to a key")
    record = load(state, schema.registry_signer(signer), RegistrySigner)
    if record is None:
        raise UnknownRegistrySigner(signer)
    if not record.active:
        raise RegistrySignerInactive(signer)
    return signer


def apply_set_registry(state: State, ctx: Context, p: SetRegistry) -> None:
    """Write the key's record (registering it anew, re-activating or deactivating it) and emit `RegistrySet`."""
    _, org = sender_admin(state, ctx, "set_registry")
    known = load(state, schema.registry_signer(p.signer), RegistrySigner)
    if known is None and not p.active:
        raise UnknownRegistrySigner(p.signer)
    if known is not None and known.org_id != org.org_id:
        raise InvalidPayload("signer", f"registered by {known.org_id}")
    store(
        state,
        schema.registry_signer(p.signer),
        RegistrySigner(p.signer, org.org_id, p.active, ctx.block_height),
    )
    emit(ctx, "RegistrySet", signer=p.signer, org_id=org.org_id, active=p.active)
