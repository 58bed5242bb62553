"""Persistence: Tortoise models, migrations and repositories (the only code that queries the database)."""
