"""The decoded-payload cache shares one decoding between mempool admission and execution."""

from __future__ import annotations

import pytest

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from node.core.errors import InvalidTransaction
from node.core.transactions import sign_transaction
from node.state.transition import check_kind_and_payload, clear_payload_cache
from vaxcrypto.keys import PrivateKey

KEY = PrivateKey.from_seed("payload-cache")


def test_valid_payload_is_decoded_once_and_shared() -> None:
    clear_payload_cache()
    payload = encode_payload(Attest(b"\x01" * 32, "log segment", "text/csv"))
    tx = sign_transaction(KEY, 7, 0, BY_NAME["attest"].code, payload)
    again = sign_transaction(KEY, 7, 1, BY_NAME["attest"].code, payload)  # same payload, another envelope
    first = check_kind_and_payload(tx)
    assert first == Attest(b"\x01" * 32, "log segment", "text/csv")
    assert check_kind_and_payload(again) is first


def test_malformed_payload_is_rejected_every_time() -> None:
    clear_payload_cache()
    tx = sign_transaction(KEY, 7, 0, BY_NAME["attest"].code, b"\xc0")
    for _ in range(2):
        with pytest.raises(InvalidTransaction, match="malformed payload"):
            check_kind_and_payload(tx)


def test_unknown_kind_is_rejected_even_with_a_cached_payload() -> None:
    clear_payload_cache()
    payload = encode_payload(Attest(b"\x02" * 32, "x", "text/csv"))
    check_kind_and_payload(sign_transaction(KEY, 7, 0, BY_NAME["attest"].code, payload))
    with pytest.raises(InvalidTransaction, match="unknown transaction kind"):
        check_kind_and_payload(sign_transaction(KEY, 7, 0, 99, payload))
