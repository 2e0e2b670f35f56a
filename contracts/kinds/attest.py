"""Kind `attest` (1): anchor the hash of an outside document (lot-release certificate, video, log scan).

Any active account or active logger device may attest, so every anchor is attributable (an unknown sender
could spam an un-fee'd PoA chain). The same sender may attest the same hash again: every attestation is kept
(e.g. a re-issued certificate), ordered by block height.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import schema
from contracts.errors import InvalidPayload, Unauthorized
from contracts.interfaces import Context, State
from contracts.records import Account, Attestation, Device, Organisation
from contracts.statekeys import load, store
from contracts.types import Hash32, Label, Name

from .common import MEDIA_TYPE_RE, check_text, emit


@dataclass(frozen=True, slots=True)
class Attest:
    """Anchor `document_hash` (SHA-256 of the document) with a short label and its media type."""

    document_hash: Hash32
    label: Label
    media_type: Name


def validate_attest(p: Attest) -> None:
    """Label is free text without control characters; media type is "type/subtype"."""
    check_text("label", p.label)
    if not MEDIA_TYPE_RE.match(p.media_type):
        raise InvalidPayload("media_type", "must be a lower-case media type like application/pdf")


def attester_org(state: State, ctx: Context) -> str | None:
    """The organisation behind the sender (account or device); Unauthorized if neither is active."""
    acct = load(state, schema.account(ctx.sender), Account)
    if acct is not None and acct.active:
        org = load(state, schema.organisation(acct.org_id), Organisation)
        if org is not None and org.active:
            return org.org_id
    dev = load(state, schema.device(ctx.sender), Device)
    if dev is not None and dev.active:
        return dev.org_id
    raise Unauthorized(ctx.sender, "attest", "sender is not an active account or device")


def apply_attest(state: State, ctx: Context, p: Attest) -> None:
    """Record the attestation (keyed by hash, height and tx) and emit `Attested`."""
    validate_attest(p)
    org_id = attester_org(state, ctx)
    att = Attestation(
        document_hash=p.document_hash,
        sender=ctx.sender,
        org_id=org_id,
        label=p.label,
        media_type=p.media_type,
        block_height=ctx.block_height,
        block_time_ms=ctx.block_time_ms,
        tx_hash=ctx.tx_hash,
    )
    store(state, schema.attestation(p.document_hash, ctx.block_height, ctx.tx_hash), att)
    emit(
        ctx,
        "Attested",
        document_hash=p.document_hash,
        sender=ctx.sender,
        org_id=org_id,
        label=p.label,
        media_type=p.media_type,
    )
