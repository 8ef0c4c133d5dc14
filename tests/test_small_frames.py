"""Archive-size frames (QCIF 176x144): a logo 26 px wide is found and followed."""

from __future__ import annotations

import cv2
import pytest

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.track.flow import FlowPropagator
from autoblur.track.recover import LostTracks
from autoblur.types import BrandCue
from detectors.logo import LogoDetector
from tests.conftest import IMAGES, make_composite

WINDOWS = IMAGES / "WindowsLogo.jpg"
NATIVE = {"detect": {"logo": {"min_side": 176}}, "track": {"min_side": 176}}  # no enlarging


@pytest.fixture(scope="module")
def qcif(tmp_path_factory, real_media):
    """carphone (176x144), 60 frames, the Windows logo 15 % of the width (26 px) moving."""
    clip = make_composite(
        tmp_path_factory.mktemp("qcif"),
        "carphone_pristine.mp4",
        WINDOWS,
        60,
        width_frac=0.15,
        speed_px=6,
    )
    with VideoReader(clip.path) as reader:
        frames = [f.rgb.copy() for f in reader.frames()]
    return clip, frames


def _found(config, frames) -> int:
    detector = LogoDetector([BrandCue("windows", "blur", (WINDOWS,))], config.detect)
    return sum(len(detector.detect(frames[i])) > 0 for i in range(0, 60, 6))


def test_small_keyframes_are_enlarged_for_the_logo_search(qcif):
    _, frames = qcif
    assert _found(load_config(), frames) >= 9  # of 10 keyframes
    assert _found(load_config(None, NATIVE), frames) <= 2  # at 176 px the logo has no features


def _followed(config, clip, frames) -> int:
    propagator = FlowPropagator(config)
    tracked = 0
    for start in range(0, 48, 12):
        found = propagator.propagate(frames[start : start + 13], {1: clip.masks[start]})
        tracked += sum(1 in masks for masks in found)
    return tracked


def test_small_frames_are_enlarged_for_tracking(qcif):
    clip, frames = qcif
    enlarged, native = (
        _followed(load_config(), clip, frames),
        _followed(load_config(None, NATIVE), clip, frames),
    )
    assert enlarged >= 40, (enlarged, native)  # of 48 frames
    assert native < enlarged - 10, (enlarged, native)


def _frames_left(clip, tmp_path) -> list[int]:
    """Frames where more than 1 % of the logo is outside the run's removal mask."""
    tmp_path.mkdir()
    config = load_config(None, {"remove": {"mode": "blur"}, "encode": {"preset": "ultrafast"}})
    cues = [BrandCue("windows", "blur", (WINDOWS,))]
    masks_dir = tmp_path / "masks"
    Pipeline(Job(clip.path, tmp_path / "out.mp4", cues, config, masks_dir=masks_dir)).run()
    left = []
    for index, truth in enumerate(clip.masks):
        removed = cv2.imread(str(masks_dir / f"{index:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        dense = truth.to_dense()
        if (dense & ~removed).sum() > 0.01 * dense.sum():
            left.append(index)
    return left


def test_a_track_lost_between_keyframes_is_found_again(tmp_path, monkeypatch, real_media):
    # carphone, 100 frames: the track from keyframe 84 is lost at frame 87 (the 26 px logo's
    # look changes over the jacket) and keyframe 96 does not find the logo; the detectors
    # look again at frame 87, find it, and the track goes on to the end.
    clip = make_composite(
        tmp_path, "carphone_pristine.mp4", WINDOWS, 100, width_frac=0.15, speed_px=6
    )
    assert len(_frames_left(clip, tmp_path / "found")) <= 2
    monkeypatch.setattr(LostTracks, "recover", lambda self, *args: None)
    assert len(_frames_left(clip, tmp_path / "lost")) >= 10
