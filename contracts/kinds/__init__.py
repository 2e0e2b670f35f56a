"""Built-in transaction kinds: one module per area, each a payload dataclass plus validate_*/apply_*."""
