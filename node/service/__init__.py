"""The trio service that wires the node together."""
