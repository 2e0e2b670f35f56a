"""The one crypto module of vaxchain: secp256k1 signatures (two backends), keys and keccak addresses.

It sits at the bottom of the folders so the node, the explorer's verifier, the RPC client and the registry share it
instead of each importing a crypto library (docs/adr/0002-crypto-backends.md).
"""
