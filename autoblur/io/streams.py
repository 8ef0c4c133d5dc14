"""Which of an input's video streams is its picture, which are cover art, which all-intra."""

from __future__ import annotations

from pathlib import Path

import av

_FIRST_PACKETS = 30  # enough to tell an all-intra or constant-size stream


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


def first_packets(path: Path, stream_index: int) -> list[av.Packet]:
    """The stream's first packets that hold data (up to 30), in file order.

    Enough to tell an all-intra master (AVC-Intra, XAVC Intra, IMX: every packet a key
    picture) and a constant-size one (IMX/D-10 pads every picture to one size).
    """
    with av.open(str(path)) as container:
        stream = container.streams[stream_index]
        found = []
        for packet in container.demux(stream):
            if packet.size:
                found.append(packet)
            if len(found) == _FIRST_PACKETS:
                break
    return found
