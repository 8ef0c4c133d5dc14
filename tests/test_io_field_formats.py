"""Files as DVDs, SD broadcasts, cameras, archives and old desktops hand them over.

Each comes out in its own codec and container, at the same times, with its audio byte for
byte, decoding without a single decoder message; untouched frames are copied (MJPEG, DV, and
unchanged MPEG-2 GOPs) or lossless (FFV1).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter
from bench.make_io_corpus import video_props, write_case
from tests.test_io_formats import decoded_with_log, packets
from tests.test_io_timestamps import tiny_frames

DATA = Path(__file__).parent / "data"
SIZE = (128, 96)
PAINTED = range(3)  # the frames a remover changes: the first GOP of the MPEG-2 cases
BOX = (16, 16, 64, 48)

# case -> (the codec that comes out, how untouched frames come out)
CASES = {
    "mpeg2_ps": ("mpeg2video", "gops"),
    "sd_ts": ("mpeg2video", "gops"),
    "mjpeg_avi": ("mjpeg", "packets"),
    "dv": ("dvvideo", "packets"),
    "ffv1": ("ffv1", "pixels"),
    "wmv": ("wmv2", None),
    "vp8_ogv": ("vp8", None),
    "xavc_mxf": ("h264", None),
}


def paint_first_frames(frame) -> tuple[int, int, int, int] | None:
    if frame.index not in PAINTED:
        return None
    x0, y0, x1, y1 = BOX
    frame.rgb[y0:y1, x0:x1] = (255, 0, 0)
    return BOX


def rewrite(src: Path, dst: Path, encode: EncodeConfig | None = None, count: int | None = None):
    """Write ``src`` to ``dst`` with the first frames painted; the writer (for its plan)."""
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, encode or EncodeConfig(), reader.copied_streams) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            if count is not None and frame.index >= count:
                break
            writer.write(frame, paint_first_frames(frame))
    return writer


@pytest.mark.parametrize("case", CASES)
def test_field_formats_come_out_in_kind(tmp_path, case):
    codec, untouched = CASES[case]
    src = write_case(case, tmp_path, tiny_frames(12, SIZE))
    out = tmp_path / f"out{src.suffix}"
    writer = rewrite(src, out)
    plan = writer.describe()
    before, after = video_props(src), video_props(out)
    assert after["codec"] == before["codec"] == codec
    for prop in ("pix_fmt", "colour", "field_order", "audio"):
        assert after[prop] == before[prop], prop
    assert writer.plan.notices == []
    (frames_in, _), (frames_out, problems) = decoded_with_log(src), decoded_with_log(out)
    assert problems == []
    # Same count, the input's times in display order (an MXF muxer stores H.264 pictures in
    # decode order).
    assert [t for t, _ in frames_out] == sorted(t for t, _ in frames_in)
    with av.open(str(src)) as container:
        tracks = len(container.streams.audio)
    for track in range(tracks):
        assert packets(out, "audio", track) == packets(src, "audio", track)
    kept = range(len(PAINTED), 12)
    if untouched == "packets":
        assert plan["frames_copied"] == len(kept)
        before_packets, after_packets = packets(src, "video"), packets(out, "video")
        assert [after_packets[i] == before_packets[i] for i in kept] == [True] * len(kept)
    if untouched == "gops":  # the GOPs holding the painted frames re-encoded, others copied
        starts = gop_starts(src)
        assert len(starts) >= 2
        reencoded = min(start for start in starts if start >= len(PAINTED))
        assert (plan["frames_copied"], plan["frames_encoded"]) == (12 - reencoded, reencoded)
        for i in range(reencoded, 12):
            assert np.array_equal(frames_out[i][1], frames_in[i][1]), i
    if untouched == "pixels":
        assert all(np.array_equal(frames_out[i][1], frames_in[i][1]) for i in kept)
    x0, y0, x1, y1 = BOX
    painted = frames_out[0][1][y0 + 4 : y1 - 4, x0 + 4 : x1 - 4].astype(int)
    assert np.abs(painted - (255, 0, 0)).max() < 48  # the edit is in the picture


def gop_starts(path: Path) -> list[int]:
    """The display index of each keyframe of the video."""
    with av.open(str(path)) as container:
        video = [p for p in container.demux(video=0) if p.size]
    times = sorted(p.pts for p in video)
    return sorted(times.index(p.pts) for p in video if p.is_keyframe)


@pytest.mark.parametrize(
    ("suffix", "codec"),
    [(".ogv", "vp8"), (".webm", "vp9"), (".wmv", "wmv2"), (".avi", "mpeg4"), (".mkv", "h264")],
)
def test_other_codecs_take_the_codec_their_container_is_made_for(tmp_path, suffix, codec):
    """Cinepak has no encoder: H.264 where the container holds it, else the container's own."""
    out = tmp_path / f"tree{suffix}"
    writer = rewrite(DATA / "videos" / "tree.avi", out, count=6)
    assert video_props(out)["codec"] == codec
    assert len(writer.plan.notices) == 1 and "cinepak" in writer.plan.notices[0]
    frames, problems = decoded_with_log(out)
    assert len(frames) == 6 and problems == []


def test_the_largest_video_stream_is_the_picture_not_a_cover_before_it(tmp_path):
    """A small still (cover art as a one-frame stream) as stream 0: the film is stream 1."""
    src = tmp_path / "covered.mkv"
    film = tiny_frames(8, SIZE)
    with av.open(str(src), "w") as out:
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        still = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        still = still.reformat(format="yuvj420p")
        out.mux(cover.encode(still))
        out.mux(cover.encode(None))
        for index, rgb in enumerate(film):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    with VideoReader(src) as reader:
        assert (reader.info.width, reader.info.height) == SIZE
    writer = rewrite(src, tmp_path / "out.mkv")
    frames, problems = decoded_with_log(tmp_path / "out.mkv")
    assert len(frames) == 8 and frames[0][1].shape[1::-1] == SIZE and problems == []
    assert [s["action"] for s in writer.describe()["streams"]] == ["dropped", "re-encoded"]


def write_ts(path: Path, frames: list[np.ndarray], first_pts: int, with_audio: bool = True) -> None:
    """H.264 (and MP2) in MPEG-TS, frame ``k`` at ``first_pts + k * 3600`` (1/90000 s)."""
    with av.open(str(path), "w", format="mpegts") as out:
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "bf": "0"})
        video.width, video.height = frames[0].shape[1::-1]
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = Fraction(1, 90000)
        audio = out.add_stream("mp2", rate=48000, layout="stereo") if with_audio else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = first_pts + 3600 * index, Fraction(1, 90000)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            samples = audio.codec_context.frame_size
            silence = np.zeros((2, samples), np.int16)
            for start in range(0, 48000 * len(frames) // 25, samples):
                chunk = av.AudioFrame.from_ndarray(
                    silence.reshape(1, -1), format="s16", layout="stereo"
                )
                chunk.sample_rate = 48000
                chunk.pts = round(first_pts * 48000 / 90000) + start
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))


def test_a_recording_that_changes_size_part_way_is_scaled_to_one_size(tmp_path):
    """Two MPEG-TS recordings one after the other, of two sizes: one size out, as players do."""
    first, second = tmp_path / "a.ts", tmp_path / "b.ts"
    write_ts(first, tiny_frames(6, SIZE), 90000)
    write_ts(second, tiny_frames(6, (96, 64)), 90000 + 6 * 3600)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    out = tmp_path / "out.ts"
    with VideoReader(joined) as reader:
        with VideoWriter(out, reader.info, EncodeConfig(), reader.copied_streams) as writer:
            for frame in reader.frames(writer.mux_audio):
                writer.write(frame, paint_first_frames(frame))
        size = (reader.info.width, reader.info.height)
        assert len(reader.notices) == 1 and "changes size" in reader.notices[0]
    (frames_in, _), (frames_out, problems) = decoded_with_log(joined), decoded_with_log(out)
    assert problems == []
    assert [t for t, _ in frames_out] == [t for t, _ in frames_in] and len(frames_out) == 12
    assert {rgb.shape[1::-1] for _, rgb in frames_in} == {SIZE, (96, 64)}
    assert {rgb.shape[1::-1] for _, rgb in frames_out} == {size}
    assert packets(out, "audio") == packets(joined, "audio")


def test_mpegts_times_across_the_33_bit_wrap_are_written_as_they_were(tmp_path):
    """A capture whose clock wraps: the demuxer reads times before the wrap as negative."""
    src = tmp_path / "wrap.ts"
    write_ts(src, tiny_frames(8, SIZE), 2**33 - 3 * 3600)
    out = tmp_path / "out.ts"
    rewrite(src, out)
    (frames_in, _), (frames_out, problems) = decoded_with_log(src), decoded_with_log(out)
    assert problems == []
    times = [t for t, _ in frames_in]
    assert min(times) < 0 < max(times)  # really across the wrap
    assert [t for t, _ in frames_out] == times
    assert packets(out, "audio") == packets(src, "audio")


def test_joined_recordings_that_overlap_in_time_are_written(tmp_path):
    """The second recording starts a frame before the first ends: its audio steps back."""
    first, second, joined = tmp_path / "a.ts", tmp_path / "b.ts", tmp_path / "joined.ts"
    write_ts(first, tiny_frames(6, SIZE), 90000)
    write_ts(second, tiny_frames(6, SIZE), 90000 + 5 * 3600)
    joined.write_bytes(first.read_bytes() + second.read_bytes())
    out = tmp_path / "out.ts"
    rewrite(joined, out)
    (frames_in, _), (frames_out, problems) = decoded_with_log(joined), decoded_with_log(out)
    assert problems == [] and len(frames_out) == len(frames_in) == 12
    times = [t for t, _ in frames_out]
    assert times == sorted(set(times))  # one time per frame, in order
    assert [len(p) for p in packets(out, "audio")] == [len(p) for p in packets(joined, "audio")]


@pytest.mark.parametrize(
    ("name", "codec", "pix_fmt", "count"),
    [
        ("v210.mov", "v210", "yuv422p10le", 6),  # broadcast uncompressed 10-bit 4:2:2
        ("qtrle.mov", "qtrle", "rgb24", 6),  # motion graphics
        ("ut.avi", "utvideo", "yuv422p", 6),
        ("raw.nut", "rawvideo", "yuv420p", 6),
        ("still.png", "png", "rgb24", 1),  # a still image
    ],
)
def test_uncompressed_and_lossless_stay_so_untouched_pixels_exact(
    tmp_path, name, codec, pix_fmt, count
):
    src = tmp_path / name
    with av.open(str(src), "w") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = *SIZE, pix_fmt
        for index, rgb in enumerate(tiny_frames(count, SIZE)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    out = tmp_path / f"out_{name}"
    rewrite(src, out)
    assert video_props(out)["codec"] == codec and video_props(out)["pix_fmt"] == pix_fmt
    (frames_in, _), (frames_out, problems) = decoded_with_log(src), decoded_with_log(out)
    assert problems == [] and len(frames_out) == count
    outside = np.ones(frames_in[0][1].shape[:2], bool)
    x0, y0, x1, y1 = BOX
    outside[y0:y1, x0:x1] = False
    for (_, before), (_, after) in zip(frames_in, frames_out, strict=True):
        assert np.array_equal(before[outside], after[outside])


def write_tagged(path: Path, codec: str, options: dict[str, str], tag: str) -> None:
    """12 frames of ``codec`` with GOPs of 4, under the sample-entry ``tag``."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.codec_tag = tag
        for index, rgb in enumerate(tiny_frames(12, SIZE)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert video_props(path)["tag"] == tag


def test_apple_tagged_hevc_stays_hvc1_and_is_not_spliced(tmp_path):
    """iPhone HEVC (``hvc1``): players that read the parameter sets only from the sample entry
    need one entry for every GOP, so every GOP is re-encoded, and the tag is kept."""
    src = tmp_path / "phone.mov"
    write_tagged(src, "libx265", {"x265-params": "log-level=error:keyint=4:open-gop=0"}, "hvc1")
    out = tmp_path / "out.mov"
    plan = rewrite(src, out).describe()
    assert video_props(out)["tag"] == "hvc1"
    assert plan["frames_copied"] == 0 and "hvc1" in plan["why_reencoded"]
    frames, problems = decoded_with_log(out)
    assert len(frames) == 12 and problems == []


def test_cover_art_travels_as_it_is(tmp_path):
    """Phones and podcast tools put a cover picture (``attached_pic``) beside the film."""
    src = tmp_path / "with_cover.mp4"
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        cover = out.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 32, 32, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        still = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 200, np.uint8), format="rgb24")
        picture = cover.encode(still.reformat(format="yuvj420p"))[0]
        picture.pts = picture.dts = None
        out.mux(picture)
        for index, rgb in enumerate(tiny_frames(6, SIZE)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    covers = [s.index for s in av.open(str(src)).streams.video if s.disposition & 1024]
    assert covers == [1]
    out = tmp_path / "out.mp4"
    writer = rewrite(src, out)
    assert [s["action"] for s in writer.describe()["streams"]] == ["re-encoded", "copied"]
    with av.open(str(out)) as container:
        kept = [i for i, s in enumerate(container.streams.video) if s.disposition & 1024]
        assert len(kept) == 1 and container.streams.video[kept[0]].codec_context.name == "mjpeg"
    assert packets(out, "video", kept[0]) == packets(src, "video", 1)
    frames, problems = decoded_with_log(out)
    # The MP4 demuxer notes that a cover's track has no timescale, in the input as here; a
    # "(repeated N more times)" line is FFmpeg's summary of an earlier test's messages.
    noted = [p for p in problems if "timescale not set" not in p and "(repeated" not in p]
    assert len(frames) == 6 and noted == []


def _alpha(path: Path, index: int) -> np.ndarray:
    """The alpha channel (0-255) of frame ``index`` of the video at ``path``."""
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k == index:
                return frame.to_ndarray(format="rgba")[..., 3]
    raise IndexError(index)


@pytest.mark.parametrize(
    ("name", "codec", "options", "pix_fmt", "copied"),
    [
        # Graphics delivered as ProRes 4444 with alpha (the decoder gives it at 12 bits).
        ("gfx.mov", "prores_ks", {"profile": "4"}, "yuva444p10le", 9),
        ("gfx_rle.mov", "qtrle", {}, "argb", 0),  # QuickTime Animation with alpha
    ],
)
def test_alpha_survives_removal(tmp_path, name, codec, options, pix_fmt, copied):
    src = tmp_path / name
    rng = np.random.default_rng(0)
    alpha = rng.integers(0, 256, (SIZE[1], SIZE[0], 1), dtype=np.uint8)
    with av.open(str(src), "w") as out:
        stream = out.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = *SIZE, pix_fmt
        for index, rgb in enumerate(tiny_frames(12, SIZE)):
            rgba = np.concatenate([rgb, alpha], axis=2)
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba").reformat(format=pix_fmt)
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    out = tmp_path / f"out_{name}"
    plan = rewrite(src, out).describe()
    assert plan["pix_fmt"] == pix_fmt and plan["frames_copied"] == copied
    if codec == "prores_ks":
        assert video_props(out)["profile"] == "4444"
    for index in (0, 5):  # a painted frame and an untouched one
        assert np.abs(_alpha(out, index).astype(int) - _alpha(src, index)).max() <= 1
    frames, problems = decoded_with_log(out)
    assert len(frames) == 12 and problems == []


def test_avchd_and_blu_ray_transport_streams_keep_their_192_byte_packets(tmp_path):
    """``.mts``/``.m2ts``: each 188-byte TS packet behind a 4-byte arrival time."""
    ts = tmp_path / "plain.ts"
    write_ts(ts, tiny_frames(6, SIZE), 90000)
    src = tmp_path / "camera.mts"
    with av.open(str(ts)) as plain, av.open(str(src), "w", format="mpegts") as out:
        out.options["mpegts_m2ts_mode"] = "1"
        streams = {s.index: out.add_stream_from_template(s) for s in plain.streams}
        for packet in plain.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    out = tmp_path / "out.mts"
    rewrite(src, out)
    for path in (src, out):
        data = path.read_bytes()
        assert len(data) % 192 == 0 and data[4] == data[196] == 0x47
    (frames_in, _), (frames_out, problems) = decoded_with_log(src), decoded_with_log(out)
    assert problems == [] and [t for t, _ in frames_out] == [t for t, _ in frames_in]


def test_attached_fonts_travel_into_matroska_and_are_named_where_they_cannot(tmp_path):
    """Styled (ASS) subtitles need the fonts the MKV carries as attachments."""
    src = tmp_path / "fansub.mkv"
    font = bytes(range(256)) * 40
    with av.open(str(src), "w") as out:
        video = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = *SIZE, "yuv420p"
        out.add_attachment("Subtitles.ttf", "application/x-truetype-font", font)
        for rgb in tiny_frames(6, SIZE):
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode(None))
    writer = rewrite(src, tmp_path / "out.mkv")
    with av.open(str(tmp_path / "out.mkv")) as container:
        (attached,) = [s for s in container.streams if s.type == "attachment"]
        assert (attached.name, attached.mimetype, attached.data) == (
            "Subtitles.ttf",
            "application/x-truetype-font",
            font,
        )
    assert not any("attachment" in n for n in writer.carried.notices)
    writer = rewrite(src, tmp_path / "out.mp4")
    assert any("attachment Subtitles.ttf" in n for n in writer.carried.notices)


@pytest.mark.parametrize(
    ("name", "codec", "count"), [("sticker.gif", "gif", 6), ("graphic.png", "png", 1)]
)
def test_palette_pictures_keep_their_colours_and_transparency(tmp_path, name, codec, count):
    """A sticker-style GIF and a paletted PNG: up to 256 colours a frame, some transparent.

    The paletted PNG failed (swscale writes no palette pictures); a GIF became H.264, which
    its container cannot hold.
    """
    rng = np.random.default_rng(5)
    palette = np.zeros((256, 4), np.uint8)  # ARGB
    palette[:200] = np.c_[np.full(200, 255), rng.integers(0, 256, (200, 3))]
    palette[0] = 0  # index 0: transparent
    src = tmp_path / name
    with av.open(str(src), "w") as out:
        video = out.add_stream(codec, rate=10)
        video.width, video.height, video.pix_fmt = *SIZE, "pal8"
        for index in range(count):
            indices = rng.integers(1, 200, SIZE[::-1]).astype(np.uint8)
            indices[:, : 8 + index] = 0
            out.mux(video.encode(av.VideoFrame.from_ndarray((indices, palette), format="pal8")))
        out.mux(video.encode(None))
    out = tmp_path / f"out_{name}"
    writer = rewrite(src, out)
    assert (writer.plan.codec, writer.plan.pix_fmt, writer.plan.notices) == (codec, "pal8", [])

    def rgba(path):
        with av.open(str(path)) as container:
            return [f.to_ndarray(format="rgba") for f in container.decode(video=0)]

    before, after = rgba(src), rgba(out)
    assert len(after) == len(before) == count
    for index, (a, b) in enumerate(zip(before, after, strict=True)):
        assert ((a[..., 3] == 0) == (b[..., 3] == 0)).all()  # transparency where it was
        if index not in PAINTED:  # each colour kept (FFmpeg's palettes round to within 1)
            opaque = a[..., 3] > 0
            assert np.abs(a[opaque].astype(int) - b[opaque]).max() <= 1
    x0, y0, x1, y1 = BOX
    assert (np.abs(after[0][y0:y1, x0:x1, :3].astype(int) - (255, 0, 0)) <= 1).all()


def test_avc3_tag_is_kept_where_gops_are_spliced(tmp_path):
    """``avc3`` H.264 (parameter sets in band, as broadcast and DASH encoders write it): the
    spliced output carries the re-encoded GOPs' parameter sets in band, which the tag allows;
    it became ``avc1``, whose sample entry must hold them all."""
    src = tmp_path / "dash.mp4"
    write_tagged(src, "libx264", {"x264-params": "keyint=4"}, "avc3")
    out = tmp_path / "out.mp4"
    plan = rewrite(src, out).describe()
    assert video_props(out)["tag"] == "avc3"
    assert plan["untouched_frames"] == "unchanged GOPs copied" and plan["frames_copied"] >= 4
    frames, problems = decoded_with_log(out)
    assert len(frames) == 12 and problems == []
