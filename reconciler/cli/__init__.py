"""The command line: parse, call the library, render, exit code. With the simulator's own
`serve`, the only importer of click (the import contracts in pyproject.toml)."""

from reconciler.cli.commands import main

__all__ = ["main"]
