"""The registry's HTTP server: the signed JSON API for sites and the CDC, and the guardian's pages.

Stdlib `http.server` with one thread per connection, bounded like the node's listeners (rpc.guard): connection
caps in total and per IP (refused at accept), a socket timeout on every read, a capped body, the Host check
against DNS rebinding, and a per-IP limit on wrong access codes. TLS when the config names a certificate.

API (POST, JSON body, signed as in `registry.auth`; answers JSON, errors as {"error": code, "message": …}):
  /api/v1/persons            {"person": {...}, "reason"}            -> {"person_id", "access_code"}
  /api/v1/persons/find       {"id_number", "reason"}                -> person summary with doses and due next
  /api/v1/persons/show       {"person_id", "reason"}                -> the full record
  /api/v1/persons/erase      {"person_id", "reason"}                (CDC)
  /api/v1/doses              {"person_id", "trace_code", "lot_id", "dose_number", "administered_ms", "vaccinator"}
                                                                    -> {"dose_ref", "record_hash", "registry_signature"}
  /api/v1/doses/confirm      {"dose_ref", "tx_hash"}
  /api/v1/doses/cancel       {"dose_ref", "reason"}                 (only while the chain does not hold it)
  /api/v1/codes              {"person_ids": [...], "reason"}        -> {"access_code"}
  /api/v1/codes/revoke       {"person_id", "reason"}                -> {"revoked"}
  /api/v1/log                {"after_seq", "limit"}                 (CDC)
  /api/v1/appointments       {"person_id", "reason"}                -> the appointment, its state, the proposal
  /api/v1/appointments/book  {"person_id", "date", "site"?, "antigens"?, "reason"}
  /api/v1/appointments/cancel {"person_id", "reason"}
  /api/v1/appointments/due   {"site"?, "from", "to", "overdue"?, "limit"?, "offset"?} -> a site's reminder list
  /api/v1/appointments/coverage {"from", "to"}                      (CDC) -> counts per site, no names
  /api/v1/aefi, /aefi/confirm, /aefi/classify, /aefi/list          AEFI reports and their follow-up (registry.aefi)
  /api/v1/aefi/confirm_tx    {"report_id", "record_hash"?, "tx_hash"} the transaction of one version of a report,
                             checked on chain -> {"record_hash"} (AefiTxNotFound: the chain does not hold it)
Public: GET /api/v1/info, GET /revocations (the signed revocation list), the guardian pages (/, POST /family,
GET /f/CODE, POST /family/credential, POST /family/withdraw, POST /family/aefi).
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from registry import aefi, appointments, pages
from registry.auth import RequestVerifier
from registry.errors import AccessCodeInvalid, BadRequest, RegistryError
from registry.service import Registry, parse_dose, parse_hash, parse_person
from rpc.guard import ConnectionGate, allowed_host_set, host_allowed
from vaxcrypto.keys import Address, to_checksum_address

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
SOCKET_TIMEOUT_S = 15.0
CODE_FAILURES_PER_WINDOW = 20
CODE_FAILURE_WINDOW_S = 600.0


class CodeGuesses:
    """Wrong family codes per IP in a sliding window: past the limit an IP is refused until the window passes."""

    def __init__(
        self, limit: int = CODE_FAILURES_PER_WINDOW, window_s: float = CODE_FAILURE_WINDOW_S
    ) -> None:
        self.limit, self.window_s = limit, window_s
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, ip: str) -> bool:
        """Whether `ip` used up its wrong guesses."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get(ip, []) if now - t < self.window_s]
            if recent:
                self._fails[ip] = recent
            else:
                self._fails.pop(ip, None)
            return len(recent) >= self.limit

    def failed(self, ip: str) -> None:
        """Count a wrong guess."""
        with self._lock:
            if len(self._fails) > 100_000:
                self._fails.clear()
            self._fails.setdefault(ip, []).append(time.monotonic())


class RegistryHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with connection caps and the registry behind it."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        registry: Registry,
        *,
        tls: ssl.SSLContext | None = None,
        max_connections: int = 256,
        max_per_ip: int = 32,
        allowed_hosts: tuple[str, ...] = (),
    ) -> None:
        self.registry = registry
        self.verifier = RequestVerifier(registry.address)
        self.gate = ConnectionGate(max_connections, max_per_ip)
        self.gate_lock = threading.Lock()
        self.allowed = allowed_host_set(address[0], allowed_hosts)
        self.guesses = CodeGuesses()
        self.tls = tls
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RegistryHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.gate_lock:
            refusal = self.gate.admit(str(client_address[0]))
        if refusal is not None:
            log.warning("refused a connection from %s: %s", client_address[0], refusal.value)
            return False
        return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.gate_lock:
                self.gate.release(str(client_address[0]))

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        sock.settimeout(SOCKET_TIMEOUT_S)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that breaks off (TLS handshake refused, reset, timeout) is no server error: no traceback.
        log.debug("connection from %s ended with an error", client_address[0], exc_info=True)

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        return int(self.server_address[1])


class RegistryHandler(BaseHTTPRequestHandler):
    """One connection's requests."""

    server: RegistryHTTPServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S
    server_version = "vaxchain-registry"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        # Paths carry access codes (/f/CODE): never log them.
        log.debug("%s %s", self.client_address[0], self.command)

    # plumbing

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header(
            "Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, orjson.dumps(obj), "application/json")

    def _html(self, status: int, text: str) -> None:
        self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

    def _error(self, exc: RegistryError) -> None:
        fields = {k: v for k, v in vars(exc).items() if k != "message" and isinstance(v, str | int)}
        self._json(exc.status, {"error": exc.code, "message": exc.message, **fields})

    def _body(self) -> bytes:
        length_text = self.headers.get("Content-Length", "0")
        if not length_text.isdigit() or int(length_text) > MAX_BODY:
            raise BadRequest("body", f"must declare a Content-Length of at most {MAX_BODY} bytes")
        return self.rfile.read(int(length_text))

    def _host_ok(self) -> bool:
        if host_allowed(self.headers.get("Host"), self.server.allowed):
            return True
        self._json(421, {"error": "MisdirectedRequest", "message": "Host header does not name this server"})
        return False

    def _lang(self, form: dict[str, str] | None = None) -> str:
        query = parse_qs(urlsplit(self.path).query)
        chosen = (form or {}).get("lang") or next(iter(query.get("lang", [])), None)
        return pages.pick_lang(chosen, self.headers.get("Accept-Language"))

    # GET

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        registry = self.server.registry
        lang = self._lang()
        if path == "/":
            self._html(200, pages.code_form(lang))
        elif path == "/api/v1/info":
            self._json(
                200,
                {"registry": to_checksum_address(registry.address), "schedule": registry.schedule.edition},
            )
        elif path == "/revocations":
            self._send(200, registry.revocation_list().encode("ascii"), "text/plain; charset=utf-8")
        elif path.startswith("/f/"):
            self._family(path[3:], lang)
        else:
            self._json(404, {"error": "NotFound", "message": "no such page"})

    do_HEAD = do_GET

    # POST

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        try:
            body = self._body()
        except RegistryError as exc:
            self.close_connection = True
            self._error(exc)
            return
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            self._api(path, body)
        elif path in ("/family", "/family/credential", "/family/withdraw", "/family/aefi"):
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()}
            lang = self._lang(form)
            if path == "/family":
                self._family(form.get("code", ""), lang)
            elif path == "/family/aefi":
                self._family_aefi(form, lang)
            else:
                self._credential(form, lang, withdraw=path == "/family/withdraw")
        else:
            self._json(404, {"error": "NotFound", "message": "no such endpoint"})

    def _api(self, path: str, body: bytes) -> None:
        handler = _API.get(path)
        if handler is None:
            self._json(404, {"error": "NotFound", "message": "no such endpoint"})
            return
        try:
            headers = {k: v for k, v in self.headers.items()}
            caller = self.server.verifier.verify("POST", self.path, body, headers)
            try:
                params = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError:
                raise BadRequest("body", "not JSON") from None
            if not isinstance(params, dict):
                raise BadRequest("body", "must be a JSON object")
            self._json(200, handler(self.server.registry, caller, params))
        except RegistryError as exc:
            self._error(exc)
        except Exception:
            log.exception("registry API %s failed", path)
            self._json(500, {"error": "InternalError", "message": "internal error"})

    def _as_guardian(self, lang: str, render: Callable[[], str]) -> None:
        """Serve a page behind a guardian's access code.

        A blocked address is refused before the code is tried, a wrong code counts as a guess and shows the
        code form again, and any other refusal gets its own page.
        """
        ip = str(self.client_address[0])
        if self.server.guesses.blocked(ip):
            self._html(429, pages.error_page(pages.t("invalid_code", lang), lang))
            return
        try:
            page = render()
        except AccessCodeInvalid:
            self.server.guesses.failed(ip)
            self._html(403, pages.code_form(lang, pages.t("invalid_code", lang)))
            return
        except RegistryError as exc:
            self._html(exc.status, pages.error_page(exc.message, lang))
            return
        self._html(200, page)

    def _family_page(self, code: str, lang: str) -> str:
        children = self.server.registry.guardian_view(code)
        return pages.family_page(
            children, code, lang, aefi.AefiDesk(self.server.registry).family_reports(code)
        )

    def _family(self, code: str, lang: str) -> None:
        self._as_guardian(lang, lambda: self._family_page(code, lang))

    def _family_aefi(self, form: dict[str, str], lang: str) -> None:
        """A guardian's AEFI report from the family page (kept as awaiting the site's confirmation)."""
        registry = self.server.registry
        code = form.get("code", "")

        def report() -> str:
            serious = form.get("serious") == "1"
            fields = {
                "dose_ref": form.get("dose_ref"),
                "onset_ms": aefi.onset_from_date(form.get("onset_date", "")),
                "symptom": form.get("symptom"),
                "serious": serious,
                "criteria": [form.get("criterion") or "hospitalisation"] if serious else [],
                "note": form.get("note", ""),
            }
            aefi.AefiDesk(registry).guardian_report(code, aefi.parse_aefi(fields, registry.clock()))
            return self._family_page(code, lang)

        self._as_guardian(lang, report)

    def _credential(self, form: dict[str, str], lang: str, withdraw: bool = False) -> None:
        registry = self.server.registry
        code = form.get("code", "")

        def issue_or_withdraw() -> str:
            pid = parse_hash("person_id", form.get("person_id"))
            if withdraw:
                return pages.withdrawn_page(registry.revoke_school_credentials(code, pid), lang)
            text = registry.school_credential(code, pid, form.get("school", "").strip())
            return pages.credential_page(text, lang)

        self._as_guardian(lang, issue_or_withdraw)


def _reason(params: dict[str, Any], default: str | None = None) -> str:
    value = params.get("reason", default)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise BadRequest("reason", "say why the record is accessed (1 to 200 characters)")
    return value.strip()


def _register(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    pid, code = r.register_person(caller, parse_person(p.get("person")), _reason(p, "first visit"))
    return {"person_id": pid, "access_code": code}


def _find(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    return r.find_person(caller, str(p.get("id_number", "")), _reason(p))


def _show(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    return r.show_person(caller, parse_hash("person_id", p.get("person_id")), _reason(p))


def _erase(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    r.erase_person(caller, parse_hash("person_id", p.get("person_id")), _reason(p))
    return {"erased": True}


def _dose(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    dose = parse_dose(p)
    cosigned = r.record_dose(caller, dose, _reason(p, "vaccination")).to_json()
    # when to come back: the site tells the guardian (a read of the appointment, so it is in the log)
    return {
        **cosigned,
        "next_appointment": appointments.show(r, caller, dose.person_id, "next appointment after a dose"),
    }


def _confirm(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    r.confirm_dose(caller, parse_hash("dose_ref", p.get("dose_ref")), parse_hash("tx_hash", p.get("tx_hash")))
    return {"confirmed": True}


def _cancel(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    r.cancel_dose(caller, parse_hash("dose_ref", p.get("dose_ref")), _reason(p, "dose not given"))
    return {"cancelled": True}


def _code(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    ids = p.get("person_ids")
    if not isinstance(ids, list):
        raise BadRequest("person_ids", "must be a list")
    return {
        "access_code": r.issue_access_code(
            caller, [parse_hash("person_ids", i) for i in ids], _reason(p, "re-issue")
        )
    }


def _revoke(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    return {
        "revoked": r.revoke_access_codes(
            caller, parse_hash("person_id", p.get("person_id")), _reason(p, "revoke")
        )
    }


def _log(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    after, limit = p.get("after_seq", 0), p.get("limit", 100)
    if not isinstance(after, int) or not isinstance(limit, int) or after < 0 or not 1 <= limit <= 1000:
        raise BadRequest("after_seq/limit", "integers, limit 1 to 1000")
    return [
        {
            "seq": e.seq,
            "at_ms": e.at_ms,
            "actor": e.actor,
            "action": e.action,
            "reason": e.reason,
            "person_id": None if e.person_id is None else "0x" + e.person_id.hex(),
            "digest": "0x" + e.digest.hex(),
        }
        for e in r.read_log(caller, after, limit)
    ]


def _day(p: dict[str, Any], name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(p.get(name)))
    except ValueError:
        raise BadRequest(name, "must be YYYY-MM-DD") from None


def _appointment(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    pid = parse_hash("person_id", p.get("person_id"))
    return appointments.show(r, caller, pid, _reason(p, "appointment"))


def _book(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    site, antigens = p.get("site"), p.get("antigens", [])
    if site is not None and (not isinstance(site, str) or not 0 < len(site) <= 64):
        raise BadRequest("site", "must be an organisation id")
    if not isinstance(antigens, list) or len(antigens) > 20 or not all(isinstance(a, str) for a in antigens):
        raise BadRequest("antigens", "must be a list of at most 20 antigen names")
    pid = parse_hash("person_id", p.get("person_id"))
    return appointments.book(r, caller, pid, _day(p, "date"), site, antigens, _reason(p, "appointment"))


def _unbook(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    pid = parse_hash("person_id", p.get("person_id"))
    appointments.cancel(r, caller, pid, _reason(p, "appointment cancelled"))
    return {"cancelled": True}


def _due(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    site, limit, offset = p.get("site"), p.get("limit", 200), p.get("offset", 0)
    if site is not None and (not isinstance(site, str) or not 0 < len(site) <= 64):
        raise BadRequest("site", "must be an organisation id (or absent: the caller's site, for the CDC all)")
    if not isinstance(limit, int) or not isinstance(offset, int):
        raise BadRequest("limit/offset", "must be integers")
    return appointments.due_list(
        r,
        caller,
        site,
        _day(p, "from"),
        _day(p, "to"),
        overdue_only=p.get("overdue") is True,
        limit=limit,
        offset=offset,
    )


def _coverage(r: Registry, caller: Address, p: dict[str, Any]) -> Any:
    return appointments.coverage(r, caller, _day(p, "from"), _day(p, "to"))


_API: dict[str, Callable[[Registry, Address, dict[str, Any]], Any]] = {
    "/api/v1/persons": _register,
    "/api/v1/persons/find": _find,
    "/api/v1/persons/show": _show,
    "/api/v1/persons/erase": _erase,
    "/api/v1/doses": _dose,
    "/api/v1/doses/confirm": _confirm,
    "/api/v1/doses/cancel": _cancel,
    "/api/v1/codes": _code,
    "/api/v1/codes/revoke": _revoke,
    "/api/v1/log": _log,
    "/api/v1/appointments": _appointment,
    "/api/v1/appointments/book": _book,
    "/api/v1/appointments/cancel": _unbook,
    "/api/v1/appointments/due": _due,
    "/api/v1/appointments/coverage": _coverage,
    **aefi.API_HANDLERS,
}


def run_anchor_loop(registry: Registry, interval_s: float, stop: threading.Event) -> None:
    """Anchor the access log every `interval_s` until `stop` is set; a chain fault is logged and retried."""
    while not stop.wait(interval_s):
        try:
            registry.anchor_log()
        except RegistryError as exc:
            log.warning("access-log anchor not sent (will retry): %s", exc.message)
        except Exception:
            log.exception("access-log anchor failed (will retry)")
