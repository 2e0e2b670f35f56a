"""node/core."""
