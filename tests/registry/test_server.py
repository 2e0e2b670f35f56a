"""The registry over real HTTP on 127.0.0.1: signed API, replay and role refusals, the guardian's pages, bounds,
and a site client that waits for a registry that is down or slow."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from registry.auth import sign_request
from registry.client import DoseRequest, RegistryClient, RegistryClientError, RegistryUnavailable, cosign_dose
from registry.cosign import dose_signer
from registry.server import RegistryHTTPServer
from registry.service import Registry, parse_person
from rpc.tls import server_context
from tests.tls_certs import PrivateCA
from vaxcrypto.credential import read_revocations

from .conftest import CHAIN_ID, HEPB_CODE, OUTSIDER, SITE_A, T0, FakeChain, child


@pytest.fixture
def server(registry: Registry) -> Iterator[RegistryHTTPServer]:
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry, max_connections=8, max_per_ip=4)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def url(srv: RegistryHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.port}"


def raw(
    srv: RegistryHTTPServer, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_signed_api_registers_finds_and_co_signs(server: RegistryHTTPServer, registry: Registry) -> None:
    client = RegistryClient(url(server), SITE_A)
    added = client.add_person(child())
    assert added["person_id"].startswith("0x") and len(added["access_code"]) == 14
    found = client.find_person("110101202001010012", "vaccination visit")
    assert found["person_id"] == added["person_id"]
    dose = DoseRequest(
        added["person_id"], HEPB_CODE.format(1), "06901234567892:HB20792A", 1, T0, SITE_A.address
    )
    cosig = cosign_dose(client, dose)
    assert dose_signer(CHAIN_ID, "site-a", HEPB_CODE.format(1), T0, cosig) == registry.address
    with pytest.raises(RegistryClientError) as exc:
        client.record_dose(
            DoseRequest(added["person_id"], HEPB_CODE.format(2), "l", 1, T0 + 1, SITE_A.address)
        )
    assert exc.value.code == "DoseAlreadyRecorded" and exc.value.status == 409
    client.cancel_dose(cosig.dose_ref, "no dose given after all")
    again = client.record_dose(
        DoseRequest(added["person_id"], HEPB_CODE.format(2), "l", 1, T0 + 1, SITE_A.address)
    )
    assert again.dose_ref != cosig.dose_ref
    with pytest.raises(RegistryClientError) as exc:
        RegistryClient(url(server), OUTSIDER).find_person("110101202001010012", "snooping")
    assert exc.value.code == "Forbidden"
    with pytest.raises(RegistryClientError) as exc:
        client.add_person({**child(), "sex": "X"})
    assert (exc.value.code, exc.value.fields.get("field")) == ("BadRequest", "sex")


def test_unsigned_replayed_stale_and_misdirected_requests_are_refused(
    server: RegistryHTTPServer, registry: Registry
) -> None:
    path, body = "/api/v1/persons/find", orjson.dumps({"id_number": "110101202001010012", "reason": "x"})
    assert raw(server, "POST", path, body)[0] == 401
    headers = sign_request(SITE_A, "POST", path, body, registry.address)
    status, _ = raw(server, "POST", path, body, headers)
    assert status == 404  # authenticated: the person simply is not registered
    status, out = raw(server, "POST", path, body, headers)
    assert status == 401 and b"replayed" in out
    stale = sign_request(
        SITE_A, "POST", path, body, registry.address, now_ms=int(time.time() * 1000) - 600_000
    )
    assert raw(server, "POST", path, body, stale)[0] == 401
    other = sign_request(SITE_A, "POST", path, body, OUTSIDER.address)  # signed for another registry
    assert raw(server, "POST", path, body, other)[0] == 401
    tampered = sign_request(SITE_A, "POST", path, body, registry.address)
    assert raw(server, "POST", path, body.replace(b"x", b"y"), tampered)[0] == 401
    assert raw(server, "GET", "/", headers={"Host": "evil.example"})[0] == 421
    big = b"{" + b" " * 70_000 + b"}"
    assert raw(server, "POST", path, big, sign_request(SITE_A, "POST", path, big, registry.address))[0] == 400


def test_guardian_pages_in_both_languages_without_javascript(
    server: RegistryHTTPServer, registry: Registry, chain: FakeChain
) -> None:
    client = RegistryClient(url(server), SITE_A)
    added = client.add_person(child())
    client.record_dose(
        DoseRequest(added["person_id"], HEPB_CODE.format(1), "06901234567892:HB20792A", 1, T0, SITE_A.address)
    )
    status, page = raw(server, "GET", "/")
    assert status == 200 and "家庭查询码" in page.decode()
    form = f"code={added['access_code']}".encode()
    status, page = raw(server, "POST", "/family", form, {"Content-Type": "application/x-www-form-urlencoded"})
    text = page.decode()
    assert status == 200 and "测试儿童甲" in text and "接种记录" in text and "<script" not in text
    assert "暂无法核查" in text  # no vial verdict from this chain: unavailable, never "safe"
    chain.verdicts[HEPB_CODE.format(1)] = {
        "verdict": "do_not_use",
        "flags": [{"flag": "recalled", "data": {}}, {"flag": "opened_during_excursion", "data": {}}],
    }
    status, page = raw(server, "GET", f"/f/{added['access_code']}?lang=en")
    assert "a problem is recorded: ask the site" in page.decode() and "the lot was recalled" in page.decode()
    assert "opened during a temperature excursion" in page.decode() and "safe" not in page.decode().lower()
    assert "等待接种单位上报" in text  # the site has not reported the transaction yet
    assert "乙肝疫苗" in text  # next doses by the national schedule
    assert "Test site-a" in text  # the site's name as the chain gives it
    status, page = raw(server, "GET", f"/f/{added['access_code']}?lang=en")
    assert status == 200 and "Doses due next" in page.decode() and "recorded a dose" in page.decode()
    status, page = raw(
        server,
        "POST",
        "/family/credential",
        form + f"&person_id={added['person_id']}&school=school-1".encode(),
    )
    assert status == 200 and "VAXSCHOOL1." in page.decode() and "<svg" in page.decode()
    status, page = raw(server, "POST", "/family/withdraw", form + f"&person_id={added['person_id']}".encode())
    assert status == 200 and "已撤销的凭证数: 1" in page.decode()
    status, revocations = raw(server, "GET", "/revocations")
    assert status == 200 and revocations.startswith(b"VAXREVOKE1.")
    trusted = [registry.address]
    assert len(read_revocations(revocations.decode(), trusted, int(time.time() * 1000)).serials) == 1


def test_wrong_codes_are_limited_per_address(server: RegistryHTTPServer) -> None:
    # Every page behind a guardian's code draws on one budget of guesses per address.
    guarded = ["/family", "/family/aefi", "/family/credential", "/family/withdraw"]
    wrong = urllib.parse.urlencode(
        {
            "code": "0000-0000-0000",
            "person_id": "0x" + "11" * 32,
            "dose_ref": "0x" + "22" * 32,
            "onset_date": "2026-12-04",
            "symptom": "allergic",
            "school": "school-1",
        }
    ).encode()
    statuses = [raw(server, "POST", guarded[i % 4], wrong)[0] for i in range(20)]
    assert statuses == [403] * 20
    assert [raw(server, "POST", path, wrong)[0] for path in guarded] == [429] * 4
    assert raw(server, "GET", "/f/0000-0000-0000")[0] == 429


def test_connections_beyond_the_per_ip_cap_are_refused(server: RegistryHTTPServer) -> None:
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", server.port))
        extra.settimeout(5)
        assert extra.recv(1) == b""  # closed at accept
        extra.close()
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)
    assert raw(server, "GET", "/api/v1/info")[0] == 200


def test_the_site_waits_for_a_slow_registry_and_then_gets_its_co_signature(registry: Registry) -> None:
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry)  # bound, but not answering yet: "slow"
    pid, _ = registry.register_person(SITE_A.address, parse_person(child()), "visit")
    waits: list[Any] = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    timer = threading.Timer(1.5, thread.start)
    timer.start()
    try:
        client = RegistryClient(url(srv), SITE_A, timeout=0.5, registry_address=registry.address)
        dose = DoseRequest(pid, HEPB_CODE.format(1), "06901234567892:HB20792A", 1, T0, SITE_A.address)
        cosig = cosign_dose(
            client, dose, on_wait=lambda why, waited: waits.append(why), retry_s=0.2, give_up_s=20
        )
        assert waits and dose_signer(CHAIN_ID, "site-a", HEPB_CODE.format(1), T0, cosig) == registry.address
    finally:
        timer.join()
        srv.shutdown()
        srv.server_close()


def test_a_registry_that_is_down_is_reported_not_swallowed(registry: Registry) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    client = RegistryClient(
        f"http://127.0.0.1:{port}", SITE_A, timeout=0.5, registry_address=registry.address
    )
    waits: list[float] = []
    dose = DoseRequest("0x" + "11" * 32, HEPB_CODE.format(1), "l", 1, T0, SITE_A.address)
    with pytest.raises(RegistryUnavailable):
        cosign_dose(
            client, dose, on_wait=lambda why, waited: waits.append(waited), retry_s=0.05, give_up_s=0.5
        )
    assert len(waits) >= 2


def test_tls_with_a_private_ca(registry: Registry, tmp_path: Path) -> None:
    ca = PrivateCA(tmp_path / "ca")
    issued = ca.issue("registry")
    srv = RegistryHTTPServer(("127.0.0.1", 0), registry, tls=server_context(issued.cert, issued.key))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        client = RegistryClient(f"https://127.0.0.1:{srv.port}", SITE_A, ca_file=ca.files.cert)
        assert client.add_person(child())["person_id"].startswith("0x")
        untrusted = RegistryClient(
            f"https://127.0.0.1:{srv.port}", SITE_A, timeout=2, registry_address=registry.address
        )
        with pytest.raises(RegistryUnavailable):
            untrusted.find_person("110101202001010012", "x")  # the system CAs do not know this registry
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
