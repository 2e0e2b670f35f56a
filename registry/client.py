"""The sites' (and the CDC's) client of the registry API: every request signed with the caller's on-chain key.

`cosign_dose` is what `vaxchain dose record --person ID` calls before it builds the `record_dose` transaction: it
asks the registry to check and store the dose and returns the co-signature. When the registry is down or slow it
does not give up or lose the dose: it says it is waiting (through `on_wait`) and tries again until `give_up_s`.
A refusal with a reason (DoseAlreadyRecorded, DoseIntervalTooShort, Forbidden…) is raised at once. `retrying` is
that wait for any request the registry answers the same way when repeated (`vaxchain aefi report|classify` use it).
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from registry.auth import sign_request
from registry.cosign import DoseCosignature
from rpc.tls import client_context
from vaxcrypto.keys import Address, PrivateKey, parse_address, to_checksum_address

DEFAULT_TIMEOUT_S = 10.0
#: How long a site's client waits for a registry that is down or slow before it gives up (the caller keeps
#: what it was sending and can run it again).
GIVE_UP_S = 600.0

T = TypeVar("T")


class RegistryClientError(Exception):
    """The registry refused a request: `code` is its named error (e.g. DoseAlreadyRecorded), `fields` its details."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


class RegistryUnavailable(Exception):
    """The registry did not answer (down, slow, or a 5xx): the request may be repeated."""


@dataclass(frozen=True, slots=True)
class DoseRequest:
    """What a site sends to have a dose co-signed."""

    person_id: str
    trace_code: str
    lot_id: str
    dose_number: int
    administered_ms: int
    vaccinator: Address

    def to_json(self) -> dict[str, Any]:
        """The request body."""
        return {
            "person_id": self.person_id,
            "trace_code": self.trace_code,
            "lot_id": self.lot_id,
            "dose_number": self.dose_number,
            "administered_ms": self.administered_ms,
            "vaccinator": to_checksum_address(self.vaccinator),
        }


class RegistryClient:
    """Signed requests to one registry, as one on-chain account."""

    def __init__(
        self,
        url: str,
        key: PrivateKey,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        ca_file: str | Path | None = None,
        registry_address: Address | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported registry url {url!r}")
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._ssl: ssl.SSLContext | None = client_context(ca_file) if self._https else None
        self._host, self._port = parts.hostname, parts.port or (443 if self._https else 80)
        self._registry = registry_address

    def _connection(self) -> http.client.HTTPConnection:
        if self._ssl is not None:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _exchange(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise RegistryUnavailable(f"{self.url}: {exc or 'timed out'}") from None
        finally:
            conn.close()

    def registry_address(self) -> Address:
        """The registry's signing address (asked once; requests are signed for it)."""
        if self._registry is None:
            status, data = self._exchange("GET", "/api/v1/info", b"", {})
            if status != 200:
                raise RegistryUnavailable(f"{self.url}: /api/v1/info answered {status}")
            self._registry = parse_address(orjson.loads(data)["registry"])
        return self._registry

    def post(self, path: str, params: dict[str, Any]) -> Any:
        """A signed POST; the result, RegistryClientError for a refusal, RegistryUnavailable for no answer."""
        body = orjson.dumps(params)
        headers = {
            "Content-Type": "application/json",
            **sign_request(self.key, "POST", path, body, self.registry_address()),
        }
        status, data = self._exchange("POST", path, body, headers)
        try:
            out = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise RegistryUnavailable(f"{self.url}{path}: answered {status} without JSON") from None
        if status >= 500:
            raise RegistryUnavailable(
                f"{self.url}{path}: {out.get('message', status) if isinstance(out, dict) else status}"
            )
        if status != 200:
            err = out if isinstance(out, dict) else {}
            fields = {k: v for k, v in err.items() if k not in ("error", "message")}
            raise RegistryClientError(
                status, str(err.get("error", status)), str(err.get("message", "")), fields
            )
        return out

    def add_person(self, person: dict[str, Any], reason: str = "first visit") -> dict[str, str]:
        """Register a person: {"person_id", "access_code"}."""
        return dict(self.post("/api/v1/persons", {"person": person, "reason": reason}))

    def find_person(self, id_number: str, reason: str) -> dict[str, Any]:
        """Look a person up by ID number."""
        return dict(self.post("/api/v1/persons/find", {"id_number": id_number, "reason": reason}))

    def show_person(self, person_id: str, reason: str) -> dict[str, Any]:
        """A person's full record."""
        return dict(self.post("/api/v1/persons/show", {"person_id": person_id, "reason": reason}))

    def record_dose(
        self,
        dose: DoseRequest,
        reason: str = "vaccination",
        on_appointment: Callable[[dict[str, Any]], None] | None = None,
    ) -> DoseCosignature:
        """Have one dose checked, stored and co-signed; `on_appointment` sees the next appointment the registry
        proposed (what the site tells the guardian), when the registry gives one."""
        out = self.post("/api/v1/doses", {**dose.to_json(), "reason": reason})
        if on_appointment is not None and isinstance(out.get("next_appointment"), dict):
            on_appointment(out["next_appointment"])
        return DoseCosignature(
            bytes.fromhex(out["dose_ref"][2:]),
            bytes.fromhex(out["record_hash"][2:]),
            bytes.fromhex(out["registry_signature"][2:]),
        )

    def confirm_dose(self, dose_ref: bytes, tx_hash: bytes) -> None:
        """Tell the registry which transaction carries the dose."""
        self.post(
            "/api/v1/doses/confirm", {"dose_ref": "0x" + dose_ref.hex(), "tx_hash": "0x" + tx_hash.hex()}
        )

    def cancel_dose(self, dose_ref: bytes, reason: str = "dose not given") -> None:
        """Withdraw a co-signed dose whose transaction was never sent (refused once the chain holds it)."""
        self.post("/api/v1/doses/cancel", {"dose_ref": "0x" + dose_ref.hex(), "reason": reason})

    def issue_code(self, person_ids: list[str], reason: str = "re-issue") -> str:
        """A new family access code for these persons."""
        return str(self.post("/api/v1/codes", {"person_ids": person_ids, "reason": reason})["access_code"])

    def revoke_codes(self, person_id: str, reason: str = "revoke") -> int:
        """Revoke every family code of a person."""
        return int(self.post("/api/v1/codes/revoke", {"person_id": person_id, "reason": reason})["revoked"])

    def appointment(self, person_id: str, reason: str = "appointment") -> dict[str, Any]:
        """A person's appointment, where it stands against the schedule, and the registry's proposal."""
        return dict(self.post("/api/v1/appointments", {"person_id": person_id, "reason": reason}))

    def book_appointment(
        self,
        person_id: str,
        date: str,
        site: str | None = None,
        antigens: list[str] | None = None,
        reason: str = "appointment",
    ) -> dict[str, Any]:
        """Book (or rebook) a person's next appointment; AppointmentTooEarly names the earliest valid date."""
        params: dict[str, Any] = {
            "person_id": person_id,
            "date": date,
            "antigens": antigens or [],
            "reason": reason,
        }
        if site is not None:
            params["site"] = site
        return dict(self.post("/api/v1/appointments/book", params))

    def cancel_appointment(self, person_id: str, reason: str = "appointment cancelled") -> None:
        """Cancel a person's appointment."""
        self.post("/api/v1/appointments/cancel", {"person_id": person_id, "reason": reason})

    def due_list(
        self,
        site: str | None,
        start: str,
        end: str,
        *,
        overdue: bool = False,
        limit: int = 200,
        offset: int = 0,
    ) -> dict[str, Any]:
        """One page of a site's reminder list (booked in the range, overdue without a booking), with phones; site
        None: the caller's own site (for the CDC, the whole district)."""
        return dict(
            self.post(
                "/api/v1/appointments/due",
                {
                    "site": site,
                    "from": start,
                    "to": end,
                    "overdue": overdue,
                    "limit": limit,
                    "offset": offset,
                },
            )
        )

    def coverage(self, start: str, end: str) -> dict[str, Any]:
        """The CDC's counts per site of booked, due and overdue children (no names)."""
        return dict(self.post("/api/v1/appointments/coverage", {"from": start, "to": end}))

    def report_aefi(self, report: dict[str, Any], reason: str = "AEFI report") -> dict[str, Any]:
        """Report a suspected AEFI on a dose ({dose_ref, onset_ms, symptom, serious, criteria, note}): the
        registry's co-signature for `report_aefi` (registry.aefi.AefiCosignature.to_json)."""
        return dict(self.post("/api/v1/aefi", {**report, "reason": reason}))

    def confirm_aefi(
        self, report_id: str, serious: bool | None = None, reason: str = "guardian's AEFI report"
    ) -> dict[str, Any]:
        """Confirm a guardian's AEFI report on one of this site's doses: the co-signature."""
        return dict(
            self.post("/api/v1/aefi/confirm", {"report_id": report_id, "serious": serious, "reason": reason})
        )

    def classify_aefi(self, report_id: str, classification: str, **fields: Any) -> dict[str, Any]:
        """The CDC's classification (serious, outcome, close, reason optional): the co-signature."""
        return dict(
            self.post(
                "/api/v1/aefi/classify", {"report_id": report_id, "classification": classification, **fields}
            )
        )

    def confirm_aefi_tx(self, report_id: str, record_hash: str | None, tx_hash: str) -> str:
        """Tell the registry which transaction carries one version of an AEFI report (the co-signature's
        record hash; None: the version the transaction carries): the first report's lets the CDC classify it.
        The registry checks the transaction on chain (AefiTxNotFound). Returns the version's record hash."""
        answer = self.post(
            "/api/v1/aefi/confirm_tx",
            {"report_id": report_id, "record_hash": record_hash, "tx_hash": tx_hash},
        )
        return str(answer["record_hash"])

    def list_aefi(
        self, status: str | None = None, limit: int = 100, reason: str = "AEFI follow-up"
    ) -> list[Any]:
        """The latest AEFI reports the caller may read."""
        return list(self.post("/api/v1/aefi/list", {"status": status, "limit": limit, "reason": reason}))

    def revocations(self) -> str:
        """The registry's current signed revocation list (public)."""
        status, data = self._exchange("GET", "/revocations", b"", {})
        if status != 200:
            raise RegistryUnavailable(f"{self.url}/revocations answered {status}")
        return data.decode("ascii")


def cosign_dose(
    client: RegistryClient,
    dose: DoseRequest,
    *,
    on_wait: Callable[[str, float], None] | None = None,
    give_up_s: float = GIVE_UP_S,
    retry_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    on_appointment: Callable[[dict[str, Any]], None] | None = None,
) -> DoseCosignature:
    """The registry's co-signature of a dose, waiting for the registry while it is down or slow.

    `on_wait(reason, waited_s)` is called before each retry (the CLI prints "waiting for the registry…"). Retries
    are safe: the registry answers a repeated dose with the same co-signature. RegistryUnavailable after
    `give_up_s`; the dose itself is never dropped by this function — the caller keeps it and can run it again.
    """
    return retrying(
        lambda: client.record_dose(dose, on_appointment=on_appointment),
        on_wait=on_wait,
        give_up_s=give_up_s,
        retry_s=retry_s,
        sleep=sleep,
    )


def retrying(
    call: Callable[[], T],
    *,
    on_wait: Callable[[str, float], None] | None = None,
    give_up_s: float = GIVE_UP_S,
    retry_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, repeated while the registry is down or slow (RegistryUnavailable), backing off from `retry_s`
    to 30 s; `on_wait(reason, waited_s)` before each retry. Only for requests the registry answers the same way
    when repeated (a dose, an AEFI step, a transaction report). RegistryUnavailable after `give_up_s`; a refusal
    (RegistryClientError) at once."""
    start = time.monotonic()
    delay = retry_s
    while True:
        try:
            return call()
        except RegistryUnavailable as exc:
            waited = time.monotonic() - start
            if waited >= give_up_s:
                raise
            if on_wait is not None:
                on_wait(str(exc), waited)
            sleep(delay)
            delay = min(delay * 2, 30.0)
