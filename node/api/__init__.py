"""node/api."""
