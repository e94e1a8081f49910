"""The manifests as a checkout kept fresh by something else (git-sync, a cron `git pull`):
notice a change by the files' sizes and mtimes, reload, and keep the last good desired state
when a checkout fails validation (a broken commit never prunes anything). Knows no HTTP."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ManifestError, ReconcilerError
from reconciler.model.desired import DesiredState
from reconciler.pipeline import RunOptions, load_desired

log = logging.getLogger("reconciler.watch")

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Loaded:
    desired: DesiredState | None  # the last good state (None until one loaded)
    error: str | None  # why the current checkout is not in force, or None
    changed: bool  # a new good state replaced the previous one


class ManifestSource:
    def __init__(self, paths: Sequence[str], options: RunOptions) -> None:
        self.paths = list(paths)
        self.options = options
        self.desired: DesiredState | None = None
        self.error: str | None = None
        self.failures = 0  # checkouts that failed validation, since the start
        self._seen: Fingerprint | None = None

    def fingerprint(self) -> Fingerprint:
        """Every file under the paths with its size and mtime (a git checkout rewrites them)."""
        found: list[tuple[str, int, int]] = []
        for path in self.paths:
            root = Path(path)
            files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
            for file in files:
                try:
                    stat = file.stat()
                except OSError:
                    continue  # removed while listing: the next poll sees the new tree
                found.append((os.fspath(file), stat.st_size, stat.st_mtime_ns))
        return tuple(found)

    def poll(self, *, force: bool = False) -> Loaded:
        """Reload when the files changed since the last poll (or `force`, on SIGHUP)."""
        current = self.fingerprint()
        if not force and current == self._seen:
            return Loaded(self.desired, self.error, changed=False)
        self._seen = current
        try:
            desired = load_desired(self.paths, self.options)
        except ManifestError as error:
            return self._failed("; ".join(str(p) for p in error.problems), len(error.problems))
        except ReconcilerError as error:
            return self._failed(str(error), 1)
        changed = desired != self.desired
        self.desired, self.error = desired, None
        if changed:
            log.info(
                "manifests loaded: %d streams, %d broadcasts",
                len(desired.streams),
                len(desired.broadcasts),
            )
        return Loaded(desired, None, changed=changed)

    def _failed(self, why: str, count: int) -> Loaded:
        self.failures += 1
        self.error = why
        kept = "the last good manifests stay in force" if self.desired else "nothing is applied"
        log.error("manifests invalid (%d problem%s), %s: %s", count, "s"[: count != 1], kept, why)
        return Loaded(self.desired, why, changed=False)
