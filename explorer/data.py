"""Everything the explorer reads, through the node's JSON-RPC API only, with a small cache.

`Source` is the one seam to the node (tests plug canned answers into it). Answers that can never change (a
block below the head, an included transaction, a proof) are kept longer than the head-dependent ones.
"""

from __future__ import annotations

import ssl
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
import trio

from explorer.decode import decode, decode_list
from explorer.i18n import Texts
from explorer.views import (
    Alert,
    Block,
    ChainStatus,
    Episode,
    Header,
    Lot,
    Org,
    Product,
    RecallProgress,
    RegistryKey,
    Sample,
    StorageUnit,
    Trace,
    Tx,
    UnitCode,
    Validator,
    Verdict,
)
from rpc.client import AsyncRpcClient
from rpc.errors import RpcError, TransportError

NOT_FOUND_CODE = -32011
BAD_INPUT_CODE = -32012
METHOD_NOT_FOUND_CODE = -32601
INVALID_PARAMS_CODE = -32602

SHORT_TTL_S = 2.0
LONG_TTL_S = 3600.0
REGISTRY_KEYS_TTL_S = 10.0
HISTORY_PAGE = 200
HISTORY_MAX_PAGES = 60
HISTORY_KEEP_S = 31 * 86400


class ExplorerError(Exception):
    """Base of the explorer's named errors."""


class NotFound(ExplorerError):
    """The chain has no such object."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key


class BadInput(ExplorerError):
    """The parameters were refused (malformed hash, address...): by the node (its English text) or here."""

    def __init__(self, message: str, *, from_node: bool = False) -> None:
        super().__init__(message)
        self.from_node = from_node


class NodeUnavailable(ExplorerError):
    """The node cannot be reached or answered garbage."""


class MethodUnavailable(ExplorerError):
    """The node does not serve a method the explorer wants (an older or trimmed node)."""


class Source(Protocol):
    """Where answers come from: the node's JSON-RPC (or canned answers in tests)."""

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """Call `method`; raise NotFound, BadInput, MethodUnavailable or NodeUnavailable."""


class RpcSource:
    """`Source` over `rpc.client.AsyncRpcClient`."""

    def __init__(
        self, rpc_url: str, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.client = AsyncRpcClient(rpc_url, timeout=timeout, ssl_context=ssl_context)

    async def call(self, method: str, params: Mapping[str, Any]) -> Any:
        try:
            return await self.client.request(method, dict(params))
        except TransportError as exc:
            raise NodeUnavailable(str(exc)) from None
        except RpcError as exc:
            raise _named(exc, method, params) from None

    def close(self) -> None:
        self.client.close()


def _named(exc: RpcError, method: str, params: Mapping[str, Any]) -> ExplorerError:
    if exc.code == NOT_FOUND_CODE:
        data = exc.data if isinstance(exc.data, Mapping) else {}
        return NotFound(str(data.get("what", method)), str(data.get("key", "")))
    if exc.code in (BAD_INPUT_CODE, INVALID_PARAMS_CODE):
        return BadInput(exc.message, from_node=True)
    if exc.code == METHOD_NOT_FOUND_CODE:
        return MethodUnavailable(method)
    return NodeUnavailable(f"{method}: {exc.code} {exc.message}")


@dataclass(frozen=True, slots=True)
class _Refusal:
    """A cached named error."""

    error: ExplorerError


@dataclass(slots=True)
class _History:
    """Samples of one logger seen so far (ascending), and which heights they cover."""

    samples: list[Sample] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    top: int = -1  # highest block height fetched
    bottom: int | None = None  # lowest block height fetched
    complete: bool = False  # reached the logger's first transaction


@dataclass(frozen=True, slots=True)
class Who:
    """A sender in words: its label and the page about it."""

    label: str
    href: str | None
    org_id: str | None = None


class Data:
    """Typed reads with caching; one instance per explorer server."""

    def __init__(self, source: Source, *, max_entries: int = 4000) -> None:
        self.source = source
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max = max_entries
        self._hist: dict[str, _History] = {}
        self._hist_locks: dict[str, trio.Lock] = {}

    async def raw(self, method: str, ttl: float = SHORT_TTL_S, **params: Any) -> Any:
        """A cached call."""
        key = method + orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(key)
            if isinstance(hit[1], _Refusal):
                raise hit[1].error.with_traceback(None)
            return hit[1]
        try:
            value = await self.source.call(method, params)
        except (NotFound, BadInput, MethodUnavailable) as exc:
            # remember refusals too: "is this address a device?" is asked for every reading on a page
            value = _Refusal(exc)
        self._cache[key] = (now + ttl, value)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
        if isinstance(value, _Refusal):
            raise value.error.with_traceback(None)
        return value

    # chain ---------------------------------------------------------------------------------------

    async def status(self) -> ChainStatus:
        return decode(ChainStatus, await self.raw("chain_status", 1.0), "chain_status")

    async def block(self, height: int) -> Block:
        status = await self.status()
        ttl = LONG_TTL_S if height < status.height else SHORT_TTL_S
        # headers and hashes only: a block may hold thousands of transactions; pages fetch the ones they show
        return block_view(await self.raw("chain_getBlockByHeight", ttl, height=height, full=False))

    async def block_by_hash(self, block_hash: str) -> Block:
        return block_view(await self.raw("chain_getBlockByHash", LONG_TTL_S, hash=block_hash, full=False))

    async def txs(self, hashes: list[str]) -> list[Tx]:
        """Several transactions, fetched concurrently, in the given order."""
        out: list[Tx | None] = [None] * len(hashes)

        async def one(i: int, tx_hash: str) -> None:
            out[i] = await self.tx(tx_hash)

        async with trio.open_nursery() as nursery:
            for i, tx_hash in enumerate(hashes):
                nursery.start_soon(one, i, tx_hash)
        return [tx for tx in out if tx is not None]

    async def block_raw(self, height: int) -> Mapping[str, Any]:
        out = await self.raw("chain_getBlockByHeight", SHORT_TTL_S, height=height, full=False)
        return out if isinstance(out, Mapping) else {}

    async def latest_blocks(self, n: int) -> list[Block]:
        status = await self.status()
        heights = [h for h in range(status.height, max(0, status.height - n), -1)]
        out: list[Block | None] = [None] * len(heights)

        async def one(i: int, h: int) -> None:
            out[i] = await self.block(h)

        async with trio.open_nursery() as nursery:
            for i, h in enumerate(heights):
                nursery.start_soon(one, i, h)
        return [b for b in out if b is not None]

    async def tx(self, tx_hash: str) -> Tx:
        raw = await self.raw("chain_getTransaction", LONG_TTL_S, hash=tx_hash)
        if isinstance(raw, Mapping) and raw.get("status") == "pending":
            self._cache.pop("chain_getTransaction" + orjson.dumps({"hash": tx_hash}).decode(), None)
        tx = decode(Tx, raw, "transaction")
        if tx.block_height is not None:
            block = await self.block(tx.block_height)
            tx = replace(tx, time_ms=block.header.time_ms)
        return tx

    async def proof(self, tx_hash: str) -> Mapping[str, Any]:
        out = await self.raw("chain_getProof", LONG_TTL_S, hash=tx_hash)
        return out if isinstance(out, Mapping) else {}

    async def validators(self) -> list[Validator]:
        raw = await self.raw("chain_validators", 30.0)
        return decode_list(Validator, raw, "validators")

    # vax -----------------------------------------------------------------------------------------

    async def lot(self, lot_id: str) -> Lot:
        return decode(Lot, await self.raw("vax_getLot", lot_id=lot_id), "lot")

    async def trace(self, lot_id: str) -> Trace:
        trace = decode(Trace, await self.raw("vax_traceLot", lot_id=lot_id), "trace")
        return replace(
            trace,
            custody=tuple(sorted(trace.custody, key=lambda s: (s.shipped_ms, s.to_org))),
            doses_per_site=tuple(sorted(trace.doses_per_site)),
        )

    async def lots(self) -> list[Lot]:
        raw = await self.raw("vax_listLots", 5.0)
        return decode_list(Lot, raw, "lots")

    async def product(self, code: str) -> Product:
        return decode(Product, await self.raw("vax_getProduct", 30.0, product_code=code), "product")

    async def org(self, org_id: str) -> Org:
        return decode(Org, await self.raw("vax_getOrganisation", 10.0, org_id=org_id), "organisation")

    async def orgs(self) -> list[Org]:
        raw = await self.raw("vax_listOrganisations", 10.0)
        return decode_list(Org, raw, "organisations")

    async def unit(self, unit_id: str) -> StorageUnit:
        return decode(StorageUnit, await self.raw("vax_getStorageUnit", unit_id=unit_id), "storage_unit")

    async def inventory(self, org_id: str) -> Mapping[str, Any]:
        out = await self.raw("vax_inventory", holder=org_id)
        return out if isinstance(out, Mapping) else {}

    async def alerts(
        self, site: str | None = None, since_ms: int | None = None, limit: int = 1000
    ) -> list[Alert]:
        """Alerts from `since_ms` on, oldest first, following pages up to 5000."""
        out: list[Alert] = []
        since = since_ms
        for _ in range(5):
            params: dict[str, Any] = {"limit": limit}
            if site is not None:
                params["site"] = site
            if since is not None:
                params["since_ms"] = since
            raw = await self.raw("vax_alerts", **params)
            page = decode_list(Alert, raw, "alerts")
            seen = {(a.time_ms, a.tx_hash, a.kind, a.unit_id, a.temperature) for a in out}
            out.extend(
                a for a in page if (a.time_ms, a.tx_hash, a.kind, a.unit_id, a.temperature) not in seen
            )
            if len(page) < limit:
                break
            since = page[-1].time_ms  # inclusive: duplicates at the boundary are dropped above
        return out

    async def find_unit(self, code: str) -> UnitCode:
        return decode(UnitCode, await self.raw("vax_findUnit", trace_code=code), "unit_code")

    # issue #20's queries: None while the node does not answer them, so pages can fall back truthfully --

    async def optional(self, method: str, ttl: float = SHORT_TTL_S, **params: Any) -> Any:
        """A call to a method the node may not have yet: None when it does not."""
        try:
            return await self.raw(method, ttl, **params)
        except MethodUnavailable:
            return None

    async def optional_first(self, method: str, *param_sets: Mapping[str, Any]) -> Any:
        """`optional` with the first parameter naming the node accepts (a method still being specified may
        name its parameter differently); None when it has no such method or takes none of them."""
        for i, params in enumerate(param_sets):
            try:
                return await self.optional(method, SHORT_TTL_S, **params)
            except BadInput:
                if i == len(param_sets) - 1:
                    raise
        return None

    async def episodes(self) -> list[Episode] | None:
        """Every excursion and monitoring-gap episode (vax_listEpisodes), or None when the node lacks it."""
        try:
            raw = await self.optional_first("vax_listEpisodes", {}, {"limit": 1000})
        except BadInput:  # a node whose episode query wants parameters this explorer does not know yet
            return None
        if raw is None:
            return None
        listed = raw.get("episodes") if isinstance(raw, Mapping) else raw
        return decode_list(Episode, listed, "episodes")

    async def unit_verdict(self, code: str) -> Verdict | None:
        """vax_unitVerdict(code), or None when the node lacks it."""
        raw = await self.optional_first("vax_unitVerdict", {"code": code}, {"trace_code": code})
        return None if raw is None else decode(Verdict, raw, "verdict")

    async def lot_aefi(self, lot_id: str) -> Mapping[str, Any] | None:
        """vax_lotAefi(lot): the lot's AEFI counters (counts only), or None when the node lacks it."""
        raw = await self.optional_first("vax_lotAefi", {"lot_id": lot_id})
        return raw if isinstance(raw, Mapping) else None

    async def recall_progress(self, lot_id: str) -> RecallProgress | None:
        """vax_recallProgress(lot), or None when the node lacks it."""
        raw = await self.optional_first("vax_recallProgress", {"lot": lot_id}, {"lot_id": lot_id})
        if raw is None:
            return None
        if isinstance(raw, list):
            raw = {"holders": raw}
        return decode(RecallProgress, raw, "recall_progress")

    async def registry_keys(self) -> list[RegistryKey]:
        """The registry signing keys the CDC registered (vax_registryKeys), active or not; re-read every 10 s so a
        withdrawn key stops being trusted quickly."""
        return decode_list(
            RegistryKey, await self.raw("vax_registryKeys", REGISTRY_KEYS_TTL_S), "registry_keys"
        )

    async def device(self, address: str) -> Mapping[str, Any]:
        out = await self.raw("vax_getDevice", 30.0, address=address)
        return out if isinstance(out, Mapping) else {}

    async def org_name(self, org_id: str, t: Texts | None = None) -> str:
        """An organisation's name (its Chinese one on Chinese pages when the chain has it), or its id."""
        try:
            org = await self.org(org_id)
        except (NotFound, BadInput):
            return org_id
        if t is not None and t.zh and org.name_zh:
            return org.name_zh
        return org.name or org_id

    async def product_name(self, code: str, t: Texts | None = None) -> str:
        """A product's name (its Chinese one on Chinese pages when the chain has it), or its code."""
        try:
            p = await self.product(code)
        except (NotFound, BadInput):
            return code
        if t is not None and t.zh and p.name_zh:
            return p.name_zh
        return p.name or code

    async def who(self, address: str) -> Who:
        """What a sender address is: an organisation's account, a logger, a validator."""
        try:
            acct = await self.raw("vax_getAccount", 60.0, address=address)
            org_id = str(acct.get("org_id", "")) if isinstance(acct, Mapping) else ""
            if org_id:
                return Who(await self.org_name(org_id), "/org/" + _seg(org_id), org_id)
        except (NotFound, BadInput, MethodUnavailable):
            pass
        try:
            dev = await self.device(address)
            unit_id = str(dev.get("unit_id", ""))
            return Who(f"{dev.get('serial', address)}", "/unit/" + _seg(unit_id), str(dev.get("org_id", "")))
        except (NotFound, BadInput, MethodUnavailable):
            pass
        for v in await self.validators():
            if v.address.lower() == address.lower():
                return Who(v.name, "/validator/" + v.address)
        return Who(address[:10] + "…", None)

    # readings ------------------------------------------------------------------------------------

    async def samples(self, device: str, since_s: int, until_s: int | None = None) -> list[Sample]:
        """A logger's samples in [since_s, until_s], fetched incrementally from its reading transactions."""
        key = device.lower()
        lock = self._hist_locks.setdefault(key, trio.Lock())
        async with lock:
            hist = self._hist.setdefault(key, _History())
            await self._fetch_newer(key, hist, since_s)
            if not hist.complete and (not hist.samples or hist.samples[0].time_s > since_s):
                await self._fetch_older(key, hist, since_s)
        return [s for s in hist.samples if s.time_s >= since_s and (until_s is None or s.time_s <= until_s)]

    async def _page(self, device: str, before: int | None) -> list[Tx]:
        params: dict[str, Any] = {"address": device, "limit": HISTORY_PAGE}
        if before is not None:
            params["before_height"] = before
        raw = await self.source.call("chain_getTransactionsBySender", params)
        return decode_list(Tx, raw, "transactions")

    def _absorb(self, hist: _History, txs: list[Tx]) -> None:
        new: list[Sample] = []
        for tx in txs:
            if tx.hash in hist.seen:
                continue
            hist.seen.add(tx.hash)
            if tx.block_height is not None:
                hist.top = max(hist.top, tx.block_height)
                hist.bottom = tx.block_height if hist.bottom is None else min(hist.bottom, tx.block_height)
            if tx.kind_name != "record_readings" or tx.ok is False:
                continue
            for s in tx.payload.get("samples", []) or []:
                if (
                    isinstance(s, Mapping)
                    and isinstance(s.get("time_s"), int)
                    and isinstance(s.get("temp"), int)
                ):
                    new.append(Sample(int(s["time_s"]), int(s["temp"])))
        if new:
            merged = {s.time_s: s for s in hist.samples}
            merged.update((s.time_s, s) for s in new)
            hist.samples = [merged[t] for t in sorted(merged)]
            if len(hist.samples) > 1:
                cut = hist.samples[-1].time_s - HISTORY_KEEP_S
                hist.samples = [s for s in hist.samples if s.time_s >= cut]

    async def _fetch_newer(self, device: str, hist: _History, since_s: int) -> None:
        """Walk back from the head until what is already known (or far enough back on a first visit)."""
        before: int | None = None
        old_top = hist.top
        for _ in range(HISTORY_MAX_PAGES):
            page = await self._page(device, before)
            fresh = any(t.hash not in hist.seen for t in page)
            self._absorb(hist, page)
            if len(page) < HISTORY_PAGE:
                hist.complete = True  # a contiguous walk from the head reached the logger's first reading
                return
            if old_top >= 0 and any(t.block_height is not None and t.block_height < old_top for t in page):
                return
            if not fresh:
                return
            if old_top < 0 and hist.samples and hist.samples[0].time_s < since_s:
                return  # far enough back for this request; older pages only when asked
            before = _next_before(page)

    async def _fetch_older(self, device: str, hist: _History, since_s: int) -> None:
        for _ in range(HISTORY_MAX_PAGES):
            if hist.bottom is None:
                return
            page = await self._page(device, hist.bottom + 1)
            before_count = len(hist.seen)
            self._absorb(hist, page)
            if len(page) < HISTORY_PAGE:
                hist.complete = True
                return
            if len(hist.seen) == before_count:
                # a whole page inside one block: step past it (rare; a few samples may be skipped)
                page = await self._page(device, hist.bottom)
                self._absorb(hist, page)
                if len(page) < HISTORY_PAGE:
                    hist.complete = True
                    return
            if hist.samples and hist.samples[0].time_s < since_s:
                return


def block_view(raw: object) -> Block:
    """A block answer (with transaction hashes or full transactions) as a `Block`."""
    obj = raw if isinstance(raw, Mapping) else {}
    header = decode(Header, obj.get("header") or {}, "block.header")
    listed = obj.get("transactions") or []
    if not isinstance(listed, list):
        listed = []
    full = [t for t in listed if isinstance(t, Mapping)]
    txs = tuple(
        decode(
            Tx,
            {**t, "block_height": header.height, "index": i, "block_time_ms": header.time_ms},
            f"block.transactions[{i}]",
        )
        for i, t in enumerate(full)
    )
    hashes = tuple(t.hash for t in txs) if txs else tuple(t for t in listed if isinstance(t, str))
    count = obj.get("tx_count")
    commit = obj.get("commit")
    return Block(
        header,
        txs,
        hashes,
        count if isinstance(count, int) else len(listed),
        commit if isinstance(commit, str) else None,
    )


def _next_before(page: list[Tx]) -> int | None:
    """`before_height` for the next (older) page: re-read the last block unless the page is all one block."""
    heights = [t.block_height for t in page if t.block_height is not None]
    if not heights:
        return None
    last = min(heights)
    return last + 1 if len(set(heights)) > 1 else last


def _seg(value: str) -> str:
    from explorer.html import seg

    return seg(value)
