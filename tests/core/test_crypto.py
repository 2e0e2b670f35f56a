"""secp256k1 backends: known vectors, cross-backend equality, low-S, and strict rejection."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaxcrypto import secp256k1 as crypto
from vaxcrypto.secp256k1 import (
    SECP256K1_N,
    CryptoBackend,
    CryptoError,
    InvalidPrivateKey,
    InvalidSignature,
    get_backend,
)

BACKENDS = ("coincurve", "ecdsa")

# Public test vector (python-ecdsa / Trezor RFC 6979 secp256k1 vectors): key 1, sha256("Satoshi Nakamoto").
SATOSHI_SECRET = (1).to_bytes(32, "big")
SATOSHI_DIGEST = hashlib.sha256(b"Satoshi Nakamoto").digest()
SATOSHI_SIGNATURE = bytes.fromhex(
    "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
    "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5"
    "01"
)
GENERATOR_PUBLIC_KEY = bytes.fromhex(
    "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8"
)

# Computed once with coincurve and cross-checked against eth_keys' pure-Python backend.
FIXED_SECRET = hashlib.sha256(b"vaxchain test key").digest()
FIXED_DIGEST = hashlib.sha256(b"vaxchain test message").digest()
FIXED_SIGNATURE = bytes.fromhex(
    "2422ac8ef185d4c9c8de0802f7abbef5ce19d9b9c1434245cffb2d386cd564b7"
    "6f72293e993e2ccd15044773ddfd23eb21a9184081ee342ec4c2d80981e4456d"
    "01"
)
FIXED_PUBLIC_KEY = bytes.fromhex(
    "e6494d4ddb644625a175769d9c55b60b220d30562f03e4d548c7dd5981bdc896"
    "9ea8658376307ddabbbf688ec4401f92d9b606300cca199249d24285b7d2fdac"
)

secrets = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda value: value.to_bytes(32, "big"))
digests = st.binary(min_size=32, max_size=32)
# python-ecdsa manages ~100 signatures or recoveries per second: keep example counts modest.
cross_backend = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def high_s_twin(signature: bytes) -> bytes:
    """The other valid ECDSA signature of the same (key, digest): s -> n - s, v flipped."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> CryptoBackend:
    return get_backend(request.param)


# --- known vectors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "digest", "signature", "public_key"),
    [
        (SATOSHI_SECRET, SATOSHI_DIGEST, SATOSHI_SIGNATURE, GENERATOR_PUBLIC_KEY),
        (FIXED_SECRET, FIXED_DIGEST, FIXED_SIGNATURE, FIXED_PUBLIC_KEY),
    ],
)
def test_known_vectors(
    backend: CryptoBackend, secret: bytes, digest: bytes, signature: bytes, public_key: bytes
) -> None:
    assert backend.public_key(secret) == public_key
    assert backend.sign(secret, digest) == signature
    assert backend.recover(digest, signature) == public_key


def test_backend_names_and_cache() -> None:
    for name in BACKENDS:
        assert get_backend(name).name == name
        assert get_backend(name) is get_backend(name)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(CryptoError, match=r"unknown crypto backend 'openssl'.*coincurve, ecdsa"):
        get_backend("openssl")


def test_backend_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """$VAXCHAIN_CRYPTO is read once, when the default backend is first needed (at a node's start)."""
    try:
        monkeypatch.delenv("VAXCHAIN_CRYPTO", raising=False)
        crypto.reset_default_backend()
        assert get_backend().name == "coincurve"
        monkeypatch.setenv("VAXCHAIN_CRYPTO", "ecdsa")
        assert get_backend().name == "coincurve"  # resolved already: not read on every call
        crypto.reset_default_backend()
        assert get_backend().name == "ecdsa"
        assert crypto.sign(FIXED_SECRET, FIXED_DIGEST) == FIXED_SIGNATURE
        monkeypatch.setenv("VAXCHAIN_CRYPTO", "nope")
        crypto.reset_default_backend()
        with pytest.raises(CryptoError, match=r"VAXCHAIN_CRYPTO"):
            crypto.public_key(FIXED_SECRET)
    finally:
        monkeypatch.undo()
        crypto.reset_default_backend()


def test_module_functions() -> None:
    assert crypto.public_key(FIXED_SECRET) == FIXED_PUBLIC_KEY
    assert crypto.sign(FIXED_SECRET, FIXED_DIGEST) == FIXED_SIGNATURE
    assert crypto.recover_public_key(FIXED_DIGEST, FIXED_SIGNATURE) == FIXED_PUBLIC_KEY


def test_generate_secret() -> None:
    secrets_seen = {crypto.generate_secret() for _ in range(20)}
    assert len(secrets_seen) == 20
    for secret in secrets_seen:
        assert len(secret) == 32
        assert 0 < int.from_bytes(secret, "big") < SECP256K1_N


def test_is_low_s() -> None:
    assert crypto.is_low_s(FIXED_SIGNATURE)
    assert not crypto.is_low_s(high_s_twin(FIXED_SIGNATURE))
    assert not crypto.is_low_s(FIXED_SIGNATURE[:32] + bytes(33))  # s == 0
    assert not crypto.is_low_s(b"short")


# --- invalid inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [bytes(32), SECP256K1_N.to_bytes(32, "big"), b"\xff" * 32, b"\x01" * 31, b"\x01" * 33, b""],
    ids=["zero", "n", "above-n", "short", "long", "empty"],
)
def test_invalid_secrets_rejected(backend: CryptoBackend, secret: bytes) -> None:
    with pytest.raises(InvalidPrivateKey):
        backend.public_key(secret)
    with pytest.raises(InvalidPrivateKey):
        backend.sign(secret, FIXED_DIGEST)


@pytest.mark.parametrize("digest", [b"", bytes(31), bytes(33)])
def test_sign_needs_a_32_byte_digest(backend: CryptoBackend, digest: bytes) -> None:
    with pytest.raises(CryptoError):
        backend.sign(FIXED_SECRET, digest)


def _with(signature: bytes, *, r: int | None = None, s: int | None = None, v: int | None = None) -> bytes:
    r_bytes = signature[:32] if r is None else r.to_bytes(32, "big")
    s_bytes = signature[32:64] if s is None else s.to_bytes(32, "big")
    v_byte = signature[64:] if v is None else bytes([v])
    return r_bytes + s_bytes + v_byte


def _first_non_x_coordinate() -> int:
    """Smallest r for which no curve point has x == r (x^3 + 7 is not a square mod p)."""
    p = 2**256 - 2**32 - 977
    r = 1
    while pow(r**3 + 7, (p - 1) // 2, p) == 1:
        r += 1
    return r


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (_with(FIXED_SIGNATURE, r=0), "r out of range"),
        (_with(FIXED_SIGNATURE, r=SECP256K1_N), "r out of range"),
        (_with(FIXED_SIGNATURE, s=0), "s out of range"),
        (_with(FIXED_SIGNATURE, s=SECP256K1_N), "s out of range"),
        (high_s_twin(FIXED_SIGNATURE), "high-S"),
        (_with(FIXED_SIGNATURE, v=2), "v must be 0 or 1"),
        (_with(FIXED_SIGNATURE, v=27), "v must be 0 or 1"),
        (FIXED_SIGNATURE[:64], "must be 65 bytes"),
        (FIXED_SIGNATURE + b"\x00", "must be 65 bytes"),
        (_with(FIXED_SIGNATURE, r=_first_non_x_coordinate()), "does not recover"),
    ],
    ids=["r=0", "r=n", "s=0", "s=n", "high-s", "v=2", "v=27", "64-bytes", "66-bytes", "r-not-on-curve"],
)
def test_bad_signatures_rejected(backend: CryptoBackend, signature: bytes, reason: str) -> None:
    with pytest.raises(InvalidSignature) as caught:
        backend.recover(FIXED_DIGEST, signature)
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "digest",
    [bytes(32), b"\xff" * 32, SECP256K1_N.to_bytes(32, "big"), (SECP256K1_N - 1).to_bytes(32, "big")],
    ids=["zero", "all-ones", "n", "n-1"],
)
def test_edge_digests_agree(digest: bytes) -> None:
    """Digests >= n are reduced mod n by both backends; digest 0 is still signable."""
    signature = get_backend("coincurve").sign(FIXED_SECRET, digest)
    assert get_backend("ecdsa").sign(FIXED_SECRET, digest) == signature
    for name in BACKENDS:
        assert get_backend(name).recover(digest, signature) == FIXED_PUBLIC_KEY


def test_degenerate_recovery_agrees() -> None:
    """Digest 0 with r == s recovers R itself; python-ecdsa's two-candidate helper failed on this."""
    signature = crypto.encode_signature(1, 1, 0)
    recovered = {get_backend(name).recover(bytes(32), signature) for name in BACKENDS}
    assert len(recovered) == 1
    assert next(iter(recovered))[:32] == (1).to_bytes(32, "big")


def test_recover_needs_a_32_byte_digest(backend: CryptoBackend) -> None:
    with pytest.raises(InvalidSignature, match="message hash"):
        backend.recover(FIXED_DIGEST[:31], FIXED_SIGNATURE)


# --- properties -----------------------------------------------------------------------------------


@cross_backend
@given(secret=secrets, digest=digests)
def test_backends_agree_byte_for_byte(secret: bytes, digest: bytes) -> None:
    fast, reference = get_backend("coincurve"), get_backend("ecdsa")
    signature = fast.sign(secret, digest)
    assert reference.sign(secret, digest) == signature
    assert len(signature) == 65 and signature[64] in (0, 1)
    assert crypto.is_low_s(signature)
    public_key = fast.public_key(secret)
    assert reference.public_key(secret) == public_key
    assert reference.recover(digest, signature) == public_key
    assert fast.recover(digest, signature) == public_key


@cross_backend
@given(secret=secrets, digest=digests)
def test_high_s_twin_rejected_by_both(secret: bytes, digest: bytes) -> None:
    twin = high_s_twin(get_backend("coincurve").sign(secret, digest))
    for name in BACKENDS:
        with pytest.raises(InvalidSignature, match="high-S"):
            get_backend(name).recover(digest, twin)


@settings(max_examples=150, deadline=None)
@given(digest=st.binary(max_size=40), signature=st.binary(max_size=80))
def test_arbitrary_bytes_only_raise_invalid_signature(digest: bytes, signature: bytes) -> None:
    for name in BACKENDS:
        try:
            public_key = get_backend(name).recover(digest, signature)
        except InvalidSignature:
            continue
        assert len(public_key) == 64


@cross_backend
@given(
    digest=digests,
    r=st.integers(min_value=1, max_value=SECP256K1_N - 1),
    s=st.integers(min_value=1, max_value=SECP256K1_N // 2),
    v=st.sampled_from([0, 1]),
)
def test_well_formed_random_signatures_recover_alike(digest: bytes, r: int, s: int, v: int) -> None:
    """Random in-range (r, s, v) reach the curve arithmetic; both backends must give the same answer."""
    signature = crypto.encode_signature(r, s, v)
    outcomes: list[bytes | None] = []
    for name in BACKENDS:
        try:
            outcomes.append(get_backend(name).recover(digest, signature))
        except InvalidSignature:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1]
