"""SQLite persistence of the simulator: one table per kind holding the private state and the
rendered API object as JSON text, so list pages are served without re-serialising anything.

Knows nothing about HTTP, validation or the platform's rules; callers hold the simulator's lock.
"""

from __future__ import annotations

import bisect
import json
import sqlite3
from typing import Any

Json = dict[str, Any]

KINDS = ("streams", "broadcasts", "videos")
# Distinct id ranges per kind, so a client that mixes up a stream id and a broadcast id gets 404s.
FIRST_IDS = {"streams": 1_000_001, "broadcasts": 5_000_001, "videos": 8_000_001}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (id INTEGER PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS broadcasts (id INTEGER PRIMARY KEY, state TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (id INTEGER PRIMARY KEY, state TEXT NOT NULL, body TEXT NOT NULL,
    stream_id INTEGER, client_user_id INTEGER, status TEXT);
CREATE INDEX IF NOT EXISTS videos_stream ON videos (stream_id);
CREATE INDEX IF NOT EXISTS videos_status ON videos (status);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: str | None) -> None:
        """Open (or create) the state; ValueError with the file name when it cannot."""
        # Indexes SQLite has no cheap answer for, read from the tables once and kept in step by
        # every put and delete: the ids of each kind in ascending order (page N starts at the id
        # of rank (N-1)*size, not after walking the rows before it) and the ids of the active
        # streams (the quota is their count, not a scan).
        self._ids: dict[str, list[int]] = {}
        self._active: set[int] = set()
        self._written = False  # since the last commit: a rollback must re-read the indexes
        try:
            self._db = sqlite3.connect(path or ":memory:", check_same_thread=False)
            self._db.executescript(_SCHEMA)
            if path:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.commit()
            self._read_indexes()
        except sqlite3.Error as err:
            raise ValueError(f"cannot open simulator state {path}: {err}") from None

    def close(self) -> None:
        self._db.close()

    def commit(self) -> None:
        self._db.commit()
        self._written = False

    def rollback(self) -> None:
        self._db.rollback()
        if self._written:  # the indexes hold what was just undone
            self._read_indexes()
        self._written = False

    # --- ids and metadata -------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        key = f"next_id:{kind}"
        current = self.get_meta(key)
        value = int(current) if current is not None else FIRST_IDS[kind]
        self.set_meta(key, str(value + 1))
        return value

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- objects ------------------------------------------------------------------------------
    def get_state(self, kind: str, obj_id: int) -> Json | None:
        row = self._db.execute(f"SELECT state FROM {kind} WHERE id = ?", (obj_id,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def get_body(self, kind: str, obj_id: int) -> str | None:
        row = self._db.execute(f"SELECT body FROM {kind} WHERE id = ?", (obj_id,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, kind: str, obj_id: int, state: Json, body: Json) -> str:
        """Store state and rendered body; returns the body's JSON text."""
        text = json.dumps(body, separators=(",", ":"))
        state_text = json.dumps(state, separators=(",", ":"))
        if kind == "videos":
            self._db.execute(
                "INSERT OR REPLACE INTO videos (id, state, body, stream_id, client_user_id, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (obj_id, state_text, text, body.get("stream_id"), body.get("client_user_id"),
                 body.get("status")),
            )  # fmt: skip
        elif kind == "streams":
            self._db.execute(
                "INSERT OR REPLACE INTO streams (id, state, body, active) VALUES (?, ?, ?, ?)",
                (obj_id, state_text, text, 1 if body.get("active") else 0),
            )
        else:
            self._db.execute(
                f"INSERT OR REPLACE INTO {kind} (id, state, body) VALUES (?, ?, ?)",
                (obj_id, state_text, text),
            )
        self._index(kind, obj_id, active=bool(body.get("active")))
        return text

    def delete(self, kind: str, obj_id: int) -> bool:
        cursor = self._db.execute(f"DELETE FROM {kind} WHERE id = ?", (obj_id,))
        if cursor.rowcount > 0:
            self._written = True
            ids = self._ids[kind]
            del ids[bisect.bisect_left(ids, obj_id)]
            if kind == "streams":
                self._active.discard(obj_id)
        return cursor.rowcount > 0

    def exists(self, kind: str, obj_id: int) -> bool:
        row = self._db.execute(f"SELECT 1 FROM {kind} WHERE id = ?", (obj_id,)).fetchone()
        return row is not None

    def page(self, kind: str, page: int, size: int, where: Json | None = None) -> list[str]:
        """Bodies of one 1-based page in id order, optionally filtered by indexed video columns."""
        clauses, params = _where(where or {})
        if clauses:  # a filtered video list: SQLite walks the skipped matches (few, in practice)
            sql = f"SELECT body FROM {kind}{clauses} ORDER BY id LIMIT ? OFFSET ?"
            rows = self._db.execute(sql, (*params, size, (page - 1) * size)).fetchall()
            return [str(r[0]) for r in rows]
        ids, start = self._ids[kind], (page - 1) * size
        if start >= len(ids):
            return []
        sql = f"SELECT body FROM {kind} WHERE id >= ? ORDER BY id LIMIT ?"
        return [str(r[0]) for r in self._db.execute(sql, (ids[start], size)).fetchall()]

    def all_states(self, kind: str, where: Json | None = None) -> list[Json]:
        clauses, params = _where(where or {})
        rows = self._db.execute(f"SELECT state FROM {kind}{clauses} ORDER BY id", params)
        return [dict(json.loads(r[0])) for r in rows.fetchall()]

    def count(self, kind: str) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM {kind}").fetchone()[0])

    def count_active_streams(self) -> int:
        return len(self._active)

    def clear(self) -> None:
        for kind in KINDS:
            self._db.execute(f"DELETE FROM {kind}")
        self._db.execute("DELETE FROM meta")
        self._db.commit()
        self._read_indexes()
        self._written = False

    # --- the in-memory indexes ----------------------------------------------------------------
    def _read_indexes(self) -> None:
        for kind in KINDS:
            rows = self._db.execute(f"SELECT id FROM {kind} ORDER BY id").fetchall()
            self._ids[kind] = [int(r[0]) for r in rows]
        rows = self._db.execute("SELECT id FROM streams WHERE active = 1").fetchall()
        self._active = {int(r[0]) for r in rows}

    def _index(self, kind: str, obj_id: int, *, active: bool) -> None:
        """After a put: a new id takes its place in its kind's order; a stream's activity."""
        self._written = True
        ids = self._ids[kind]
        if not ids or obj_id > ids[-1]:
            ids.append(obj_id)  # the usual case: ids only grow
        else:
            at = bisect.bisect_left(ids, obj_id)
            if at == len(ids) or ids[at] != obj_id:
                ids.insert(at, obj_id)
        if kind == "streams":
            if active:
                self._active.add(obj_id)
            else:
                self._active.discard(obj_id)


def _where(filters: Json) -> tuple[str, tuple[Any, ...]]:
    allowed = ("stream_id", "client_user_id", "status")
    parts = [f"{k} = ?" for k in filters if k in allowed]
    params = tuple(filters[k] for k in filters if k in allowed)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params
