"""node/chain."""
