"""The detectors on keyframes, and once more near where a track was lost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autoblur.io import VideoFrame
from autoblur.stage_clock import StageClock
from autoblur.types import Detections, RegionMask
from detectors import Detector
from detectors.windows import detect_in_windows, search_windows

# Per frame, (sources, (4,) float box) of every mask removed there and, on keyframes, of what
# the detectors found (the detections' sources behind it).
SearchBoxes = dict[int, list[tuple[frozenset[str], np.ndarray]]]


class KeyframeSearch:
    """Runs the detectors and the segmenter on keyframes, and near a lost track's last place.

    Args:
        detectors: the run's detectors.
        brands_of: per detector name, the brands it looks for.
        segmenter: turns detections into masks (``segment(rgb, detections)``).
        min_confidence: detections below this are dropped.
        clock: the run's stage clock (``detection: NAME`` and ``segmentation``).
        search_boxes: where each keyframe's finds are noted, by frame index (the
            verification searches around them).
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        brands_of: Mapping[str, frozenset[str]],
        segmenter,
        min_confidence: float,
        clock: StageClock,
        search_boxes: SearchBoxes,
    ) -> None:
        self.detectors = list(detectors)
        self.brands_of = brands_of
        self.segmenter = segmenter
        self.min_confidence = min_confidence
        self.clock = clock
        self.search_boxes = search_boxes

    def detect(self, keys: list[VideoFrame]) -> list[Detections]:
        """Every detector on the keyframes, then the segmenter on each one's detections.

        A detector that has ``detect_batch`` takes all the keyframes in one call.
        """
        per_detector = []
        for detector in self.detectors:
            with self.clock.stage(f"detection: {detector.name}"):
                if len(keys) > 1 and hasattr(detector, "detect_batch"):
                    found = detector.detect_batch([key.rgb for key in keys])
                else:
                    found = [detector.detect(key.rgb) for key in keys]
            per_detector.append(found)
        results = []
        for index, key in enumerate(keys):
            found = Detections.concat([parts[index] for parts in per_detector])
            keep = np.nonzero(found.confidence >= self.min_confidence)[0]
            with self.clock.stage("segmentation"):
                results.append(self.segmenter.segment(key.rgb, found.select(keep)))
            self.search_boxes[key.index] = [
                *((frozenset([found.source[i]]), found.xyxy[i]) for i in keep),
                *((frozenset([source]), box) for source, box in zip(
                    results[-1].source, results[-1].xyxy, strict=True
                )),
            ]  # fmt: skip
        return results

    def find_near(self, frame: VideoFrame, brand: str, last: RegionMask) -> RegionMask | None:
        """The mask of a ``brand`` find on ``frame`` near ``last`` (a lost mask), if any.

        The detectors that look for ``brand`` search only a window around ``last`` (as the
        verification does).
        """
        window = search_windows([last.xyxy], frame.rgb.shape[:2])
        finders = [d for d in self.detectors if brand in self.brands_of[d.name]]
        found = detect_in_windows(finders, frame.rgb, window)
        keep = [
            i
            for i in range(len(found))
            if found.brand[i] == brand and found.confidence[i] >= self.min_confidence
        ]
        if not keep:
            return None
        found = self.segmenter.segment(frame.rgb, found.select(keep))
        best = int(np.argmax(found.confidence))
        return found.mask_or_box(best, frame.rgb.shape[:2])
