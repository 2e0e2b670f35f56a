"""vaxchain contracts: built-in transaction kinds and their rules (pure Python, no node imports).

Entry points: `contracts.registry` (REGISTRY, BY_NAME, decode_payload, encode_payload, execute),
`contracts.interfaces` (State, ReadState, Context, Event), `contracts.params`, `contracts.genesis`,
`contracts.queries`.
"""
