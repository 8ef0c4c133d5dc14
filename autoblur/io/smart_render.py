"""Smart render for long-GOP H.264, HEVC and MPEG-2: unchanged GOPs copied, others re-encoded.

The output video stream is the input's own (same ``avcC``/``hvcC`` parameter sets, or
MPEG-2's in-band sequence headers). Frames arrive in display order; they are grouped by the
input's GOPs (a keyframe and the packets up to the next one, read from a second demuxer on
the input). A GOP whose frames are all untouched, whose packet times are the frames' times
and whose pictures decode on their own (a closed GOP, or one after a copied GOP) is copied
packet for packet. Every other GOP is re-encoded (libx264, libx265, mpeg2video), one encoder
per run of re-encoded GOPs that starts with a keyframe and ends with a flush, its parameter
sets in band; the first H.264/HEVC GOP copied after such a run gets the input's parameter
sets back in band. Decode times are rewritten for the whole stream (the display time of the
frame shown a few frames earlier), so copied and re-encoded packets splice without a step
back.

Memory: the decoded frames of one unchanged GOP are held until the GOP is complete (their
RGB copies are not), up to ``MAX_HELD_BYTES``; a changed GOP's frames, and those of a GOP too
long to hold, go to the encoder as they come.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av

from autoblur.io.reader import VideoFrame
from autoblur.io.streams import main_video_stream

log = logging.getLogger(__name__)

# Decode-time delay in frames, per codec; copied GOPs reordering deeper are re-encoded.
# MPEG-2 reorders by one picture at most.
REORDER = {"h264": 4, "hevc": 4, "mpeg2video": 1}
_START_CODE = b"\x00\x00\x01"
# H.264/HEVC with an ``avcC``/``hvcC`` record (length-prefixed NAL units) go into these; with
# their parameter sets in band (Annex B), into MPEG-TS, whose muxer puts the stream's parameter
# sets before every keyframe that comes without them (a GOP copied after a re-encoded one).
SPLICE_CONTAINERS = {"h264": {"mp4", "mov", "matroska"}, "hevc": {"mp4", "mov", "matroska"}}
ANNEXB_SPLICE_CONTAINERS = {"mpegts"}
# Decoded frames held while a GOP may still be copied (1080p 8-bit 4:2:0: about 340 frames);
# a longer GOP is re-encoded.
MAX_HELD_BYTES = 1 << 30
SPLICE_ENCODERS = {"h264": "libx264", "hevc": "libx265", "mpeg2video": "mpeg2video"}
SPLICE_CONTAINERS["mpeg2video"] = {"mxf", "mpeg", "mpegts", "mov", "matroska"}


class VideoEncoder(Protocol):
    """What encodes pictures: a codec context, or one wrapped (``FrameTickEncoder``)."""

    def encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        """The packets ready after ``frame`` (None: flush)."""
        ...


Encodable = Callable[[VideoFrame, "tuple[int, int, int, int] | None"], av.VideoFrame]


def parameter_sets(extradata: bytes, codec: str) -> tuple[int, list[bytes]]:
    """The NAL length size and parameter sets of an ``avcC`` or ``hvcC`` record.

    Args:
        extradata: the decoder configuration record (ISO 14496-15).
        codec: ``h264`` (SPS, PPS) or ``hevc`` (VPS, SPS, PPS, SEI arrays).

    Returns:
        The size in bytes of each NAL unit's length prefix, and the NAL units in order.
    """
    units: list[bytes] = []

    def take(pos: int, count: int) -> int:
        for _ in range(count):
            size = int.from_bytes(extradata[pos : pos + 2], "big")
            units.append(bytes(extradata[pos + 2 : pos + 2 + size]))
            pos += 2 + size
        return pos

    if codec == "hevc":
        pos = 23
        for _ in range(extradata[22]):  # arrays of one NAL type each
            pos = take(pos + 3, int.from_bytes(extradata[pos + 1 : pos + 3], "big"))
        return (extradata[21] & 3) + 1, units
    pos = take(6, extradata[5] & 0x1F)  # SPS
    take(pos + 1, extradata[pos])  # PPS
    return (extradata[4] & 3) + 1, units


def annexb_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte stream (start-code separated)."""
    units = []
    for chunk in data.split(_START_CODE):
        chunk = chunk.rstrip(b"\x00")  # a 4-byte start code leaves a zero before it
        if chunk:
            units.append(chunk)
    return units


def length_prefixed(units: list[bytes], size: int) -> bytes:
    """NAL units as an ``avcC`` sample: each preceded by its length in ``size`` bytes."""
    return b"".join(len(u).to_bytes(size, "big") + u for u in units)


def splice_possible(stream: av.VideoStream, container: str, intra: bool = False) -> str | None:
    """None when ``stream``'s GOPs can be spliced into ``container``, else why not.

    ``intra``: the stream is all-intra (every GOP one picture, which carries its parameter
    sets in band where it has no ``avcC``/``hvcC``), as AVC-Intra and XAVC Intra in MXF are.
    """
    name = stream.codec_context.name
    extradata = stream.codec_context.extradata or b""
    if name not in SPLICE_ENCODERS:
        return f"copying unchanged GOPs is supported for H.264, HEVC and MPEG-2, not {name}"
    container = container.split(",")[0]
    if name != "mpeg2video" and _annexb(extradata):
        if container in ANNEXB_SPLICE_CONTAINERS or (intra and container == "mxf"):
            return None
        return (
            f"the input's {name} has its parameter sets in band, so GOPs are copied only into "
            "MPEG-TS"
        )
    if container not in SPLICE_CONTAINERS[name]:
        return f"copying unchanged {name} GOPs is not supported into {container}"
    if name == "hevc" and stream.codec_context.codec_tag == "hvc1" and container != "matroska":
        # Apple players take the parameter sets from the sample entry only: the re-encoded
        # GOPs' own would be ignored. Re-encoding every GOP gives one entry that holds them.
        return (
            "the input's HEVC is tagged hvc1, whose one sample entry must hold every GOP's "
            "parameter sets"
        )
    return None


def _annexb(extradata: bytes) -> bool:
    """Whether H.264/HEVC ``extradata`` is not an ``avcC``/``hvcC`` record (Annex B or none)."""
    return not extradata or extradata[0] != 1


@dataclass
class _Held:
    """A frame waiting for its GOP's verdict: its time, and the picture to encode if any.

    Attributes:
        pts: the frame's presentation time.
        decoded_pts: the time the decoder gave the picture (None: not decoded).
        duration: the input frame's duration (0: unknown).
        picture: the picture to encode (the decoded frame, patched where changed).
    """

    pts: int
    decoded_pts: int | None
    duration: int
    picture: av.VideoFrame

    @classmethod
    def of(cls, frame: VideoFrame, picture: av.VideoFrame) -> _Held:
        source = frame.source
        return cls(
            frame.pts,
            None if source is None else source.pts,
            (source.duration or 0) if source is not None else 0,
            picture,
        )


class GopSplicer:
    """Writes one H.264 or HEVC stream from copied and re-encoded GOPs.

    Args:
        path: the input file (read a second time, packets only).
        out: the output video stream, made from the input's as a template.
        mux: muxes a list of packets into the output.
        encodable: turns a frame and its changed box into the picture to encode.
        encoder: makes a fresh encoder (a codec context, or one wrapped to take and give
            times in the input's time base) for a run of re-encoded GOPs.
        frame_step: the nominal frame duration in time-base units.
    """

    def __init__(
        self,
        path: str,
        out: av.VideoStream,
        mux: Callable[[list[av.Packet]], None],
        encodable: Encodable,
        encoder: Callable[[], VideoEncoder],
        frame_step: Fraction,
    ) -> None:
        self._input = av.open(path)
        source = main_video_stream(self._input)
        self._time_base = source.time_base
        codec = source.codec_context.name
        self._reorder = REORDER[codec]
        # H.264/HEVC: NAL units with length prefixes, parameter sets in the sample entry.
        # MPEG-2 carries a sequence header in band before every GOP: packets go as they are.
        # Annex B (MPEG-TS): packets go as they are, as the encoder writes them.
        self._length_size: int | None = None
        self._in_band = b""
        extradata = bytes(source.codec_context.extradata or b"")
        if codec != "mpeg2video" and not _annexb(extradata):
            self._length_size, units = parameter_sets(extradata, codec)
            self._in_band = length_prefixed(units, self._length_size)
        self._packets = (p for p in self._input.demux(source) if p.size)
        self._next_key: av.Packet | None = next(self._packets, None)
        self._out, self._mux, self._encodable, self._new_encoder = out, mux, encodable, encoder
        self._step = max(1, round(frame_step))
        self._gop: list[av.Packet] = []
        self._held: list[_Held] = []  # this GOP's frames not yet encoded
        self._gop_changed = False
        self._gop_frames = 0
        self._held_bytes = 0
        self._encoder: VideoEncoder | None = None
        self._prev_copied = False
        self._shown: deque[int] = deque()  # display times of the frames not yet given as dts
        self._primed = False
        self._last_pts: int | None = None
        self._durations: dict[int, int] = {}  # pts -> input frame duration, until encoded
        self.frames_copied = 0
        self.frames_encoded = 0

    def write(self, frame: VideoFrame, changed_xyxy: tuple[int, int, int, int] | None) -> None:
        """Take the next frame in display order.

        Untouched frames are held (as decoded) until their GOP is complete; from a GOP's
        first changed frame on, its frames go to the encoder as they come.

        Raises:
            ValueError: the frame's time is not after the last one's.
        """
        if self._last_pts is not None and frame.pts <= self._last_pts:
            raise ValueError(f"frame time {frame.pts} is not after {self._last_pts}")
        self._last_pts = frame.pts
        if not self._held and not self._gop:
            self._gop, self._gop_changed, self._gop_frames = self._read_gop(), False, 0
        held = _Held.of(frame, self._encodable(frame, changed_xyxy))
        self._held.append(held)
        self._held_bytes += sum(plane.buffer_size for plane in held.picture.planes)
        self._gop_frames += 1
        if changed_xyxy is not None or frame.scaled or self._held_bytes > MAX_HELD_BYTES:
            # Re-encoded: changed, not the input's size, or too long a GOP to hold.
            self._gop_changed = True
        if self._gop_changed:
            self._reencode(self._held)
            self._held, self._held_bytes = [], 0
        if self._gop_frames >= len(self._gop):
            self._finish_gop()

    def close(self) -> None:
        """Write what is left and flush the encoder."""
        if self._held:
            self._reencode(self._held)
            self._held = []
        self._end_run()
        self._input.close()

    def discard(self) -> None:
        """Stop without writing what is left (the output is being thrown away)."""
        self._input.close()

    def _read_gop(self) -> list[av.Packet]:
        gop: list[av.Packet] = []
        while self._next_key is not None:
            gop.append(self._next_key)
            self._next_key = next(self._packets, None)
            if self._next_key is not None and self._next_key.is_keyframe:
                break
        return gop

    def _finish_gop(self) -> None:
        held, gop = self._held, self._gop
        self._held, self._gop, self._held_bytes = [], [], 0
        if self._gop_changed:
            self._prev_copied = False
        elif self._copyable(held, gop):
            self._end_run()
            self._copy(held, gop)
        else:
            self._reencode(held)
            self._prev_copied = False

    def _copyable(self, held: list[_Held], gop: list[av.Packet]) -> bool:
        if not gop or not gop[0].is_keyframe:  # no packets left: more frames than the input
            return False
        times = [p.pts for p in gop]
        if None in times or any(p.is_discard for p in gop):
            return False
        if sorted(times) != [h.pts for h in held]:
            return False
        # Each packet's own time must be its picture's: not so where a muxer stored decode
        # times as pts (the decoder then hands out the pictures with times out of order).
        if any(h.decoded_pts != h.pts for h in held):
            return False
        closed = min(times) == gop[0].pts
        depth = max(j - sorted(times).index(t) for j, t in enumerate(times))
        return (closed or self._prev_copied) and depth <= self._reorder

    def _copy(self, held: list[_Held], gop: list[av.Packet]) -> None:
        self._shown.extend(h.pts for h in held)
        for index, packet in enumerate(gop):
            out = packet
            if index == 0 and self._in_band and not self._prev_copied and self.frames_encoded:
                out = av.Packet(self._in_band + bytes(packet))
                out.is_keyframe = True
            out.pts = packet.pts
            self._send(out)
        self._prev_copied = True
        self.frames_copied += len(held)

    def _reencode(self, held: list[_Held]) -> None:
        if self._encoder is None:
            self._encoder = self._new_encoder()
        for item in held:
            picture = item.picture
            picture.pts = item.pts
            picture.time_base = self._time_base
            picture.pict_type = av.video.frame.PictureType.NONE
            if item.duration:
                self._durations[item.pts] = item.duration
            self._shown.append(item.pts)
            self._send_encoded(self._encoder.encode(picture))
        self.frames_encoded += len(held)

    def _end_run(self) -> None:
        if self._encoder is not None:
            self._send_encoded(self._encoder.encode(None))
            self._encoder = None

    def _send_encoded(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            data = bytes(packet)
            if self._length_size is not None:
                data = length_prefixed(annexb_units(data), self._length_size)
            out = av.Packet(data)
            out.is_keyframe = packet.is_keyframe
            out.pts = packet.pts
            out.duration = self._durations.pop(packet.pts, packet.duration)
            self._send(out)

    def _send(self, packet: av.Packet) -> None:
        """Mux one packet with the decode time of the frame shown REORDER frames earlier."""
        packet.dts = self._next_dts()
        packet.time_base = self._time_base
        packet.stream = self._out
        self._mux([packet])

    def _next_dts(self) -> int:
        if not self._primed:  # the first REORDER packets decode before the first frame shows
            first = self._shown[0]
            self._shown.extendleft(first - k * self._step for k in range(1, self._reorder + 1))
            self._primed = True
        return self._shown.popleft()
