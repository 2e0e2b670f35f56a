"""The sample district's stand-in registry co-signer: the dev registry key and the signature of each dose.

``harness.district`` stays free of crypto: its doses carry a dose reference, a record hash and an empty (zero)
registry signature; whoever signs the day's transactions for a chain passes each payload through
``cosign_payload`` first, which signs the dose with the dev registry key for that chain id (as the real registry
co-signs when a site records a dose). The key is derived from a public label, like every dev key: never for
production.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from contracts.kinds.doses import RecordDose
from contracts.kinds.registry_signers import registry_dose_digest
from contracts.registry import encode_payload
from vaxcrypto.keys import PrivateKey

#: The roster-style label of the dev registry key (its seed follows ``harness.make_genesis.dev_key``).
REGISTRY_LABEL = "registry/cosign"
UNSIGNED = bytes(65)


def dev_registry_key() -> PrivateKey:
    """The sample district's registry co-signing key (derived from its public label)."""
    return PrivateKey.from_seed(f"vaxchain-dev/chancheng/{REGISTRY_LABEL}")


def site_of(sender_label: str) -> str:
    """The organisation id of a roster account label ("site-01/staff-1" -> "site-01")."""
    return sender_label.split("/", 1)[0]


def cosign_dose(key: PrivateKey, chain_id: int, site: str, dose: RecordDose) -> RecordDose:
    """The dose with the registry's signature for `chain_id` and the sending `site`."""
    digest = registry_dose_digest(
        chain_id, site, dose.trace_code, dose.administered_ms, dose.dose_ref, dose.record_hash
    )
    return dataclasses.replace(dose, registry_signature=key.sign(digest))


def cosign_payload(payload: Any, chain_id: int, sender_label: str, key: PrivateKey | None = None) -> Any:
    """A RecordDose not yet co-signed, co-signed by the dev registry key (or `key`); any other payload, or a dose
    a real registry already co-signed (``harness.registry_people``), unchanged."""
    if not isinstance(payload, RecordDose) or payload.registry_signature != UNSIGNED:
        return payload
    return cosign_dose(key or _DEV_KEY, chain_id, site_of(sender_label), payload)


_DEV_KEY = dev_registry_key()


def action_payload_bytes(action: Any, chain_id: int) -> bytes:
    """The canonical payload bytes of a district action for `chain_id`, its dose co-signed (``Action``)."""
    return encode_payload(cosign_payload(action.payload, chain_id, action.sender_label))
