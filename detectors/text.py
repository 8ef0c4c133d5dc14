"""Wordmark detector: finds brand words written in the picture with offline OCR.

RapidOCR (PP-OCRv4 detection and recognition as ONNX models shipped inside the
``rapidocr-onnxruntime`` wheel) reads every text line of a keyframe together with one
quadrilateral per character. A brand word is matched inside each line, case-insensitively and
tolerant of OCR slips, and its mask is the rotated rectangle around that word's own characters,
not the whole line.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from autoblur.config import DetectConfig, PipelineConfig, TextDetectorConfig
from autoblur.types import BrandCue, Detections, RegionMask
from detectors.base import DETECTORS

if importlib.util.find_spec("rapidocr_onnxruntime") is None:
    raise ImportError("rapidocr-onnxruntime is not installed")

log = logging.getLogger(__name__)

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
# RapidOCR's text detection enlarges a picture whose shorter side is below this (its default).
_DET_MIN_SIDE = 736


@dataclass(frozen=True)
class TextLine:
    """One line read by OCR, in original-frame pixels.

    Attributes:
        text: the characters read.
        score: recognition confidence in [0, 1].
        quad_xy: (4, 2) float corners of the line.
        char_quads_xy: (len(text), 4, 2) float corners of each character, or None.
    """

    text: str
    score: float
    quad_xy: np.ndarray
    char_quads_xy: np.ndarray | None


def normalise(text: str) -> tuple[str, list[int]]:
    """Casefolded letters and digits of ``text``, and each one's index in ``text``."""
    kept, positions = [], []
    for index, char in enumerate(text):
        if char.isalnum():
            kept.append(char.casefold())
            positions.append(index)
    return "".join(kept), positions


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two short strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def find_word(line: str, word: str, max_edit_fraction: float) -> list[tuple[int, int, int]]:
    """Where ``word`` occurs in ``line`` (both normalised), allowing a few edits.

    Returns:
        Non-overlapping (start, end, distance) spans of ``line``, best first; a word of length
        L may differ by ``floor(max_edit_fraction * L)`` insertions, deletions or substitutions.
    """
    length = len(word)
    budget = int(max_edit_fraction * length) if length > 3 else 0
    candidates = []
    for size in range(max(1, length - budget), length + budget + 1):
        for start in range(0, len(line) - size + 1):
            distance = edit_distance(line[start : start + size], word)
            if distance <= budget:
                candidates.append((distance, -size, start, start + size))
    spans: list[tuple[int, int, int]] = []
    for distance, _, start, end in sorted(candidates):
        if all(end <= s or start >= e for s, e, _ in spans):
            spans.append((start, end, distance))
    return spans


def word_quad(line: TextLine, first: int, last: int) -> np.ndarray:
    """The (4, 2) rotated rectangle around characters ``first..last`` (inclusive) of a line."""
    if line.char_quads_xy is not None and len(line.char_quads_xy) == len(line.text):
        points = line.char_quads_xy[first : last + 1].reshape(-1, 2)
    else:  # no per-character boxes: split the line's quad by character count
        tl, tr, br, bl = line.quad_xy
        a, b = first / len(line.text), (last + 1) / len(line.text)
        points = np.array(
            [tl + a * (tr - tl), tl + b * (tr - tl), bl + b * (br - bl), bl + a * (br - bl)]
        )
    return cv2.boxPoints(cv2.minAreaRect(points.astype(np.float32))).astype(np.float64)


def _unrotate(points: np.ndarray, degrees: int, size_hw: tuple[int, int]) -> np.ndarray:
    """Map (..., 2) x, y points of an image rotated clockwise by ``degrees`` back to it."""
    height, width = size_hw
    x, y = points[..., 0], points[..., 1]
    if degrees == 90:
        return np.stack([y, height - 1 - x], axis=-1)
    if degrees == 180:
        return np.stack([width - 1 - x, height - 1 - y], axis=-1)
    if degrees == 270:
        return np.stack([width - 1 - y, x], axis=-1)
    return points


class TextDetector:
    """Finds the brands' words on a keyframe.

    Args:
        cues: brands; those with ``text`` are used.
        config: detection settings (``config.text``).
    """

    name = "text"

    def __init__(self, cues: Sequence[BrandCue], config: DetectConfig) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.config: TextDetectorConfig = config.text
        self._ocr = RapidOCR(det_limit_type="min", det_limit_side_len=_DET_MIN_SIDE)
        self._crop_ocr = None  # the same models, sizing left to the caller (made when needed)
        self.words = [
            (cue.name, word, normalise(word)[0])
            for cue in cues
            for word in cue.text
            if normalise(word)[0]
        ]

    def read(self, rgb: np.ndarray, frame_hw: tuple[int, int] | None = None) -> list[TextLine]:
        """Every text line on an (h, w, 3) uint8 RGB frame or part of one, in its pixels.

        Args:
            rgb: the frame, or a part of it.
            frame_hw: the whole frame's (height, width) when ``rgb`` is a part: it is read at
                the scale the whole frame is read at (the OCR enlarges a frame whose shorter
                side is below 736 px; a part of it is enlarged by the same factor, not to
                736 px of its own).
        """
        height, width = frame_hw or rgb.shape[:2]
        scale = min(1.0, self.config.max_side / max(height, width))
        ocr = self._ocr
        if frame_hw is not None and tuple(frame_hw) != rgb.shape[:2]:
            scale *= max(1.0, _DET_MIN_SIDE / (min(height, width) * scale))
            ocr = self._crop_reader()
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if scale != 1.0:
            interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
            bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=interpolation)
        lines = []
        for degrees in self.config.rotations:
            image = bgr if degrees == 0 else cv2.rotate(bgr, _ROTATE[degrees])
            result, _ = ocr(image, return_word_box=True, text_score=self.config.min_score)
            for entry in result or []:
                quad, text, score = entry[0], entry[1], float(entry[2])
                chars = entry[3] if len(entry) > 3 and entry[3] else None
                size = bgr.shape[:2]
                lines.append(
                    TextLine(
                        text=text,
                        score=score,
                        quad_xy=_unrotate(np.array(quad, np.float64), degrees, size) / scale,
                        char_quads_xy=None
                        if chars is None
                        else _unrotate(np.array(chars, np.float64), degrees, size) / scale,
                    )
                )
        return lines

    def _crop_reader(self):
        """RapidOCR with the same models that reads a picture at the size it is given."""
        if self._crop_ocr is None:
            from rapidocr_onnxruntime import RapidOCR

            self._crop_ocr = RapidOCR(det_limit_type="max", det_limit_side_len=1 << 16)
        return self._crop_ocr

    def detect(self, rgb: np.ndarray) -> Detections:
        """The brand words on an (H, W, 3) uint8 RGB frame."""
        return self.detect_crop(rgb, rgb.shape[:2])

    def detect_crop(self, rgb: np.ndarray, frame_hw: tuple[int, int]) -> Detections:
        """The brand words on an (h, w, 3) uint8 RGB part of a frame of ``frame_hw`` (H, W).

        Boxes and masks are in the part's pixel coordinates.
        """
        if not self.words:
            return Detections.empty()
        found = []
        for line in self.read(rgb, frame_hw):
            normalised, positions = normalise(line.text)
            for brand, word, target in self.words:
                for start, end, distance in find_word(
                    normalised, target, self.config.max_edit_fraction
                ):
                    quad = word_quad(line, positions[start], positions[end - 1])
                    mask = RegionMask.from_polygon(quad, rgb.shape[:2])
                    if mask is None:
                        continue
                    score = line.score * (1 - distance / max(len(target), 1))
                    found.append(
                        Detections([mask.xyxy], [score], [brand], [self.name], [word], [mask])
                    )
        return Detections.concat(found)


@DETECTORS.register("text")
def build_text_detector(cues: Sequence[BrandCue], config: PipelineConfig) -> TextDetector:
    """The wordmark detector for the brands that have ``text`` cues."""
    return TextDetector(cues, config.detect)
