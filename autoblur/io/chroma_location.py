"""The chroma sample location an input's headers declare, which PyAV does not expose.

H.264 and HEVC carry it in the sequence parameter set's VUI (``chroma_sample_loc_type``), AV1
in its sequence header (``chroma_sample_position``). UHD/HDR masters declare ``topleft``
(BT.2020), MPEG-1-style sources ``center``; a re-encode that drops it makes players and QC
assume ``left``, shifting every chroma sample by half a pixel. FFmpeg's own bitstream reader
(the ``trace_headers`` filter, which logs each syntax element it parses) reads the headers;
this module picks the value out of that log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import av
import av.logging
from av.bitstream import BitStreamFilterContext

# FFmpeg's names for AVChromaLocation 1-6 (the ``chroma_sample_location`` codec option).
_LOCATIONS = ("left", "center", "topleft", "top", "bottomleft", "bottom")
# Syntax element -> the FFmpeg name of each value it takes.
_ELEMENTS = {
    "chroma_sample_loc_type_top_field": dict(enumerate(_LOCATIONS)),  # H.264, HEVC: 0-5
    "chroma_sample_position": {1: "left", 2: "topleft"},  # AV1: vertical, colocated
}
_SEQUENCE_HEADERS = ("Sequence Parameter Set", "Sequence Header")
CODED_CHROMA_CODECS = {"h264", "hevc", "av1"}  # codecs whose headers say where chroma sits
_MAX_PACKETS = 30  # a stream with no headers in its extradata repeats them at its first key
_ELEMENT_LINE = re.compile(r"^\d+\s+(\w+)\s+[01]+\s+=\s+(-?\d+)")


def coded_chroma_location(path: Path, stream_index: int) -> str | None:
    """The chroma location the video stream's headers declare, as FFmpeg names it.

    Args:
        path: the input file.
        stream_index: the video stream's index in it.

    Returns:
        ``left``, ``center``, ``topleft``, ``top``, ``bottomleft`` or ``bottom``; None where the
        codec does not code one (MPEG-2, ProRes, ...) or its headers leave it unspecified (the
        decoder's default then holds for the output too).
    """
    with av.open(str(path)) as container:
        stream = container.streams[stream_index]
        if stream.codec_context.codec.canonical_name not in CODED_CHROMA_CODECS:
            return None  # (canonical: the libdav1d decoder's codec is av1)
        previous = av.logging.get_level()
        av.logging.set_level(av.logging.INFO)  # trace_headers logs at INFO
        try:
            with av.logging.Capture() as logs:  # this thread's messages only
                trace = BitStreamFilterContext("trace_headers", stream)
                packets = container.demux(stream)
                for _ in range(_MAX_PACKETS):
                    if any(m.strip() in _SEQUENCE_HEADERS for _, _, m in logs):
                        break
                    packet = next(packets, None)
                    if packet is None:
                        break
                    if packet.size:
                        trace.filter(packet)
        except av.FFmpegError:
            return None
        finally:
            av.logging.set_level(previous)
    return _first_location(message for _, _, message in logs)


def _first_location(messages: Iterable[str]) -> str | None:
    """The location named by the first chroma-location element among trace_headers lines."""
    for message in messages:
        match = _ELEMENT_LINE.match(message)
        if match and match.group(1) in _ELEMENTS:
            return _ELEMENTS[match.group(1)].get(int(match.group(2)))
    return None
