"""What the review page needs: a scan's occurrences, before/after crops, render specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np

from autoblur.errors import VideoError
from autoblur.io.convert import reformat
from autoblur.io.streams import main_video_stream
from autoblur.job import default_output
from autoblur.service.settings import ServiceSettings

Decision = Literal["remove", "blur", "pixelate", "fill", "inpaint", "keep"]
DECISIONS: tuple[str, ...] = ("remove", "blur", "keep")  # the page's choices
_CROP_MARGIN = 0.5  # share of the box's size shown around it


def report_of(job: dict[str, Any]) -> dict[str, Any] | None:
    """A finished job's JSON report, or None."""
    path = Path(job["spec"]["report"])
    if job["status"] != "done" or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def occurrences_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``occurrences`` of a finished scan's report (empty if it has none)."""
    report = report_of(job)
    return [] if report is None else list(report.get("occurrences") or [])


def decisions_of(render: dict[str, Any] | None) -> dict[str, str]:
    """The decision per occurrence id of a render job (empty for None)."""
    if render is None:
        return {}
    path = Path(render["spec"]["decisions"])
    if not path.is_file():
        return {}
    decisions = json.loads(path.read_text(encoding="utf-8")).get("occurrences") or {}
    return {k: v if isinstance(v, str) else v.get("action", "") for k, v in decisions.items()}


def render_spec(
    scan: dict[str, Any], decisions: dict[str, str], settings: ServiceSettings, job_id: str
) -> dict[str, Any]:
    """The spec of a render of a scan job, its decisions file written in the new job's folder."""
    job_dir = settings.job_dir(job_id)
    job_dir.mkdir(parents=True, exist_ok=True)
    decisions_path = job_dir / "decisions.json"
    decisions_path.write_text(json.dumps({"occurrences": decisions}, indent=2), encoding="utf-8")
    input_path = Path(scan["spec"]["input"])
    return {
        "mode": "remove",
        "input": str(input_path),
        "rules": scan["spec"]["rules"],
        "output": str(job_dir / default_output(input_path).name),
        "decisions": str(decisions_path),
        "scan": scan["spec"]["report"],
        "report": str(job_dir / "report.json"),
        "config": scan["spec"]["config"],
    }


def frame_at(path: Path, frame_index: int) -> np.ndarray:
    """One frame of a video, found by seeking to the keyframe before it.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        VideoError: the video cannot be read or is shorter than that.
    """
    try:
        with av.open(str(path)) as container:
            stream = main_video_stream(container)
            if stream is None:
                raise VideoError(f"{path}: contains no video")
            fps = stream.average_rate or stream.guessed_rate
            start = stream.start_time or 0
            target_s = float(frame_index / fps)
            container.seek(start + int(target_s / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is None or (frame.pts - start) * stream.time_base >= target_s - (
                    0.5 / fps
                ):
                    return reformat(frame, format="rgb24").to_ndarray()
    except (av.error.FFmpegError, IndexError) as exc:
        raise VideoError(f"{path}: cannot read frame {frame_index} ({exc})") from None
    raise VideoError(f"{path}: has no frame {frame_index}")


def crop_jpeg(rgb: np.ndarray, xyxy: list[float], max_side: int = 240) -> bytes:
    """A JPEG of the box ``xyxy`` (pixels) of an (H, W, 3) uint8 RGB frame, with a margin."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = xyxy
    pad_x, pad_y = (x1 - x0) * _CROP_MARGIN, (y1 - y0) * _CROP_MARGIN
    left, top = max(int(x0 - pad_x), 0), max(int(y0 - pad_y), 0)
    right, bottom = min(int(np.ceil(x1 + pad_x)), width), min(int(np.ceil(y1 + pad_y)), height)
    crop = rgb[top:bottom, left:right]
    scale = min(1.0, max_side / max(crop.shape[:2]))
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if not ok:
        raise VideoError("cannot encode a crop as JPEG")
    return encoded.tobytes()
