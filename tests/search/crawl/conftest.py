"""The integration clients' runtime, as the integration tests build it (127.0.0.1 allow-listed)."""

from __future__ import annotations

from tests.integrations.conftest import runtime

__all__ = ["runtime"]
