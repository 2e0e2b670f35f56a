"""Sans-IO Tendermint BFT consensus over opaque block ids (see docs/adr/0004-bft-consensus.md)."""
