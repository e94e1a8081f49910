"""The command line: parse, call the library, render, exit code. With the simulator's own
`serve`, the only importer of click (the import contracts in pyproject.toml)."""

import gc
import sys

# httpx imports its own command line (rich, pygments: ~70 ms of every start) whenever those are
# installed, and no command uses it: while the client loads, a None entry makes that optional
# import fail as it does when they are not installed.
_HTTPX_CLI = "httpx._main"
_skip_httpx_cli = _HTTPX_CLI not in sys.modules
if _skip_httpx_cli:
    sys.modules[_HTTPX_CLI] = None  # type: ignore[assignment]
# What importing creates (classes, schemas) lives to the end: no cyclic collection meanwhile.
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    from reconciler.cli.commands import main
finally:
    if _gc_was_enabled:
        gc.enable()
    if _skip_httpx_cli and sys.modules.get(_HTTPX_CLI, ...) is None:
        del sys.modules[_HTTPX_CLI]

__all__ = ["main"]
