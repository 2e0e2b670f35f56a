"""node/mempool."""
