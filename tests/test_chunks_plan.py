"""The chunk plan: pieces start only where decoding can begin, prefer cuts, cover every frame."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from autoblur.chunks import FrameIndex, plan_chunks, read_frame_index
from autoblur.chunks.plan import overlap_frames, past_cut_frames
from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from bench.make_io_corpus import clip_frames, write_case
from tests.conftest import VIDEOS

CONFIG = PipelineConfig()
OVERLAP = overlap_frames(CONFIG)  # (2 + 1) x 12 + 30 = 66 frames with the defaults


def index_of(total: int, starts: list[int], fps: int = 25) -> FrameIndex:
    return FrameIndex(list(range(0, total * 1000, 1000)), starts, Fraction(fps), False)


def covered(plan) -> list[int]:
    return [f for piece in plan.pieces for f in range(piece.start, piece.end)]


def test_a_file_shorter_than_a_piece_is_one_piece():
    plan = plan_chunks(index_of(300, [0, 100, 200]), 60, CONFIG)
    assert [(p.start, p.end, p.lead_in, p.lead_out) for p in plan.pieces] == [(0, 300, 0, 0)]
    assert plan.pieces[0].starts_at == "file start"


def test_borders_fall_on_closed_gops_near_the_length_with_overlap_inside_the_file():
    starts = list(range(0, 3000, 48))  # a closed GOP every 48 frames
    plan = plan_chunks(index_of(3000, starts), 20, CONFIG)  # 500 frames a piece
    assert covered(plan) == list(range(3000))
    borders = [p.start for p in plan.pieces]
    assert borders == [0, 480, 960, 1440, 1920, 2400]  # the GOP start nearest 500 on
    assert all(b in starts for b in borders)
    assert [p.starts_at for p in plan.pieces][:2] == ["file start", "closed GOP"]
    assert plan.pieces[0].lead_in == 0 and plan.pieces[-1].lead_out == 0
    assert all(p.lead_in == OVERLAP for p in plan.pieces[1:])
    assert all(p.lead_out == OVERLAP for p in plan.pieces[:-1])


def test_a_cut_near_the_length_is_taken_and_no_overlap_crosses_a_cut():
    starts = list(range(0, 1500, 25))
    cuts = [440, 700, 1000]  # 440 and 1000 begin GOPs; 700 does not
    starts.append(440)
    plan = plan_chunks(index_of(1500, sorted(starts)), 20, CONFIG, cuts=cuts)
    assert [p.start for p in plan.pieces] == [0, 440, 1000]
    assert [p.starts_at for p in plan.pieces] == ["file start", "cut", "cut"]
    first, second, third = plan.pieces
    # The border is a cut: no lead-in; the lead-out reads the cut's frame and the keyframes
    # after it that confirm an overlay (2 x 12 + 1 frames with the defaults).
    assert past_cut_frames(CONFIG) == 25
    assert first.lead_out == 25 and second.lead_in == 0
    assert second.lead_out == 25 and third.lead_in == 0
    # A cut inside a piece bounds nothing; one inside the overlap stops the lead-in there,
    # and the lead-out 25 frames past it.
    plan = plan_chunks(index_of(1500, list(range(0, 1500, 25))), 20, CONFIG, cuts=[480])
    assert plan.pieces[1].start == 500
    assert plan.pieces[1].lead_in == 20 and plan.pieces[0].lead_out == OVERLAP
    plan = plan_chunks(index_of(1500, list(range(0, 1500, 25))), 20, CONFIG, cuts=[540])
    assert plan.pieces[0].lead_out == 40 + 25


def test_the_last_piece_is_never_under_half_the_length_and_long_gops_move_the_border():
    plan = plan_chunks(index_of(1100, list(range(0, 1100, 10))), 20, CONFIG)
    assert [p.start for p in plan.pieces] == [0, 500]  # 600 left: no piece of 100
    # No GOP starts within half a piece of the wanted border: the next one that does.
    plan = plan_chunks(index_of(3000, [0, 1200, 2400]), 20, CONFIG)
    assert [p.start for p in plan.pieces] == [0, 1200, 2400]
    assert covered(plan) == list(range(3000))


def _first_frames_after_seek(path, time: int, count: int) -> list[tuple[int, np.ndarray]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(time, stream=stream, backward=True, any_frame=False)
        out = []
        for frame in container.decode(stream):
            out.append((frame.pts, frame.to_ndarray(format="rgb24")))
            if len(out) == count:
                return out
    return out


@pytest.mark.parametrize("case", ["h264", "prores", "file"])
def test_every_start_is_a_frame_decoding_can_begin_at(tmp_path, case):
    if case == "file":
        path = VIDEOS / "bikes.mp4"  # x264 with scene-cut keyframes, B-frames
    else:
        frames = clip_frames(VIDEOS / "bikes.mp4", 75, (160, 96))
        path = write_case(case, tmp_path, frames)
    index = read_frame_index(path)
    with av.open(str(path)) as container:
        whole = [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert [t for t, _ in whole] == index.times
    assert index.intra_only == (case == "prores")
    if case == "prores":
        assert index.starts == list(range(len(whole)))
    else:
        assert 2 <= len(index.starts) < len(whole) // 10
    for start in index.starts[1:8]:
        after = _first_frames_after_seek(path, index.times[start], 4)
        assert [t for t, _ in after] == index.times[start : start + 4]
        for (_, got), (_, want) in zip(after, whole[start : start + 4], strict=True):
            assert np.array_equal(got, want)


def test_the_plan_of_a_real_file_and_its_report():
    index = read_frame_index(VIDEOS / "bikes.mp4")  # 250 frames at 25 fps
    plan = plan_chunks(index, 2, CONFIG)
    assert covered(plan) == list(range(250))
    assert all(p.start in index.starts for p in plan.pieces)
    described = plan.describe()
    assert described["frames"] == 250 and len(described["pieces"]) == len(plan.pieces) > 2
    first = described["pieces"][1]
    assert first["start_time"] == index.times[first["start"]]
    assert first["seconds"] == pytest.approx((first["end"] - first["start"]) / 25)


@pytest.mark.parametrize("case", ["h264", "prores", "file"])
def test_the_reader_begins_a_piece_at_a_start_with_the_same_frames(tmp_path, case):
    if case == "file":
        path = VIDEOS / "bikes.mp4"
    else:
        path = write_case(case, tmp_path, clip_frames(VIDEOS / "bikes.mp4", 75, (160, 96)))
    index = read_frame_index(path)
    with VideoReader(path) as reader:
        whole = [(f.index, f.pts, f.rgb) for f in reader.frames()]
    for start in index.starts[1:6]:
        with VideoReader(path) as reader:
            piece = [
                (f.index, f.pts, f.rgb) for f in reader.frames(begin=(start, index.times[start]))
            ]
        assert [(i, t) for i, t, _ in piece] == [(i, t) for i, t, _ in whole[start:]]
        for (_, _, got), (_, _, want) in zip(piece, whole[start:], strict=True):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("case", ["sd_ts", "mpeg2_ps", "prores"])
def test_a_piece_far_into_a_file_whose_demuxer_seeks_late(tmp_path, case):
    # MPEG-TS and MPEG-PS land after the time asked for; 30 s, so that the seek is no rewind.
    path = write_case(case, tmp_path, clip_frames(VIDEOS / "bikes.mp4", 750, (160, 96)))
    index = read_frame_index(path)
    with VideoReader(path) as reader:
        whole = [(f.index, f.pts, f.rgb) for f in reader.frames()]
    start = next(s for s in index.starts if s > 400)
    with VideoReader(path) as reader:
        piece = [(f.index, f.pts, f.rgb) for f in reader.frames(begin=(start, index.times[start]))]
    assert [(i, t) for i, t, _ in piece] == [(i, t) for i, t, _ in whole[start:]]
    for (_, _, got), (_, _, want) in zip(piece, whole[start:], strict=True):
        assert np.array_equal(got, want)
    # A few frames of the piece: an intra-only master decodes only those.
    wanted = {start + 3, start + 10}
    with VideoReader(path) as reader:
        some = [
            (f.index, f.pts) for f in reader.frames(only=wanted, begin=(start, index.times[start]))
        ]
    assert some == [(i, t) for i, t, _ in whole if i in wanted]
