"""Workarounds for py-libp2p 0.8.1 defects, one module each; every docstring names the defect (library file and
function) and its upstream issue or PR, or says that none exists.
"""
