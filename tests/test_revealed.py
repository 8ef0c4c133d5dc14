"""The inpainting benchmark's oracle: fills from the clean frames that reveal each hidden pixel."""

from __future__ import annotations

import cv2
import numpy as np

from autoblur.types import RegionMask
from bench.revealed import revealed_fills
from tests.conftest import IMAGES

FRAMES = 16
HOLE = (60, 40)  # height, width of the logo


def _backdrop() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(IMAGES / "graf1.png")), cv2.COLOR_BGR2RGB)


def _hole(x0: int, y0: int, frame_hw: tuple[int, int]) -> RegionMask:
    dense = np.zeros(frame_hw, bool)
    dense[y0 : y0 + HOLE[0], x0 : x0 + HOLE[1]] = True
    return RegionMask.from_dense(dense)


def _in_mask_error(
    fills: list[np.ndarray], clean: list[np.ndarray], masks: list[RegionMask]
) -> float:
    errors = [
        np.abs(fill[m.to_dense()].astype(float) - frame[m.to_dense()]).mean()
        for fill, frame, m in zip(fills, clean, masks, strict=True)
    ]
    return float(np.mean(errors))


def test_a_moving_logo_over_a_panning_camera_reveals_the_background() -> None:
    backdrop = _backdrop()
    # The camera pans 3 px a frame over a real picture; the logo drifts 5 px a frame.
    clean = [backdrop[100:340, 20 + 3 * i : 340 + 3 * i].copy() for i in range(FRAMES)]
    masks = [_hole(100 + 5 * i, 90, clean[0].shape[:2]) for i in range(FRAMES)]
    grey = [np.full_like(frame, 128) for frame in clean]
    fills = revealed_fills(clean, masks, grey, window=FRAMES)
    for name in ("nearest", "median"):
        assert _in_mask_error(fills[name], clean, masks) < 3.0, name
    assert _in_mask_error(grey, clean, masks) > 20.0  # the fallback alone is far off


def test_a_logo_that_never_moves_reveals_nothing() -> None:
    backdrop = _backdrop()
    clean = [backdrop[100:340, 20:340].copy() for _ in range(FRAMES)]
    masks = [_hole(100, 90, clean[0].shape[:2])] * FRAMES
    grey = [np.full_like(frame, 128) for frame in clean]
    fills = revealed_fills(clean, masks, grey, window=FRAMES)
    for name in ("nearest", "median"):
        for fill, fallback in zip(fills[name], grey, strict=True):
            assert np.array_equal(fill, fallback), name


def test_no_frame_across_a_cut_is_used() -> None:
    backdrop = _backdrop()
    shot_a = [backdrop[100:340, 20:340].copy() for _ in range(FRAMES // 2)]
    shot_b = [np.full_like(shot_a[0], 30) for _ in range(FRAMES // 2)]  # a flat, other shot
    clean = shot_a + shot_b
    # The logo stays in place through shot A and moves only in shot B: shot B shows the
    # pixels under shot A's logo, but with other content, which must not be taken.
    masks = [_hole(100, 90, clean[0].shape[:2])] * (FRAMES // 2) + [
        _hole(160 + 5 * i, 90, clean[0].shape[:2]) for i in range(FRAMES // 2)
    ]
    grey = [np.full_like(frame, 128) for frame in clean]
    fills = revealed_fills(clean, masks, grey, window=FRAMES)
    for fill, fallback in zip(fills["nearest"][: FRAMES // 2], grey[: FRAMES // 2], strict=True):
        assert np.array_equal(fill, fallback)
