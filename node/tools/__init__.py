"""Developer tools still in node: the block import benchmark and minimal dev genesis documents.

The other harnesses (simulator, district generator, load driver, network benchmark) are in ``harness``.
"""
