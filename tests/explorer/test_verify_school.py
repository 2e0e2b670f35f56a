"""The explorer's school-entry check (/verify): outcomes, revocation lists (fetched, cached, pasted), class lists,
the forms over the explorer's own handler, and the explorer.registry_url setting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import http.server
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from explorer.data import Data
from explorer.i18n import MESSAGES, Texts
from explorer.pages.verify import MAX_FORM_BYTES, antigen_names, sentence
from explorer.school import (
    MAX_CLASS_ROWS,
    UNAVAILABLE,
    ClassListProblem,
    Revocations,
    RevocationSource,
    check_class,
    check_credential,
    decode_csv,
    district_today,
    gather_revocations,
)
from explorer.server import Explorer
from node.service.config import ConfigError, load_config
from registry.schedule_nip2021 import NIP_2021
from rpc.server import HttpRequest, HttpResponse
from vaxcrypto import credential as credential_module
from vaxcrypto.credential import RevocationList, SchoolCredential, issue, sign_revocations
from vaxcrypto.keys import PrivateKey, to_checksum_address

REGISTRY = PrivateKey.from_seed("test/registry-signing")
RETIRED = PrivateKey.from_seed("test/registry-retired")
FORGER = PrivateKey.from_seed("test/forger")
TODAY = dt.date(2026, 9, 1)
NOW_MS = int(dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC).timestamp() * 1000)
KEYS = [REGISTRY.address]
NONE_REVOKED = Revocations(frozenset(), (("registry", NOW_MS),), ())
NO_LIST = Revocations(frozenset(), (), (("registry", UNAVAILABLE),))


def credential(
    status: str = "complete",
    missing: tuple[str, ...] = (),
    serial: str = "s1",
    issued: dt.date = dt.date(2026, 8, 20),
    expires: dt.date = dt.date(2026, 11, 18),
) -> SchoolCredential:
    return SchoolCredential(status, missing, "ab" * 16, "school-1", issued, expires, serial)


def revocation_text(serials: set[str], issued_ms: int = NOW_MS - 1000, key: PrivateKey = REGISTRY) -> str:
    return sign_revocations(key, RevocationList(issued_ms, frozenset(serials)))


# --- outcomes ---------------------------------------------------------------------------------------------------


def test_a_complete_and_an_incomplete_credential() -> None:
    got = check_credential(issue(REGISTRY, credential()), KEYS, NONE_REVOKED, TODAY, "school-1")
    assert (got.kind, got.missing) == ("complete", ())
    assert got.credential is not None and got.credential.school == "school-1"
    text = issue(REGISTRY, credential("incomplete", ("MMR", "JE"), "s2"))
    got = check_credential(text, KEYS, NONE_REVOKED, TODAY, None)
    assert (got.kind, got.missing) == ("catch_up", ("MMR", "JE"))


@pytest.mark.parametrize(
    ("text", "school", "reason"),
    [
        (lambda: "hello", None, "malformed"),
        (lambda: issue(FORGER, credential()), None, "forged_or_altered"),
        (lambda: issue(RETIRED, credential()), None, "forged_or_altered"),  # a key no longer active
        (lambda: issue(REGISTRY, credential(expires=dt.date(2026, 8, 31))), None, "expired"),
        (lambda: issue(REGISTRY, credential(issued=dt.date(2026, 9, 2))), None, "not_yet_valid"),
        (lambda: issue(REGISTRY, credential()), "school-2", "wrong_school"),
        (lambda: issue(REGISTRY, credential(serial="gone")), None, "revoked"),
    ],
)
def test_refusals_carry_their_reason(text: Any, school: str | None, reason: str) -> None:
    revoked = Revocations(frozenset({"gone"}), (("registry", NOW_MS),), ())
    got = check_credential(text(), KEYS, revoked, TODAY, school)
    assert (got.kind, got.reason) == ("refused", reason)
    # every refusal is a sentence in both languages, never the raw code
    for t in (Texts("zh-CN"), Texts("en")):
        words = str(sentence(t, got, revoked))
        assert words == str(t.fmt("so_refused", reason=t("vr_" + reason))) and "vr_" not in words


def test_without_a_usable_revocation_list_nobody_passes() -> None:
    got = check_credential(issue(REGISTRY, credential()), KEYS, NO_LIST, TODAY, None)
    assert got.kind == "unchecked"
    zh = str(sentence(Texts("zh-CN"), got, NO_LIST))
    en = str(sentence(Texts("en"), got, NO_LIST))
    assert "签名和有效期均有效" in zh and "暂时无法获取登记系统的撤销名单" in zh and "通过" in zh
    assert "signature and dates are valid" in en and "Do not treat it as passed" in en
    # a refusal stays a refusal without the list
    assert check_credential(issue(FORGER, credential()), KEYS, NO_LIST, TODAY, None).kind == "refused"
    late = issue(REGISTRY, credential(expires=dt.date(2026, 8, 1)))
    assert check_credential(late, KEYS, NO_LIST, TODAY, None).reason == "expired"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (lambda: revocation_text(set(), issued_ms=NOW_MS - 8 * 86_400_000), "revocations_stale"),
        (lambda: revocation_text(set(), key=FORGER), "revocations_forged"),
        (lambda: "VAXREVOKE1.not.base64", "revocations_malformed"),
        (lambda: None, UNAVAILABLE),
    ],
)
def test_revocation_list_problems_are_named(text: Any, reason: str) -> None:
    got = gather_revocations([("registry", text())], KEYS, NOW_MS)
    assert not got.available and got.problems == (("registry", reason),)
    outcome = check_credential(issue(REGISTRY, credential()), KEYS, got, TODAY, None)
    assert outcome.kind == "unchecked"
    assert Texts("en")("vr_" + reason) in html.unescape(sentence(Texts("en"), outcome, got))


def test_a_pasted_list_stands_in_and_every_valid_list_counts() -> None:
    pasted = revocation_text({"a"})
    got = gather_revocations([("pasted", pasted), ("registry", None)], KEYS, NOW_MS)
    assert got.available and got.serials == {"a"} and got.problems == (("registry", UNAVAILABLE),)
    both = gather_revocations([("pasted", pasted), ("registry", revocation_text({"b"}))], KEYS, NOW_MS)
    assert both.serials == {"a", "b"} and [w for w, _ in both.signed] == ["pasted", "registry"]
    assert gather_revocations([("pasted", "  ")], KEYS, NOW_MS) == Revocations(frozenset(), (), ())
    revoked = check_credential(issue(REGISTRY, credential(serial="b")), KEYS, both, TODAY, None)
    assert revoked.reason == "revoked"


def test_antigens_are_named_in_both_languages() -> None:
    assert antigen_names(Texts("zh-CN"), ["MMR", "JE"]) == "麻腮风疫苗（MMR）、乙脑疫苗（JE）"
    assert antigen_names(Texts("en"), ["MMR", "XYZ"]) == "Measles, mumps, rubella (MMR), XYZ"
    # every antigen the registry's schedule can list as missing has words in both languages
    assert all(f"ag_{a.antigen}" in MESSAGES for a in NIP_2021.antigens)


def test_every_refusal_reason_of_vaxcrypto_has_words() -> None:
    source = Path(credential_module.__file__).read_text()
    reasons = set(re.findall(r'CredentialRefused\(\s*"(\w+)"', source))
    assert {"malformed", "forged_or_altered", "expired", "revoked", "revocations_stale"} <= reasons
    assert not sorted(r for r in reasons - {"forged"} if "vr_" + r not in MESSAGES)
    assert all(len(v) == 2 and v[0] and v[1] for v in MESSAGES.values())


# --- class lists ------------------------------------------------------------------------------------------------


def class_csv(make: Any = credential) -> str:
    rows = [
        ("张小明", issue(REGISTRY, make())),
        ("Li Hua", issue(REGISTRY, make("incomplete", ("MMR",), "s2"))),
        ("3-07", issue(FORGER, make(serial="s3"))),
        ("Wang, Fang", issue(REGISTRY, make(serial="gone"))),
    ]
    return "\ufeffstudent,credential,class\n" + "".join(f'"{s}",{c},1A\n' for s, c in rows)


def test_class_list_rows_counts_and_follow_up() -> None:
    revoked = Revocations(frozenset({"gone"}), (("registry", NOW_MS),), ())
    result = check_class(class_csv(), KEYS, revoked, TODAY, "school-1")
    assert [(r.student, r.outcome.kind, r.outcome.missing, r.outcome.reason) for r in result.rows] == [
        ("张小明", "complete", (), ""),
        ("Li Hua", "catch_up", ("MMR",), ""),
        ("3-07", "refused", (), "forged_or_altered"),
        ("Wang, Fang", "refused", (), "revoked"),
    ]
    assert [r.student for r in result.follow_up()] == ["Li Hua", "3-07", "Wang, Fang"]
    assert result.counts() == {"complete": 1, "catch_up": 1, "unchecked": 0, "refused": 2}
    unchecked = check_class(class_csv(), KEYS, NO_LIST, TODAY, "school-1")
    assert [r.outcome.kind for r in unchecked.rows] == ["unchecked", "unchecked", "refused", "unchecked"]
    assert len(unchecked.follow_up()) == 4  # nobody passes without the revocation check


def test_class_list_bounds_and_shapes() -> None:
    with pytest.raises(ClassListProblem) as exc:
        check_class("name,qr\nx,y\n", KEYS, NONE_REVOKED, TODAY, None)
    assert exc.value.code == "no_header"
    with pytest.raises(ClassListProblem) as exc:
        check_class("", KEYS, NONE_REVOKED, TODAY, None)
    assert exc.value.code == "no_header"
    big = "student,credential\n" + "x,y\n" * (MAX_CLASS_ROWS + 1)
    with pytest.raises(ClassListProblem) as exc:
        check_class(big, KEYS, NONE_REVOKED, TODAY, None)
    assert (exc.value.code, exc.value.limit) == ("too_many", MAX_CLASS_ROWS)
    with pytest.raises(ClassListProblem) as exc:
        check_class('student,credential\n"' + "x" * 200_000 + '",y\n', KEYS, NONE_REVOKED, TODAY, None)
    assert exc.value.code == "unreadable"
    assert decode_csv("student,credential\n张三,x\n".encode("gb18030")).startswith("student")
    assert decode_csv("\ufeffstudent".encode()) == "student"


# --- the revocation list from the registry ----------------------------------------------------------------------


async def test_the_fetched_list_is_cached_and_a_failure_retried_soon() -> None:
    calls: list[str] = []
    answers: list[str | Exception] = [OSError("down"), "LIST-1", "LIST-2"]
    now = [0.0]

    def fetch(url: str) -> str:
        calls.append(url)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    src = RevocationSource(
        "http://registry.example:8600/", ttl_s=120, retry_s=10, fetch=fetch, clock=lambda: now[0]
    )
    assert src.url == "http://registry.example:8600/revocations"
    assert await src.text() is None
    now[0] = 5.0
    assert await src.text() is None and len(calls) == 1  # waits before asking again
    now[0] = 11.0
    assert await src.text() == "LIST-1"
    now[0] = 130.0
    assert await src.text() == "LIST-1" and len(calls) == 2  # still fresh
    now[0] = 132.0
    assert await src.text() == "LIST-2" and len(calls) == 3
    assert await RevocationSource(None).text() is None and not RevocationSource(None).configured
    with pytest.raises(ValueError):
        RevocationSource("ftp://registry.example/")


class _Registry(http.server.BaseHTTPRequestHandler):
    answer: tuple[int, bytes] = (200, b"")

    def do_GET(self) -> None:
        status, body = self.answer if self.path == "/base/revocations" else (404, b"no")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_registry() -> Iterator[http.server.ThreadingHTTPServer]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


async def test_fetches_over_http_and_refuses_errors(fake_registry: http.server.ThreadingHTTPServer) -> None:
    base = f"http://127.0.0.1:{fake_registry.server_address[1]}/base"
    _Registry.answer = (200, b"VAXREVOKE1.abc.def")
    assert await RevocationSource(base).text() == "VAXREVOKE1.abc.def"
    _Registry.answer = (500, b"oops")
    assert await RevocationSource(base).text() is None
    _Registry.answer = (200, "不是".encode())
    assert await RevocationSource(base).text() is None
    assert await RevocationSource(f"http://127.0.0.1:{fake_registry.server_address[1]}/x").text() is None


# --- the pages through the explorer's handler -------------------------------------------------------------------


def current(*args: Any, **kwargs: Any) -> SchoolCredential:
    """A credential valid today (the pages check against the district's real date)."""
    today = district_today()
    return dataclasses.replace(
        credential(*args, **kwargs),
        issued=today - dt.timedelta(days=1),
        expires=today + dt.timedelta(days=30),
    )


def current_list(serials: set[str]) -> str:
    return revocation_text(serials, issued_ms=int(time.time() * 1000) - 1000)


class KeysSource:
    """A node that answers vax_registryKeys: one active key, one retired."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((method, params))
        assert method == "vax_registryKeys"
        return [
            {"address": to_checksum_address(REGISTRY.address), "active": True, "org_id": "cdc"},
            {"address": "0x" + RETIRED.address.hex(), "active": False, "org_id": "cdc"},
        ]


def explorer(fetched: str | None) -> Explorer:
    src = RevocationSource("http://registry.invalid", fetch=lambda url: _or_fail(fetched))
    return Explorer(Data(KeysSource()), None, src)


def _or_fail(text: str | None) -> str:
    if text is None:
        raise OSError("registry down")
    return text


async def call(ex: Explorer, method: str, path: str, body: bytes = b"", ctype: str = "") -> HttpResponse:
    routes = {(r.method, r.path): r.handler for r in ex.routes()}
    headers = {"Accept-Language": "zh-CN"}
    if ctype:
        headers["Content-Type"] = ctype
    return await routes[(method, path)](HttpRequest(method, path, {}, headers, {}, body, "127.0.0.1"))


def form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


URLENC = "application/x-www-form-urlencoded"


async def test_get_shows_both_forms_without_script_and_the_nav_links_here() -> None:
    resp = await call(explorer(None), "GET", "/verify")
    page = resp.body.decode()
    assert resp.status == 200
    assert 'action="/verify?lang=zh-CN"' in page and 'action="/verify/class?lang=zh-CN"' in page
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page
    assert "扫码枪会像键盘一样" in page and 'href="/verify">核验</a>' in page
    assert "<script>" not in page.split("</head>", 1)[1]  # the page works without JavaScript


async def test_post_one_credential_says_it_in_chinese_and_english() -> None:
    ex = explorer(current_list({"gone"}))
    good = await call(ex, "POST", "/verify", form(credential=issue(REGISTRY, current())), URLENC)
    page = good.body.decode()
    assert good.status == 200 and 'data-outcome="complete"' in page
    assert "查验通过" in page and "Complete: the child" in page
    assert ("Cache-Control", "no-store") in good.headers
    late = issue(REGISTRY, current("incomplete", ("MMR", "HepB"), "s2"))
    page = (await call(ex, "POST", "/verify", form(credential=late, school="school-1"), URLENC)).body.decode()
    assert 'data-outcome="catch_up"' in page and "麻腮风疫苗（MMR）、乙肝疫苗（HepB）" in page
    assert "Measles, mumps, rubella (MMR), Hepatitis B (HepB)" in page
    revoked = issue(REGISTRY, current(serial="gone"))
    page = (await call(ex, "POST", "/verify", form(credential=revoked), URLENC)).body.decode()
    assert 'data-reason="revoked"' in page and "已撤销该凭证" in page
    wrong = (
        await call(ex, "POST", "/verify", form(credential=late, school="school-2"), URLENC)
    ).body.decode()
    assert 'data-reason="wrong_school"' in wrong and 'value="school-2"' in wrong  # the school is kept


async def test_the_registry_down_means_unchecked_unless_a_list_is_pasted() -> None:
    ex = explorer(None)
    text = issue(REGISTRY, current())
    page = (await call(ex, "POST", "/verify", form(credential=text), URLENC)).body.decode()
    assert 'data-outcome="unchecked"' in page and "查验通过" not in page
    pasted = current_list(set())
    page = (
        await call(ex, "POST", "/verify", form(credential=text, revocations=pasted), URLENC)
    ).body.decode()
    assert 'data-outcome="complete"' in page
    no_registry = Explorer(Data(KeysSource()), None)
    page = (await call(no_registry, "POST", "/verify", form(credential=text), URLENC)).body.decode()
    assert 'data-outcome="unchecked"' in page and "未配置登记系统地址" in page


async def test_bad_forms_are_named_and_change_nothing() -> None:
    ex = explorer(current_list(set()))
    empty = await call(ex, "POST", "/verify", form(credential="  "), URLENC)
    assert empty.status == 400 and "请先粘贴凭证" in empty.body.decode()
    odd = await call(ex, "POST", "/verify", b"{}", "application/json")
    assert odd.status == 400 and "无法读取提交的表单" in odd.body.decode()
    school = await call(ex, "POST", "/verify", form(credential="x", school="a\nb"), URLENC)
    assert school.status == 400 and "学校机构编号无效" in school.body.decode()
    no_list = await call(ex, "POST", "/verify/class", _multipart({"csv": ""}), MULTIPART)
    assert no_list.status == 400 and "请先上传或粘贴班级名单" in no_list.body.decode()
    not_csv = await call(ex, "POST", "/verify/class", _multipart({"csv": "a,b\n1,2\n"}), MULTIPART)
    assert not_csv.status == 400 and "首行必须包含 student 和 credential" in not_csv.body.decode()
    assert MAX_FORM_BYTES >= 650 * 380  # the body bound admits a list of MAX_CLASS_ROWS credentials


BOUNDARY = "----vaxchain-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _multipart(fields: Mapping[str, str], files: Mapping[str, bytes] | None = None) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, data in (files or {}).items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="class.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def test_class_list_upload_and_paste_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    ex = explorer(current_list({"gone"}))
    upload = class_csv(current).encode("gb18030")  # a Chinese spreadsheet's CSV
    pasted = "student,credential\n赵六," + issue(REGISTRY, current(serial="s9")) + "\n"
    body = _multipart({"csv": pasted, "school": "school-1"}, {"file": upload})
    with caplog.at_level(logging.DEBUG):
        resp = await call(ex, "POST", "/verify/class", body, MULTIPART)
    page = resp.body.decode()
    assert resp.status == 200 and 'data-class-list="5"' in page
    assert "2 人通过，1 人需补种，2 人凭证被拒，0 人未能核查撤销" in page
    assert "2 complete, 1 need catch-up doses, 2 refused, 0 not checked" in page
    table = page.split('class="class-list"', 1)[1].split("</table>", 1)[0]
    assert [m for m in re.findall(r'data-outcome="(\w+)"', table)] == [
        "complete",
        "catch_up",
        "refused",
        "refused",
        "complete",
    ]
    follow = page.split('class="follow-up"', 1)[1].split("</ul>", 1)[0]
    assert "Li Hua" in follow and "3-07" in follow and "Wang, Fang" in follow
    assert "张小明" not in follow and "赵六" not in follow
    assert ("Cache-Control", "no-store") in resp.headers
    for student in ("张小明", "Li Hua", "赵六"):
        assert not any(student in r.getMessage() for r in caplog.records)


async def test_checks_run_beside_the_event_loop() -> None:
    # a class list of the largest size is answered within a reasonable time and the loop keeps ticking
    rows = "".join(f"s{i},{issue(REGISTRY, current(serial=f'x{i}'))}\n" for i in range(MAX_CLASS_ROWS))
    body = _multipart({"csv": "student,credential\n" + rows})
    assert len(body) < MAX_FORM_BYTES
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(0.005)

    ex = explorer(current_list(set()))
    start = time.monotonic()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tick)
        resp = await call(ex, "POST", "/verify/class", body, MULTIPART)
        nursery.cancel_scope.cancel()
    assert resp.status == 200 and f'data-class-list="{MAX_CLASS_ROWS}"' in resp.body.decode()
    assert time.monotonic() - start < 30 and ticks > 1


# --- the setting ------------------------------------------------------------------------------------------------


def test_explorer_registry_url_setting(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[explorer]\nregistry_url = "https://registry.cdc.example:8600/"\n')
    assert load_config(tmp_path).explorer_registry_url == "https://registry.cdc.example:8600/"
    (tmp_path / "config.toml").write_text("[explorer]\nenabled = false\n")
    assert load_config(tmp_path).explorer_registry_url is None
    (tmp_path / "config.toml").write_text('[explorer]\nregistry_url = "registry.cdc.example"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path)
    assert exc.value.key == "explorer.registry_url"
