from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from autoblur.timecode import SourceClock, read_start_timecode, source_clock
from tests.conftest import VIDEOS, write_tiny_video

NTSC = Fraction(30000, 1001)


def write_with_timecode(path, timecode: str, rate: Fraction = NTSC) -> None:
    """A tiny MOV whose video stream carries a timecode (muxed as a QuickTime tmcd track)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = timecode
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_timecode_track_gives_the_start_in_drop_frame(tmp_path):
    path = tmp_path / "tc.mov"
    write_with_timecode(path, "01:00:00;00")
    with av.open(str(path)) as container:  # the file really has a tmcd track
        assert any(s.type == "data" for s in container.streams)
    assert read_start_timecode(path) == "01:00:00;00"
    clock = source_clock(path, NTSC)
    assert clock.drop_frame
    assert clock.timecode(0) == "01:00:00;00"
    assert clock.timecode(1799) == "01:00:59;29"
    assert clock.timecode(1800) == "01:01:00;02"  # frames 00 and 01 are dropped each minute
    assert clock.timecode(17982) == "01:10:00;00"  # but not every tenth minute


def test_non_drop_source_timecode_is_kept(tmp_path):
    path = tmp_path / "tc.mov"
    write_with_timecode(path, "10:00:00:00", rate=Fraction(25))
    clock = source_clock(path, Fraction(25))
    assert not clock.drop_frame
    assert [clock.timecode(i) for i in (0, 24, 25, 90000)] == [
        "10:00:00:00",
        "10:00:00:24",
        "10:00:01:00",
        "11:00:00:00",
    ]


def test_without_timecode_the_clock_starts_at_zero(tmp_path, real_media):
    path = write_tiny_video(tmp_path / "plain.mp4", rate=Fraction(25), audio=False)
    assert read_start_timecode(path) is None
    assert source_clock(path, Fraction(25)).timecode(26) == "00:00:01:01"
    carphone = VIDEOS / "carphone_pristine.mp4"  # 29.97 fps, no timecode: drop-frame from zero
    assert read_start_timecode(carphone) is None
    clock = source_clock(carphone, NTSC)
    assert clock.timecode(0) == "00:00:00;00" and clock.timecode(1800) == "00:01:00;02"


@pytest.mark.parametrize("start", ["garbage", "25:99"])
def test_unreadable_timecode_falls_back_to_zero(start):
    assert SourceClock(Fraction(25), start).timecode(0) == "00:00:00:00"


def test_5994_counts_four_dropped_frames():
    clock = SourceClock(Fraction(60000, 1001))
    assert clock.timecode(3599) == "00:00:59;59" and clock.timecode(3600) == "00:01:00;04"
