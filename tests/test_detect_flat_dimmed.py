"""A flat mark with a white part, shown darker than its reference: its white is a light grey."""

import cv2
import numpy as np
import pytest

from autoblur.types import box_iou
from detectors.flat import FlatMatcher, prepare_flat_reference
from tests.test_detect_flat import frame_of
from tests.test_detect_flat_copies import subsample_chroma

BLUE = (26, 183, 234)  # a light sky blue, like the square of a video site's badge


def square_badge(size: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """RGB and alpha of a blue rounded square with a white chevron and bar inside."""
    alpha = np.zeros((size, size), np.uint8)
    cv2.rectangle(alpha, (20, 20), (size - 21, size - 21), 255, -1)
    for corner in ((20, 20), (size - 21, 20), (20, size - 21), (size - 21, size - 21)):
        cv2.circle(alpha, corner, 18, 255, -1)
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[alpha > 0] = BLUE
    chevron = np.int32(
        [[60, 70], [100, 70], [120, 150], [150, 70], [185, 70], [135, 185], [105, 185]]
    )
    cv2.fillPoly(rgb, [chevron], (255, 255, 255))
    cv2.rectangle(rgb, (60, 195), (185, 210), (255, 255, 255), -1)
    return rgb, alpha


@pytest.fixture(scope="module")
def badge(tmp_path_factory):
    rgb, alpha = square_badge()
    path = tmp_path_factory.mktemp("marks") / "square.png"
    cv2.imwrite(str(path), np.dstack([rgb[..., ::-1], alpha]))
    return path


def on_the_street(width: int, turn: float, gain: float):
    """bikes.mp4's frame 40 with the badge on it, its colours times ``gain`` (as the recall
    benchmark's brightness changes scale them), and its box."""
    scene = frame_of("bikes.mp4", 40)
    rgb, alpha = square_badge()
    matrix = cv2.getRotationMatrix2D((120.0, 120.0), turn, width / 240)
    matrix[:, 2] += np.array([330.0, 150.0]) - 120.0
    size = scene.shape[1::-1]
    weight = cv2.warpAffine(alpha.astype(np.float32) / 255, matrix, size)[..., None]
    colour = cv2.warpAffine(rgb.astype(np.float32), matrix, size) * gain
    frame = np.clip(weight * colour + (1 - weight) * scene + 0.5, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(weight[..., 0] > 0.5)
    truth = np.float32([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
    return scene, subsample_chroma(cv2.GaussianBlur(frame, (0, 0), 0.6)), truth


@pytest.mark.parametrize(("width", "turn", "gain"), [(150, -8.0, 0.7), (110, 12.0, 0.72)])
def test_a_badge_shown_darker_keeps_its_white(badge, monkeypatch, width, turn, gain):
    """At 0.7 of its brightness the badge's white is a grey of lightness 186 (of 255): the
    box of the mark's own white reaches 75 below the reference's white. With 60 (the box
    before, still the one for the pixels around the mark), the white counts as not shown and
    the badge is lost; on the bare street nothing is found."""
    import detectors._colour as colour

    scene, frame, truth = on_the_street(width, turn, gain)
    matcher = FlatMatcher([prepare_flat_reference("square", badge)])
    found = matcher.detect(frame)
    assert len(found) == 1, found.xyxy.tolist()
    assert box_iou(truth, found.xyxy)[0, 0] >= 0.8
    assert len(matcher.detect(scene)) == 0
    with monkeypatch.context() as patch:
        patch.setattr(colour, "_DIMMED_L_BELOW", 60.0)
        narrow = FlatMatcher([prepare_flat_reference("square", badge)])
        assert len(narrow.detect(frame)) == 0, "found with the white's box as it was"
