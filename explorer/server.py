"""The explorer's HTTP server: pages on `rpc.server.serve` with an empty method registry (ADR 0008).

await nursery.start(serve_explorer, "http://127.0.0.1:8545", "127.0.0.1", 8080)

With a certificate and key it serves HTTPS; its own client to the node's RPC trusts what ``rpc_ssl_context`` says
(for an https:// node URL; default: the system's CAs).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlencode, urlsplit

import trio

from explorer import pages
from explorer.data import BadInput, Data, MethodUnavailable, NodeUnavailable, NotFound, RpcSource, Source
from explorer.decode import DecodeError
from explorer.html import Safe
from explorer.i18n import Texts, negotiate
from explorer.layout import Frame, error_body, page
from explorer.pages.alerts import parse_filter as alerts_parse_filter
from explorer.pages.verify import MAX_FORM_BYTES, verify_class_page, verify_form_page, verify_one_page
from explorer.school import RevocationSource
from rpc.registry import MethodRegistry
from rpc.server import HttpRequest, HttpResponse, Route, RpcServerConfig, serve

log = logging.getLogger("explorer")

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
PageFn = Callable[[Data, Texts, HttpRequest], Awaitable["pages.Body | pages.Redirect"]]


def default_ws_url(rpc_url: str) -> str:
    """ws://host:port/ws of an http://host:port RPC URL."""
    parts = urlsplit(rpc_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ws"


def _static(name: str) -> bytes:
    return resources.files("explorer").joinpath("static", name).read_bytes()


@dataclass(frozen=True, slots=True)
class Explorer:
    """Turns HTTP requests into pages; independent of the server so tests can call it directly."""

    data: Data
    ws_url: str | None
    #: the registry's signed revocation list for /verify (none configured: the school pastes one)
    revocations: RevocationSource = field(default_factory=lambda: RevocationSource(None))

    def _csp(self) -> str:
        connect = "'self'"
        if self.ws_url:
            parts = urlsplit(self.ws_url)
            connect += f" {parts.scheme}://{parts.netloc}"
        return (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )

    def _headers(self, lang: str, explicit: bool, posted: bool = False) -> tuple[tuple[str, str], ...]:
        headers = [
            ("Content-Security-Policy", self._csp()),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            # a posted form's answer (a school's class list) is never kept by the browser or a proxy
            ("Cache-Control", "no-store" if posted else "no-cache"),
            ("Vary", "Accept-Language, Cookie"),
        ]
        if explicit:
            headers.append(("Set-Cookie", f"lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax"))
        return tuple(headers)

    def handler(
        self, fn: PageFn, *, fragment: bool = False
    ) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
        """Wrap a page function: language, frame, errors, headers."""

        async def handle(req: HttpRequest) -> HttpResponse:
            lang, explicit = negotiate(req.query, req.headers)
            t = Texts(lang)
            headers = self._headers(lang, explicit, req.method == "POST")
            try:
                result = await fn(self.data, t, req)
            except NotFound as exc:
                result = pages.Body(
                    t("not_found"),
                    error_body(
                        t, t("not_found"), t.fmt("not_found_page", what=t("w_" + exc.what), key=exc.key)
                    ),
                    404,
                )
            except BadInput as exc:
                detail = t.fmt("node_refused", detail=str(exc)) if exc.from_node else str(exc)
                result = pages.Body(t("bad_request"), error_body(t, t("bad_request"), detail), 400)
            except DecodeError as exc:
                log.warning("bad answer from the node: %s", exc)
                result = pages.Body(
                    t("unavailable"), error_body(t, t("unavailable"), t("bad_answer_detail")), 502
                )
            except (NodeUnavailable, MethodUnavailable) as exc:
                log.warning("node unavailable: %s", exc)
                result = pages.Body(
                    t("unavailable"), error_body(t, t("unavailable"), t("unavailable_detail")), 503
                )
            if isinstance(result, pages.Redirect):
                return HttpResponse(
                    303, b"", "text/plain; charset=utf-8", (*headers, ("Location", result.href))
                )
            if fragment:
                return HttpResponse(result.status, result.html.encode(), headers=headers)
            path = req.path + ("?" + urlencode(dict(req.query)) if req.query else "")
            frame = Frame(t, result.title, path, self.ws_url, result.live)
            return HttpResponse(result.status, page(frame, result.html).encode(), headers=headers)

        return handle

    def routes(self) -> list[Route]:
        """Every route of the explorer."""
        get: list[tuple[str, PageFn, bool]] = [
            ("/", lambda d, t, r: pages.home(d, t), False),
            ("/fragment/home", _fragment(pages.home_live), True),
            (
                "/fragment/alerts",
                lambda d, t, r: _alerts_fragment(d, t, dict(r.query)),
                True,
            ),
            (
                "/block/{key}",
                lambda d, t, r: pages.block_page(d, t, r.match_info["key"], dict(r.query)),
                False,
            ),
            ("/tx/{hash}", lambda d, t, r: pages.tx_page(d, t, r.match_info["hash"]), False),
            ("/tx/{hash}/verify", lambda d, t, r: pages.verify_page(d, t, r.match_info["hash"]), False),
            ("/lots", lambda d, t, r: pages.lots_page(d, t), False),
            ("/lot/{lot_id:.+}", lambda d, t, r: pages.lot_page(d, t, r.match_info["lot_id"]), False),
            ("/orgs", lambda d, t, r: pages.orgs_page(d, t), False),
            ("/org/{org_id}", lambda d, t, r: pages.org_page(d, t, r.match_info["org_id"]), False),
            ("/site/{org_id}", lambda d, t, r: pages.org_page(d, t, r.match_info["org_id"]), False),
            (
                "/unit/{unit_id}",
                lambda d, t, r: pages.unit_page(d, t, r.match_info["unit_id"], dict(r.query)),
                False,
            ),
            ("/validators", lambda d, t, r: pages.validators_page(d, t), False),
            (
                "/validator/{address}",
                lambda d, t, r: pages.validator_page(d, t, r.match_info["address"]),
                False,
            ),
            ("/alerts", lambda d, t, r: pages.alerts_page(d, t, dict(r.query)), False),
            ("/district", lambda d, t, r: pages.district_page(d, t, dict(r.query)), False),
            ("/recall/{lot_id:.+}", lambda d, t, r: pages.recall_page(d, t, r.match_info["lot_id"]), False),
            ("/code", lambda d, t, r: pages.code_page(d, t, r.query.get("c", "")), False),
            ("/search", lambda d, t, r: pages.search(d, t, r.query.get("q", "")), False),
        ]
        src = self.revocations
        get += [
            ("/verify", lambda d, t, r: verify_form_page(d, t, src), False),
            ("/verify/class", lambda d, t, r: verify_form_page(d, t, src), False),
        ]
        post: list[tuple[str, PageFn]] = [
            ("/verify", lambda d, t, r: verify_one_page(d, t, r, src)),
            ("/verify/class", lambda d, t, r: verify_class_page(d, t, r, src)),
        ]
        out = [Route("GET", path, self.handler(fn, fragment=frag)) for path, fn, frag in get]
        out += [Route("POST", path, self.handler(fn)) for path, fn in post]
        out.append(Route("GET", "/static/{name}", _serve_static))
        return out

    async def health(self) -> tuple[bool, Mapping[str, Any]]:
        """Healthy when the node answers."""
        try:
            status = await self.data.status()
        except (NodeUnavailable, MethodUnavailable):
            return False, {"node": "unreachable"}
        return True, {"node_height": status.height}


def _fragment(fn: Callable[[Data, Texts], Awaitable[Safe]]) -> PageFn:
    async def run(d: Data, t: Texts, r: HttpRequest) -> pages.Body:
        return pages.Body("", await fn(d, t))

    return run


async def _alerts_fragment(d: Data, t: Texts, query: dict[str, str]) -> pages.Body:
    flt = await alerts_parse_filter(d, t, query)
    return pages.Body("", await pages.alerts_live(d, t, flt.serious, flt))


_STATIC_NAMES = frozenset({"explorer.css", "explorer.js"})


async def _serve_static(req: HttpRequest) -> HttpResponse:
    name = req.match_info.get("name", "")
    if name not in _STATIC_NAMES:
        return HttpResponse(404, b"not found\n", "text/plain; charset=utf-8")
    ctype = STATIC_TYPES.get(name[name.rfind(".") :], "application/octet-stream")
    return HttpResponse(
        200, _static(name), ctype, (("Cache-Control", "max-age=300"), ("X-Content-Type-Options", "nosniff"))
    )


async def serve_explorer(
    rpc_url: str,
    host: str,
    port: int,
    *,
    ws_url: str | None = None,
    source: Source | None = None,
    tls_cert_file: str | None = None,
    tls_key_file: str | None = None,
    rpc_ssl_context: ssl.SSLContext | None = None,
    limits: Mapping[str, Any] | None = None,
    registry_url: str | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the explorer until cancelled; reports the bound port (port 0 = any free port).

    `rpc_url` is the node's JSON-RPC URL the server reads from; `ws_url` (default: `rpc_url` + /ws) is what
    browsers connect to for live updates, so it must be reachable from them. `tls_cert_file` and `tls_key_file`
    (PEM) make it serve HTTPS; `rpc_ssl_context` is whom an https:// `rpc_url` is trusted by. `limits` sets the
    server's connection fields (`RpcServerConfig`: max_connections, header_timeout_s, allowed_hosts, ...).
    `registry_url` is the district registry's base URL: /verify fetches its signed revocation list from
    `registry_url`/revocations (without it, schools paste the list).
    """
    config = RpcServerConfig(
        host=host,
        port=port,
        title="vaxchain explorer",
        max_body_bytes=MAX_FORM_BYTES,  # a class list of about 650 credentials; every other page is a GET
        tls_cert_file=tls_cert_file,
        tls_key_file=tls_key_file,
        **dict(limits or {}),
    )
    rpc_source = RpcSource(rpc_url, ssl_context=rpc_ssl_context) if source is None else None
    explorer = Explorer(
        Data(source or rpc_source or RpcSource(rpc_url)),
        ws_url or default_ws_url(rpc_url),
        RevocationSource(registry_url),
    )
    try:
        await serve(
            MethodRegistry(),
            config,
            health=explorer.health,
            extra_routes=explorer.routes(),
            task_status=task_status,
        )
    finally:
        if rpc_source is not None:
            rpc_source.close()
