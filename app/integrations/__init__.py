"""Async clients of outside services, one module per service."""
