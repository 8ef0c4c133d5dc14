"""The JSON report of a run or scan: input, rules, every occurrence and track found."""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from pathlib import Path

from autoblur import __version__
from autoblur.errors import VideoError
from autoblur.io.reader import VideoInfo
from autoblur.job import Job
from autoblur.track.manager import Track


def _track_entry(track: Track, thumbnail: bytes | None) -> dict:
    entry = {
        "id": track.track_id,
        "brand": track.brand,
        "action": track.action,
        "source": track.source,
        "cue": track.cue,
        "first_frame": track.first_frame,
        "last_frame": track.last_frame,
        "first_time_s": round(track.first_time_s, 6),
        "last_time_s": round(track.last_time_s, 6),
        "keyframes": track.keyframes,
    }
    if thumbnail:
        entry["thumbnail_jpeg_base64"] = base64.b64encode(thumbnail).decode("ascii")
    return entry


_DETECTION = "detection: "  # the stage clock's name prefix of a detector's keyframe time


def build_report(
    job: Job,
    info: VideoInfo,
    frames_decoded: int,
    tracks: list[Track],
    seconds: float,
    keyframes: int,
    thumbnails: dict[int, bytes] | None = None,
    output_format: dict | None = None,
    occurrences: list[dict] | None = None,
    start_timecode: str | None = None,
    saved_detections: dict | None = None,
    verification: dict | None = None,
    track_extras: dict[int, dict] | None = None,
    stage_seconds: dict[str, dict[str, float]] | None = None,
    encode_seconds: tuple[float, float] = (0.0, 0.0),
    worker_seconds: list[tuple[float, float, float]] | None = None,
) -> dict:
    """The report as a JSON-ready dict.

    ``stage_seconds`` are the wall and CPU seconds per stage (:mod:`autoblur.stage_clock`);
    each detector's time per keyframe is its ``detection: NAME`` stage over ``keyframes``.
    ``encode_seconds`` are the encoder thread's wall and CPU seconds; ``worker_seconds`` each
    inpainting worker process's, with its peak memory in MiB (:mod:`autoblur.remove.worker`).

    ``output_format`` is the output's plan (codec, profile, pixel format, container, frames
    copied and re-encoded, what happened to each stream), or the plan a run would follow.
    ``occurrences`` are the report entries of :mod:`autoblur.review.occurrences` (what brands are
    counted by); ``saved_detections`` says where a scan saved its masks, for ``render``.
    ``verification`` is the verification pass's section (None where there was none);
    ``track_extras`` adds fields to the entries of tracks, by id (each one's worst frame).
    """
    occurrences = occurrences or []
    rules = None
    if job.rules is not None:
        rules = {"path": str(job.rules.path), "country": job.rules.country}
    stage_seconds = stage_seconds or {}
    per_detector = {
        name.removeprefix(_DETECTION): round(1000 * entry["wall_s"] / keyframes, 1)
        for name, entry in stage_seconds.items()
        if name.startswith(_DETECTION) and keyframes
    }
    return {
        "autoblur_version": __version__,
        "mode": "scan" if job.output_path is None else "run",
        "input": {
            "path": str(info.path),
            "width": info.width,
            "height": info.height,
            "fps": float(info.fps),
            "fps_fraction": str(info.fps),
            "time_base": str(info.time_base),
            "frame_count": frames_decoded,
            "frame_count_header": info.frame_count_header,
            "duration_s": info.duration_s,
            "codec": info.codec,
            "container": info.format_name,
            "audio_streams": info.audio_streams,
            "start_timecode": start_timecode,
        },
        "output": None if job.output_path is None else str(job.output_path),
        "output_format": output_format,
        "rules": rules,
        "brands_requested": [cue.name for cue in job.cues],
        "brands_found": dict(Counter(o["brand"] for o in occurrences)),
        "notices": list(job.notices),
        "occurrences": occurrences,
        "tracks": [
            {
                **_track_entry(t, (thumbnails or {}).get(t.track_id)),
                **(track_extras or {}).get(t.track_id, {}),
            }
            for t in tracks
        ],
        "timing": {
            "seconds": round(seconds, 3),
            "fps": round(frames_decoded / seconds, 2) if seconds > 0 else None,
            "keyframes": keyframes,
            "detect_ms_per_keyframe": round(sum(per_detector.values()), 1),
            "detect_ms_per_keyframe_by_detector": per_detector,
            # Exclusive per stage on the pipeline's thread (see autoblur.stage_clock); the
            # encoder thread runs beside it.
            "stages": stage_seconds,
            "encode_thread": {
                "wall_s": round(encode_seconds[0], 3),
                "cpu_s": round(encode_seconds[1], 3),
            },
        }
        | (
            {
                # Beside the pipeline's thread; its "remove: inpaint" is the time it waited.
                "inpaint_workers": [
                    {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "peak_rss_mib": round(mib)}
                    for wall, cpu, mib in worker_seconds
                ]
            }
            if worker_seconds
            else {}
        ),
        "verification": verification,
        "config": job.config.model_dump(mode="json"),
    } | ({"saved_detections": saved_detections} if saved_detections else {})


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to a temporary file beside ``path``, then rename it into place.

    Raises:
        VideoError: the file cannot be written.
    """
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise VideoError(f"{path}: cannot write report ({exc.strerror})") from None
