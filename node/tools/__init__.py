"""Developer tools behind scripts/: benchmarks, load generators, dev genesis files."""
