import cv2
import numpy as np
import pytest

from autoblur.io import VideoReader
from autoblur.track import refine
from autoblur.track.refine import MaskRefiner, reference_pixels
from autoblur.types import RegionMask
from detectors.logo import read_logo
from tests.conftest import REPO, VIDEOS

LOGO = REPO / "brand_lists/logos/opencv.png"


@pytest.fixture(scope="module")
def logo_on_frame(real_media):
    """A Big Buck Bunny frame with the OpenCV logo on it, and the logo's true (H, W) mask."""
    with VideoReader(VIDEOS / "bigbuckbunny.mp4") as reader:
        rgb = next(f.rgb for f in reader.frames() if f.index == 30)
    rgb = cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA)
    logo, alpha = read_logo(LOGO)
    scale = 120 / logo.shape[1]
    place = np.array([[scale, 0, 200], [0, scale, 100], [0, 0, 1]])
    weight = cv2.warpPerspective(alpha / 255.0, place, (640, 360))[..., None]
    art = cv2.warpPerspective(logo, place, (640, 360))
    rgb = np.clip(weight * art + (1 - weight) * rgb + 0.5, 0, 255).astype(np.uint8)
    return rgb, weight[..., 0] > 0.5


def test_refine_completes_a_mask_cut_short(logo_on_frame):
    """A track whose mask lacks the top third (cut by the frame edge when it was found)."""
    rgb, truth = logo_on_frame
    ys = np.nonzero(truth)[0]
    cut = truth.copy()
    cut[: ys.min() + (ys.max() - ys.min()) // 3] = False
    tracked = RegionMask.from_dense(cut)
    assert (truth & ~tracked.to_dense()).sum() / truth.sum() > 0.2
    refiner = MaskRefiner(margin_px=2)  # anti-aliased edge pixels are the margin's
    refined = refiner.refine(rgb, 0, 1, tracked, True, reference_pixels(LOGO)).to_dense()
    assert (truth & ~refined).sum() / truth.sum() < 0.01
    assert refined.sum() < 1.6 * truth.sum()  # it does not spread over the picture


def test_margin_grows_with_speed(logo_on_frame):
    rgb, truth = logo_on_frame
    mask = RegionMask.from_dense(truth)
    refiner = MaskRefiner(margin_px=4)
    still = refiner.refine(rgb, 0, 1, mask, True).area
    moved = RegionMask(mask.x0 + 16, mask.y0, mask.bitmap, mask.frame_hw)
    fast = refiner.refine(np.roll(rgb, 16, axis=1), 1, 1, moved, False).area
    assert fast > 1.3 * still


def test_drift_is_flagged(logo_on_frame):
    rgb, truth = logo_on_frame
    mask = RegionMask.from_dense(truth)
    refiner = MaskRefiner(margin_px=0)
    refiner.refine(rgb, 0, 7, mask, True)
    refiner.refine(rgb, 1, 7, mask, False)
    drifted = RegionMask(mask.x0 + 150, mask.y0 + 60, mask.bitmap, mask.frame_hw)
    refiner.refine(rgb, 2, 7, drifted, False)
    assert refiner.low_confidence == {7: {2}}


def test_growth_stops_where_the_picture_has_the_marks_colours(logo_on_frame, monkeypatch):
    """A reference whose colours are the grass around the logo must not spread over the grass."""
    rgb, truth = logo_on_frame
    grass = rgb[300:360, 0:640].reshape(-1, 3)
    mask = RegionMask.from_dense(truth)
    refined = MaskRefiner(margin_px=0).refine(rgb, 0, 1, mask, True, grass)
    assert refined.area < 2.0 * mask.area
    monkeypatch.setattr(refine, "_MAX_GROWTH", np.inf)
    unbounded = MaskRefiner(margin_px=0).refine(rgb, 0, 1, mask, True, grass)
    assert unbounded.area > 2.0 * mask.area  # what the cap prevents
