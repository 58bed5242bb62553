"""Query functions grouped by aggregate; services call these instead of building queries themselves."""
