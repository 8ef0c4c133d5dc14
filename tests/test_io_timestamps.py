"""Files whose muxer stored odd timestamps: the output shows the input's frames at their times."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import av
import numpy as np
import pytest

from autoblur.config import EncodeConfig
from autoblur.errors import VideoError
from autoblur.io import VideoReader, VideoWriter
from autoblur.io.timestamps import PresentationClock
from bench.make_io_corpus import write_case
from tests.test_io import copy_video

RATE = Fraction(25)


def tiny_frames(count: int = 10, size_wh: tuple[int, int] = (96, 64)) -> list[np.ndarray]:
    """A moving gradient whose frames all differ, as (H, W, 3) uint8 RGB."""
    xs = np.linspace(0, 255, size_wh[0], dtype=np.float32)
    frames = []
    for i in range(count):
        rgb = np.empty((size_wh[1], size_wh[0], 3), np.uint8)
        rgb[..., 0] = (xs + 11 * i) % 256
        rgb[..., 1] = np.linspace(0, 255, size_wh[1])[:, None]
        rgb[..., 2] = (23 * i) % 256
        frames.append(rgb)
    return frames


def shown(path) -> list[tuple[float, np.ndarray]]:
    """(time in s, luma) of each frame as a plain PyAV decode shows it, in display order."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [
            (f.pts * stream.time_base, f.to_ndarray(format="gray"))
            for f in container.decode(stream)
        ]
    return frames


def video_end(path) -> float:
    """When the video's last frame stops showing, in seconds."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ends = [p.pts + p.duration for p in container.demux(stream) if p.size]
    return float(max(ends) * stream.time_base)


def nearest_source(luma: np.ndarray, sources: list[np.ndarray]) -> int:
    return int(np.argmin([np.abs(luma.astype(int) - s).mean() for s in sources]))


@pytest.mark.parametrize(
    ("case", "times_s"),
    [
        # Decode-order pts: the frames are every 1/25 s from 0.
        ("decode_order", [i / 25 for i in range(10)]),
        # AVI's own frame counter; ffmpeg shows MPEG-4 B-frame streams one frame late, and
        # the output (H.264, which demuxers also show one frame late) must match exactly.
        ("avi_bframes", [(i + 1) / 25 for i in range(10)]),
        # Irregular steps, starting 0.2 s after the audio.
        ("vfr", [0.2 + s / 50 for s in np.cumsum([0] + [2 + (i % 3 == 1) * 2 for i in range(9)])]),
    ],
)
def test_frames_keep_their_times_in_display_order(tmp_path, case, times_s):
    frames = tiny_frames()
    src = write_case(case, tmp_path, frames, RATE)
    out = tmp_path / f"out{src.suffix}"
    copy_video(src, out)
    result = shown(out)
    assert len(result) == len(frames)
    tick = 1e-3  # within one tick of the container (AVI counts frames: exact)
    assert [float(t) for t, _ in result] == pytest.approx(times_s, abs=tick + 1e-6)
    assert video_end(out) == pytest.approx(video_end(src), abs=tick + 1e-6)  # same duration
    # Each frame is the picture that belongs at that time, not its neighbour.
    grays = [
        av.VideoFrame.from_ndarray(f, format="rgb24").to_ndarray(format="gray") for f in frames
    ]
    assert [nearest_source(luma, grays) for _, luma in result] == list(range(len(frames)))
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert len(b.streams.audio) == len(a.streams.audio) == 1
        assert [s.type for s in b.streams] == [s.type for s in a.streams]  # mp3 stays first
        audio_in = [(p.pts, bytes(p)) for p in a.demux(a.streams.audio[0]) if p.size]
        audio_out = [(p.pts, bytes(p)) for p in b.demux(b.streams.audio[0]) if p.size]
    assert audio_in == audio_out


def _packet(pts, dts=None, size=100, discard=False):
    return SimpleNamespace(pts=pts, dts=dts, size=size, is_discard=discard)


def _stamps(packets_then_frames) -> list[int]:
    clock = PresentationClock(Fraction(512))
    times = []
    for packets, frame_pts in packets_then_frames:
        for packet in packets:
            clock.feed(packet)
        times += [clock.stamp(SimpleNamespace(pts=p)) for p in frame_pts]
    return times


def test_clock_duplicate_missing_and_discarded_times():
    # Duplicate packet times: the second frame gets one tick more.
    assert _stamps([([_packet(0), _packet(0), _packet(512)], [0, 0, 512])]) == [0, 1, 512]
    # No times at all: frames step by the nominal frame duration.
    assert _stamps([([_packet(None), _packet(None)], [None, None])]) == [0, 512]
    # Packets cut before an edit list's start, and the flush packet, give no frame.
    packets = [_packet(-512, discard=True), _packet(0), _packet(None, size=0)]
    assert _stamps([(packets, [0])]) == [0]
    # B-frames cut off before the first keyframe: their times are forgotten.
    assert _stamps([([_packet(100), _packet(200), _packet(612)], [612])]) == [612]


def write_counted_avi(path, codec: str, frame_idx: list[int], rate: Fraction = RATE) -> list:
    """An AVI whose pictures sit at chunks ``frame_idx`` (empty chunks between); their times."""
    with av.open(str(path), "w", format="avi") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        if frame_idx[0] > 0:  # the muxer pads gaps only after a first chunk
            lead = av.Packet(b"")
            lead.stream, lead.time_base, lead.pts, lead.dts = stream, 1 / rate, 0, 0
            out.mux(lead)
        for index, rgb in zip(frame_idx, tiny_frames(len(frame_idx)), strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return [float(t) for t, _ in shown(path)]


@pytest.mark.parametrize(
    "frame_idx",
    [
        [5, 6, 7, 8, 9, 10],  # the video starts 5 frames late
        [0, 3, 4, 8, 9, 15],  # repeated frames as empty chunks (tree.avi, screen captures)
    ],
)
def test_avi_frame_times_with_late_start_and_gaps(tmp_path, frame_idx):
    times_in = write_counted_avi(tmp_path / "in.avi", "mpeg4", frame_idx)
    assert times_in == pytest.approx([i / 25 for i in frame_idx])
    copy_video(tmp_path / "in.avi", tmp_path / "out.avi")
    assert [float(t) for t, _ in shown(tmp_path / "out.avi")] == pytest.approx(times_in)
    # Each picture in the chunk of its time (a picture filed at chunk 0 shows at 0 elsewhere).
    with av.open(str(tmp_path / "out.avi")) as container:
        assert [p.dts for p in container.demux(video=0) if p.size] == frame_idx


def test_avi_chunk_duration_too_fine_for_mpeg4_is_rounded_not_shifted(tmp_path):
    # tree.avi's chunks last 66667/1000000 s; MPEG-4 Part 2 takes time bases up to 1/65535.
    rate = Fraction(1000000, 66667)
    frame_idx = [0, 11, 17, 24, 31, 37]
    times_in = write_counted_avi(tmp_path / "in.avi", "msmpeg4v2", frame_idx, rate)
    copy_video(tmp_path / "in.avi", tmp_path / "out.avi")
    assert [float(t) for t, _ in shown(tmp_path / "out.avi")] == pytest.approx(times_in, abs=1e-3)
    with av.open(str(tmp_path / "out.avi")) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"
        assert [p.dts for p in container.demux(video=0) if p.size] == frame_idx


def test_mp4_to_avi_counts_frames_at_their_times(tmp_path):
    # MP4's 1/12800 s ticks are not AVI chunks: each picture goes to the chunk of its time.
    src = write_case("h264", tmp_path, tiny_frames(6), RATE)
    out = tmp_path / "out.avi"
    with (
        VideoReader(src) as reader,
        VideoWriter(out, reader.info, EncodeConfig(codec="mpeg4"), reader.audio_streams) as w,
    ):
        for frame in reader.frames(w.mux_audio):
            w.write(frame, None)
    assert [float(t) for t, _ in shown(out)] == pytest.approx([float(t) for t, _ in shown(src)])
    with av.open(str(out)) as container:
        assert container.streams.video[0].time_base == 1 / RATE
        assert [p.dts for p in container.demux(video=0) if p.size] == list(range(6))


def _mjpeg_with_a_broken_picture(path, broken: int | None, count: int = 10):
    """An MJPEG MOV of ``count`` frames whose picture ``broken`` (if any) is garbage bytes."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(count):
            rgb = np.full((48, 64, 3), 20 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                if i == broken:
                    garbage = av.Packet(b"\x00\x01" * 64)
                    garbage.pts, garbage.dts, garbage.time_base = (
                        packet.pts,
                        packet.dts,
                        packet.time_base,
                    )
                    garbage.stream = stream
                    packet = garbage
                out.mux(packet)
        out.mux(stream.encode(None))


def test_only_the_wanted_pictures_of_an_intra_only_stream_are_decoded(tmp_path):
    clean, broken = tmp_path / "clean.mov", tmp_path / "broken.mov"
    _mjpeg_with_a_broken_picture(clean, broken=None)
    _mjpeg_with_a_broken_picture(broken, broken=5)
    with VideoReader(clean) as reader:
        every = {f.index: (f.time_s, f.rgb.copy()) for f in reader.frames()}
    with VideoReader(broken) as reader, pytest.raises(VideoError, match="after frame 5"):
        list(reader.frames())
    with VideoReader(broken) as reader:
        picked = list(reader.frames(only={3, 7}))
    # Picture 5 cannot be decoded; asking for 3 and 7 never decodes it.
    assert [f.index for f in picked] == [3, 7]
    for frame in picked:
        time_s, rgb = every[frame.index]
        assert frame.time_s == time_s
        assert np.array_equal(frame.rgb, rgb)
        assert abs(int(frame.rgb.mean()) - 20 * frame.index) <= 2
