"""The platform's rules for streams, broadcasts and videos: CRUD, the active-stream quota, links
between streams and broadcasts, encoders going live, recordings becoming videos, video processing.

Works on the `Store` under the caller's lock and queues webhook events; knows nothing about HTTP.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from reconciler.simulator import render as r
from reconciler.simulator.clock import SimClock, iso, record_title_time
from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.store import Store
from reconciler.simulator.validate import (
    BROADCAST_DEFAULTS,
    BROADCAST_FIELDS,
    STREAM_DEFAULTS,
    STREAM_FIELDS,
    clean,
    unwrap,
)

Json = dict[str, Any]


RECORDING_SEGMENT = 4 * 3600.0  # long recordings are cut into 4-hour videos (spec)
RECORDING_GRACE = 10.0  # seconds the recorder waits for a dropped source (spec: start_recording)


class ApiError(Exception):
    """An API answer other than success: status and the JSON body to send."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def not_found(kind: str, obj_id: object) -> ApiError:
    return ApiError(404, {"status": 404, "error": f"Not Found: {kind} {obj_id} does not exist"})


def invalid(errors: dict[str, list[str]]) -> ApiError:
    return ApiError(422, {"errors": errors})


class Platform:
    def __init__(self, store: Store, clock: SimClock, config: SimulatorConfig) -> None:
        self.store, self.clock, self.config = store, clock, config
        self.events: list[Json] = []  # webhook payloads queued by the current operation

    # --- helpers ------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.clock.timestamp()

    def _stream(self, sid: int) -> Json:
        state = self.store.get_state("streams", sid)
        if state is None:
            raise not_found("stream", sid)
        return state

    def _save_stream(self, state: Json) -> str:
        body = r.render_stream(state, self.config.client_id, self._now())
        return self.store.put("streams", state["id"], state, body)

    def _save_broadcast(self, state: Json) -> str:
        return self.store.put("broadcasts", state["id"], state, r.render_broadcast(state))

    def _check_quota(self, turning_on: int) -> None:
        limit = self.config.active_stream_limit
        if turning_on and self.store.count_active_streams() + turning_on > limit:
            raise invalid({"active": [f"limit of concurrently active streams reached ({limit})"]})

    def _missing(self, kind: str, ids: list[int]) -> list[int]:
        return [i for i in ids if not self.store.exists(kind, i)]

    # --- streams ------------------------------------------------------------------------------
    def create_stream(self, body: Json) -> str:
        fields = _fields(body, "stream", STREAM_FIELDS, ("name",))
        missing = self._missing("broadcasts", fields.get("broadcast_ids", []))
        if missing:
            raise invalid({"broadcast_ids": [f"unknown broadcast id(s): {missing}"]})
        self._check_quota(1 if fields.get("active") else 0)
        now = self._now()
        state: Json = {**STREAM_DEFAULTS, "transcoding_region": None, **fields}
        state.update(
            id=self.store.next_id("streams"),
            token=secrets.token_hex(16),
            created_at=now,
            live=False,
            backup_live=False,
            encoder_primary=False,
            encoder_backup=False,
            source_type="rtmp",
            ever_live=False,
            recording=False,
            recording_started_at=None,
            started_at_primary=None,
            started_at_backup=None,
            finished_at_primary=None,
        )
        state["broadcast_ids"] = []
        self._link_stream(state, fields.get("broadcast_ids", []))
        return self._save_stream(state)

    def get_stream(self, sid: int) -> str:
        text = self.store.get_body("streams", sid)
        if text is None:
            raise not_found("stream", sid)
        return text

    def update_stream(self, sid: int, body: Json) -> str:
        state = self._stream(sid)
        fields = _fields(body, "stream", STREAM_FIELDS, ())
        if "broadcast_ids" in fields:
            missing = self._missing("broadcasts", fields["broadcast_ids"])
            if missing:
                raise invalid({"broadcast_ids": [f"unknown broadcast id(s): {missing}"]})
        if fields.get("active") and not state["active"]:
            self._check_quota(1)
        if "broadcast_ids" in fields:
            self._link_stream(state, fields.pop("broadcast_ids"))
        state.update(fields)
        self._refresh_live(state)
        return self._save_stream(state)

    def delete_stream(self, sid: int) -> None:
        state = self._stream(sid)
        state["active"] = False
        self._refresh_live(state)  # a live stream drops; its recording becomes a video
        for bid in state["broadcast_ids"]:
            broadcast = self.store.get_state("broadcasts", bid)
            if broadcast is not None:
                broadcast["stream_ids"] = [i for i in broadcast["stream_ids"] if i != sid]
                self._save_broadcast(broadcast)
        self.store.delete("streams", sid)

    def _link_stream(self, state: Json, wanted: list[int]) -> None:
        """Set a stream's broadcast_ids and mirror them into the broadcasts' stream_ids."""
        sid, old = state["id"], set(state["broadcast_ids"])
        for bid in set(wanted) ^ old:
            broadcast = self.store.get_state("broadcasts", bid)
            if broadcast is None:
                continue
            ids = [i for i in broadcast["stream_ids"] if i != sid]
            broadcast["stream_ids"] = [*ids, sid] if bid in wanted else ids
            self._save_broadcast(broadcast)
        state["broadcast_ids"] = list(wanted)

    # --- encoders and recording ---------------------------------------------------------------
    def connect(self, sid: int, backup: bool) -> str:
        state = self._stream(sid)
        state["encoder_backup" if backup else "encoder_primary"] = True
        self._refresh_live(state)
        return self._save_stream(state)

    def disconnect(self, sid: int, backup: bool) -> str:
        state = self._stream(sid)
        state["encoder_backup" if backup else "encoder_primary"] = False
        self._refresh_live(state)
        return self._save_stream(state)

    def interrupt(self, sid: int, seconds: float, backup: bool) -> str:
        """A brief drop of a connected encoder, then it reconnects after `seconds` (simulated).

        As the spec says, the recorder waits RECORDING_GRACE seconds for the source to return:
        a shorter drop keeps recording into the same file, a longer one closes the video.
        """
        state = self._stream(sid)
        key = "encoder_backup" if backup else "encoder_primary"
        if not state[key]:
            raise invalid({"stream": ["no encoder is connected to this ingest"]})
        state[key] = False
        self._refresh_live(state, hold_recording=seconds <= RECORDING_GRACE)
        self._save_stream(state)
        self.clock.advance(seconds)
        state[key] = True
        self._refresh_live(state)
        self.tick()
        return self._save_stream(state)

    def _refresh_live(self, state: Json, *, hold_recording: bool = False) -> None:
        """Derive live/backup_live from active + encoders; emit webhooks, drive recordings."""
        now = self._now()
        pushing = state["active"] and not state["pull"]
        live = bool(pushing and state["encoder_primary"])
        backup = bool(pushing and state["encoder_backup"])
        was_on = state["live"] or state["backup_live"]
        changed = (live, backup) != (state["live"], state["backup_live"])
        if live != state["live"]:
            state["live"] = live
            state["started_at_primary" if live else "finished_at_primary"] = now
        if backup != state["backup_live"]:
            state["backup_live"] = backup
            if backup:
                state["started_at_backup"] = now
        is_on = live or backup
        if is_on and not was_on:
            state["ever_live"] = True
            self.events.append(r.stream_event(state, transcoding=False))  # ingest started
            self.events.append(r.stream_event(state, transcoding=True))  # playback ready
            if state["auto_record"] and not state["recording"]:
                self._begin_recording(state)
        elif was_on and not is_on:
            if state["recording"] and not hold_recording:
                self._finish_recording(state)  # the source dropped: the file is closed
            self.events.append(r.stream_event(state))
        elif changed:  # one ingest of two came or went
            self.events.append(r.stream_event(state))

    def _begin_recording(self, state: Json) -> None:
        state["recording"] = True
        state["recording_started_at"] = self._now()
        self.events.append(r.stream_event(state))

    def _finish_recording(self, state: Json, end: float | None = None) -> str:
        """Close the current recording file (at `end`, default now) into a pending video."""
        now = self._now() if end is None else end
        started = state["recording_started_at"]
        state["recording"] = False
        state["recording_started_at"] = None
        duration_ms = max(1, round((now - started) * 1000))
        video: Json = {
            "id": self.store.next_id("videos"),
            "name": f"Stream Record: {state['name']}, {record_title_time(now)}",
            "slug": "".join(secrets.choice(_SLUG_CHARS) for _ in range(16)),
            "status": "pending",
            "duration": duration_ms,
            "size": duration_ms * 500,  # ~4 Mbit/s
            "stream_id": state["id"],
            "client_user_id": state["client_user_id"],
            "recording_started_at": started,
            "record_type": state["record_type"],
            "projection": state["projection"],
            "created_at": now,
            "updated_at": now,
            "viewable_at": now + self.config.video_viewable_after,
            "ready_at": now + self.config.video_ready_after,
        }
        self.events.append(r.stream_event(state))  # recording: false
        return self._save_video(video)

    def _save_video(self, video: Json) -> str:
        body = r.render_video(video, self.config.client_id)
        self.events.append(r.video_event(body))
        return self.store.put("videos", video["id"], video, body)

    def start_recording(self, sid: int) -> None:
        state = self._stream(sid)
        if not (state["live"] or state["backup_live"]):
            raise invalid({"base": ["Stream is not live: recording starts only on a live stream"]})
        if not state["recording"]:
            self._begin_recording(state)
            self._save_stream(state)

    def stop_recording(self, sid: int) -> str | None:
        state = self._stream(sid)
        if not state["recording"]:
            return None
        video = self._finish_recording(state)
        self._save_stream(state)
        return video

    def dvr_cleanup(self, sid: int) -> None:
        self._stream(sid)

    def reset_push_token(self, sid: int) -> str:
        state = self._stream(sid)
        state["token"] = secrets.token_hex(16)
        state["encoder_primary"] = state["encoder_backup"] = False  # ingest is terminated
        self._refresh_live(state)
        return self._save_stream(state)

    # --- broadcasts ---------------------------------------------------------------------------
    def create_broadcast(self, body: Json) -> str:
        fields = _fields(body, "broadcast", BROADCAST_FIELDS, ("name", "status"))
        missing = self._missing("streams", fields.get("stream_ids", []))
        if missing:
            raise invalid({"stream_ids": [f"unknown stream id(s): {missing}"]})
        state: Json = {**BROADCAST_DEFAULTS, **fields, "id": self.store.next_id("broadcasts")}
        state["stream_ids"] = []
        self._link_broadcast(state, fields.get("stream_ids", []))
        return self._save_broadcast(state)

    def get_broadcast(self, bid: int) -> str:
        text = self.store.get_body("broadcasts", bid)
        if text is None:
            raise not_found("broadcast", bid)
        return text

    def update_broadcast(self, bid: int, body: Json) -> str:
        state = self.store.get_state("broadcasts", bid)
        if state is None:
            raise not_found("broadcast", bid)
        fields = _fields(body, "broadcast", BROADCAST_FIELDS, ())
        if "stream_ids" in fields:
            missing = self._missing("streams", fields["stream_ids"])
            if missing:
                raise invalid({"stream_ids": [f"unknown stream id(s): {missing}"]})
            self._link_broadcast(state, fields.pop("stream_ids"))
        old_status = state["status"]
        state.update(fields)
        if state["status"] != old_status:
            self.events.append(r.broadcast_event(state))
        return self._save_broadcast(state)

    def delete_broadcast(self, bid: int) -> None:
        state = self.store.get_state("broadcasts", bid)
        if state is None:
            raise not_found("broadcast", bid)
        self._link_broadcast(state, [])
        self.store.delete("broadcasts", bid)

    def _link_broadcast(self, state: Json, wanted: list[int]) -> None:
        bid, old = state["id"], set(state["stream_ids"])
        for sid in set(wanted) ^ old:
            stream = self.store.get_state("streams", sid)
            if stream is None:
                continue
            ids = [i for i in stream["broadcast_ids"] if i != bid]
            stream["broadcast_ids"] = [*ids, bid] if sid in wanted else ids
            self._save_stream(stream)
        state["stream_ids"] = list(wanted)

    # --- videos and time ----------------------------------------------------------------------
    def get_video(self, vid: int) -> str:
        text = self.store.get_body("videos", vid)
        if text is None:
            raise not_found("video", vid)
        return text

    def delete_video(self, vid: int) -> None:
        video = self.store.get_state("videos", vid)
        if video is None:
            raise not_found("video", vid)
        self.store.delete("videos", vid)
        body = r.render_video(video, self.config.client_id)
        event = r.video_event(body, "video_delete")
        event["message"]["video"]["deleted_at"] = iso(self._now())
        self.events.append(event)

    def tick(self) -> None:
        """Move due videos through pending -> viewable -> ready (simulated time)."""
        now = self._now()
        for status in ("pending", "viewable"):
            for video in self.store.all_states("videos", {"status": status}):
                new = "ready" if now >= video["ready_at"] else None
                if new is None and status == "pending" and now >= video["viewable_at"]:
                    new = "viewable"
                if new is not None:
                    if new == "ready" and status == "pending":  # both steps are reported
                        video["status"] = "viewable"
                        self._save_video(video)
                    video["status"], video["updated_at"] = new, now
                    self._save_video(video)

    def refresh_recordings(self) -> None:
        """After the clock moved: cut long recordings into RECORDING_SEGMENT videos, as the
        platform does, and re-render recording streams so `recording_duration` follows."""
        now = self._now()
        for state in self.store.all_states("streams"):
            if not state["recording"]:
                continue
            while now - state["recording_started_at"] >= RECORDING_SEGMENT:
                end = state["recording_started_at"] + RECORDING_SEGMENT
                self._finish_recording(state, end)
                state["recording"], state["recording_started_at"] = True, end  # the next file
                self.events.append(r.stream_event(state))
            self._save_stream(state)


_SLUG_CHARS = string.ascii_letters + string.digits


def _fields(body: Json, wrapper: str, fields: Any, required: tuple[str, ...]) -> Json:
    inner = unwrap(body, wrapper)
    if inner is None:
        raise invalid({wrapper: ["must be an object"]})
    values, errors = clean(inner, fields, required)
    if errors:
        raise invalid(errors)
    return values
