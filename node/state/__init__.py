"""node/state."""
