import cv2
import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from autoblur.synth import composite_logo, flat_mark
from autoblur.track import build_propagator
from autoblur.track.flat import FlatFollower
from detectors.flat import FlatMatcher, prepare_flat_reference
from tests.conftest import VIDEOS


def leave_left(index, frame_hw):
    """A 100 px flat mark moving left 12 px a frame and turning 3 degrees a frame."""
    fh, fw = frame_hw
    angle = np.radians(3 * index)
    c, s = 100 / 240 * np.cos(angle), 100 / 240 * np.sin(angle)
    centre = (170 - 12 * index, fh / 2)
    move = np.array([[c, -s, centre[0]], [s, c, centre[1]], [0, 0, 1]])
    return move @ np.array([[1, 0, -120], [0, 1, -120], [0, 0, 1.0]])


@pytest.fixture(scope="module")
def leaving(tmp_path_factory, real_media):
    tmp = tmp_path_factory.mktemp("flat_track")
    mark = tmp / "mark.png"
    cv2.imwrite(str(mark), cv2.cvtColor(flat_mark(3), cv2.COLOR_RGB2BGR))
    composite = composite_logo(VIDEOS / "bikes.mp4", mark, tmp / "c.mp4", leave_left, 24)
    with VideoReader(composite.path) as reader:
        frames = [f.rgb for f in reader.frames()]
    return composite, frames, mark


def test_flat_mark_followed_out_of_the_frame(leaving):
    composite, frames, mark = leaving
    config = PipelineConfig()
    follower = FlatFollower(
        build_propagator(config, []), FlatMatcher([prepare_flat_reference("m", mark)])
    )
    start = composite.masks[0]
    out = follower.propagate(frames, {5: start})
    gone = next(i for i, m in enumerate(composite.masks) if m is None)  # the mark has left
    for index in range(1, gone):
        truth = composite.masks[index].to_dense()
        assert 5 in out[index - 1], index
        found = out[index - 1][5].dilate(6).to_dense()
        assert found[truth].mean() > 0.99, index  # every visible pixel, up to the last ones
    # The flow tracker alone loses the solid shapes long before.
    flow = build_propagator(config, []).propagate(frames, {5: start})
    assert sum(5 in m for m in flow) < gone - 4
