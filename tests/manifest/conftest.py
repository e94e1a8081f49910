"""Fixtures of the manifest tests (defined in manifest_support)."""

from manifest_support import errors, workdir, write

__all__ = ["errors", "workdir", "write"]
