"""Masters come out in their own format, with every track, timecode and tag they carry."""

from __future__ import annotations

import json
from fractions import Fraction
from unittest.mock import ANY

import av
import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from autoblur.cli import main
from autoblur.config import EncodeConfig
from autoblur.io import VideoReader, VideoWriter, smart_render
from autoblur.io.format_plan import encoder_pix_fmt
from autoblur.io.smart_render import annexb_units
from bench.make_io_corpus import TIMECODE, video_props, write_case
from tests.test_io_timestamps import tiny_frames

SIZE = (256, 144)  # DNxHR's smallest is 256x120
BOX = (32, 16, 96, 64)  # x0, y0, x1, y1 of the painted patch


def paint_every_third(frame) -> tuple[int, int, int, int] | None:
    """Paint a red box on frames 0, 3, 6, ... as a remover would; None leaves it untouched."""
    if frame.index % 3:
        return None
    x0, y0, x1, y1 = BOX
    frame.rgb[y0:y1, x0:x1] = (255, 0, 0)
    return BOX


def rewrite(src, dst, encode=None, edit=paint_every_third) -> dict:
    with (
        VideoReader(src) as reader,
        VideoWriter(dst, reader.info, encode or EncodeConfig(), reader.copied_streams) as writer,
    ):
        for frame in reader.frames(writer.mux_audio):
            writer.write(frame, edit(frame))
    return writer.describe()


def packets(path, kind: str, index: int = 0) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[index]
        return [bytes(p) for p in container.demux(stream) if p.size]


@pytest.mark.parametrize(
    ("case", "kept"),
    [
        ("prores", {"codec": "prores", "profile": "HQ", "pix_fmt": "yuv422p10le", "tag": "apch"}),
        ("dnxhr", {"codec": "dnxhd", "profile": "DNXHR HQ", "pix_fmt": "yuv422p"}),
        ("mxf", {"codec": "mpeg2video", "profile": "4:2:2", "pix_fmt": "yuv422p"}),
        (
            "hevc10",
            {"codec": "hevc", "profile": "Main 10", "pix_fmt": "yuv420p10le", "rotation": 90},
        ),
        ("interlaced", {"codec": "h264", "pix_fmt": "yuv420p"}),
    ],
)
def test_master_comes_out_in_its_own_format(tmp_path, case, kept):
    src = write_case(case, tmp_path, tiny_frames(8, SIZE))
    out = tmp_path / f"out{src.suffix}"
    plan = rewrite(src, out)
    before, after = video_props(src), video_props(out)
    assert {k: after[k] for k in kept} == kept
    # Colour tags, interlacing, rotation, timecode, every audio track and its language survive.
    for prop in ("colour", "field_order", "rotation", "timecode", "audio", "languages"):
        assert after[prop] == before[prop], prop
    (before_frames, _), (after_frames, problems) = decoded_with_log(src), decoded_with_log(out)
    assert [t for t, _ in after_frames] == [t for t, _ in before_frames]
    assert problems == []  # decodes without a single decoder warning or error
    with av.open(str(src)) as container:
        tracks = len(container.streams.audio)
    for track in range(tracks):
        assert packets(out, "audio", track) == packets(src, "audio", track)
    assert plan["frames_copied"] + plan["frames_encoded"] == 8
    assert [s["action"] for s in plan["streams"] if s["type"] == "audio"] == ["copied"] * tracks


def test_timecode_and_two_pcm_tracks_of_the_prores_master(tmp_path):
    src = write_case("prores", tmp_path, tiny_frames(6, SIZE))
    out = tmp_path / "out.mov"
    rewrite(src, out)
    with av.open(str(out)) as container:
        tmcd = [s for s in container.streams.data if s.metadata.get("timecode")]
        assert [s.metadata["timecode"] for s in tmcd] == [TIMECODE]
        assert [s.codec_context.name for s in container.streams.audio] == ["pcm_s24le"] * 2


def test_intra_only_untouched_frames_are_copied_packet_for_packet(tmp_path):
    src = write_case("prores", tmp_path, tiny_frames(9, SIZE))
    out = tmp_path / "out.mov"
    plan = rewrite(src, out)
    assert (plan["frames_copied"], plan["frames_encoded"]) == (6, 3)
    before, after = packets(src, "video"), packets(out, "video")
    assert len(after) == 9
    untouched = [i for i in range(9) if i % 3]
    assert all(after[i] == before[i] for i in untouched)
    assert all(after[i] != before[i] for i in range(0, 9, 3))  # the painted ones changed
    with av.open(str(out)) as container:  # every picture decodes, the box is painted
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    x0, y0, x1, y1 = BOX
    assert np.abs(frames[3][y0 + 4 : y1 - 4, x0 + 4 : x1 - 4].astype(int) - (255, 0, 0)).max() < 24


def test_ten_bit_untouched_pixels_stay_bit_exact(tmp_path):
    """Lossless FFV1 shows what reaches the encoder: 10-bit samples outside the box unchanged."""
    src = write_case("prores", tmp_path, tiny_frames(3, SIZE))
    out = tmp_path / "out.mkv"
    plan = rewrite(src, out, EncodeConfig(codec="ffv1"))
    assert plan["pix_fmt"] == "yuv422p10le"
    with av.open(str(src)) as a, av.open(str(out)) as b:
        pairs = zip(a.decode(video=0), b.decode(video=0), strict=True)
        for before, after in pairs:
            for c, (plane_in, plane_out) in enumerate(
                zip(before.planes, after.planes, strict=True)
            ):
                sub_x = 1 if c == 0 else 2  # 4:2:2: chroma at half the width
                x0, y0, x1, y1 = BOX
                outside = np.ones((plane_in.height, plane_in.width), bool)
                outside[y0:y1, x0 // sub_x : x1 // sub_x] = False
                samples_in, samples_out = ten_bit(plane_in), ten_bit(plane_out)
                assert samples_out.max() > 255  # really 10-bit samples
                assert np.array_equal(samples_out[outside], samples_in[outside]), c


def ten_bit(plane) -> np.ndarray:
    """A (height, width) uint16 array of one plane's samples."""
    rows = np.frombuffer(plane, np.uint16).reshape(plane.height, plane.line_size // 2)
    return rows[:, : plane.width]


@pytest.mark.parametrize(("suffix", "codec"), [(".avi", "mpeg4"), (".mkv", "h264")])
def test_other_codecs_become_h264_with_a_notice_and_mpeg4_in_avi(tmp_path, suffix, codec):
    # H.264 in AVI shows one picture late in FFmpeg 8 and on time in 5.x: AVI gets MPEG-4,
    # which the MPEG-4 input already is (no notice then).
    src = write_case("avi_bframes", tmp_path, tiny_frames(6, (96, 64)))
    out = tmp_path / f"o{suffix}"
    with (
        VideoReader(src) as reader,
        VideoWriter(out, reader.info, EncodeConfig()) as w,
    ):
        for frame in reader.frames():
            w.write(frame, None)
    assert video_props(out)["codec"] == codec
    assert [n for n in w.plan.notices if "mpeg4" in n] == ([] if codec == "mpeg4" else [ANY])


def logo_png(folder) -> str:
    """A textured stand-in logo that the tiny gradients never contain."""
    path = folder / "logo.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    return str(path)


def run_cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stderr


def test_cli_default_output_keeps_the_container_and_reports_the_plan(tmp_path):
    src = write_case("prores", tmp_path, tiny_frames(5, SIZE))
    report = tmp_path / "report.json"
    code, err = run_cli(
        "run", src, "--logo", logo_png(tmp_path), "--mode", "blur", "--report", report, "-q"
    )
    assert code == 0, err
    out = tmp_path / "prores_clean.mov"
    assert out.is_file()
    plan = json.loads(report.read_text())["output_format"]
    assert plan["codec"] == "prores_ks" and plan["container"] == "mov"
    assert (plan["frames_copied"], plan["frames_encoded"]) == (5, 0)
    assert packets(out, "video") == packets(src, "video")


def test_cli_encoder_choice_on_a_machine_without_nvenc(tmp_path):
    from autoblur.io.format_plan import nvenc_usable

    if nvenc_usable("h264_nvenc"):
        pytest.skip("this machine has NVENC")
    src = write_case("interlaced", tmp_path, tiny_frames(4, (96, 64)))
    logo = logo_png(tmp_path)
    code, err = run_cli("run", src, "--logo", logo, "-o", tmp_path / "a.mp4", "--encoder", "nvenc")
    assert code == 2 and err.count("\n") == 1 and "--encoder nvenc" in err
    assert not (tmp_path / "a.mp4").exists()
    report = tmp_path / "r.json"
    code, err = run_cli("run", src, "--logo", logo, "-o", tmp_path / "b.mp4", "--report", report)
    assert code == 0, err
    assert json.loads(report.read_text())["output_format"]["codec"] == "libx264"


def test_scan_reports_the_plan_a_run_would_follow(tmp_path):
    src = write_case("hevc10", tmp_path, tiny_frames(3, SIZE))
    report = tmp_path / "scan.json"
    code, err = run_cli("scan", src, "--logo", logo_png(tmp_path), "--report", report, "-q")
    assert code == 0, err
    plan = json.loads(report.read_text())["output_format"]
    assert (plan["codec"], plan["pix_fmt"], plan["container"]) == ("libx265", "yuv420p10le", "mp4")


def decoded_with_log(path) -> tuple[list[tuple[int, np.ndarray]], list[str]]:
    """(pts, RGB) of every frame, and the decoder's warnings and errors while decoding."""
    level = av.logging.get_level()
    av.logging.set_level(av.logging.WARNING)
    try:
        with av.logging.Capture() as logs, av.open(str(path)) as container:
            frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    finally:
        av.logging.set_level(level)
    return frames, [message for _, _, message in logs]


@pytest.mark.parametrize(("case", "count"), [("h264", 60), ("hevc10", 40), ("mxf", 40)])
def test_long_gop_unchanged_gops_copied_changed_ones_reencoded(tmp_path, case, count):
    src = write_case(case, tmp_path, tiny_frames(count, SIZE))  # closed GOPs, 12 to 25 frames
    with av.open(str(src)) as container:
        video = [p for p in container.demux(video=0) if p.size]
    keys = [i for i, p in enumerate(video) if p.is_keyframe]
    assert len(keys) >= 3
    changed = range(keys[1] + 2, keys[1] + 5)  # inside the second GOP only

    def paint(frame):
        if frame.index not in changed:
            return None
        frame.rgb[10:40, 10:60] = (255, 0, 0)
        return (10, 10, 60, 40)

    plan = rewrite(src, tmp_path / f"out{src.suffix}", edit=paint)
    assert [s["action"] for s in plan["streams"]] == ["partly copied"] + ["copied"] * (
        len(plan["streams"]) - 1
    )
    second_gop = keys[2] - keys[1]
    assert plan["untouched_frames"] == "unchanged GOPs copied"
    assert (plan["frames_copied"], plan["frames_encoded"]) == (count - second_gop, second_gop)
    before, _ = decoded_with_log(src)
    after, problems = decoded_with_log(tmp_path / f"out{src.suffix}")
    assert problems == []  # not a single decoder warning or error at the splices
    assert [t for t, _ in after] == [t for t, _ in before]
    for index, ((_, a), (_, b)) in enumerate(zip(before, after, strict=True)):
        if not keys[1] <= index < keys[2]:
            assert np.array_equal(a, b), index  # copied GOPs decode to the same pixels
    assert np.abs(after[changed[0]][1][15:35, 15:55].astype(int) - (255, 0, 0)).max() < 40
    with av.open(str(tmp_path / f"out{src.suffix}")) as container:
        copied = [bytes(p) for p in container.demux(video=0) if p.size]
    assert copied[: keys[1]] == [bytes(p) for p in video[: keys[1]]]
    # After the re-encoded GOP the input's parameter sets come back in band (H.264, HEVC),
    # then its bytes.
    assert copied[keys[2]].endswith(bytes(video[keys[2]]))
    assert copied[keys[2] + 1 :] == [bytes(p) for p in video[keys[2] + 1 :]]


def test_more_frames_than_the_input_has_are_reencoded_after_its_copied_gops(tmp_path):
    """A clip written twice in a row (times continued), as bench_pipeline's repeat does."""
    src = write_case("h264", tmp_path, tiny_frames(30, SIZE))
    out = tmp_path / "twice.mp4"
    with VideoReader(src) as first:
        info = first.info
    with VideoWriter(out, info, EncodeConfig()) as writer:
        for offset in (0, 30 * 512):
            with VideoReader(src) as reader:
                for frame in reader.frames():
                    frame.pts += offset
                    writer.write(frame, None)
    assert (writer.describe()["frames_copied"], writer.describe()["frames_encoded"]) == (30, 30)
    frames, problems = decoded_with_log(out)
    assert problems == [] and [t for t, _ in frames] == [512 * i for i in range(60)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "x.mp4"], "'mp4' format does not support 'prores_ks'"),
        (["-o", "y.mov", "--codec", "nosuch"], "--codec nosuch: no such encoder"),
    ],
)
def test_outputs_that_cannot_be_made_fail_in_one_line(tmp_path, args, message):
    src = write_case("prores", tmp_path, tiny_frames(3, SIZE))
    logo = logo_png(tmp_path)
    args = [tmp_path / a if a.endswith((".mp4", ".mov")) else a for a in args]
    code, err = run_cli("run", src, "--logo", logo, *args, "-q")
    assert code == 2 and err.count("\n") == 1 and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logo.png", "prores.mov"]


def test_chapters_and_container_tags_travel(tmp_path):
    src = tmp_path / "in.mkv"
    chapters = [
        {"id": n, "start": 2 * n, "end": 2 * n + 2, "time_base": Fraction(1, 25), "metadata": {}}
        for n in (0, 1)
    ]
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        container.metadata["title"] = "Programme 1"
        container.set_chapters(chapters)
        for index in range(4):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    rewrite(src, tmp_path / "out.mkv")
    with av.open(str(src)) as before, av.open(str(tmp_path / "out.mkv")) as after:
        assert after.metadata["title"] == "Programme 1"
        assert [(c["start"], c["end"]) for c in after.chapters()] == [
            (c["start"], c["end"]) for c in before.chapters()
        ]
        assert len(after.chapters()) == 2


def test_data_streams_travel_byte_for_byte(tmp_path):
    """KLV metadata in a transport stream, as drones and news feeds carry it."""
    src = tmp_path / "in.ts"
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        klv = container.add_data_stream("klv")
        for index in range(6):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
            packet = av.Packet(b"\x06\x0e\x2b\x34" + bytes([index]) * 8)
            packet.stream, packet.pts, packet.dts = klv, index * 3600, index * 3600
            packet.time_base = Fraction(1, 90000)
            container.mux(packet)
        container.mux(video.encode(None))
    plan = rewrite(src, tmp_path / "out.ts")
    assert [s["action"] for s in plan["streams"]] == ["re-encoded", "copied"]
    assert packets(tmp_path / "out.ts", "data") == packets(src, "data")
    assert len(packets(src, "data")) == 6


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "size_wh", "expected"),
    [
        ("libx264", "yuv422p10le", (64, 48), "yuv422p10le"),  # 10-bit 4:2:2 stays
        ("h264_nvenc", "yuv422p", (64, 48), "yuv444p"),  # no 4:2:2 in NVENC: finer chroma
        ("h264_nvenc", "yuv420p10le", (64, 48), "p010le"),  # NVENC's own 10-bit layout
        ("mpeg2video", "yuv444p", (64, 48), "yuv422p"),  # no 4:4:4 in MPEG-2: coarser
        ("libx264", "yuvj420p", (64, 48), "yuv420p"),  # full range: same chroma
        ("libx264", "yuv420p", (65, 49), "yuv444p"),  # odd sizes cannot subsample
        ("libx264", "rgb24", (64, 48), "yuv444p"),
    ],
)
def test_encoder_pixel_format_keeps_depth_and_chroma(codec, pix_fmt, size_wh, expected):
    assert encoder_pix_fmt(codec, pix_fmt, size_wh) == expected


def test_gops_too_long_to_hold_are_reencoded(tmp_path, monkeypatch):
    monkeypatch.setattr(smart_render, "MAX_HELD_BYTES", 5 * SIZE[0] * SIZE[1])  # ~3 frames
    src = write_case("h264", tmp_path, tiny_frames(30, SIZE))
    plan = rewrite(src, tmp_path / "out.mp4", edit=lambda frame: None)
    assert (plan["frames_copied"], plan["frames_encoded"]) == (0, 30)
    frames, problems = decoded_with_log(tmp_path / "out.mp4")
    assert problems == [] and len(frames) == 30


def _a53_sei(pair: bytes) -> bytes:
    """An Annex-B H.264 SEI NAL carrying one ATSC A/53 caption byte pair (field 1)."""
    payload = b"\xb5\x00\x31GA94\x03" + bytes([0x40 | 1, 0xFF, 0xFC]) + pair + b"\xff"
    return b"\x00\x00\x00\x01\x06\x04" + bytes([len(payload)]) + payload + b"\x80"


def _h264_ts_with_captions(path, count: int) -> None:
    """An MPEG-TS H.264 stream, closed GOPs of 10, a different caption pair on every picture.

    The parameter sets are sent once, before the first picture (as some broadcast encoders
    do): a GOP copied after a re-encoded one decodes only if they are sent again.
    """
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": "10", "keyint_min": "10", "sc_threshold": "0"}

        def mux(encoded):
            for packet in encoded:
                caption = bytes([0x80 | (0x41 + packet.pts % 26), 0x80 | (0x61 + packet.pts % 26)])
                units = annexb_units(bytes(packet))
                if packet.pts:
                    units = [u for u in units if u[0] & 0x1F not in (7, 8)]  # no SPS, PPS
                body = b"".join(b"\x00\x00\x00\x01" + u for u in units)
                tagged = av.Packet(_a53_sei(caption) + body)
                tagged.pts, tagged.dts, tagged.time_base = packet.pts, packet.dts, packet.time_base
                tagged.is_keyframe, tagged.stream = packet.is_keyframe, stream
                out.mux(tagged)

        for rgb in tiny_frames(count, SIZE):
            mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        mux(stream.encode(None))


def _captions(path) -> list[bytes]:
    """The A/53 caption bytes of every decoded picture, in display order."""
    with av.open(str(path)) as container:
        return [
            b"".join(bytes(s) for s in f.side_data.keys() if s.type.name == "A53_CC")
            for f in container.decode(video=0)
        ]


def test_a53_captions_and_mpegts_gops_copied_around_a_reencoded_one(tmp_path):
    src, out = tmp_path / "cc.ts", tmp_path / "out.ts"
    _h264_ts_with_captions(src, 30)
    before = _captions(src)
    assert len(before) == 30 and len(set(before)) == 26  # every picture has its own pair

    def paint(frame):
        if frame.index not in (13, 14):
            return None
        frame.rgb[10:40, 10:60] = (255, 0, 0)
        return (10, 10, 60, 40)

    plan = rewrite(src, out, edit=paint)
    # MPEG-TS carries the parameter sets in band: unchanged GOPs are copied there too.
    assert (plan["frames_copied"], plan["frames_encoded"]) == (20, 10)  # the second GOP
    assert _captions(out) == before
    original, _ = decoded_with_log(src)
    decoded, problems = decoded_with_log(out)
    assert problems == []  # the copied third GOP gets the input's parameter sets again
    assert len(decoded) == 30
    for index in [*range(10), *range(20, 30)]:  # copied GOPs: the input's pixels
        assert np.array_equal(decoded[index][1], original[index][1]), index
    assert packets(out, "video")[:10] == packets(src, "video")[:10]
    assert np.abs(decoded[13][1][15:35, 15:55].astype(int) - (255, 0, 0)).max() < 40
