"""The network lab: real hosts (network namespaces) on one machine, with WAN latency, loss, partitions and skew.

``scripts/netlab`` is its command line (``harness.netlab.cli``); ``harness.netlab.lab`` builds and drives a lab,
``harness.netlab.relay`` adds latency, ``harness.netlab.soak`` injects faults at random. Test infrastructure only.
"""
