"""The dev co-signer signs the sample day's unsigned doses and leaves a dose a real registry signed alone."""

from __future__ import annotations

import dataclasses

from contracts.kinds.doses import RecordDose
from contracts.kinds.registry_signers import registry_dose_digest
from harness.cosign import UNSIGNED, cosign_payload, dev_registry_key
from harness.district import DistrictDay, district_roster
from harness.make_genesis import dev_key
from vaxcrypto.keys import PrivateKey, recover_address

CHAIN_ID = 7


def _first_dose() -> tuple[RecordDose, str]:
    roster = district_roster(sites=2)
    addresses = {label: dev_key(label).address for label in roster.labels()}
    day = DistrictDay(roster, 1, 1_700_000_000_000, addresses, doses=5, failing_fridge=False, recall=False)
    action = next(a for a in day if isinstance(a.payload, RecordDose))
    return action.payload, action.sender_label


def _signer(dose: RecordDose, site: str) -> bytes:
    digest = registry_dose_digest(
        CHAIN_ID, site, dose.trace_code, dose.administered_ms, dose.dose_ref, dose.record_hash
    )
    return recover_address(digest, dose.registry_signature)


def test_an_unsigned_dose_is_signed_by_the_dev_registry_key_for_its_site() -> None:
    dose, sender = _first_dose()
    assert dose.registry_signature == UNSIGNED
    signed = cosign_payload(dose, CHAIN_ID, sender)
    assert _signer(signed, sender.split("/")[0]) == dev_registry_key().address


def test_a_dose_a_registry_already_signed_keeps_that_signature() -> None:
    dose, sender = _first_dose()
    other = PrivateKey.from_seed("another district's registry")
    by_registry = cosign_payload(dose, CHAIN_ID, sender, other)
    # the load passes every payload through the dev co-signer: it must not replace the real registry's signature
    assert cosign_payload(by_registry, CHAIN_ID, sender) == by_registry
    assert _signer(by_registry, sender.split("/")[0]) == other.address
    assert dataclasses.replace(by_registry, registry_signature=UNSIGNED) == dose
