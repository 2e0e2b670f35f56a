"""node/producer."""
