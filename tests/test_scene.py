from autoblur.config import SceneCutConfig
from autoblur.io import VideoReader
from autoblur.keyframes.cuts import SceneCutDetector
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


def test_removers_are_told_which_frames_start_a_shot(real_media, tmp_path, monkeypatch):
    import autoblur.pipeline as pipeline_module
    from autoblur.config import load_config
    from autoblur.types import BrandCue
    from tests.conftest import IMAGES

    starts = []

    def recording_remover(frames):
        for item in frames:
            if item.starts_shot:
                starts.append(item.frame.index)
            yield item

    recording_remover.action = "blur"  # a Remover names its action (the report's stages)
    monkeypatch.setattr(pipeline_module, "build_removers", lambda *_: [recording_remover])
    job = pipeline_module.Job(
        VIDEOS / "bikes.mp4",
        tmp_path / "out.mp4",
        [BrandCue("box", "blur", (IMAGES / "box.png",))],
        load_config(None),
    )
    pipeline_module.Pipeline(job).run()
    assert starts == cuts_in("bikes.mp4")
