"""Test and load harnesses, kept out of the node: nothing in node, consensus, contracts, rpc or explorer imports them.

`harness.simulation` drives several consensus machines over a simulated network (`harness.fake_crypto` signs
for it); `harness.district` generates a seeded sample district and a day of its activity; `harness.make_genesis`
writes the repository's genesis files from that district; `harness.district_load` replays a day against a
running node; `harness.bench_network` benchmarks a network of real node processes. The layers contract in
pyproject.toml (harness above node) keeps production code from importing any of them.
"""
