"""Pixel-format conversions through one reusable, single-threaded swscale context per thread.

``av.VideoFrame.reformat`` (and ``to_ndarray(format=...)``) builds a new swscale context for
every frame, which costs more than the conversion itself at 720p; a ``VideoReformatter`` kept
across frames rebuilds its context only when the sizes or formats change.

Conversions run on one thread: FFmpeg 8.1's sliced swscale sometimes writes a chroma row of
an RGB -> 10-bit 4:2:2 conversion 48 pixels wide as neutral grey (one conversion in about a
hundred; a grey line across a blurred logo on a ProRes master). The frames here are small or
already converted on threads of their own, so nothing is lost.
"""

from __future__ import annotations

import threading

import av
from av.video.reformatter import VideoReformatter

_PER_THREAD = threading.local()


def reformat(frame: av.VideoFrame, **kwargs: object) -> av.VideoFrame:
    """``frame.reformat(**kwargs)`` through this thread's reusable context (same pixels)."""
    reformatter = getattr(_PER_THREAD, "reformatter", None)
    if reformatter is None:
        reformatter = _PER_THREAD.reformatter = VideoReformatter()
    return reformatter.reformat(frame, threads=1, **kwargs)
