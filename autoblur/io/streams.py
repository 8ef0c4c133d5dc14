"""Which of an input's video streams is its picture, which are cover art, which all-intra."""

from __future__ import annotations

from pathlib import Path

import av

_INTRA_SAMPLE = 30  # packets looked at to call a stream all-intra


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


def all_intra(path: Path, stream_index: int) -> bool:
    """Whether the stream's first packets are all key pictures (AVC-Intra, XAVC Intra, ...).

    Long-GOP codecs can be coded all-intra; such masters must stay so, and each of their
    pictures can be copied on its own.
    """
    with av.open(str(path)) as container:
        stream = container.streams[stream_index]
        keys = []
        for packet in container.demux(stream):
            if packet.size:
                keys.append(packet.is_keyframe)
            if len(keys) == _INTRA_SAMPLE:
                break
    return len(keys) >= 2 and all(keys)
