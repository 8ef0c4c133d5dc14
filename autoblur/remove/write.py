"""Writing a removal: decode, mask, remove, encode, with every other stream copied."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from autoblur.config import EncodeConfig
from autoblur.io import VideoFrame, VideoReader, VideoWriter
from autoblur.progress import Progress
from autoblur.remove.base import MaskedFrame, Remover, apply_removers


class Written(NamedTuple):
    """What :func:`write_removed` wrote: frames, the output's format, the writer's notices."""

    frames: int
    output_format: dict
    notices: list[str]
    encode_seconds: tuple[float, float] = (0.0, 0.0)  # the encoder thread's wall and CPU


def write_removed(
    reader: VideoReader,
    output_path: Path,
    encode: EncodeConfig,
    masked: Callable[[Iterator[VideoFrame]], Iterator[MaskedFrame]],
    removers: list[Remover],
    progress: Progress,
    written: Callable[[MaskedFrame], None] | None = None,
) -> Written:
    """Decode every frame, mask it, apply the removers and encode it; other streams are copied.

    Shared by ``run``, ``render`` and the verification's repairs, so all give the same output
    (format, streams, smart render).

    Args:
        reader: the open input.
        output_path: the output video (written to a temporary name and renamed at the end).
        encode: encoder settings.
        masked: turns the decoded frames into frames with their masks per action.
        removers: one per action in use.
        progress: told of every frame written, and of the writer's notices.
        written: called with every frame once it is handed to the encoder.
    """
    frames_done = 0
    with VideoWriter(output_path, reader.info, encode, reader.copied_streams) as writer:
        notices = writer.plan.notices + writer.carried.notices
        for notice in notices:
            progress.note(notice)
        for item in apply_removers(masked(reader.frames(writer.mux_audio)), removers):
            writer.write(item.frame, item.changed_xyxy)
            if written is not None:
                written(item)
            frames_done += 1
            progress.advance(1)
    for notice in reader.notices:
        progress.note(notice)
    return Written(
        frames_done, writer.describe(), [*notices, *reader.notices], tuple(writer.thread_seconds)
    )
