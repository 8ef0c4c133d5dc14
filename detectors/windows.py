"""Detectors on parts of a frame: windows around what was found or changed, and the search in them.

The verification searches an output frame only around what was removed or found there, and a
lost track is looked for again around its last place: both ask the detectors for the windows
alone, in the frame's coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autoblur.types import Detections
from detectors import Detector, detect_crop

# (x0, y0, x1, y1) integer pixel box, x1 and y1 exclusive.
Window = tuple[int, int, int, int]
# Where one frame is searched: windows for every detector (None: the whole frame), or per
# detector name (a detector left out of the mapping does not search that frame).
FrameWindows = Sequence[Window] | None | Mapping[str, Sequence[Window] | None]

# A search window reaches this x the larger side of what it surrounds beyond it on every side
# (at least _CONTEXT_MIN_PX): a mark the fill only partly covered is still whole inside it.
_CONTEXT_SHARE = 0.5
_CONTEXT_MIN_PX = 32
# Windows covering more than this share of the frame are dropped for the whole frame.
_WHOLE_FRAME_SHARE = 0.8


def search_windows(boxes: Sequence[np.ndarray], frame_hw: tuple[int, int]) -> list[Window] | None:
    """Where a residual can be on a keyframe: around what was found or changed there.

    On a keyframe the first pass ran the detectors on the whole input picture; the output
    differs from it only where a remover changed pixels. A detector that finds something on
    the output away from every changed region and every first-pass find sees the same pixels
    there as in the first pass, where it found nothing. So the search is limited to windows
    around those boxes, with room for a mark the fill only partly covered.

    Args:
        boxes: (4,) float [x0, y0, x1, y1] boxes in frame pixels: the regions a remover
            changed and what the detectors found on the input's keyframe.
        frame_hw: the frame's (height, width).

    Returns:
        Non-overlapping windows, or None where they would cover most of the frame (search it
        whole).
    """
    height, width = frame_hw
    windows: list[list[int]] = []
    for box in boxes:
        x0, y0, x1, y1 = (float(v) for v in box)
        reach = max(_CONTEXT_SHARE * max(x1 - x0, y1 - y0), _CONTEXT_MIN_PX)
        windows.append(
            [
                max(0, int(np.floor(x0 - reach))),
                max(0, int(np.floor(y0 - reach))),
                min(width, int(np.ceil(x1 + reach))),
                min(height, int(np.ceil(y1 + reach))),
            ]
        )
    windows = _merge_overlapping(windows)
    covered = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows)
    if covered > _WHOLE_FRAME_SHARE * height * width:
        return None
    return [(x0, y0, x1, y1) for x0, y0, x1, y1 in windows if x1 > x0 and y1 > y0]


def detector_windows(
    boxes: Sequence[tuple[frozenset[str], np.ndarray]],
    frame_hw: tuple[int, int],
    sources_of: Mapping[str, Sequence[str]],
) -> dict[str, list[Window] | None]:
    """Per detector, the windows around what it found (or what was followed from its finds).

    Each detector judges the removal of its own finds: the output differs from the input only
    where something was removed, and what a detector sees again there is what it found before
    (or a remainder of it). A word detector need not read the pixels around an emblem the
    logo search found and removed (on a keyframe it found no word there in the input, and the
    fill adds none); reading text costs several times a logo search. A track found by several
    detectors is judged by each of them.

    Args:
        boxes: (sources, (4,) float xyxy box) of what was removed or found on the frame,
            ``sources`` being the detections' ``source`` names behind it.
        frame_hw: the frame's (height, width).
        sources_of: per detector name, the ``source`` names of its detections.

    Returns:
        Per detector name, its windows (:func:`search_windows`; an empty list where nothing
        on the frame came from it, None for the whole frame).
    """
    return {
        name: search_windows([box for found_by, box in boxes if found_by & set(own)], frame_hw)
        for name, own in sources_of.items()
    }


def _merge_overlapping(windows: list[list[int]]) -> list[list[int]]:
    """Join overlapping [x0, y0, x1, y1] windows into their bounding boxes until none overlap."""
    done: list[list[int]] = []
    todo = list(windows)
    while todo:
        box = todo.pop()
        for i, other in enumerate(done):
            if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]:
                del done[i]
                todo.append(
                    [
                        min(box[0], other[0]),
                        min(box[1], other[1]),
                        max(box[2], other[2]),
                        max(box[3], other[3]),
                    ]
                )
                break
        else:
            done.append(box)
    return done


def detect_in_windows(
    detectors: Sequence[Detector], rgb: np.ndarray, windows: FrameWindows
) -> Detections:
    """What ``detectors`` find on an (H, W, 3) uint8 RGB frame, in frame coordinates.

    Args:
        detectors: the detectors to run.
        rgb: the frame.
        windows: the crops to search, or None for the whole frame; or, per detector name,
            that detector's crops (None: the whole frame; a detector not named: none).
    """
    found = []
    for detector in detectors:
        if isinstance(windows, Mapping):
            if detector.name not in windows:
                continue
            crops = windows[detector.name]
        else:
            crops = windows
        if crops is None:
            found.append(detector.detect(rgb))
            continue
        for x0, y0, x1, y1 in crops:
            crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            in_crop = detect_crop(detector, crop, rgb.shape[:2])
            found.append(in_crop.shifted(x0, y0, rgb.shape[:2]))
    return Detections.concat(found)
