"""The registry against a real node (in-process, real LevelDB, real JSON-RPC over HTTP): role lookups through
`vax_getAccount`/`vax_getOrganisation`, the unit-code reading, the vial verdict when the node has none, and the
access-log anchor as a real `attest` transaction the chain includes."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pytest
import trio

from contracts.kinds.attest import Attest
from contracts.registry import BY_NAME, encode_payload
from harness.make_genesis import dev_key
from node.core.transactions import sign_transaction
from registry.anchor import LOG_MEDIA_TYPE, anchor_transaction, attest_payload, signed_transaction
from registry.chain import RpcChain, Unsupported, patient
from registry.service import Registry, RegistrySecrets, parse_person
from registry.store import Store
from rpc.client import RpcClient
from rpc.errors import RpcError
from vaxcrypto.keys import PrivateKey, to_checksum_address

from .conftest import child

CDC = dev_key("cdc/staff-1")
SITE = dev_key("site-01/staff-1")


def test_the_anchor_transaction_is_byte_for_byte_the_nodes() -> None:
    key = PrivateKey.from_seed("anchor")
    digest = hashlib.sha256(b"log").digest()
    label = "registry access log to #7"
    assert attest_payload(digest, label, LOG_MEDIA_TYPE) == encode_payload(
        Attest(digest, label, LOG_MEDIA_TYPE)
    )
    payload = encode_payload(Attest(digest, label, LOG_MEDIA_TYPE))
    assert (
        signed_transaction(key, 860604, 3, BY_NAME["attest"].code, payload)
        == sign_transaction(key, 860604, 3, BY_NAME["attest"].code, payload).encode()
    )
    assert (
        anchor_transaction(key, 860604, 3, 7, digest)
        == sign_transaction(key, 860604, 3, BY_NAME["attest"].code, payload).encode()
    )


async def test_roles_units_and_the_anchor_against_a_real_node(node_url: str, tmp_path: Path) -> None:
    def work() -> None:
        chain = RpcChain(node_url)
        cdc = chain.caller(CDC.address)
        site = chain.caller(SITE.address)
        assert cdc is not None and (cdc.org_id, cdc.org_type, cdc.active) == ("cdc", "cdc", True)
        assert site is not None and (site.org_id, site.org_type) == ("site-01", "site")
        assert chain.caller(PrivateKey.from_seed("nobody").address) is None
        site_org = chain.organisation("site-01")
        assert site_org is not None and site_org.org_type == "site" and site_org.active and site_org.name
        assert chain.organisation("no-such-org") is None
        assert (
            chain.unit_product("(01)06901234567892(17)271231(10)HB20792A(21)0000000001") == "06901234567892"
        )
        assert chain.unit_product("not a code") is None
        assert chain.series_rule("06901234567892") is None  # no product registered on this fresh chain
        # #20's vax_unitVerdict answers: this fresh chain has no such lot, so the vial is not to be used
        verdict = chain.unit_verdict("(01)06901234567892(17)271231(10)HB20792A(21)0000000001")
        assert verdict is not None and not verdict["known"] and verdict["lot"] is None
        assert verdict["verdict"] == "do_not_use" and verdict["flags"][0]["flag"] == "unknown_code"
        # Signed per-dose reads: a node with vax_doseRecord (#22 §5) has no such dose; one without says so.
        reader = RpcChain(node_url, reader_key=CDC)
        with contextlib.suppress(Unsupported):
            assert reader.dose_record(b"\x42" * 32) is None
        reader.close()

        secrets = RegistrySecrets(
            b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, PrivateKey.from_seed("reg"), anchor_key=CDC
        )
        store = Store(tmp_path / "r.sqlite")
        registry = Registry(store, secrets, chain)
        registry.register_person(SITE.address, parse_person(child()), "first visit")
        tx_hash = registry.anchor_log()
        assert tx_hash is not None
        with store.tx() as db:
            _, digest = store.log_head(db)
        for _ in range(200):
            tx = chain.transaction(tx_hash)
            if tx is not None and tx.get("status") == "included":
                break
            trio.from_thread.run(trio.sleep, 0.05)
        with RpcClient(node_url) as client:
            atts = client.call("vax_getAttestations", document_hash="0x" + digest.hex())
        assert [a["sender"].lower() for a in atts] == [to_checksum_address(CDC.address).lower()]
        assert atts[0]["media_type"] == LOG_MEDIA_TYPE
        store.close()
        chain.close()

    await trio.to_thread.run_sync(work)


class _Limited:
    """A client that the node rate-limits twice before answering."""

    def __init__(self) -> None:
        self.calls = 0

    def call(self, method: str, **params: object) -> object:
        self.calls += 1
        if self.calls <= 2:
            raise RpcError(-32005, "rate limited", {"error": "RateLimited", "retry_after_s": 0.01})
        return {"method": method, **params}


def test_reads_wait_out_the_nodes_rate_limit() -> None:
    limited = _Limited()
    assert patient(limited, "vax_getProduct", {"product_code": "x"}) == {
        "method": "vax_getProduct",
        "product_code": "x",
    }
    assert limited.calls == 3
    with pytest.raises(RpcError):
        patient(_AlwaysLimited(), "chain_status", {})


class _AlwaysLimited:
    def call(self, method: str, **params: object) -> object:
        raise RpcError(-32005, "rate limited", {"error": "RateLimited", "retry_after_s": 0.01})
