"""The one crypto module of vaxchain: secp256k1 signatures (two backends), keys and keccak addresses, and the signed
formats any party checks offline with them (the school-entry credential and its revocation list:
`vaxcrypto.credential`, `vaxcrypto.classlist`).

It sits at the bottom of the folders so the node, the explorer's verifiers, the RPC client and the registry share it
instead of each importing a crypto library (docs/adr/0002-crypto-backends.md); the registry signs credentials with
it, and the CLI and the explorer's /verify page check them with the very same code.
"""
