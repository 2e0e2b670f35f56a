"""Recompute a transaction's inclusion proof and its block's commit, independently of the node's word.

The node supplies raw material (`chain_getProof`): header bytes, Merkle siblings, the encoded commit. This module
re-derives everything with the public rules (docs/architecture.md): SHA-256 header hash, RFC 6962-shaped Merkle
paths with 0x00/0x01 prefixes, secp256k1 signatures over tagged SHA-256 digests, keccak addresses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rlp

from vaxcrypto import secp256k1
from vaxcrypto.keys import recover_address as _recover

SEAL_TAG = b"vaxchain/seal/v1"
CONSENSUS_TAG = b"vaxchain/consensus/v1"
VOTE_DOMAIN = b"vaxchain/consensus/vote/v1"
PRECOMMIT = 2
HEADER_FIELDS = (
    "chain_id",
    "height",
    "time_ms",
    "parent_hash",
    "proposer",
    "tx_root",
    "receipts_root",
    "state_root",
    "validators_hash",
    "last_commit_hash",
    "evidence_root",
)


class VerifyError(Exception):
    """Proof material that cannot even be parsed."""


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step and its outcome."""

    key: str  # i18n key of the step
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One validator signature over the header."""

    validator: str
    name: str
    ok: bool


@dataclass(frozen=True, slots=True)
class PathStep:
    """One Merkle step: the sibling and whether it sits on the left."""

    sibling: str
    left: bool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Everything the verify view shows."""

    checks: tuple[Check, ...]
    signatures: tuple[SignatureCheck, ...]
    signed: int
    validators: int
    kind: str  # "seal" | "certificate" | "none"
    tx_path: tuple[PathStep, ...]
    tx_root_computed: str

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def sha256(data: bytes) -> bytes:
    """SHA-256."""
    return hashlib.sha256(data).digest()


def tagged_hash(tag: bytes, data: bytes) -> bytes:
    """SHA-256 with a domain tag (as the node signs)."""
    return sha256(tag + b"\x00" + data)


def _unhex(text: Any) -> bytes:
    if not isinstance(text, str):
        raise VerifyError("expected hex text")
    try:
        return bytes.fromhex(text[2:] if text.startswith("0x") else text)
    except ValueError:
        raise VerifyError(f"not hex: {text[:20]}") from None


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def merkle_climb(leaf: bytes, index: int, size: int, siblings: Sequence[bytes]) -> tuple[bytes, list[bool]]:
    """The root reached from `leaf` (raw data), and for each step whether the sibling is on the left."""
    if not 0 <= index < size:
        raise VerifyError("leaf index outside the tree")
    node = sha256(b"\x00" + leaf)
    path: list[bool] = []  # True where our node is the left child
    lo, n = index, size
    while n > 1:
        k = _split(n)
        if lo < k:
            path.append(True)
            n = k
        else:
            path.append(False)
            lo -= k
            n -= k
    if len(path) != len(siblings):
        raise VerifyError(f"expected {len(path)} sibling hashes, got {len(siblings)}")
    sides: list[bool] = []
    for is_left, sib in zip(reversed(path), siblings, strict=True):
        node = sha256(b"\x01" + node + sib) if is_left else sha256(b"\x01" + sib + node)
        sides.append(not is_left)
    return node, sides


def recover_address(digest: bytes, signature: bytes) -> bytes | None:
    """The address that signed a 32-byte digest, or None when the signature is malformed."""
    try:
        return _recover(digest, signature)
    except secp256k1.CryptoError:
        return None


def rlp_encode(item: object) -> bytes:
    """RLP of nested lists of bytes and non-negative ints (what consensus signs)."""
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _len_prefix(len(item), 0x80) + item
    if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
        return rlp_encode(item.to_bytes((item.bit_length() + 7) // 8, "big"))
    if isinstance(item, list | tuple):
        payload = b"".join(rlp_encode(x) for x in item)
        return _len_prefix(len(payload), 0xC0) + payload
    raise VerifyError(f"cannot RLP-encode {type(item).__name__}")


def _len_prefix(length: int, offset: int) -> bytes:
    if length <= 55:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def _uint(b: Any) -> int:
    if not isinstance(b, bytes):
        raise VerifyError("expected an integer")
    return int.from_bytes(b, "big")


def _header_values(header_rlp: bytes) -> dict[str, Any]:
    try:
        items = rlp.decode(header_rlp)
    except Exception as exc:  # pyrlp raises many exception types on garbage
        raise VerifyError(f"header is not RLP: {exc}") from None
    if not isinstance(items, list) or len(items) != len(HEADER_FIELDS):
        raise VerifyError("header has the wrong shape")
    out: dict[str, Any] = {}
    for name, raw in zip(HEADER_FIELDS, items, strict=True):
        out[name] = _uint(raw) if name in ("chain_id", "height", "time_ms") else "0x" + bytes(raw).hex()
    return out


def verify_proof(proof: Mapping[str, Any], validators: Sequence[tuple[str, str]]) -> VerifyReport:
    """Check a `chain_getProof` answer; `validators` are (address, name) of the current set."""
    header = proof.get("header")
    if not isinstance(header, Mapping):
        raise VerifyError("no header")
    checks: list[Check] = []
    header_rlp = _unhex(proof.get("header_rlp"))
    block_hash = _unhex(header.get("hash"))
    computed = sha256(header_rlp)
    checks.append(Check("chk_header", computed == block_hash, "0x" + computed.hex()))
    values = _header_values(header_rlp)
    same = (
        all(
            (values[k] == header.get(k))
            if k in ("chain_id", "height", "time_ms")
            else values[k] == str(header.get(k, "")).lower()
            for k in HEADER_FIELDS
            if k != "proposer"
        )
        and values["proposer"] == str(header.get("proposer", "")).lower()
    )
    checks.append(Check("chk_header_fields", same, ""))

    tx_hash = _unhex(proof.get("tx_hash"))
    tp = proof.get("tx_proof") or {}
    tx_sibs = [_unhex(s) for s in tp.get("siblings", [])]
    root, sides = merkle_climb(tx_hash, int(tp.get("index", -1)), int(tp.get("size", 0)), tx_sibs)
    checks.append(Check("chk_tx", "0x" + root.hex() == values["tx_root"], "0x" + root.hex()))
    receipt = _unhex(proof.get("receipt"))
    rp = proof.get("receipt_proof") or {}
    r_root, _ = merkle_climb(
        receipt, int(rp.get("index", -1)), int(rp.get("size", 0)), [_unhex(s) for s in rp.get("siblings", [])]
    )
    checks.append(Check("chk_receipt", "0x" + r_root.hex() == values["receipts_root"], "0x" + r_root.hex()))
    try:
        r_items = rlp.decode(receipt)
        receipt_tx = bytes(r_items[0]) if isinstance(r_items, list) and r_items else b""
    except Exception:  # a garbage receipt just fails the check
        receipt_tx = b""
    checks.append(Check("chk_receipt_tx", receipt_tx == tx_hash, ""))

    sigs, signed, kind = _verify_commit(_unhex(proof.get("commit") or "0x"), block_hash, values, validators)
    n = len(validators)
    commit_ok = signed * 3 > 2 * n if kind == "certificate" else (kind == "seal" and signed == 1)
    checks.append(Check("chk_commit", commit_ok, f"{signed}/{n}"))
    return VerifyReport(
        tuple(checks),
        tuple(sigs),
        signed,
        n,
        kind,
        tuple(PathStep("0x" + s.hex(), left) for s, left in zip(tx_sibs, sides, strict=True)),
        "0x" + root.hex(),
    )


def _verify_commit(
    commit: bytes, block_hash: bytes, header: Mapping[str, Any], validators: Sequence[tuple[str, str]]
) -> tuple[list[SignatureCheck], int, str]:
    names = {a.lower(): n for a, n in validators}
    if not commit:
        return [], 0, "none"
    try:
        items = rlp.decode(commit)
    except Exception:  # not RLP: nothing verifies
        return [], 0, "none"
    if isinstance(items, list) and len(items) == 2 and all(isinstance(i, bytes) for i in items):
        signer, sig = bytes(items[0]), bytes(items[1])
        addr = "0x" + signer.hex()
        got = recover_address(tagged_hash(SEAL_TAG, block_hash), sig)
        ok = got == signer and addr == str(header["proposer"]).lower() and addr in names
        return [SignatureCheck(addr, names.get(addr, ""), ok)], int(ok), "seal"
    if not (isinstance(items, list) and len(items) == 4 and isinstance(items[3], list)):
        return [], 0, "none"
    height, rnd, block_id = _uint(items[0]), _uint(items[1]), bytes(items[2])
    if block_id != block_hash or height != header["height"]:
        return [], 0, "certificate"
    out: list[SignatureCheck] = []
    signed = 0
    seen: set[str] = set()
    for vote in items[3]:
        if not isinstance(vote, list) or len(vote) != 3:
            continue
        ts, validator, sig = _uint(vote[0]), bytes(vote[1]), bytes(vote[2])
        addr = "0x" + validator.hex()
        sign_bytes = rlp_encode(
            [VOTE_DOMAIN, int(header["chain_id"]), PRECOMMIT, height, rnd, block_id, ts, validator]
        )
        ok = recover_address(tagged_hash(CONSENSUS_TAG, sign_bytes), sig) == validator and addr in names
        if ok and addr not in seen:
            seen.add(addr)
            signed += 1
        out.append(SignatureCheck(addr, names.get(addr, ""), ok))
    return out, signed, "certificate"


def commit_signers(commit_hex: str | None) -> set[str]:
    """Lower-case addresses named in an encoded commit (unverified: for the "online" count only)."""
    if not commit_hex:
        return set()
    try:
        items = rlp.decode(_unhex(commit_hex))
    except Exception:  # unknown format: nobody
        return set()
    if isinstance(items, list) and len(items) == 2 and isinstance(items[0], bytes):
        return {"0x" + bytes(items[0]).hex()}
    if isinstance(items, list) and len(items) == 4 and isinstance(items[3], list):
        return {"0x" + bytes(v[1]).hex() for v in items[3] if isinstance(v, list) and len(v) == 3}
    return set()
