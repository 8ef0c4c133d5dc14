"""What a render's verification needs from the scan: its detectors, frames and kept spans.

The scan report names every track's cue (``source`` and ``cue``: a logo image's path, a word,
a prompt) and the keyframes it was detected on; the render rebuilds the detectors from those
cues and checks the frames of the occurrences it removed, as ``run`` checks its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autoblur.config import PipelineConfig
from autoblur.errors import AutoblurError
from autoblur.job import Job
from autoblur.types import BrandCue
from autoblur.verify.output import Residual, frames_to_check
from detectors import Detector
from detectors.build import build_detectors

# The BrandCue field each track source's cue fills.
_CUE_FIELD = {"logo": "logos", "flat": "logos", "text": "text", "grounding_dino": "prompts"}


def scan_cues(report: dict, action_of: dict[str, str]) -> list[BrandCue]:
    """One :class:`BrandCue` per brand, with the cues that found its tracks in the scan.

    Args:
        report: the scan report.
        action_of: each brand's action in the render.
    """
    found: dict[str, dict[str, set]] = {}
    for track in report["tracks"]:
        field = _CUE_FIELD.get(track["source"])
        if field is not None and track.get("cue"):
            found.setdefault(track["brand"], {}).setdefault(field, set()).add(track["cue"])
    return [
        BrandCue(
            name=brand,
            action=action_of.get(brand, "inpaint"),
            logos=tuple(sorted(Path(p) for p in fields.get("logos", ()))),
            text=tuple(sorted(fields.get("text", ()))),
            prompts=tuple(sorted(fields.get("prompts", ()))),
        )
        for brand, fields in found.items()
    ]


def scan_detectors(
    report: dict, action_of: dict[str, str], input_path: Path, config: PipelineConfig
) -> tuple[list[Detector] | None, str | None]:
    """The detectors of the scan's cues, or None and the notice that says why there are none.

    Verification is skipped, never failed, when a reference image is gone or a detector
    cannot be built.
    """
    cues = scan_cues(report, action_of)
    if not cues:
        return None, None
    missing = sorted({str(p) for cue in cues for p in cue.logos if not p.is_file()})
    if missing:
        return None, (
            f"verification skipped: the scan's reference image {missing[0]} no longer exists; "
            "restore it (or scan again) to verify the render"
        )
    job = Job(input_path, None, cues, config)
    try:
        detectors = build_detectors(cues, job)
    except AutoblurError as exc:
        return None, f"verification skipped: {exc}"
    if job.notices:  # a cue kind cannot be checked: a clean verdict would not mean clean
        return None, f"verification skipped: {job.notices[0]}"
    return detectors, None


def render_frames(report: dict, removed: set[str]) -> list[int]:
    """The frames to check: keyframes of the removed occurrences' tracks, and their ends.

    Args:
        report: the scan report.
        removed: ids of the occurrences the render removed (not kept).
    """
    occurrences = [o for o in report["occurrences"] if o["id"] in removed]
    track_ids = {t for o in occurrences for t in o["track_ids"]}
    keyframes = [
        record["frame"]
        for track in report["tracks"]
        if track["id"] in track_ids
        for record in track["keyframes"]
    ]
    return frames_to_check(keyframes, [(o["start_frame"], o["end_frame"]) for o in occurrences], [])


def drop_kept(report: dict, kept: set[str]) -> Callable[[list[Residual]], list[Residual]]:
    """A filter of findings that drops what the reviewer kept on purpose.

    A brand found on a frame where one of its occurrences is kept is not residual.

    Args:
        report: the scan report.
        kept: ids of the occurrences the render kept.
    """
    spans = [
        (o["brand"], o["start_frame"], o["end_frame"])
        for o in report["occurrences"]
        if o["id"] in kept
    ]

    def not_kept(residual: list[Residual]) -> list[Residual]:
        left = []
        for item in residual:
            brands = item.detections.brand
            keep = [
                i
                for i in range(len(item.detections))
                if not any(b == brands[i] and s <= item.frame_idx <= e for b, s, e in spans)
            ]
            if keep:
                left.append(
                    Residual(
                        item.frame_idx, item.time_s, item.frame_hw, item.detections.select(keep)
                    )
                )
        return left

    return not_kept
