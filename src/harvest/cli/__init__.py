"""The `harvest` command line."""
