"""What re-encoded H.264/HEVC headers declare: the input's chroma location, a frame rate.

Players and QC read both from the sequence headers (VUI): a lost ``topleft`` shifts an HDR
master's chroma by half a pixel; a VUI time base of 1/90000 declares "90000 fps" and leaves
MPEG-TS and FLV demuxers without frame durations, so the last frame lost its time on screen.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from autoblur.config import EncodeConfig
from autoblur.io.chroma_location import coded_chroma_location
from bench.make_io_corpus import write_case
from tests.test_io_field_formats import SIZE, rewrite, write_ts
from tests.test_io_timestamps import tiny_frames, video_end

FRAMES = 8


def write_declaring(path: Path, codec: str, pix_fmt: str, location: str | None) -> None:
    """``FRAMES`` frames at 25 fps whose headers declare ``location`` (None: nothing)."""
    options = {"chroma_sample_location": location} if location else {}
    if codec == "libx265":
        options["x265-params"] = "log-level=error"
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=25, options=options)
        video.width, video.height = SIZE
        video.pix_fmt = pix_fmt
        for rgb in tiny_frames(FRAMES, SIZE):
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode(None))


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "location"),
    [
        ("uhd_hdr.mkv", "libx265", "yuv420p10le", "topleft"),  # BT.2020 masters
        ("mpeg1_style.mp4", "libx264", "yuv420p", "center"),
        ("broadcast.ts", "libx264", "yuv420p", "topleft"),  # headers in band only
        ("plain.mp4", "libx264", "yuv420p", None),
        ("web.mp4", "libsvtav1", "yuv420p", "topleft"),  # AV1 (out as H.264, with a notice)
    ],
)
def test_the_chroma_location_the_input_declares_is_kept(tmp_path, name, codec, pix_fmt, location):
    src = tmp_path / name
    write_declaring(src, codec, pix_fmt, location)
    assert coded_chroma_location(src, 0) == location
    out = tmp_path / f"out_{name}"
    writer = rewrite(src, out, EncodeConfig(copy_untouched=False))  # every frame re-encoded
    assert writer.plan.codec == {"libsvtav1": "libx264"}.get(codec, codec)
    assert coded_chroma_location(out, 0) == location


def test_codecs_without_a_coded_chroma_location_give_none(tmp_path):
    src = write_case("mxf", tmp_path, tiny_frames(FRAMES, SIZE))  # MPEG-2 4:2:2
    assert coded_chroma_location(src, 0) is None


@pytest.mark.parametrize("suffix", ["ts", "flv"])
def test_constant_rate_h264_declares_its_frame_rate_and_keeps_the_last_frames_time(
    tmp_path, suffix
):
    src = tmp_path / f"in.{suffix}"
    if suffix == "ts":
        write_ts(src, tiny_frames(FRAMES, SIZE), 90000)
    else:
        write_declaring(src, "libx264", "yuv420p", None)
    out = tmp_path / f"out.{suffix}"
    rewrite(src, out, EncodeConfig(copy_untouched=False))
    with av.open(str(src)) as container:
        times = [p.pts * p.time_base for p in container.demux(video=0) if p.size]
    with av.open(str(out)) as container:
        durations = [p.duration * p.time_base for p in container.demux(video=0) if p.size]
    assert durations == [Fraction(1, 25)] * FRAMES
    assert video_end(out) == pytest.approx(float(max(times) + Fraction(1, 25)), abs=1e-3)


def test_variable_rate_h264_is_not_declared_constant(tmp_path):
    src = write_case("vfr", tmp_path, tiny_frames(20, SIZE))
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        assert stream.average_rate != stream.base_rate  # really variable
    writer = rewrite(src, tmp_path / "out.mp4", EncodeConfig(copy_untouched=False))
    assert "force-cfr" not in writer.plan.options.get("x264-params", "")
