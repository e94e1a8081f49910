"""Load-time benchmark of the manifest loader (not a test): `python tests/manifest/bench_load.py`.

Writes N streams + N broadcasts (default 10,000 each, in 20 files) to a temporary directory and
prints the CPU and wall time of `load_manifests` over it, best of three.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from reconciler.manifest import load_manifests
from reconciler.manifest.yamlload import Loader

STREAM = """---
kind: Stream
name: s-{i}
policy: {{protect: false}}
spec:
  name: Stream {i}
  active: true
  transcoding_region: ix1
  dvr_enabled: true
  dvr_duration: 3600
  client_user_id: {i}
  client_entity_data: {{team: t{team}}}
  recording: false
"""
BROADCAST = """---
kind: Broadcast
name: b-{i}
spec:
  name: Broadcast {i}
  status: pending
  streams: [s-{i}]
  pending_message: Please wait ...
  show_dvr_after_finish: false
"""


def write_set(root: Path, n: int, files: int = 10) -> None:
    (root / "settings.yaml").write_text("kind: Settings\nname: bench\n")
    per_file = max(1, n // files)
    for start in range(0, n, per_file):
        ids = range(start, min(n, start + per_file))
        (root / f"streams-{start:06d}.yaml").write_text(
            "".join(STREAM.format(i=i, team=i % 7) for i in ids)
        )
        (root / f"broadcasts-{start:06d}.yaml").write_text(
            "".join(BROADCAST.format(i=i) for i in ids)
        )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        write_set(Path(tmp), n)
        best_cpu = best_wall = float("inf")
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            state = load_manifests([tmp], environ={})
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
        docs = len(state.streams) + len(state.broadcasts)
        print(
            f"{docs} documents ({len(state.streams)} streams, {len(state.broadcasts)} broadcasts) "
            f"with {Loader.__name__}: {best_cpu:.2f} s CPU, {best_wall:.2f} s wall (best of 3)"
        )


if __name__ == "__main__":
    main()
