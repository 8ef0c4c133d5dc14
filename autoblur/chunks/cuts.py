"""Scene cuts where the plan needs them: near each border, found by decoding only there.

A border is best put on a cut (every track ends there), and a piece's overlap must not
cross one. Finding every cut of a two-hour file would decode it all before any piece starts;
the plan asks only about the frames around the places it considers, and
:class:`CutScanner` decodes those (from the closest earlier place decoding can begin), with
the same detector and thresholds as a run, so a cut it finds is one the pieces find.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from autoblur.config import SceneCutConfig
from autoblur.io import VideoReader
from autoblur.keyframes.cuts import ANALYSIS_WIDTH, SceneCutDetector


class CutSource(Protocol):
    """Where the scene cuts are, asked for one stretch of frames at a time."""

    def between(self, low: int, high: int) -> list[int]:
        """The cuts (display indices of a shot's first frame) from ``low`` to ``high``."""
        ...


class KnownCuts:
    """Cuts known beforehand (a scan's report, or a test's)."""

    def __init__(self, cuts: Iterable[int]) -> None:
        self.cuts = sorted(set(cuts))

    def between(self, low: int, high: int) -> list[int]:
        """The known cuts from ``low`` to ``high``."""
        return [c for c in self.cuts if low <= c <= high]


class CutScanner:
    """Finds the cuts of a stretch by decoding it, remembering what it has seen.

    Args:
        path: the video.
        times: every frame's presentation time, display order (the plan's index).
        starts: display indices where decoding may begin (the plan's index).
        config: the scene-cut detector's settings (the run's).
    """

    def __init__(
        self, path: Path, times: list[int], starts: list[int], config: SceneCutConfig
    ) -> None:
        self.path = path
        self.times = times
        self.starts = starts
        self.config = config
        self._cut: dict[int, bool] = {}  # frame -> whether it starts a shot, where known
        self.frames_decoded = 0

    def between(self, low: int, high: int) -> list[int]:
        """The cuts from ``low`` to ``high``, decoding the frames not seen yet."""
        low, high = max(low, 1), min(high, len(self.times) - 1)  # frame 0 starts the file
        missing = [f for f in range(low, high + 1) if f not in self._cut]
        if missing:
            self._scan(missing[0], missing[-1])
        return [f for f in range(low, high + 1) if self._cut[f]]

    def _scan(self, low: int, high: int) -> None:
        # The frame before ``low`` is needed to tell whether ``low`` is a cut.
        begin = self.starts[max(bisect_right(self.starts, low - 1) - 1, 0)]
        detector = SceneCutDetector(self.config)
        with VideoReader(self.path) as reader:
            for frame in reader.frames(begin=(begin, self.times[begin])):
                cut = detector.is_cut(frame.preview(ANALYSIS_WIDTH))
                self.frames_decoded += 1
                if frame.index > begin:
                    self._cut[frame.index] = cut
                if frame.index >= high:
                    break
        for f in range(low, high + 1):  # past the last frame decoded: no cut
            self._cut.setdefault(f, False)
