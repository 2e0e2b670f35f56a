"""Genesis files: load, validate (reporting the exact field path and reason), and build the genesis block."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.errors import ContractError
from contracts.genesis import GenesisOrganisation, parse_organisations
from contracts.params import Params
from contracts.types import OrgType
from node.core.errors import VaxchainError

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class GenesisError(VaxchainError):
    """A genesis file that cannot be used: names the field path and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GenesisValidator:
    """A validator named in genesis."""

    address: bytes
    name: str


@dataclass(frozen=True, slots=True)
class Genesis:
    """A validated genesis file."""

    chain_id: int
    chain_name: str
    genesis_time_ms: int
    block_interval_ms: int
    empty_block_interval_ms: int
    validators: tuple[GenesisValidator, ...]
    organisations: tuple[GenesisOrganisation, ...]
    params: Params
    raw: dict[str, Any]

    @property
    def membership_enforced(self) -> bool:
        """Whether nodes admit only the peers registered on chain (for active organisations) and their
        configured allowlist: true when the genesis registers any node; a genesis without nodes keeps the open
        network of before (anyone, or the configured allowlist)."""
        return any(o.nodes for o in self.organisations)


def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    if key not in obj:
        raise GenesisError(f"{path}{key}", "missing")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise GenesisError(f"{path}{key}", f"expected {name}, got {type(value).__name__}")
    return value


def _parse_time(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise GenesisError(path, f"not an ISO 8601 time: {value!r}") from None
        if moment.tzinfo is None:
            raise GenesisError(path, "time needs a zone, e.g. 2026-01-01T00:00:00Z")
        return int(moment.astimezone(UTC).timestamp() * 1000)
    raise GenesisError(path, "expected an ISO 8601 time string or unix milliseconds")


def parse_address(value: Any, path: str) -> bytes:
    """0x + 40 hex digits -> 20 bytes (the CLI checks EIP-55 on what people type; files may use any case)."""
    if not isinstance(value, str) or not _HEX_ADDRESS.match(value):
        raise GenesisError(path, "expected an address 0x followed by 40 hex digits")
    return bytes.fromhex(value[2:])


def parse_genesis(obj: Any) -> Genesis:
    """Validate a decoded genesis document."""
    if not isinstance(obj, dict):
        raise GenesisError("$", "a genesis file is a JSON object")
    chain_id = _require(obj, "chain_id", int, "")
    if not 0 < chain_id < 2**63:
        raise GenesisError("chain_id", "must be a positive 63-bit integer")
    chain_name = obj.get("chain_name", "vaxchain")
    if not isinstance(chain_name, str) or not 0 < len(chain_name) <= 64:
        raise GenesisError("chain_name", "expected a name of 1 to 64 characters")
    genesis_time_ms = _parse_time(obj.get("genesis_time"), "genesis_time")
    interval = obj.get("block_interval_ms", 1000)
    if not isinstance(interval, int) or isinstance(interval, bool) or not 50 <= interval <= 600_000:
        raise GenesisError("block_interval_ms", "expected milliseconds between 50 and 600000")
    empty_interval = obj.get("empty_block_interval_ms", 30_000)
    if not isinstance(empty_interval, int) or isinstance(empty_interval, bool) or empty_interval < interval:
        raise GenesisError("empty_block_interval_ms", "expected milliseconds >= block_interval_ms")
    raw_validators = _require(obj, "validators", list, "")
    if not raw_validators:
        raise GenesisError("validators", "at least one validator is needed")
    validators = []
    seen: set[bytes] = set()
    for i, item in enumerate(raw_validators):
        path = f"validators[{i}]"
        if not isinstance(item, dict):
            raise GenesisError(path, "expected an object with address and name")
        address = parse_address(item.get("address"), f"{path}.address")
        if address in seen:
            raise GenesisError(f"{path}.address", "duplicate validator")
        seen.add(address)
        name = item.get("name", "")
        if not isinstance(name, str) or len(name) > 128:
            raise GenesisError(f"{path}.name", "expected a name of at most 128 characters")
        validators.append(GenesisValidator(address, name))
    try:
        organisations = parse_organisations(obj.get("organisations", []), "organisations")
        params = Params.from_json(obj.get("parameters", {}), "parameters")
    except ContractError as exc:
        fields = exc.fields()
        raise GenesisError(str(fields.get("path", "organisations")), str(fields.get("reason", exc))) from None
    unknown = set(obj) - {
        "chain_id",
        "chain_name",
        "genesis_time",
        "block_interval_ms",
        "empty_block_interval_ms",
        "validators",
        "organisations",
        "parameters",
        "comment",
    }
    if unknown:
        raise GenesisError(sorted(unknown)[0], "unknown field")
    return Genesis(
        chain_id=chain_id,
        chain_name=chain_name,
        genesis_time_ms=genesis_time_ms,
        block_interval_ms=interval,
        empty_block_interval_ms=empty_interval,
        validators=tuple(validators),
        organisations=organisations,
        params=params,
        raw=obj,
    )


def load_genesis(path: Path) -> Genesis:
    """Read and validate a genesis file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GenesisError(str(path), f"cannot read ({exc.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenesisError(f"{path}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
    return parse_genesis(obj)


# Which organisations run the nodes of a generated network, in order: validators first at the governance bodies
# and the manufacturer (the sample district's validator names), then observers at the distributor and sites.
NODE_ORG_ORDER = (
    OrgType.CDC,
    OrgType.REGULATOR,
    OrgType.HEALTH_COMMISSION,
    OrgType.MANUFACTURER,
    OrgType.DISTRIBUTOR,
    OrgType.SITE,
    OrgType.SCHOOL,
)


def with_nodes(doc: dict[str, Any], nodes: list[tuple[str, str]]) -> dict[str, Any]:
    """A copy of genesis document ``doc`` whose organisations register exactly ``nodes`` ((peer id, name)
    pairs): node i goes to the i-th organisation in NODE_ORG_ORDER, round robin over them."""
    out: dict[str, Any] = json.loads(json.dumps(doc))
    orgs: list[dict[str, Any]] = out.get("organisations", [])
    for org in orgs:
        org["nodes"] = []
    rank = {t.name.lower(): i for i, t in enumerate(NODE_ORG_ORDER)}
    ordered = sorted(orgs, key=lambda o: rank.get(str(o.get("org_type")), len(rank)))
    if nodes and not ordered:
        raise GenesisError("organisations", "no organisation to register the nodes under")
    for i, (peer_id, name) in enumerate(nodes):
        ordered[i % len(ordered)]["nodes"].append({"peer_id": peer_id, "name": name})
    return out
