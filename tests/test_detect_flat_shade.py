"""A flat mark on a background of its own hue, a shade apart: found by its shade."""

import cv2
import numpy as np
import pytest

from autoblur.types import box_iou
from detectors.flat import FlatMatcher, prepare_flat_reference
from tests.test_detect_flat import frame_of
from tests.test_detect_flat_copies import subsample_chroma

GREEN = (87, 139, 52)  # a mid green, a shade lighter than the lawn of vtest.avi


def bowl_badge(size: int = 240) -> np.ndarray:
    """Alpha of a round badge with cut-outs: a bowl's rim and body, a lid, a notch."""
    alpha = np.zeros((size, size), np.uint8)
    c = size // 2
    cv2.circle(alpha, (c, c), c - 2, 255, -1)
    cv2.ellipse(alpha, (c, c + 10), (70, 26), 0, 0, 360, 0, 10)  # the rim
    cv2.ellipse(alpha, (c, c + 40), (62, 34), 0, 20, 160, 0, 12)  # the body's curve
    cv2.ellipse(alpha, (c, c - 18), (58, 30), 0, 180, 360, 0, -1)  # the lid
    cv2.rectangle(alpha, (c + 40, c - 70), (c + 62, c - 48), 0, -1)  # a notch
    return alpha


@pytest.fixture(scope="module")
def badge(tmp_path_factory):
    alpha = bowl_badge()
    rgb = np.zeros((240, 240, 3), np.uint8)
    rgb[alpha > 0] = GREEN
    path = tmp_path_factory.mktemp("marks") / "bowl.png"
    cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]))
    return path


def on_the_lawn(width: int, turn: float, lighter: float):
    """vtest.avi's frame 20 with the badge on its lawn (lit up by ``lighter``), and its box."""
    scene = frame_of("vtest.avi", 20)
    alpha = bowl_badge()
    matrix = cv2.getRotationMatrix2D((120.0, 120.0), turn, width / 240)
    matrix[:, 2] += np.array([240.0, 330.0]) - 120.0
    size = scene.shape[1::-1]
    weight = cv2.warpAffine(alpha.astype(np.float32) / 255, matrix, size)[..., None]
    colour = np.clip(np.float32(GREEN) * lighter, 0, 255)
    frame = np.clip(weight * colour + (1 - weight) * scene + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(weight[..., 0] > 0.5)
    truth = np.float32([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    return scene, subsample_chroma(cv2.GaussianBlur(frame, (0, 0), 0.6)), truth


@pytest.mark.parametrize(("width", "turn", "lighter"), [(88, 15.0, 1.0), (120, -25.0, 1.15)])
def test_a_green_badge_on_a_green_lawn_is_found(badge, monkeypatch, width, turn, lighter):
    """The badge's colour box takes in the lawn: the badge and the lawn seen through its
    cut-outs are one region of its colour, and the cut-outs "spill" its colour. Cut to the
    lightness where its pixels crowd, the badge is a region of its own; the lawn's shade,
    apart from the badge's, is not spill. Without either it is lost; without it, nothing.
    """
    import detectors.flat as flat

    scene, frame, truth = on_the_lawn(width, turn, lighter)
    matcher = FlatMatcher([prepare_flat_reference("bowl", badge)])
    found = matcher.detect(frame)
    assert len(found) == 1, found.xyxy.tolist()
    assert box_iou(truth, found.xyxy)[0, 0] >= 0.8
    assert len(matcher.detect(scene)) == 0
    with monkeypatch.context() as patch:
        patch.setattr(flat, "_BANDS", 0)
        assert len(matcher.detect(frame)) == 0, "found without the lightness bands"
    with monkeypatch.context() as patch:
        patch.setattr(flat, "_SPILL_NEAR", 1e9)
        assert len(matcher.detect(frame)) == 0, "found with the lawn as spill"
