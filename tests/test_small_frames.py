"""Archive-size frames (QCIF 176x144): a logo 26 px wide is found and followed."""

from __future__ import annotations

import pytest

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.track.flow import FlowPropagator
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
