"""Avid DNxHD and interlaced intra masters: the same pictures out, in the same coding.

DNxHD (not HR) is opened by a nominal bit rate that must name the input's compression ID
(CID); the rate its container gives (121.24 Mb/s for a "120" CID) failed to open the encoder.
Interlaced ProRes re-encoded progressive made the removal's frames the only progressive ones
of a 1080i master, so that a deinterlacer treats exactly those frames differently.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from autoblur.io.dnxhd_rate import picture_cid
from bench.make_io_corpus import _encode_video, _video_stream
from tests.test_io_field_formats import PAINTED, rewrite
from tests.test_io_formats import decoded_with_log, packets
from tests.test_io_timestamps import tiny_frames

FRAMES = 5


def write_master(
    path: Path, codec: str, size_wh: tuple[int, int], rate: Fraction, **settings: object
) -> None:
    """``FRAMES`` frames of ``codec`` (and PCM) with codec-context ``settings``."""
    options = settings.pop("options", {})
    pix_fmt = settings.pop("pix_fmt", "yuv422p")
    with av.open(str(path), "w") as out:
        video = _video_stream(out, codec, rate, size_wh, pix_fmt, options, **settings)
        _encode_video(out, video, tiny_frames(FRAMES, size_wh))


def interlacing(path: Path) -> list[bool]:
    """Each decoded frame's interlaced flag, in display order."""
    with av.open(str(path)) as container:
        return [frame.interlaced_frame for frame in container.decode(video=0)]


def cids(path: Path) -> set[int | None]:
    with av.open(str(path)) as container:
        return {picture_cid(bytes(p)) for p in container.demux(video=0) if p.size}


@pytest.mark.parametrize(
    ("name", "size_wh", "mbps", "fields"),
    [
        ("dnxhd_720p.mov", (1280, 720), 90, False),  # CID 1251
        ("dnxhd_1080i.mxf", (1920, 1080), 120, True),  # CID 1242, as Avid exports 1080i50
    ],
)
def test_dnxhd_comes_out_with_its_own_cid(tmp_path, name, size_wh, mbps, fields):
    src = tmp_path / name
    options = {"profile": "dnxhd", **({"flags": "+ildct"} if fields else {})}
    settings = {"field_order": 2} if fields else {}
    write_master(
        src, "dnxhd", size_wh, Fraction(25), bit_rate=mbps * 10**6, options=options, **settings
    )
    out = tmp_path / f"out_{name}"
    writer = rewrite(src, out)
    assert writer.plan.codec == "dnxhd" and writer.plan.copy_untouched
    assert cids(out) == cids(src) and len(cids(src)) == 1
    assert interlacing(out) == interlacing(src) == [fields] * FRAMES
    untouched = [i for i in range(FRAMES) if i not in PAINTED]
    before, after = packets(src, "video"), packets(out, "video")
    assert [after[i] == before[i] for i in untouched] == [True] * len(untouched)
    assert [after[i] != before[i] for i in PAINTED] == [True] * len(PAINTED)


def test_dnxhd_at_a_rate_with_no_cid_comes_out_as_dnxhr_with_a_notice(tmp_path):
    """A 720p DNxHD picture shown 10 times a second: no nominal rate of FFmpeg's names it."""
    src = tmp_path / "slow.mov"
    write_master(
        src, "dnxhd", (1280, 720), Fraction(10), bit_rate=90 * 10**6, options={"profile": "dnxhd"}
    )
    out = tmp_path / "out.mov"
    writer = rewrite(src, out)
    assert writer.plan.options["profile"] == "dnxhr_hq"
    assert any("DNXHR HQ" in notice for notice in writer.plan.notices)
    with av.open(str(out)) as container:
        assert container.streams.video[0].profile == "DNXHR HQ"
        assert len([p for p in container.demux(video=0) if p.size]) == FRAMES


def test_interlaced_prores_stays_coded_in_fields(tmp_path):
    src = tmp_path / "prores_1080i.mov"
    write_master(
        src,
        "prores_ks",
        (128, 96),
        Fraction(25),
        pix_fmt="yuv422p10le",
        options={"profile": "3", "flags": "+ildct"},
        field_order=2,
    )
    out = tmp_path / "out.mov"
    rewrite(src, out)
    assert interlacing(out) == interlacing(src) == [True] * FRAMES


@pytest.mark.parametrize("suffix", ["mov", "mxf"])
def test_avc_intra_stays_intra_and_untouched_pictures_are_copied(tmp_path, suffix):
    """H.264 10-bit 4:2:2 with every picture a key picture, as AVC-Intra and XAVC Intra are.

    The removal's pictures were P-pictures (in MXF every picture after the first), and in MXF
    nothing was copied.
    """
    src = tmp_path / f"avc_intra.{suffix}"
    write_master(
        src,
        "libx264",
        (128, 96),
        Fraction(25),
        pix_fmt="yuv422p10le",
        options={"x264-params": "keyint=1"},
    )
    out = tmp_path / f"out.{suffix}"
    writer = rewrite(src, out)
    assert writer.plan.gop_copy
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.profile == "High 4:2:2 Intra"
        keys = [p.is_keyframe for p in container.demux(stream) if p.size]
    assert keys == [True] * FRAMES
    (frames_in, _), (frames_out, problems) = decoded_with_log(src), decoded_with_log(out)
    assert problems == []
    untouched = [i for i in range(FRAMES) if i not in PAINTED]
    assert all((frames_out[i][1] == frames_in[i][1]).all() for i in untouched)


def test_imx_stays_intra_at_one_picture_size(tmp_path):
    """IMX/D-10: MPEG-2 4:2:2, every picture intra and padded to one size (constant rate).

    The removal's pictures came out as I, P and B pictures a fifth of that size.
    """
    src = tmp_path / "imx.mxf"
    rate = 8_000_000
    cbr = {"minrate": str(rate), "maxrate": str(rate), "bufsize": "320000"}
    write_master(
        src,
        "mpeg2video",
        (128, 96),
        Fraction(25),
        bit_rate=rate,
        gop_size=1,
        max_b_frames=0,
        profile=0,
        options=cbr,
    )
    out = tmp_path / "out.mxf"
    rewrite(src, out)
    with av.open(str(src)) as container:
        sizes_in = [p.size for p in container.demux(video=0) if p.size]
    with av.open(str(out)) as container:
        found = [p for p in container.demux(video=0) if p.size]
    assert [p.is_keyframe for p in found] == [True] * FRAMES
    assert len(set(sizes_in[1:])) == 1  # really padded
    assert [p.size for p in found][1:] == sizes_in[1:]
    untouched = [i for i in range(FRAMES) if i not in PAINTED]
    before, after = packets(src, "video"), packets(out, "video")
    assert all(after[i] == before[i] for i in untouched)
