from pathlib import Path

import cv2
import numpy as np
import pytest

from autoblur.config import DetectConfig
from autoblur.io import VideoReader
from autoblur.synth import flat_mark
from autoblur.types import BrandCue
from detectors.flat import FlatMatcher, prepare_flat_reference
from detectors.logo import LogoDetector
from tests.conftest import VIDEOS


@pytest.fixture(scope="module")
def mark_png(tmp_path_factory):
    paths = {}
    for colours in (2, 3):
        path = tmp_path_factory.mktemp("marks") / f"mark{colours}.png"
        cv2.imwrite(str(path), cv2.cvtColor(flat_mark(colours), cv2.COLOR_RGB2BGR))
        paths[colours] = path
    return paths


def frame_of(video, index):
    with VideoReader(VIDEOS / video) as reader:
        return next(f.rgb for f in reader.frames() if f.index == index)


def placement(scale, angle, centre_xy, tilt=(0.0, 0.0)):
    """Mark pixels (240 x 240) to frame: about its centre, tilted, turned, scaled, moved."""
    c, s = np.cos(angle), np.sin(angle)
    to_centre = np.array([[1, 0, -120], [0, 1, -120], [0, 0, 1.0]])
    tilt_h = np.array([[1, 0, 0], [0, 1, 0], [tilt[0] / 240, tilt[1] / 240, 1]])
    turn = np.array([[scale * c, -scale * s, centre_xy[0]], [scale * s, scale * c, centre_xy[1]]])
    return np.vstack([turn, [0, 0, 1]]) @ tilt_h @ to_centre


def composite(scene, colours, homography):
    """The scene with the mark pasted by ``homography``, and the mark's true (H, W) mask."""
    logo = flat_mark(colours)
    inside = np.any(logo < 250, axis=2).astype(np.float32)
    size = scene.shape[1::-1]
    weight = cv2.warpPerspective(inside, homography, size)[..., None]
    art = cv2.warpPerspective(logo, homography, size)
    out = np.clip(weight * art + (1 - weight) * scene + 0.5, 0, 255).astype(np.uint8)
    return out, weight[..., 0] > 0.5


def matcher(path):
    return FlatMatcher([prepare_flat_reference("mark", path)])


@pytest.mark.parametrize(
    ("colours", "scale", "angle", "centre", "tilt"),
    [
        (3, 1.0, 0.7, (500, 300), (0, 0)),  # turned 40 degrees
        (3, 0.8, 0.2, (600, 250), (0.4, 0.2)),  # perspective
        (2, 0.6, -0.6, (300, 200), (-0.3, 0.3)),  # two colours, perspective
        (3, 0.9, 0.3, (10, 300), (0, 0)),  # half out of the left edge
        (3, 48 / 240, 0.9, (900, 100), (0, 0)),  # a 48 px mark
        (2, 52 / 240, -0.5, (300, 430), (0, 0)),  # a 52 px two-colour mark
    ],
)
def test_flat_mark_found_with_its_silhouette(
    real_media, mark_png, colours, scale, angle, centre, tilt
):
    scene, truth = composite(
        frame_of("bigbuckbunny.mp4", 10), colours, placement(scale, angle, centre, tilt)
    )
    found = matcher(mark_png[colours]).detect(scene)
    assert len(found) == 1 and found.source == ["flat"]
    mask = found.masks[0].to_dense()
    assert (mask & truth).sum() / (mask | truth).sum() > 0.88
    # Within the 6 px removal margin, the mark is covered.
    margin = cv2.dilate(mask.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    assert (margin & truth).sum() / truth.sum() > 0.99


def test_no_flat_mark_on_footage_without_it(real_media, mark_png):
    detectors = [matcher(mark_png[3]), matcher(mark_png[2])]
    for video, index in (("bigbuckbunny.mp4", 60), ("bikes.mp4", 30), ("vtest.avi", 50)):
        frame = frame_of(video, index)
        assert all(len(d.detect(frame)) == 0 for d in detectors)


def test_logo_detector_tries_the_flat_matcher_and_sift(real_media, mark_png):
    detector = LogoDetector([BrandCue("mark", "blur", (mark_png[3],))], DetectConfig())
    # Both searches hold the reference: neither excludes the other.
    assert [r.path for r in detector.references] == [mark_png[3]]
    assert [r.path for r in detector.flat.references] == [mark_png[3]]
    scene, truth = composite(frame_of("bikes.mp4", 30), 3, placement(0.5, -0.4, (320, 140)))
    found = detector.detect(scene)
    assert found.source == ["flat"] and found.cue == [str(mark_png[3])]
    assert found.masks[0].to_dense()[truth].mean() > 0.95


def test_textured_reference_is_not_flat(real_media):
    from autoblur.errors import ConfigError

    with pytest.raises(ConfigError, match="not a flat mark"):
        prepare_flat_reference("w", Path(VIDEOS.parent / "images/WindowsLogo.jpg"))
    # A greyscale photograph fits nine grey levels: many large colours, a picture, not a mark.
    with pytest.raises(ConfigError, match="not a flat mark"):
        prepare_flat_reference("b", Path(VIDEOS.parent / "images/box.png"))


def test_flat_detector_is_registered(real_media, mark_png):
    from autoblur.config import PipelineConfig
    from detectors import DETECTORS, load_detector

    assert load_detector("flat")
    detector = DETECTORS.build("flat", [BrandCue("mark", "blur", (mark_png[2],))], PipelineConfig())
    scene, truth = composite(frame_of("bikes.mp4", 30), 2, placement(0.4, 0.3, (400, 130)))
    found = detector.detect(scene)
    assert found.source == ["flat"] and found.masks[0].to_dense()[truth].mean() > 0.95
