import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from autoblur.pipeline import Job, Pipeline
from autoblur.track import TrackManager, build_propagator
from autoblur.track.base import PropagatorWrapper
from autoblur.track.lookback import LookBack
from autoblur.track.recover import LostTracks
from autoblur.types import BrandCue, Detections, RegionMask
from tests.conftest import VIDEOS


def iou(a: RegionMask, b: RegionMask) -> float:
    x, y = a.to_dense(), b.to_dense()
    return (x & y).sum() / (x | y).sum()


def frames_of(composite, count=None):
    with VideoReader(composite.path) as reader:
        return [f for f in reader.frames() if count is None or f.index < count]


def detections_from(masks, brand="W"):
    masks = [m for m in masks if m is not None]
    return Detections(
        [m.xyxy for m in masks] if masks else np.zeros((0, 4)),
        [0.9] * len(masks),
        [brand] * len(masks),
        ["test"] * len(masks),
        ["truth"] * len(masks),
        masks,
    )


def test_flow_follows_a_moving_logo_forwards_and_backwards(bunny_windows):
    frames = frames_of(bunny_windows)
    propagator = build_propagator(PipelineConfig(), [])
    start = 30
    forward = propagator.propagate(
        [f.rgb for f in frames[start : start + 13]], {7: bunny_windows.masks[start]}
    )
    assert all(7 in masks for masks in forward)
    assert min(iou(m[7], bunny_windows.masks[start + 1 + i]) for i, m in enumerate(forward)) > 0.85
    backward = propagator.propagate(
        [f.rgb for f in frames[start::-1]], {7: bunny_windows.masks[start]}
    )
    tracked_back = [start - 1 - i for i, m in enumerate(backward) if 7 in m]
    # The logo enters at frame 20: it is followed back to there, and not into the frames before.
    assert 20 <= min(tracked_back) <= 22
    assert tracked_back == list(range(start - 1, min(tracked_back) - 1, -1))


def test_manager_keeps_ids_starts_mid_video_and_resets_at_cuts(bunny_windows):
    frames = frames_of(bunny_windows)
    config = PipelineConfig()
    manager = TrackManager(build_propagator(config, []), config.track, {"W": "blur"})
    every = 12
    outputs: dict[int, dict] = {}
    previous = 0
    for key in range(0, 61, every):
        between = frames[previous + 1 : key] if key else []
        per_frame = manager.advance(
            between, frames[key], detections_from([bunny_windows.masks[key]]), False
        )
        for frame, masks in zip([*between, frames[key]], per_frame, strict=True):
            outputs[frame.index] = masks
        previous = key
    tracks = manager.all_tracks()
    assert len(tracks) == 1  # one id for the whole appearance
    track = tracks[0]
    assert 20 <= track.first_frame <= 22  # back-filled from keyframe 24 to where it appeared
    assert track.last_frame == 60
    assert [k["frame"] for k in track.keyframes] == [24, 36, 48, 60]
    for index in range(22, 61):
        assert iou(outputs[index][track.track_id], bunny_windows.masks[index]) > 0.8
    assert all(not outputs[i] for i in range(0, 20))
    # A cut ends the track; the next detection gets a new id.
    more = frames[61:64]
    manager.advance(more[:-1], more[-1], detections_from([bunny_windows.masks[63]]), True)
    tracks = manager.all_tracks()
    assert [t.track_id for t in tracks] == [1, 2]
    assert tracks[0].last_frame == 62 and tracks[1].first_frame == 63


def test_undetected_track_is_kept_then_ended(bunny_windows):
    frames = frames_of(bunny_windows)
    config = PipelineConfig()
    manager = TrackManager(build_propagator(config, []), config.track, {"W": "blur"})
    manager.advance([], frames[24], detections_from([bunny_windows.masks[24]]), False)
    manager.advance(frames[25:36], frames[36], Detections.empty(), False)
    assert list(manager.active) == [1] and manager.active[1].missed == 1
    masks = manager.advance(frames[37:48], frames[48], Detections.empty(), False)
    # Missed a second time it ends, after the keyframe the tracker still followed it to.
    assert not manager.active and manager.finished[0].last_frame == 48
    assert 1 in masks[-1]


@pytest.mark.parametrize("brand", ["W", "Other"])
def test_association_needs_the_same_brand(bunny_windows, brand):
    frames = frames_of(bunny_windows)
    config = PipelineConfig()
    manager = TrackManager(
        build_propagator(config, []), config.track, {"W": "blur", "Other": "blur"}
    )
    manager.advance([], frames[24], detections_from([bunny_windows.masks[24]], "W"), False)
    manager.advance(
        frames[25:36], frames[36], detections_from([bunny_windows.masks[36]], brand), False
    )
    assert len(manager.all_tracks()) == (1 if brand == "W" else 2)


def tracked_masks(composite, detect_from, lookback):
    """Frame index to track masks from the pipeline, the logo detected from ``detect_from`` on."""
    config = PipelineConfig(change_keyframes=False)  # keyframes every 12 frames exactly
    config.track.lookback_keyframes = lookback
    pipeline = Pipeline(Job(composite.path, None, [BrandCue("W", "blur")], config))
    propagator = build_propagator(config, [])
    pipeline.manager = TrackManager(propagator, config.track, {"W": "blur"})
    no_finds = lambda *_: None  # noqa: E731 - the detectors find nothing near a lost track
    pipeline.lost = LostTracks(pipeline.manager, propagator, no_finds, config.track.match_iou)
    pipeline.lookback = LookBack(pipeline.manager, lookback)
    pipeline.detectors = []
    pipeline._detect = lambda keys: [
        detections_from([composite.masks[k.index]] if k.index >= detect_from else []) for k in keys
    ]
    with VideoReader(composite.path) as reader:
        return [(f.index, masks) for f, masks, _ in pipeline._tracked(reader.frames())]


@pytest.mark.parametrize("lookback", [0, 2])
def test_first_detection_is_tracked_back_through_held_keyframe_stretches(bunny_windows, lookback):
    # The logo is on screen from frame 20 but first detected on keyframe 48: with two
    # stretches held back, tracking backwards goes past keyframes 36 and 24 to frame 20.
    out = tracked_masks(bunny_windows, 48, lookback)
    assert [index for index, _ in out] == list(range(bunny_windows.frame_count))
    covered = [index for index, masks in out if masks]
    if lookback == 0:
        assert covered[0] == 37  # only back to the previous keyframe
        return
    assert 20 <= covered[0] <= 22
    for index in range(covered[0], bunny_windows.frame_count):
        assert iou(out[index][1][1], bunny_windows.masks[index]) > 0.8


@pytest.mark.parametrize("extra", [True, False])
def test_a_keyframe_taken_off_schedule_is_no_missed_keyframe(bunny_windows, extra):
    # Found on keyframe 24, not on 30 nor on 36. Keyframe 30 taken because something appeared
    # (extra) does not count as a miss: the track lives on past 36 (one miss allowed).
    frames = frames_of(bunny_windows)
    config = PipelineConfig()
    manager = TrackManager(build_propagator(config, []), config.track, {"W": "blur"})
    manager.advance([], frames[24], detections_from([bunny_windows.masks[24]], "W"), False)
    manager.advance(frames[25:30], frames[30], detections_from([], "W"), False, extra=extra)
    manager.advance(frames[31:36], frames[36], detections_from([], "W"), False)
    assert bool(manager.active) == extra


class _HoldsStill(PropagatorWrapper):
    """Holds every mask still (as the overlay holder holds a channel's bug), or none."""

    def __init__(self, inner, still: bool) -> None:
        super().__init__(inner)
        self.still = still

    def holds_still(self, mask: RegionMask) -> bool:
        return self.still

    def propagate(self, frames_rgb, start_masks, continues=False):
        return [dict(start_masks) for _ in frames_rgb[1:]]


def _bug_pipeline(still: bool, reported: int) -> tuple[Pipeline, RegionMask]:
    """A pipeline over bikes.mp4 (keyframes every 12 frames, and at cuts) whose detectors
    report a fixed bug from frame ``reported`` on, whose tracker holds it still or not."""
    config = PipelineConfig(change_keyframes=False)
    pipeline = Pipeline(Job(VIDEOS / "bikes.mp4", None, [BrandCue("W", "blur")], config))
    propagator = _HoldsStill(build_propagator(config, []), still)
    pipeline.manager = TrackManager(propagator, config.track, {"W": "blur"})
    no_finds = lambda *_: None  # noqa: E731
    pipeline.lost = LostTracks(pipeline.manager, propagator, no_finds, config.track.match_iou)
    pipeline.lookback = LookBack(pipeline.manager, 2)
    pipeline.detectors = []
    bug = RegionMask.from_dense(np.pad(np.ones((30, 60), bool), ((10, 232), (570, 10))))
    found = lambda k: [bug] if k.index >= reported else []  # noqa: E731
    pipeline._detect = lambda keys: [detections_from(found(k)) for k in keys]
    return pipeline, bug


@pytest.mark.parametrize(("reported", "first"), [(30, 12), (36, 24), (48, 30)])
def test_an_overlay_found_just_after_a_cut_covers_the_shot_before(real_media, reported, first):
    # bikes.mp4 cuts at frame 30; keyframes at 0, 12, 24, 30 (the cut's), 36, 48 (every 12th
    # frame of the file, and 30 to 36 is half an interval). A fixed bug
    # first reported on keyframe ``reported`` was shown by the two keyframes before it (the
    # overlay matcher confirms a place on the third): held still, it goes back to the older of
    # them, into the shot before the cut as a track of its own (no track crosses a cut) when
    # that keyframe lies there.
    pipeline, bug = _bug_pipeline(True, reported)
    with VideoReader(VIDEOS / "bikes.mp4") as reader:
        frames = (f for f in reader.frames() if f.index < 60)
        out = {f.index: masks for f, masks, _ in pipeline._tracked(frames)}
    assert pipeline.keyframe_indices == [0, 12, 24, 30, 36, 48, 59]
    assert sorted(out) == list(range(60))
    assert [i for i in out if out[i]] == list(range(first, 60))
    assert all(iou(mask, bug) == 1.0 for i in out for mask in out[i].values())
    spans = sorted((t.first_frame, t.last_frame) for t in pipeline.manager.all_tracks())
    assert spans == ([(first, 29), (30, 59)] if first < 30 else [(30, 59)])


@pytest.mark.parametrize("still", [True, False])
def test_an_overlay_first_found_on_a_cuts_keyframe_covers_the_shot_before(real_media, still):
    # bikes.mp4 cuts at frame 30; keyframes at 0, 12, 24 and 30 (the cut's), 36. A fixed bug
    # is first reported on the cut's keyframe (the overlay matcher confirms a place on its
    # third keyframe: 12 and 24 showed it). A mask the tracker holds still also goes back into
    # the shot before, from keyframe 12, as a track of its own (no track crosses a cut); any
    # other track starts at the cut.
    pipeline, bug = _bug_pipeline(still, 30)
    with VideoReader(VIDEOS / "bikes.mp4") as reader:
        frames = (f for f in reader.frames() if f.index < 42)
        out = {f.index: masks for f, masks, _ in pipeline._tracked(frames)}
    assert sorted(out) == list(range(42))
    first = 12 if still else 30
    assert [i for i in out if out[i]] == list(range(first, 42))
    assert all(iou(mask, bug) == 1.0 for i in out for mask in out[i].values())
    spans = sorted((t.first_frame, t.last_frame) for t in pipeline.manager.all_tracks())
    assert spans == ([(12, 29), (30, 41)] if still else [(30, 41)])
