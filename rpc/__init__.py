"""rpc: generic JSON-RPC 2.0 over HTTP and WebSocket (server, registry, subscriptions, client)."""
