"""What the registry reads from the chain, through the node's JSON-RPC (rpc.client): callers' organisations and
roles, products' series rules, the registry keys, vial verdicts, dose transactions. One small interface, so tests
and the guardian's pages can name exactly what they need.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from registry.errors import ChainUnavailable
from rpc.client import RpcClient
from rpc.errors import RpcError, TransportError
from vaxcrypto.keys import Address, PrivateKey, parse_address, to_checksum_address

METHOD_NOT_FOUND = -32601
RATE_LIMIT_TRIES = 8


class Unsupported(Exception):
    """The node (or this registry's set-up) cannot answer this read: the caller falls back or says unavailable."""


@dataclass(frozen=True, slots=True)
class Caller:
    """An on-chain account as the registry sees it: organisation, its type, role and whether both are active."""

    address: Address
    org_id: str
    org_type: str  # "site", "cdc", "school"... (the chain's lower-case names)
    role: str  # "admin" or "staff"
    active: bool


@dataclass(frozen=True, slots=True)
class Organisation:
    """A member organisation: its type ("site", "school"...), display name and whether it is active."""

    org_id: str
    org_type: str
    name: str
    active: bool
    name_zh: str = ""  # the organisation's Chinese name on chain ("" when it has none)


@dataclass(frozen=True, slots=True)
class SeriesRule:
    """A product's series id and minimum days before each dose number (index 0 is dose 1)."""

    product_code: str
    name: str
    series: str
    min_intervals_days: tuple[int, ...]


class Chain(Protocol):
    """The chain reads and the one write (the access-log anchor) the registry makes."""

    def chain_id(self) -> int: ...
    def caller(self, address: Address) -> Caller | None: ...
    def organisation(self, org_id: str) -> Organisation | None: ...
    def series_rule(self, product_code: str) -> SeriesRule | None: ...
    def unit_product(self, trace_code: str) -> str | None: ...
    def registry_keys(self) -> list[tuple[Address, bool]]: ...
    def unit_verdict(self, trace_code: str) -> dict[str, Any] | None: ...
    def transaction(self, tx_hash: str) -> dict[str, Any] | None: ...
    def dose_record(self, dose_ref: bytes) -> dict[str, Any] | None: ...
    def nonce(self, address: Address) -> int: ...
    def send_raw(self, tx_hex: str) -> str: ...


class RpcChain:
    """`Chain` over a node's JSON-RPC; caller and product lookups are cached for `ttl_s` (a role change applies
    within it)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        ttl_s: float = 30.0,
        ca_file: str | None = None,
        reader_key: PrivateKey | None = None,
    ) -> None:
        """`reader_key`: the registry's on-chain CDC account, which signs its per-person reads (`vax_doseRecord`)."""
        self._client = RpcClient(url, timeout=timeout, ca_file=ca_file)
        self._signed = None if reader_key is None else _signed_client(url, reader_key, timeout, ca_file)
        self._ttl = ttl_s
        self._cache: dict[Address, tuple[float, Caller | None]] = {}
        self._products: dict[str, tuple[float, SeriesRule | None]] = {}
        self._lock = threading.Lock()
        self._chain_id: int | None = None

    def close(self) -> None:
        """Close the connections."""
        self._client.close()
        if self._signed is not None:
            self._signed.close()

    def _call(self, method: str, **params: Any) -> Any:
        try:
            return patient(self._client, method, params)
        except TransportError as exc:
            raise ChainUnavailable(str(exc)) from None

    def _maybe(self, method: str, **params: Any) -> Any:
        """The result, or None when the node says not found."""
        try:
            return self._call(method, **params)
        except RpcError as exc:
            if exc.code == METHOD_NOT_FOUND:
                raise
            data = exc.data if isinstance(exc.data, dict) else {}
            if data.get("error") == "NotFound" or "not found" in str(exc.message).lower():
                return None
            raise ChainUnavailable(f"{method}: {exc.message}") from None

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._call("chain_status")["chain_id"])
        return self._chain_id

    def caller(self, address: Address) -> Caller | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(address)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        account = self._maybe("vax_getAccount", address=to_checksum_address(address))
        found = None
        if account is not None:
            org = self._maybe("vax_getOrganisation", org_id=account["org_id"])
            if org is not None:
                found = Caller(
                    address,
                    str(org["org_id"]),
                    str(org["org_type"]),
                    str(account["role"]),
                    bool(account["active"]) and bool(org["active"]),
                )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[address] = (now, found)
        return found

    def organisation(self, org_id: str) -> Organisation | None:
        org = self._maybe("vax_getOrganisation", org_id=org_id)
        if org is None:
            return None
        return Organisation(
            str(org["org_id"]),
            str(org["org_type"]),
            str(org.get("name", "")),
            bool(org["active"]),
            str(org.get("name_zh") or ""),
        )

    def series_rule(self, product_code: str) -> SeriesRule | None:
        """A product's series rule, cached for `ttl_s` like callers (every dose asks; products rarely change)."""
        now = time.monotonic()
        with self._lock:
            hit = self._products.get(product_code)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        p = self._maybe("vax_getProduct", product_code=product_code)
        rule = None
        if p is not None:
            rule = SeriesRule(
                product_code,
                str(p.get("name", "")),
                str(p["series"]),
                tuple(int(d) for d in p["min_intervals_days"]),
            )
        with self._lock:
            if len(self._products) > 1000:
                self._products.clear()
            self._products[product_code] = (now, rule)
        return rule

    def unit_product(self, trace_code: str) -> str | None:
        """The product code the chain reads from a unit trace code (None for an invalid code)."""
        out = self._call("vax_findUnit", trace_code=trace_code)
        return str(out["product_code"]) if isinstance(out, dict) and out.get("valid") else None

    def registry_keys(self) -> list[tuple[Address, bool]]:
        return [(parse_address(k["address"]), bool(k["active"])) for k in self._call("vax_registryKeys")]

    def unit_verdict(self, trace_code: str) -> dict[str, Any] | None:
        """The vial's verdict, or None when this node does not answer `vax_unitVerdict` (or knows nothing)."""
        try:
            out = self._maybe("vax_unitVerdict", code=trace_code)
        except RpcError:
            return None
        return out if isinstance(out, dict) else None

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        out = self._maybe("chain_getTransaction", hash=tx_hash)
        return out if isinstance(out, dict) else None

    def dose_record(self, dose_ref: bytes) -> dict[str, Any] | None:
        """The chain's record of one dose (a signed per-person read), None if the chain has none."""
        if self._signed is None:
            raise Unsupported(
                "no signed reads: the registry has no on-chain account key or the client cannot sign"
            )
        try:
            out = patient(self._signed, "vax_doseRecord", {"dose_ref": "0x" + dose_ref.hex()})
        except TransportError as exc:
            raise ChainUnavailable(str(exc)) from None
        except RpcError as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            if data.get("error") == "NotFound" or "not found" in str(exc.message).lower():
                return None
            if exc.code == METHOD_NOT_FOUND:
                raise Unsupported("the node has no vax_doseRecord") from None
            raise ChainUnavailable(f"vax_doseRecord: {exc.message}") from None
        return out if isinstance(out, dict) else None

    def nonce(self, address: Address) -> int:
        return int(self._call("tx_getNonce", address=to_checksum_address(address)))

    def send_raw(self, tx_hex: str) -> str:
        try:
            return str(self._call("tx_sendRawTransaction", tx=tx_hex))
        except RpcError as exc:
            raise ChainUnavailable(f"tx_sendRawTransaction: {exc.message}") from None


def patient(client: RpcClient, method: str, params: dict[str, Any]) -> Any:
    """One call, waiting out the node's per-client rate limit a few times (RateLimited carries retry_after_s):
    a guardian's page asks several reads per dose, and the registry is one client for the whole district."""
    for attempt in range(RATE_LIMIT_TRIES):
        try:
            return client.call(method, **params)
        except RpcError as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            if data.get("error") != "RateLimited" or attempt == RATE_LIMIT_TRIES - 1:
                raise
            time.sleep(min(1.0, max(0.05, float(data.get("retry_after_s", 0.2)))))
    raise AssertionError("unreachable")


def _signed_client(url: str, key: PrivateKey, timeout: float, ca_file: str | None) -> RpcClient | None:
    """An RpcClient that signs each call with `key` (rpc.auth, #22 §5), or None where rpc.client cannot sign yet."""
    signing: dict[str, Any] = {"signer": key}
    try:
        return RpcClient(url, timeout=timeout, ca_file=ca_file, **signing)
    except TypeError:  # an rpc.client without the `signer` parameter
        return None


def cached(fn: Callable[[], Any], ttl_s: float) -> Callable[[], Any]:
    """A zero-argument call remembered for `ttl_s` seconds."""
    state: dict[str, Any] = {}

    def call() -> Any:
        now = time.monotonic()
        if "at" not in state or now - state["at"] >= ttl_s:
            state["value"], state["at"] = fn(), now
        return state["value"]

    return call
