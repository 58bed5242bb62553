"""The `adjutant` command line."""
