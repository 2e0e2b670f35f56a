"""Fixtures for tests/rpc (helpers live in rpc_testkit, a unique module name)."""

from rpc_testkit import srv, start_server, thread_server

__all__ = ["srv", "start_server", "thread_server"]
