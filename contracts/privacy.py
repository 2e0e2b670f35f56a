"""What public answers leave out of decoded payloads: per-dose values that only the registry can resolve.

A dose's reference, record hash and registry co-signature are per dose (two doses of one person share none of
them), so the raw transaction bytes may stay public; decoded payloads in public answers still omit them, so a
reader of a block or of a subscription sees what was done with a vial and never a handle to a person's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

#: Payload fields omitted from public decoded payloads, by kind name.
PRIVATE_PAYLOAD_FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "record_dose": frozenset({"dose_ref", "record_hash", "registry_signature"}),
        "report_aefi": frozenset({"record_hash", "first_report", "registry_signature"}),
    }
)


def public_payload(kind_name: str | None, payload: Any) -> Any:
    """A decoded payload (JSON) without the kind's private fields; other kinds' payloads unchanged."""
    hidden = PRIVATE_PAYLOAD_FIELDS.get(kind_name or "")
    if hidden is None or not isinstance(payload, dict):
        return payload
    return {k: v for k, v in payload.items() if k not in hidden}
