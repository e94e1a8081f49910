"""The operator's view of the managed streams: live, backup, recording, active, region, and the
latest recordings with their processing state (the tutorial's steps 11 and 17-19).

`collect_status` and `render_status` are pure; `read_status` adds the reads. Never prints a push
URL or a token (only the region derived from the push URL host). Knows nothing of the planner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.api.protocol import StreamingAPI
from reconciler.errors import ReconcilerError
from reconciler.model.desired import DesiredState
from reconciler.model.live import LiveState, LiveStream, LiveVideo, read_live
from reconciler.model.ownership import ownership_of
from reconciler.render.inert import json_text, terminal_line

LATEST = 3  # recordings shown per stream
_PUSH_HOST = re.compile(r"^[a-z]+://vp-push-([a-z0-9]+)[.-]", re.IGNORECASE)


@dataclass(frozen=True)
class RecordingStatus:
    id: int
    name: str
    status: str  # empty | pending | viewable | ready | error
    duration_ms: int | None
    created_at: str | None


@dataclass(frozen=True)
class StreamStatus:
    key: str
    id: int | None  # None: declared but not (yet) in the account
    name: str
    live: bool = False
    backup_live: bool = False
    recording: bool = False
    active: bool = False
    region: str | None = None  # transcoding_region, else the region in the push URL host
    recordings: tuple[RecordingStatus, ...] = ()
    recordings_error: str | None = None  # why the recordings could not be read

    @property
    def exists(self) -> bool:
        return self.id is not None


def managed_streams(desired: DesiredState, live: LiveState) -> dict[str, LiveStream]:
    """Declared stream key -> its live object (by our marker, or by `adopt` before adoption)."""
    owned = ownership_of(live, desired.settings.set_name).owned
    found = {key: owned[key].stream for key in desired.streams if key in owned}
    by_id = live.stream_by_id
    for key, want in desired.streams.items():
        if key not in found and want.adopt_id is not None and want.adopt_id in by_id:
            found[key] = by_id[want.adopt_id]
    return found


def collect_status(
    desired: DesiredState,
    live: LiveState,
    videos_by_stream: Mapping[int, list[LiveVideo]],
    *,
    latest: int = LATEST,
    video_errors: Mapping[int, str] | None = None,
) -> list[StreamStatus]:
    """One row per stream declared in the manifests, in key order. `videos_by_stream` holds the
    videos of each managed stream id (a missing id = not read; `video_errors` says why)."""
    managed = managed_streams(desired, live)
    rows = []
    for key in sorted(desired.streams):
        stream = managed.get(key)
        if stream is None:
            name = str(desired.streams[key].fields.get("name") or key)
            rows.append(StreamStatus(key=key, id=None, name=name))
            continue
        stream_id = stream.id
        videos = videos_by_stream.get(stream_id)
        error = None
        if videos is None:
            error = (video_errors or {}).get(stream_id, "not read")
        rows.append(
            StreamStatus(
                key=key,
                id=stream_id,
                name=stream.name,
                live=stream.live,
                backup_live=stream.backup_live,
                recording=stream.recording,
                active=stream.active,
                region=region_of(stream.raw),
                recordings=latest_recordings(videos or [], stream_id, latest),
                recordings_error=error,
            )
        )
    return rows


def read_status(
    desired: DesiredState, api: StreamingAPI, *, latest: int = LATEST
) -> list[StreamStatus]:
    """Read the account (list sweeps) and the videos of each managed stream, then
    `collect_status`. A failed video read shows on that stream's row; a failed sweep raises."""
    live = read_live(api)
    videos: dict[int, list[LiveVideo]] = {}
    errors: dict[int, str] = {}
    for stream in managed_streams(desired, live).values():
        stream_id = stream.id
        try:
            videos[stream_id] = [LiveVideo.parse(v) for v in api.list_videos(stream_id=stream_id)]
        except ReconcilerError as exc:
            errors[stream_id] = str(exc)
    return collect_status(desired, live, videos, latest=latest, video_errors=errors)


def region_of(stream: Mapping[str, Any]) -> str | None:
    region = stream.get("transcoding_region")
    if isinstance(region, str) and region:
        return region
    match = _PUSH_HOST.match(str(stream.get("push_url") or ""))
    return match.group(1) if match else None


def latest_recordings(
    videos: Iterable[LiveVideo], stream_id: int, latest: int = LATEST
) -> tuple[RecordingStatus, ...]:
    """The newest `latest` videos recorded from `stream_id`, newest first."""
    own = [(v.id, v) for v in videos if v.stream_id == stream_id and v.id is not None]
    own.sort(key=lambda pair: (str(pair[1].get("created_at") or ""), pair[0]), reverse=True)
    return tuple(
        RecordingStatus(
            id=video_id,
            name=v.name,
            status=str(v.get("status") or "unknown"),
            duration_ms=v.get("duration") if isinstance(v.get("duration"), int) else None,
            created_at=v.get("created_at") if isinstance(v.get("created_at"), str) else None,
        )
        for video_id, v in own[:latest]
    )


# --- rendering ----------------------------------------------------------------------------------


def render_status(rows: Iterable[StreamStatus], fmt: str = "text") -> str:
    """`text`: an aligned table with the recordings under each stream; `json`:
    `{"streams": [{key, id, name, exists, live, backup_live, recording, active, region,
    recordings: [{id, name, status, duration_ms, created_at}], recordings_error}]}`."""
    rows = list(rows)
    if fmt == "json":
        return json_text({"streams": [_json_row(r) for r in rows]})
    if fmt != "text":
        raise ValueError(f"unknown status format {fmt!r}")
    return _text(rows)


def _json_row(row: StreamStatus) -> dict[str, Any]:
    value = asdict(row)
    value["exists"] = row.exists
    return value


def _text(rows: list[StreamStatus]) -> str:
    if not rows:
        return "No streams declared in the manifests.\n"
    header = ("STREAM", "ID", "LIVE", "BACKUP", "RECORDING", "ACTIVE", "REGION")
    table: list[tuple[str, ...]] = [header]
    for row in rows:
        if not row.exists:
            table.append((row.key, "-", "-", "-", "-", "-", "-"))
            continue
        table.append(
            (
                row.key,
                str(row.id),
                _yes(row.live),
                _yes(row.backup_live),
                _yes(row.recording),
                _yes(row.active),
                row.region or "-",
            )
        )
    # Values come from the account: each made inert (and redacted) before it is measured.
    table = [tuple(terminal_line(cell) for cell in line) for line in table]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for index, line in enumerate(table):
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            continue
        lines += _recording_lines(rows[index - 1])
    live = sum(1 for r in rows if r.live or r.backup_live)
    lines.append(f"{len(rows)} stream(s), {live} live, {sum(r.recording for r in rows)} recording.")
    return "\n".join(lines) + "\n"


def _recording_lines(row: StreamStatus) -> list[str]:
    if not row.exists:
        return ["    not in the account (declared; the next apply creates it)"]
    if row.recordings_error is not None:
        return [f"    recordings: could not be read ({terminal_line(row.recordings_error)})"]
    if not row.recordings:
        return ["    recordings: none"]
    lines = ["    recordings (latest first):"]
    for rec in row.recordings:
        lines.append(
            f"      {rec.id}  {terminal_line(rec.status):<8}  {_duration(rec.duration_ms):>8}  "
            f"{terminal_line(rec.name)}"
        )
    return lines


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
