"""Presentation times in display order for any input that ffmpeg plays.

Muxers get timestamps wrong in several ways: B-frame streams stored with their decode-order
times as ``pts`` (decoded frames then carry ``0, 1024, 1536, 512, ...``), packets without
``pts``, duplicate times, and frames before the first keyframe that the decoder drops. A
conforming decoder hands out frames in display order, so the ``k``-th decoded frame shows at
the ``k``-th smallest time among the packets fed to the decoder: that is the time it gets here.
"""

from __future__ import annotations

import heapq
import io
from fractions import Fraction

import av
import numpy as np


class PresentationClock:
    """Gives each decoded frame its presentation time, strictly increasing.

    Args:
        frame_step: the nominal frame duration in time-base units (``1 / (fps * time_base)``),
            used where no packet time is known.

    Feed every video packet (``feed``) before decoding it, then ask for the time of each
    frame it yields (``stamp``).
    """

    def __init__(self, frame_step: Fraction) -> None:
        self._step = max(1, round(frame_step))
        self._pending: list[int] = []  # times of packets whose frames are not out yet
        self._last: int | None = None

    def feed(self, packet: av.Packet) -> None:
        """Note the time of one video packet on its way to the decoder.

        Empty (flush) packets and packets the demuxer marks to discard (before an edit
        list's start) give no frame and are not counted.
        """
        time = packet.pts if packet.pts is not None else packet.dts
        if time is not None and packet.size and not packet.is_discard:
            heapq.heappush(self._pending, time)

    def stamp(self, frame: av.VideoFrame) -> int:
        """The presentation time of the next frame in display order, in time-base units."""
        return self.next_time(frame.pts)

    def next_time(self, pts: int | None) -> int:
        """The presentation time of the next frame, whose decoder (or packet) ``pts`` is given.

        Used directly for a picture that is counted but not decoded.
        """
        if self._last is None and pts is not None:
            # Packets before the first decodable picture (a stream cut in an open GOP)
            # show nothing: forget their times.
            while self._pending and self._pending[0] < pts:
                heapq.heappop(self._pending)
        if self._pending:
            time = heapq.heappop(self._pending)
        elif pts is not None and (self._last is None or pts > self._last):
            time = pts
        else:
            time = 0 if self._last is None else self._last + self._step
        if self._last is not None and time <= self._last:  # a duplicate time
            time = self._last + 1
        self._last = time
        return time


def counted_read_delay(codec_context: av.VideoCodecContext, container_format: str) -> int:
    """Frames by which demuxers show a stream late in a container that counts frames (AVI).

    Such a container stores no times: the ``k``-th chunk is read back at ``k`` plus a delay
    that the demuxer derives from the codec (one for MPEG-4 Part 2 with B-frames, and for
    every H.264 stream even without B-frames). The delay is measured here by writing three
    frames from ``codec_context`` (an opened encoder) into an in-memory file and reading it.

    Args:
        codec_context: a fresh, opened encoder with the output's settings; it is used up.
        container_format: the container's format name (``avi``).

    Returns:
        The display time, in frames, of the first chunk.
    """
    buffer = io.BytesIO()
    blank = av.VideoFrame.from_ndarray(
        np.zeros((codec_context.height, codec_context.width, 3), np.uint8), format="rgb24"
    ).reformat(format=codec_context.pix_fmt)
    with av.open(buffer, "w", format=container_format) as out:
        stream = out.add_stream(codec_context.name, rate=codec_context.framerate)
        stream.width, stream.height = codec_context.width, codec_context.height
        stream.pix_fmt = codec_context.pix_fmt
        stream.codec_context.color_range = codec_context.color_range  # MJPEG needs full range
        stream.time_base = stream.codec_context.time_base = codec_context.time_base
        packets = []
        for pts in range(3):
            blank.pts = pts
            packets += codec_context.encode(blank)
        for packet in packets + codec_context.encode(None):
            packet.stream = stream
            out.mux(packet)
    buffer.seek(0)
    with av.open(buffer) as back:
        for frame in back.decode(video=0):
            return round(frame.pts * back.streams.video[0].time_base * codec_context.framerate)
    return 0


class CountedPlacement:
    """Decode times that put each frame at its own time in a container that counts frames.

    Args:
        delay: the demuxer's delay in frames (``counted_read_delay``).

    Each packet's ``dts`` becomes its ``pts`` less the delay (the muxer files it as that
    chunk, padding gaps with empty chunks). A stream that starts late gets an empty packet at
    0 first, as AVI muxers pad only after the first chunk.
    """

    def __init__(self, delay: int) -> None:
        self._delay = delay
        self._started = False

    def place(self, packets: list[av.Packet], stream: av.VideoStream) -> list[av.Packet]:
        """``packets`` (video, in decode order without reordering) with their chunk times."""
        placed = []
        for packet in packets:
            if packet.pts is None:
                placed.append(packet)
                continue
            packet.dts = packet.pts - self._delay
            if not self._started and packet.dts > 0:
                lead = av.Packet(b"")
                lead.stream, lead.time_base = stream, packet.time_base
                lead.pts = lead.dts = 0
                placed.append(lead)
            self._started = True
            placed.append(packet)
        return placed


class FrameTickEncoder:
    """An encoder that counts time in frames (MPEG-1/2), fed and read in another time base.

    MPEG-1/2 encoders take the frame rate from their codec time base, which must therefore be
    one frame (1/25, 1001/30000, ...), while the frames come with times in the stream's time
    base (1/90000 in MPEG-TS and MPEG-PS, 1/12800 in MP4). Each frame is given the frame count
    since the first frame as its time; the packets that come out get their frames' own times
    back, exactly, and decode times on the same grid.

    Args:
        context: an encoder whose ``time_base`` is the frame duration (opened on first use).
        time_base: the time base of the frames fed in and of the packets given out.
    """

    def __init__(self, context: av.VideoCodecContext, time_base: Fraction) -> None:
        self.context = context
        self._time_base = Fraction(time_base)
        self._step = Fraction(context.time_base) / self._time_base  # one frame, outer units
        self._first: int | None = None
        self._last_tick: int | None = None
        self._times: dict[int, int] = {}  # frame tick -> the frame's own time

    def encode(self, frame: av.VideoFrame | None) -> list[av.Packet]:
        """Encode ``frame`` (its ``pts`` in ``time_base``), or flush with None."""
        if frame is not None:
            if self._first is None:
                self._first = frame.pts
            tick = round((frame.pts - self._first) / self._step)
            if self._last_tick is not None and tick <= self._last_tick:
                tick = self._last_tick + 1  # two frames within one frame duration
            self._last_tick = tick
            self._times[tick] = frame.pts
            frame.pts, frame.time_base = tick, self.context.time_base
        packets = self.context.encode(frame)
        for packet in packets:
            tick, dts_tick = packet.pts, packet.dts
            packet.pts = self._times.pop(tick, None)
            if packet.pts is None:
                packet.pts = self._outer(tick)
            packet.dts = None if dts_tick is None else min(self._outer(dts_tick), packet.pts)
            packet.duration = round(packet.duration * self._step) if packet.duration else 0
            packet.time_base = self._time_base
        return packets

    def _outer(self, tick: int) -> int:
        return (self._first or 0) + round(tick * self._step)
