"""Which of an input's video streams is its picture, and which are cover art."""

from __future__ import annotations

import av


def main_video_stream(container: av.container.Container) -> av.VideoStream | None:
    """The video stream a player shows, as ffmpeg picks it: the largest moving picture.

    Cover art (a stream marked ``attached_pic``) is never it; among the others the one with
    the most pixels wins, the first of equals. None when there is no such stream.
    """
    moving = [stream for stream in container.streams.video if not is_cover(stream)]
    if not moving:
        return None
    return max(moving, key=lambda s: (s.codec_context.width * s.codec_context.height, -s.index))


def is_cover(stream: av.stream.Stream) -> bool:
    """Whether ``stream`` is cover art: one picture (``attached_pic``), not a moving video."""
    return bool(stream.disposition & av.stream.Disposition.attached_pic)
