"""Source timecode: where a video's clock starts, and frame indices as SMPTE timecode.

Broadcasters log positions in the source's own timecode, not in seconds from zero. The start
comes from the video's timecode track or metadata (QuickTime ``tmcd``, MXF or MP4 ``timecode``
tags); without one the clock starts at 00:00:00:00. 29.97 and 59.94 fps count in drop-frame
(``;`` before the frames) unless the source says otherwise.
"""

from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path

import av
import av.error
from timecode import Timecode

log = logging.getLogger(__name__)

_DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))
_SMPTE = re.compile(r"\d{1,2}:\d{2}:\d{2}[:;.]\d{2}")


def start_timecode(container: av.container.InputContainer) -> str | None:
    """The timecode of the first frame as an open file states it, or None when it states none.

    Looks at the video stream's tags, then any data stream's (a QuickTime ``tmcd`` track), then
    the container's (MXF, some MOV). The writer carries the same value into the output.
    """
    places = [
        *(s.metadata for s in container.streams.video[:1]),
        *(s.metadata for s in container.streams.data),
        container.metadata,
    ]
    for tags in places:
        value = tags.get("timecode")
        if value:
            return value.strip()
    return None


def read_start_timecode(path: Path) -> str | None:
    """:func:`start_timecode` of the file at ``path``.

    Raises:
        av.error.FFmpegError: the file cannot be opened (callers have opened it already).
    """
    with av.open(str(path)) as container:
        return start_timecode(container)


class SourceClock:
    """Turns frame indices into the source's SMPTE timecode.

    Args:
        fps: the video's frame rate.
        start: the timecode of frame 0 (``HH:MM:SS:FF``, ``;`` before FF for drop-frame), or
            None to start at 00:00:00:00.
    """

    def __init__(self, fps: Fraction, start: str | None = None) -> None:
        self.fps = Fraction(fps)
        if start is not None and not _SMPTE.fullmatch(start):
            log.warning("ignoring the source timecode %r: not HH:MM:SS:FF", start)
            start = None
        rate = f"{self.fps.numerator}/{self.fps.denominator}" if self.fps.denominator > 1 else None
        rate = rate or str(self.fps.numerator)
        drop = self.fps in _DROP_FRAME_RATES
        if start is not None and drop and ";" not in start and "." not in start:
            drop = False  # the source counts these rates in non-drop-frame
        self.start = start or ("00:00:00;00" if drop else "00:00:00:00")
        self._rate = rate
        self._drop = drop
        self._first = Timecode(rate, self.start, force_non_drop_frame=not drop).frames

    @property
    def drop_frame(self) -> bool:
        """Whether the clock counts in drop-frame."""
        return self._drop

    def timecode(self, frame_idx: int) -> str:
        """The SMPTE timecode of 0-based frame ``frame_idx`` (wraps after 24 hours)."""
        return str(
            Timecode(
                self._rate, frames=self._first + frame_idx, force_non_drop_frame=not self._drop
            )
        )


def source_clock(path: Path, fps: Fraction) -> SourceClock:
    """The clock of the video at ``path``, from its timecode track or tags if it has them."""
    try:
        start = read_start_timecode(path)
    except av.error.FFmpegError:
        start = None
    return SourceClock(fps, start)
