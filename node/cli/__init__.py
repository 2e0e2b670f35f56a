"""node/cli."""
