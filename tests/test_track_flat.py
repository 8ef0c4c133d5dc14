import cv2
import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from autoblur.synth import composite_logo, flat_mark
from autoblur.track import build_propagator
from autoblur.track.flat import FlatFollower
from autoblur.types import RegionMask
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


def test_a_detection_is_followed_from_the_pose_the_search_found(leaving, monkeypatch):
    _, frames, mark = leaving
    matcher = FlatMatcher([prepare_flat_reference("m", mark)])
    found = matcher.detect(frames[0])
    assert len(found) == 1
    lab = cv2.cvtColor(frames[0], cv2.COLOR_RGB2LAB)
    searched = []
    instances = matcher.instances
    monkeypatch.setattr(
        matcher, "instances", lambda *a, **k: searched.append(1) or instances(*a, **k)
    )
    ref, homography = matcher.locate(lab, found.masks[0])
    assert not searched  # the detection's own pose, not a second search around it
    again = matcher.mask_of(ref, homography, lab.shape[:2])
    assert (again.to_dense() == found.masks[0].to_dense()).all()
    # The same mask on another frame is searched for again.
    other = cv2.cvtColor(frames[3], cv2.COLOR_RGB2LAB)
    matcher.locate(other, found.masks[0])
    assert searched


def test_what_is_no_flat_mark_is_not_searched_for_on_every_keyframe(leaving, monkeypatch):
    composite, frames, mark = leaving
    matcher = FlatMatcher([prepare_flat_reference("m", mark)])
    follower = FlatFollower(build_propagator(PipelineConfig(), []), matcher)
    calls = []
    locate = matcher.locate
    monkeypatch.setattr(matcher, "locate", lambda *a, **k: calls.append(1) or locate(*a, **k))
    word = RegionMask.from_dense(_box(frames[0], 400, 40))
    follower.propagate(frames[:4], {7: word})
    assert len(calls) == 1  # looked for once: not a flat mark (the inner tracker has it)
    again = RegionMask.from_dense(_box(frames[4], 402, 41))  # the next keyframe's find
    follower.propagate(frames[4:8], {7: again}, continues=True)
    assert len(calls) == 1
    # The flat search's own find of that object is followed as a flat mark.
    mark_found = matcher.detect(frames[8]).masks[0]
    out = follower.propagate(frames[8:12], {7: mark_found}, continues=True)
    assert len(calls) == 2 and 7 in out[0]
    truth = composite.masks[9].to_dense()
    assert out[0][7].dilate(6).to_dense()[truth].mean() > 0.99


def _box(frame, x, y):
    """A 90x28 box at (x, y) on a frame's grid: where a word might be."""
    box = np.zeros(frame.shape[:2], bool)
    box[y : y + 28, x : x + 90] = True
    return box


def test_a_keyframe_keeps_the_followed_fit_over_a_worse_fresh_one(leaving, monkeypatch):
    # A hand over the mark can pull a keyframe's fresh fit a few pixels off; the followed fit
    # of the same mark, which shows it better there, is kept.
    composite, frames, mark = leaving
    matcher = FlatMatcher([prepare_flat_reference("m", mark)])
    follower = FlatFollower(build_propagator(PipelineConfig(), []), matcher)
    followed = follower.propagate(frames[:5], {3: composite.masks[0]})[-1][3]
    good = matcher.detect(frames[4]).masks[0]
    assert follower.keyframe_mask(frames[4], followed, good) is good  # as good: the search's
    instances = matcher.instances
    off = np.array([[1, 0, 0], [0, 1, 9.0], [0, 0, 1]])  # 9 px low

    def pulled(*args, **kwargs):
        return [(off @ h, score) for h, score in instances(*args, **kwargs)]

    monkeypatch.setattr(matcher, "instances", pulled)
    bad = matcher.detect(frames[4]).masks[0]
    assert follower.keyframe_mask(frames[4], followed, bad) is followed
    truth = composite.masks[4].to_dense()
    assert followed.dilate(6).to_dense()[truth].mean() > 0.99
