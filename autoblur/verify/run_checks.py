"""The three checks of a run's output, in order, with their report section.

``run`` verifies what it wrote with three checks (``render`` shares the first and the third):

1. the removed regions: the detectors look again around what was removed on the keyframes the
   removal changed, every track's first and last frame and the frames where tracking or the
   fill was unsure; what they find is repaired (:func:`~autoblur.verify.verify_and_repair`);
2. the sampled search: whole pictures every ``verify.sample_seconds`` and around every cut,
   for brands the run never removed (:func:`~autoblur.verify.output.find_missed`);
3. the followed marks: each track's mark followed through the input, asking no detector
   (:mod:`autoblur.verify.follow`). Where a mark was left on screen it is removed there and
   followed once more on the repaired output; the run still ends with a residual (exit 4):
   the tracking failed around those frames, and the frames the following could not reach
   may hold more of the mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from autoblur.config import PipelineConfig
from autoblur.keyframes.search import SearchBoxes
from autoblur.stage_clock import StageClock
from autoblur.verify.follow import add_left, find_left, follow_jobs, follow_repairs
from autoblur.verify.output import (
    Repairs,
    add_missed,
    find_missed,
    frames_to_check,
    sample_frames,
    verify_and_repair,
)
from detectors import Detector, detector_sources
from detectors.windows import detector_windows


@dataclass
class RunRecord:
    """What a run knows once its output is written, for the checks.

    Attributes:
        input_path: the input video.
        output_path: the output video (rewritten by repairs).
        config: the run's config.
        detectors: the run's detectors, with its cues.
        action_of: each brand's action.
        tracks: every track of the run.
        keyframes: the frames the detectors ran on.
        touched_frames: the frames whose pixels a remover changed.
        unsure_frames: frames where tracking or the fill was unsure.
        search_boxes: per frame, what was removed (and on keyframes found) there.
        shot_starts: the first frame of every shot (0 first).
        frame_hw: the frames' (height, width).
        frame_count: the frames decoded.
        fps: the frame rate.
    """

    input_path: Path
    output_path: Path
    config: PipelineConfig
    detectors: Sequence[Detector]
    action_of: dict[str, str]
    tracks: list
    keyframes: list[int]
    touched_frames: set[int]
    unsure_frames: Iterable[int]
    search_boxes: SearchBoxes
    shot_starts: list[int]
    frame_hw: tuple[int, int]
    frame_count: int
    fps: float


def verify_run(record: RunRecord, rerun: Callable[[Repairs], None], clock: StageClock) -> dict:
    """Run the three checks on ``record``'s output; the report's ``verification`` section.

    Keyframes that no remover changed are not checked again: their pictures are the input's
    (packets copied, or re-encoded from the same pixels), on which the first pass ran the same
    detectors and found nothing to remove. On a long master with a few logos this keeps
    verification from doubling the detection time.

    Every frame the first check looks at is searched only in the windows around what was
    removed there (and on a keyframe what the detectors found), see
    :func:`~detectors.windows.search_windows`: that check judges the removal. On a keyframe the
    rest of the picture is the input's, where the first pass found nothing; between keyframes a
    find away from every removed mark is a detector's false alarm on the fill far more often
    than a mark no keyframe around it showed, and filling it would put a smear where there was
    nothing. A frame with nothing removed is searched whole.

    Args:
        record: what the run knows.
        rerun: writes the output again with the given repairs added.
        clock: the run's stage clock.
    """
    config = record.config
    keyframes = [k for k in record.keyframes if k in record.touched_frames]
    frames = frames_to_check(
        keyframes, [(t.first_frame, t.last_frame) for t in record.tracks], record.unsure_frames
    )
    sources_of = {d.name: detector_sources(d) for d in record.detectors}
    windows = {
        f: detector_windows(record.search_boxes[f], record.frame_hw, sources_of)
        for f in frames
        if f in record.search_boxes
    }
    with clock.stage("verification: removed regions and repairs"):
        entry = verify_and_repair(
            record.output_path,
            record.detectors,
            frames,
            record.action_of,
            config.remove.margin_px,
            rerun,
            config.detect.min_confidence,
            windows=windows,
        )
    entry["unchanged_keyframes_not_checked"] = len(record.keyframes) - len(keyframes)
    entry["frames_searched_in_windows"] = sum(
        all(w is not None for w in by_detector.values()) for by_detector in windows.values()
    )
    kept = frozenset(b for b, a in record.action_of.items() if a == "keep")
    if config.verify.sample_seconds:
        sampled = sample_frames(
            record.frame_count, record.fps, record.shot_starts, config.verify.sample_seconds,
            config.keyframe_interval // 2,
        )  # fmt: skip
        removed = {f: [box for _, box in boxes] for f, boxes in record.search_boxes.items()}
        with clock.stage("verification: sampled whole frames"):
            missed = find_missed(
                record.output_path, record.detectors, sampled, removed,
                config.detect.min_confidence, kept,
            )  # fmt: skip
        add_missed(entry, *missed)
    if config.verify.follow_frames:
        jobs = follow_jobs(
            record.tracks, record.shot_starts, record.frame_count, record.frame_hw,
            config.verify.follow_frames, kept, config.verify.follow_min_score,
        )  # fmt: skip
        with clock.stage("verification: marks followed through the input"):
            read, left = find_left(record.input_path, record.output_path, jobs)
            repairs = follow_repairs(left, record.action_of, config.remove.margin_px)
            still = None
            if repairs:
                rerun(repairs)
                again, still = find_left(record.input_path, record.output_path, jobs)
                read += again
        add_left(entry, read, left, still)
    return entry
