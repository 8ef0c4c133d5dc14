"""The verification pass: the same detectors look again at the output.

After removal the detectors that found the brands run again, with the same cues, on the
output's frames where a miss is most likely: every keyframe, the first and last frames of every
track, and the frames where tracking or the fill was unsure. What they find there is residual:
the run removes it in a second pass with a wider mask (and blurs what a second fill still
leaves), and reports what is left after that, so that a clean verdict means the detectors
themselves no longer see a brand on any frame they were shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoblur.io import VideoReader
from autoblur.types import Detections, RegionMask
from detectors import Detector
from detectors.windows import FrameWindows, detect_in_windows, search_windows

# Frame index to action to the masks a verification adds on that frame.
Repairs = dict[int, dict[str, list[RegionMask]]]
_WIDEN_SHARE = 0.1  # a repair mask grows by this x its box's larger side, plus the margin


@dataclass
class Residual:
    """What the detectors found again on one output frame.

    Attributes:
        frame_idx: the frame's index.
        time_s: its presentation time.
        frame_hw: the frame's (height, width).
        detections: what was found (brands whose action is ``keep`` left out).
    """

    frame_idx: int
    time_s: float
    frame_hw: tuple[int, int]
    detections: Detections


def frames_to_check(
    keyframes: Iterable[int], track_spans: Iterable[tuple[int, int]], unsure: Iterable[int]
) -> list[int]:
    """The frames to verify, in order: keyframes, track ends, unsure frames.

    Args:
        keyframes: indices of the frames the detectors ran on.
        track_spans: (first frame, last frame) of every track.
        unsure: frames where tracking or the fill was unsure.
    """
    frames = set(keyframes) | set(unsure)
    for first, last in track_spans:
        frames.update((first, last))
    return sorted(frames)


def find_residual(
    output_path: Path,
    detectors: Sequence[Detector],
    frames: Iterable[int],
    min_confidence: float = 0.0,
    kept_brands: frozenset[str] = frozenset(),
    windows: Mapping[int, FrameWindows] | None = None,
) -> tuple[list[int], list[Residual]]:
    """Run ``detectors`` on the given frames of ``output_path``.

    Args:
        output_path: the video to check.
        detectors: the detectors of the run, with the run's cues.
        frames: frame indices to check (those past the end are skipped).
        min_confidence: detections below this score are ignored, as in the run.
        kept_brands: brands whose action is ``keep``: their finds are not residual.
        windows: per frame, the only places to search (:func:`search_windows`), for every
            detector or per detector name; frames not in it are searched whole.

    Returns:
        The frames checked, and one :class:`Residual` per frame where something was found.

    Raises:
        VideoError: the output cannot be read.
    """
    wanted = set(frames)
    checked: list[int] = []
    residual: list[Residual] = []
    if not wanted:
        return checked, residual
    with VideoReader(output_path) as reader:
        for frame in reader.frames(only=wanted):
            checked.append(frame.index)
            found = detect_in_windows(detectors, frame.rgb, (windows or {}).get(frame.index))
            keep = [
                i
                for i in range(len(found))
                if found.confidence[i] >= min_confidence and found.brand[i] not in kept_brands
            ]
            if keep:
                residual.append(
                    Residual(frame.index, frame.time_s, frame.rgb.shape[:2], found.select(keep))
                )
    return checked, residual


def verification_entry(checked: list[int], residual: list[Residual]) -> dict:
    """The report's ``verification`` section for one pass's findings."""
    entries = [
        {
            "frame": item.frame_idx,
            "time": round(item.time_s, 6),
            "brand": item.detections.brand[i],
            "box": [round(float(v), 1) for v in item.detections.xyxy[i]],
        }
        for item in residual
        for i in range(len(item.detections))
    ]
    return {"checked_frames": checked, "residual": entries, "verified_clean": not entries}


def verify_output(
    output_path: Path,
    detectors: Sequence[Detector],
    frames: Iterable[int],
    min_confidence: float = 0.0,
    kept_brands: frozenset[str] = frozenset(),
    windows: Mapping[int, FrameWindows] | None = None,
) -> dict:
    """Check an output video: the ``verification`` dict of the report.

    Args:
        output_path: the video to check.
        detectors: the detectors (with the cues) that found the brands in its input.
        frames: the frame indices to check.
        min_confidence: detections below this score are ignored.
        kept_brands: brands left on purpose (action ``keep``).
        windows: per frame, the only places to search (:func:`search_windows`).

    Returns:
        ``{"checked_frames": [...], "residual": [{frame, time, brand, box}],
        "verified_clean": bool}``.
    """
    return verification_entry(
        *find_residual(output_path, detectors, frames, min_confidence, kept_brands, windows)
    )


def sample_frames(
    frame_count: int, fps: float, shot_starts: Iterable[int], every_s: float, offset: int
) -> list[int]:
    """Frames for the whole-picture check: one every ``every_s`` seconds and around each cut.

    Args:
        frame_count: frames in the video.
        fps: its frame rate.
        shot_starts: the first frame of every shot (0 included).
        every_s: seconds between two sampled frames.
        offset: the first sampled frame (half a keyframe interval puts every sample as far
            from the keyframes the first pass searched as the schedule allows).
    """
    step = max(1, round(every_s * fps))
    frames = set(range(min(offset, max(frame_count - 1, 0)), frame_count, step))
    for start in shot_starts:
        frames.update(f for f in (start - 1, start + offset) if 0 <= f < frame_count)
    return sorted(frames)


def find_missed(
    output_path: Path,
    detectors: Sequence[Detector],
    frames: Iterable[int],
    removed_boxes: Mapping[int, Sequence[np.ndarray]],
    min_confidence: float = 0.0,
    kept_brands: frozenset[str] = frozenset(),
) -> tuple[list[int], list[Residual]]:
    """Brands on whole output pictures away from everything removed: what the run missed.

    The windowed check judges the removal; this one judges the search. A find near a removed
    region (inside its :func:`search_windows` window) is the windowed check's business and is
    left out here; anything else the detectors see is a brand the first pass never removed.

    Args:
        output_path: the video to check.
        detectors: the detectors of the run, with the run's cues.
        frames: frame indices to search whole (:func:`sample_frames`).
        removed_boxes: per frame, (4,) float xyxy boxes of what was removed (or found) there.
        min_confidence: detections below this score are ignored, as in the run.
        kept_brands: brands whose action is ``keep``.

    Returns:
        The frames searched, and one :class:`Residual` per frame with a missed brand.
    """
    checked, found = find_residual(output_path, detectors, frames, min_confidence, kept_brands)
    missed = []
    for item in found:
        boxes = removed_boxes.get(item.frame_idx, [])
        windows = search_windows(boxes, item.frame_hw) if len(boxes) else []
        if windows is None:  # most of the picture was removed: nothing to tell apart
            continue
        away = [
            i
            for i, (x0, y0, x1, y1) in enumerate(item.detections.xyxy)
            if not any(x0 < wx1 and wx0 < x1 and y0 < wy1 and wy0 < y1
                       for wx0, wy0, wx1, wy1 in windows)
        ]  # fmt: skip
        if away:
            missed.append(
                Residual(item.frame_idx, item.time_s, item.frame_hw, item.detections.select(away))
            )
    return checked, missed


def add_missed(entry: dict, sampled: list[int], missed: list[Residual]) -> dict:
    """Join the whole-picture check's findings to a ``verification`` section (in place).

    Missed brands are residual too (marked ``missed``), so the run is not verified clean.
    """
    extra = verification_entry(sampled, missed)["residual"]
    for item in extra:
        item["missed"] = True
    entry["sampled_frames"] = sampled
    entry["missed"] = extra
    entry["residual"] = entry["residual"] + extra
    entry["verified_clean"] = not entry["residual"]
    return entry


def widened(mask: RegionMask, margin_px: int) -> RegionMask:
    """A repair's mask: ``mask`` grown by twice the margin and a tenth of its box's larger side.

    A repair is the second try at a mark the first removal left; it may have turned or grown.
    """
    side = float(np.max(mask.xyxy[2:] - mask.xyxy[:2]))
    return mask.dilate(2 * margin_px + round(_WIDEN_SHARE * side))


def repair_masks(
    residual: list[Residual], action_of: dict[str, str], margin_px: int, blur: bool
) -> Repairs:
    """Wide masks that remove what was found again, per frame and action.

    Args:
        residual: the findings of a verification.
        action_of: each brand's action.
        margin_px: the configured margin; the repair mask is wider.
        blur: blur instead of the brand's action (the fill already failed twice).
    """
    repairs: Repairs = {}
    for item in residual:
        for i in range(len(item.detections)):
            mask = item.detections.mask_or_box(i, item.frame_hw)
            if mask is None:
                continue
            wide = widened(mask, margin_px)
            action = "blur" if blur else action_of.get(item.detections.brand[i], "inpaint")
            repairs.setdefault(item.frame_idx, {}).setdefault(action, []).append(wide)
    return repairs


def verify_and_repair(
    output_path: Path,
    detectors: Sequence[Detector],
    frames: Iterable[int],
    action_of: dict[str, str],
    margin_px: int,
    rerun: Callable[[Repairs], None],
    min_confidence: float = 0.0,
    not_residual: Callable[[list[Residual]], list[Residual]] = list,
    windows: Mapping[int, FrameWindows] | None = None,
) -> dict:
    """Check an output; remove what is found again and check those frames again.

    The first repair fills a wider mask; where the detectors still find something, the second
    blurs it. What is left after that is the section's residual. Shared by ``run`` and
    ``render``, which differ only in how they write the output again.

    Args:
        output_path: the video to check (rewritten by ``rerun``).
        detectors: the detectors, with the cues that found the brands in its input.
        frames: the frame indices to check.
        action_of: each brand's action (its repair's action on the first repair).
        margin_px: the configured margin; repair masks are wider.
        rerun: writes ``output_path`` again with the given repairs added, per frame (a frame's
            repairs replace the ones an earlier call gave it).
        min_confidence: detections below this score are ignored.
        not_residual: drops what is left on purpose from a verification's findings (brands
            or occurrences kept).
        windows: per frame, the only places the first check searches (:func:`search_windows`);
            frames not in it, and every check after a repair, are searched whole.

    Returns:
        The report's ``verification`` section, with ``residual_frames_first_pass``.
    """
    kept = frozenset(brand for brand, action in action_of.items() if action == "keep")
    checked, residual = find_residual(output_path, detectors, frames, min_confidence, kept, windows)
    residual = not_residual(residual)
    first_pass = sorted({item.frame_idx for item in residual})
    for blur in (False, True):
        if not residual:
            break
        rerun(repair_masks(residual, action_of, margin_px, blur))
        again = [item.frame_idx for item in residual]
        found = find_residual(output_path, detectors, again, min_confidence, kept)[1]
        residual = not_residual(found)
    entry = verification_entry(checked, residual)
    entry["residual_frames_first_pass"] = first_pass
    return entry
