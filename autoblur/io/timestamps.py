"""Presentation times in display order for any input that ffmpeg plays.

Muxers get timestamps wrong in several ways: B-frame streams stored with their decode-order
times as ``pts`` (decoded frames then carry ``0, 1024, 1536, 512, ...``), packets without
``pts``, duplicate times, and frames before the first keyframe that the decoder drops. A
conforming decoder hands out frames in display order, so the ``k``-th decoded frame shows at
the ``k``-th smallest time among the packets fed to the decoder: that is the time it gets here.
"""

from __future__ import annotations

import heapq
from fractions import Fraction

import av


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
        if self._last is None and frame.pts is not None:
            # Packets before the first decodable picture (a stream cut in an open GOP)
            # show nothing: forget their times.
            while self._pending and self._pending[0] < frame.pts:
                heapq.heappop(self._pending)
        if self._pending:
            time = heapq.heappop(self._pending)
        elif frame.pts is not None and (self._last is None or frame.pts > self._last):
            time = frame.pts
        else:
            time = 0 if self._last is None else self._last + self._step
        if self._last is not None and time <= self._last:  # a duplicate time
            time = self._last + 1
        self._last = time
        return time
