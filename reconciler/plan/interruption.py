"""Whether a broadcast's own time on air was interrupted (invariant 6). The evidence is what our
stream marker records when we set a broadcast live (`Marker.live_after`: the stream's last ingest
event then, marked when the stream was on air at that moment) against the stream now:
interrupted = the stream is down now, and it was on air when the broadcast went live or had an
ingest event since. The platform's timestamps have whole seconds: a drop in the second the record
was taken is seen through the mark, not through the timestamps.

Pure; knows nothing of the API client, guards or output.
"""

from __future__ import annotations

from reconciler.model.live import LiveStream, platform_time

INGEST_EVENTS = ("started_at_primary", "started_at_backup", "finished_at_primary")
ON_AIR_MARK = " on air"  # suffix of a record taken while the stream was on air


def evidence_record(stream: LiveStream | None) -> str:
    """What the marker records when a broadcast goes live on `stream`: its last ingest event,
    marked when the stream is on air now (any later "down" is then a drop since)."""
    record = last_ingest_event(stream)
    return record + ON_AIR_MARK if stream is not None and stream.on_air else record


def last_ingest_event(stream: LiveStream | None) -> str:
    """The stream's latest connect or drop as the platform reports it; "" when it never had one
    (or the stream does not exist yet)."""
    if stream is None:
        return ""
    stamps = [
        (moment, text)
        for name in INGEST_EVENTS
        if isinstance(text := stream.get(name), str) and (moment := platform_time(text)) is not None
    ]
    return max(stamps)[1] if stamps else ""


def dropped_since(stream: LiveStream, record: str | None) -> bool:
    """The stream is down and had an ingest event after `record` (a connect, then the drop).
    No record (a broadcast adopted, or set live by hand) is no evidence: never interrupted."""
    if record is None or stream.on_air:
        return False
    if record.endswith(ON_AIR_MARK):
        return True  # on air when the broadcast went live, down now: it dropped since
    last = last_ingest_event(stream)
    if not last:
        return False
    if not record:
        return True
    before, after = platform_time(record), platform_time(last)
    return before is not None and after is not None and after > before


def never_on_air_since(stream: LiveStream, record: str | None) -> bool:
    """No encoder has been on this stream since the broadcast went live (with a record), or ever
    (without one)."""
    if stream.on_air:
        return False
    if record is None:
        return not last_ingest_event(stream)
    return not dropped_since(stream, record)
