from autoblur.config import SceneCutConfig
from autoblur.io import VideoReader
from autoblur.scene import SceneCutDetector
from tests.conftest import VIDEOS


def cuts_in(video):
    detector = SceneCutDetector(SceneCutConfig())
    with VideoReader(VIDEOS / video) as reader:
        return [f.index for f in reader.frames() if detector.is_cut(f.rgb)]


def test_hard_cuts_of_bikes_are_found(real_media):
    assert cuts_in("bikes.mp4") == [30, 76, 137, 187, 242]


def test_continuous_shots_have_no_cuts(real_media):
    assert cuts_in("bigbuckbunny.mp4") == []
    assert cuts_in("carphone_pristine.mp4") == []


def test_disabled_detector_never_cuts(real_media):
    detector = SceneCutDetector(SceneCutConfig(enabled=False))
    with VideoReader(VIDEOS / "bikes.mp4") as reader:
        assert not any(detector.is_cut(f.rgb) for f in reader.frames())
