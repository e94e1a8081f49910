"""Chaos test support: a set of 100 streams + 100 broadcasts as manifests, a fault-free view of
the simulated account (markers counted per key), and the CLI as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.lock.record import lock_record
from reconciler.model.marker import LOCK_KEY, decode_entity_data

API_KEY = "test-key-0123456789"  # the same key as tests/conftest.py
SET_NAME = "chaos"
N = 100
REPO = Path(__file__).resolve().parents[2]

Json = dict[str, Any]


def write_set(root: Path, n: int = N) -> Path:
    """n active streams and n pending broadcasts (broadcast i on stream i), 4 files, 2 folders."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "settings.yaml").write_text(f"kind: Settings\nname: {SET_NAME}\n")
    streams = [
        f"kind: Stream\nname: cam-{i:03d}\nspec:\n  active: true\n  dvr_enabled: {i % 2 == 0}\n"
        f"  client_user_id: {i}\n"
        for i in range(n)
    ]
    broadcasts = [
        f"kind: Broadcast\nname: show-{i:03d}\nspec:\n  status: pending\n  streams: [cam-{i:03d}]\n"
        f"  pending_message: Starting soon\n"
        for i in range(n)
    ]
    half = n // 2
    for folder, docs in (("streams", streams), ("broadcasts", broadcasts)):
        (root / folder).mkdir(exist_ok=True)
        (root / folder / "a.yaml").write_text("---\n".join(docs[:half]))
        (root / folder / "b.yaml").write_text("---\n".join(docs[half:]))
    return root


@dataclass(frozen=True)
class Census:
    """Who owns what in the account, from the markers (the lock stream excluded)."""

    stream_keys: Counter[str]  # manifest key -> number of streams carrying our marker for it
    broadcast_names: Counter[str]  # name -> broadcasts that use one of our streams
    recorded: Counter[str]  # broadcast key -> times it appears in our markers' `broadcasts`
    lock_streams: int  # held or expired: a lock no run released
    trails: int = 0  # released locks: the last apply's record, kept until the next take

    def duplicates(self) -> list[str]:
        return sorted(
            [f"stream {k} x{n}" for k, n in self.stream_keys.items() if n > 1]
            + [f"broadcast {k} x{n}" for k, n in self.broadcast_names.items() if n > 1]
        )


class Account:
    """Reads the simulator with every fault switched off, straight through its own handler."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.http = httpx.Client(
            base_url="http://chaos.invalid",
            transport=sim.transport(),
            headers={"Authorization": f"APIKey {API_KEY}"},
        )

    @contextmanager
    def calm(self) -> Iterator[None]:
        from reconciler.simulator import Faults

        saved = self.sim.faults()
        self.sim.set_faults(Faults())
        try:
            yield
        finally:
            self.sim.set_faults(saved)

    def objects(self, kind: str) -> list[Json]:
        out: list[Json] = []
        with self.calm():
            page = 1
            while True:
                got = self.http.get(f"/streaming/{kind}", params={"page": page})
                got.raise_for_status()
                items = got.json()
                if not items:
                    return out
                out.extend(items)
                page += 1

    def create(self, kind: str, body: Json) -> Json:
        with self.calm():
            got = self.http.post(f"/streaming/{kind}", json=body)
            got.raise_for_status()
            return dict(got.json())

    def census(self) -> Census:
        streams = self.objects("streams")
        ours: set[int] = set()
        keys: Counter[str] = Counter()
        recorded: Counter[str] = Counter()
        locks = trails = 0
        for stream in streams:
            raw = stream.get("client_entity_data")
            if raw and LOCK_KEY in str(raw):
                record = lock_record(stream)
                if record is not None and record.released:
                    trails += 1
                else:
                    locks += 1
                continue
            marker = decode_entity_data(raw).marker
            if marker is not None and marker.set_name == SET_NAME:
                ours.add(int(stream["id"]))
                keys[marker.key] += 1
                recorded.update(marker.broadcasts.keys())
        names: Counter[str] = Counter(
            str(b["name"]) for b in self.objects("broadcasts") if ours.intersection(b["stream_ids"])
        )
        return Census(keys, names, recorded, locks, trails)

    def snapshot(self, ids: Mapping[str, list[int]]) -> str:
        """The full JSON of the given objects, as one comparable text."""
        by_kind = {kind: {int(o["id"]): o for o in self.objects(kind)} for kind in ids}
        return json.dumps(
            {k: [by_kind[k].get(i) for i in v] for k, v in ids.items()}, sort_keys=True
        )

    def close(self) -> None:
        self.http.close()


def cli_env(base_url: str, **extra: str) -> dict[str, str]:
    """The environment of a CI runner pointed at the simulator: key, URL, no client-side limit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GCORE_", "RECONCILER_"))}
    env.update(GCORE_API_KEY=API_KEY, GCORE_BASE_URL=base_url, RECONCILER_RATE_LIMIT="0")
    env.update(extra)
    return env


def start_cli(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`python -m reconciler ARGS` as its own process (so it can be killed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        env=dict(env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
