"""HTTP/WebSocket adapters: parse and validate, call a service, answer with an envelope. No business logic."""
