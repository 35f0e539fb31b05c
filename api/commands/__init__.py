"""Subcommands of the yuejuan CLI."""
