from __future__ import annotations

import numpy as np

from autoblur.review.occurrences import Footprints, build_occurrences
from autoblur.timecode import SourceClock
from autoblur.track.manager import Track
from autoblur.types import RegionMask

FRAME_HW = (100, 200)


def track(track_id: int, brand: str, source: str, cue: str, frames: range) -> Track:
    return Track(
        track_id, brand, "blur", source, cue, frames[0], frames[-1], frames[0] / 25, frames[-1] / 25
    )


def box(x0: int, y0: int, size: int = 20) -> RegionMask:
    return RegionMask(x0, y0, np.ones((size, size), bool), FRAME_HW)


def record(footprints: Footprints, placements: dict[int, dict[int, RegionMask]], cuts=()):
    """Feed per-frame masks in frame order, as the pipeline does."""
    last = max(f for frames in placements.values() for f in frames)
    for frame_idx in range(last + 1):
        masks = {
            tid: frames[frame_idx] for tid, frames in placements.items() if frame_idx in frames
        }
        footprints.add(frame_idx, masks, frame_idx in cuts)


def test_one_badge_found_by_logo_and_by_word_is_one_occurrence():
    tracks = [
        track(1, "Acme", "logo", "/refs/acme.png", range(0, 30)),
        track(2, "Acme", "text", "ACME", range(5, 30)),  # the word inside the badge
    ]
    footprints = Footprints()
    record(
        footprints,
        {
            1: {f: box(10 + f, 10) for f in range(0, 30)},
            2: {f: box(14 + f, 18, 8) for f in range(5, 30)},
        },
    )
    (occ,) = build_occurrences(tracks, footprints, fill_confidence={1: 0.9, 2: 0.4})
    assert occ.cues == ["logo:acme.png", "text:ACME"] and occ.track_ids == [1, 2]
    assert (occ.start_frame, occ.end_frame) == (0, 29) and occ.xyxy == [10, 10, 30, 30]
    assert occ.fill_confidence == 0.4
    entry = occ.to_json(SourceClock(25, "10:00:00:00"))
    assert entry["id"] == "occ-0001"
    assert (entry["start_timecode"], entry["end_timecode"]) == ("10:00:00:00", "10:00:01:04")


def test_refound_after_a_loss_in_the_same_shot_is_one_occurrence():
    tracks = [
        track(1, "Acme", "logo", "a.png", range(0, 10)),
        track(2, "Acme", "logo", "a.png", range(16, 30)),
    ]
    footprints = Footprints()
    record(
        footprints,
        {1: {f: box(50, 50) for f in range(0, 10)}, 2: {f: box(55, 52) for f in range(16, 30)}},
    )
    assert len(build_occurrences(tracks, footprints)) == 1


def test_a_cut_a_far_place_or_another_brand_starts_a_new_occurrence():
    frames_a, frames_b = range(0, 10), range(10, 20)
    placements = {1: {f: box(50, 50) for f in frames_a}, 2: {f: box(52, 50) for f in frames_b}}
    same_shot = [
        track(1, "Acme", "logo", "a.png", frames_a),
        track(2, "Acme", "logo", "a.png", frames_b),
    ]
    footprints = Footprints()
    record(footprints, placements, cuts={10})
    occurrences = build_occurrences(same_shot, footprints)
    assert [o.occurrence_id for o in occurrences] == ["occ-0001", "occ-0002"]
    assert [o.start_frame for o in occurrences] == [0, 10]

    footprints = Footprints()
    record(footprints, {1: placements[1], 2: {f: box(150, 70) for f in frames_b}})
    assert len(build_occurrences(same_shot, footprints)) == 2

    footprints = Footprints()
    record(footprints, placements)
    other = [same_shot[0], track(2, "Globex", "logo", "g.png", frames_b)]
    assert len(build_occurrences(other, footprints)) == 2
    assert len(build_occurrences(same_shot, footprints)) == 1
