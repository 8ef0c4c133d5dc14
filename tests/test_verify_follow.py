"""The follow check: a removed mark left on screen past its track's ends fails verification.

Ground truth from composites: a mark drawn onto a real clip (vtest.avi) gives its exact mask and
the bare background, so an "output" that removed the mark on some frames is the composite with
the bare pixels pasted under the mask there.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from autoblur.io import VideoReader
from autoblur.verify.follow import LeftFrame, add_left, find_left, follow_jobs, follow_repairs
from bench.recall_cases import CaseSpec, Copy, _encode, _encoder, render_case
from tests.conftest import VIDEOS
from tests.test_bench_recall import made_up_mark, write_mark

FRAMES = 30


@pytest.fixture(scope="module")
def composite(tmp_path_factory):
    """A two-colour made-up mark (or its outline) moving over vtest.avi's people, on screen
    from ``first`` to ``last``."""

    def render(first: int, last: int, name: str, outline: bool = False):
        tmp = tmp_path_factory.mktemp(name)
        rgb, alpha = made_up_mark(90, 60)
        rgb[:] = (30, 60, 200)
        rgb[20:40] = (240, 200, 40)
        path = ((0.0, 200.0, 200.0), (1.0, 420.0, 300.0))
        if outline:  # a faint thin outline kept still on the building: its box is nearly all wall
            alpha = alpha - cv2.erode(alpha, np.ones((5, 5), np.uint8))
            path = ((0.0, 150.0, 90.0), (1.0, 150.0, 90.0))
        mark = write_mark(tmp / "mark.png", rgb, alpha)
        case = CaseSpec(
            name=name,
            mark="mark.png",
            variant="standard",
            clip="vtest.avi",
            start=0,
            frames=FRAMES,
            copies=(Copy(90.0, first, last, path),),
            opacity=0.25 if outline else 1.0,
        )
        done = render_case(case, mark, VIDEOS / "vtest.avi", tmp / "in.mp4", tmp / "bare.mp4")
        return tmp, done

    return render


def write_output(tmp: Path, done, removed: range, keep: int | None = None) -> Path:
    """The composite with the mark's pixels (and a 3 px margin) bare on ``removed`` frames
    (but frame ``keep``)."""
    out = tmp / f"out_{removed.start}_{removed.stop}_{keep}.mp4"
    with VideoReader(done.path) as shown, VideoReader(done.clean_path) as bare:
        pairs = list(zip(shown.frames(), bare.frames(), strict=True))
        fps = shown.info.fps
    h, w = pairs[0][0].rgb.shape[:2]
    container, stream = _encoder(out, w, h, Fraction(fps).limit_denominator(1001 * 1000))
    try:
        for i, (a, b) in enumerate(pairs):
            picture = a.rgb.copy()
            truth = done.truths[i][0]
            if i in removed and i != keep and truth is not None:
                mask = cv2.dilate(truth.to_dense().astype(np.uint8), np.ones((7, 7), np.uint8))
                picture[mask > 0] = b.rgb[mask > 0]
            _encode(container, stream, picture, i)
        _encode(container, stream, None, 0)
    finally:
        container.close()
    return out


def track(done, first: int, last: int, detected: list[int]) -> SimpleNamespace:
    """A track with detections (the true boxes) on ``detected`` frames."""
    records = [{"frame": f, "xyxy": done.truths[f][0].xyxy.tolist()} for f in detected]
    return SimpleNamespace(
        track_id=7, brand="Made Up", first_frame=first, last_frame=last, keyframes=records
    )


def frame_hw(done) -> tuple[int, int]:
    with VideoReader(done.path) as reader:
        return reader.info.height, reader.info.width


def overlap(a, b) -> float:
    """Intersection over the smaller box."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / small


def test_a_mark_left_after_its_track_ended_is_found_where_it_is(composite):
    tmp, done = composite(0, FRAMES - 1, "after")
    out = write_output(tmp, done, range(0, 15))
    jobs = follow_jobs([track(done, 0, 14, [0, 12])], [0], FRAMES, frame_hw(done), 24)
    read, left = find_left(done.path, out, jobs)
    frames = [item.frame_idx for item in left]
    assert frames and frames[0] == 15
    assert set(frames) <= set(range(15, FRAMES))
    for item in left:
        assert overlap(item.xyxy, done.truths[item.frame_idx][0].xyxy) > 0.7
        assert item.track_id == 7 and item.brand == "Made Up"


def test_the_repair_masks_cover_the_mark_where_it_was_left(composite):
    # What was removed on the track's last frame, moved to where the mark was followed and
    # grown: it covers every pixel of the mark on each frame it was left, in the brand's action.
    tmp, done = composite(0, FRAMES - 1, "after")
    out = write_output(tmp, done, range(0, 15))
    jobs = follow_jobs([track(done, 0, 14, [0, 12])], [0], FRAMES, frame_hw(done), 24)
    _, left = find_left(done.path, out, jobs)
    repairs = follow_repairs(left, {"Made Up": "blur"}, 6)
    assert sorted(repairs) == sorted({item.frame_idx for item in left})
    for f, by_action in repairs.items():
        [mask] = by_action["blur"]
        truth = done.truths[f][0].to_dense()
        assert mask.to_dense()[truth].mean() == 1.0
        assert mask.to_dense().sum() < 4 * truth.sum()  # the mark's place, not the picture
    assert follow_repairs([LeftFrame(15, 0.6, 7, "Made Up", (1, 2, 30, 40))], {}, 6) == {}


def test_a_mark_left_before_its_track_began_is_found(composite):
    tmp, done = composite(0, FRAMES - 1, "before")
    out = write_output(tmp, done, range(10, FRAMES))
    jobs = follow_jobs([track(done, 10, FRAMES - 1, [10, 22])], [0], FRAMES, frame_hw(done), 24)
    _, left = find_left(done.path, out, jobs)
    assert 9 in [item.frame_idx for item in left]
    assert {item.frame_idx for item in left} <= set(range(10))


def test_one_frame_left_whole_between_two_detections_is_found(composite):
    # A one-frame flash of the brand in the middle of its track, between keyframes 12 and 24.
    tmp, done = composite(0, FRAMES - 1, "flash")
    out = write_output(tmp, done, range(0, FRAMES), keep=17)
    jobs = follow_jobs([track(done, 0, FRAMES - 1, [0, 12, 24])], [0], FRAMES, frame_hw(done), 24)
    assert [item.frame_idx for item in find_left(done.path, out, jobs)[1]] == [17]


def test_nothing_is_left_when_the_mark_went_away_with_its_track(composite):
    # The mark leaves the picture after frame 14 (the people and the street stay): following
    # what was removed must not take the street for the mark.
    tmp, done = composite(0, 14, "gone")
    out = write_output(tmp, done, range(0, 15))
    jobs = follow_jobs([track(done, 0, 14, [0, 12])], [0], FRAMES, frame_hw(done), 24)
    read, left = find_left(done.path, out, jobs)
    assert read > 0
    assert left == []


def test_a_still_outline_gone_with_its_track_is_not_taken_for_the_wall(composite):
    # The box of a still outline is mostly the wall behind it, which stays as it was when the
    # outline goes: only the mark's own pixels tell that it went.
    tmp, done = composite(0, 14, "outline", outline=True)
    out = write_output(tmp, done, range(0, 15))
    jobs = follow_jobs([track(done, 0, 14, [0, 12])], [0], FRAMES, frame_hw(done), 24)
    assert find_left(done.path, out, jobs)[1] == []


def test_a_faint_still_outline_left_after_its_track_is_found(composite):
    # The same outline staying on screen (a channel's corner bug) is still the mark.
    tmp, done = composite(0, FRAMES - 1, "bug", outline=True)
    out = write_output(tmp, done, range(0, 15))
    jobs = follow_jobs([track(done, 0, 14, [0, 12])], [0], FRAMES, frame_hw(done), 24)
    frames = [item.frame_idx for item in find_left(done.path, out, jobs)[1]]
    assert frames[:1] == [15]


def test_nothing_is_left_when_every_frame_was_removed(composite):
    tmp, done = composite(0, FRAMES - 1, "all")
    out = write_output(tmp, done, range(0, FRAMES))
    jobs = follow_jobs([track(done, 0, FRAMES - 1, [0, 12, 24])], [0], FRAMES, frame_hw(done), 24)
    assert find_left(done.path, out, jobs)[1] == []


def test_jobs_stay_in_the_shot_and_skip_kept_brands_doubtful_and_undetected_tracks():
    t = SimpleNamespace(
        track_id=1, brand="A", first_frame=10, last_frame=19,
        keyframes=[{"frame": 12, "xyxy": [100, 100, 160, 150]}],
    )  # fmt: skip
    jobs = follow_jobs([t], [0, 20], 100, (360, 640), 24)
    assert [(j.step, j.anchor, j.stop) for j in jobs] == [(1, 12, 19), (-1, 12, 0)]
    jobs = follow_jobs([t], [0, 5, 20], 100, (360, 640), 3)
    assert [(j.step, j.anchor, j.stop) for j in jobs] == [(1, 12, 19), (-1, 12, 7)]
    assert follow_jobs([t], [0], 100, (360, 640), 24, frozenset({"A"})) == []
    t.keyframes = [{"frame": 12, "xyxy": [100, 100, 160, 150], "score": 0.66}]  # a doubtful find
    assert follow_jobs([t], [0], 100, (360, 640), 24, min_score=0.8) == []
    assert len(follow_jobs([t], [0], 100, (360, 640), 24, min_score=0.6)) == 2
    # found again on a second keyframe (as a textured logo's SIFT score of 0.6 every time): sure
    t.keyframes = t.keyframes + [{"frame": 15, "xyxy": [104, 100, 164, 150], "score": 0.6}]
    assert len(follow_jobs([t], [0], 100, (360, 640), 24, min_score=0.8)) == 3
    t.keyframes = []
    assert follow_jobs([t], [0], 100, (360, 640), 24) == []


def test_left_frames_fail_the_verification():
    entry = {"checked_frames": [1], "residual": [], "verified_clean": True}
    add_left(entry, 12, [LeftFrame(15, 0.6, 7, "Made Up", (1, 2, 30, 40))])
    assert entry["verified_clean"] is False
    assert entry["followed_left"][0]["frame"] == 15
    assert entry["residual"][0]["followed"] is True
    add_left(entry := {"residual": [], "verified_clean": True}, 0, [])
    assert entry["verified_clean"] is True
