"""The command line: parse, call the library, render, exit code. The only importer of click."""

from reconciler.cli.commands import main

__all__ = ["main"]
