"""The bit rate that makes FFmpeg's DNxHD encoder write an input's own compression ID.

A DNxHD picture names its format in its header (the compression ID, CID: 1237 is 1080p at
"120/145 Mb/s", 1242 its interlaced twin, ...). FFmpeg's encoder picks the CID from the frame
size, interlacing, bit depth and a nominal bit rate in whole Mb/s that must be one of the
CID's own; the rate a container states (or the packet size times the frame rate: 121.24 Mb/s
for a 120 Mb/s CID at 25 fps) is not. The encoder is asked which nominal rate gives the
input's CID: a candidate it does not accept fails at once, one it accepts encodes one grey
picture whose header shows the CID it chose.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_CID_BYTES = slice(0x28, 0x2C)  # big-endian, in every picture's header
_SEARCH = 0.25  # nominal rates within 25% of the measured one are tried, nearest first


def picture_cid(data: bytes) -> int | None:
    """The compression ID in a DNxHD picture's header, or None for a too-short packet."""
    if len(data) < _CID_BYTES.stop:
        return None
    return int.from_bytes(data[_CID_BYTES], "big")


def dnxhd_bit_rate(path: Path, stream_index: int, interlaced: bool) -> tuple[int, bool] | None:
    """The bit rate (b/s) and field coding at which FFmpeg's encoder writes the stream's CID.

    Args:
        path: the input file.
        stream_index: its DNxHD video stream.
        interlaced: whether the container says the video is interlaced; the other coding is
            tried too (MXF often leaves the field order unstated).

    Returns:
        (bit rate, coded in fields), or None where the encoder has no such CID.
    """
    with av.open(str(path)) as container:
        stream = container.streams[stream_index]
        ctx = stream.codec_context
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        packet = next((p for p in container.demux(stream) if p.size), None)
        if packet is None:
            return None
        data = bytes(packet)
        size, pix_fmt = (ctx.width, ctx.height), ctx.pix_fmt
    cid = picture_cid(data)
    measured = len(data) * 8 * rate / 1_000_000
    lowest, highest = int(measured * (1 - _SEARCH)), int(measured * (1 + _SEARCH)) + 1
    for fields in (interlaced, not interlaced):
        for mbps in sorted(range(max(lowest, 1), highest + 1), key=lambda m: abs(m - measured)):
            if _encoded_cid(mbps, size, pix_fmt, rate, fields) == cid:
                return mbps * 1_000_000, fields
    return None


def _encoded_cid(
    mbps: int, size_wh: tuple[int, int], pix_fmt: str | None, rate: Fraction, interlaced: bool
) -> int | None:
    """The CID FFmpeg's encoder writes at ``mbps``, or None where it refuses the rate."""
    context = av.CodecContext.create("dnxhd", "w")
    context.width, context.height = size_wh
    context.pix_fmt = pix_fmt or "yuv422p"
    context.time_base, context.framerate = 1 / rate, rate
    context.bit_rate = mbps * 1_000_000
    context.options = {"profile": "dnxhd", **({"flags": "+ildct"} if interlaced else {})}
    try:
        context.open()
    except av.FFmpegError:
        return None
    grey = av.VideoFrame.from_ndarray(np.full((size_wh[1], size_wh[0], 3), 128, np.uint8), "rgb24")
    packets = context.encode(grey.reformat(format=context.pix_fmt)) + context.encode(None)
    return picture_cid(bytes(packets[0])) if packets else None
