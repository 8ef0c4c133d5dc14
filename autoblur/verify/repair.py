"""A verification's repairs, applied to the output as it is.

What the verification finds again on a few frames is removed from the output itself: the
output is read back, the frames with a repair get their wider masks filled (or blurred), and
every other frame is copied as it is (intra-only packets, unchanged GOPs), in the output's own
format. No detector or tracker runs again, so a repair costs a decode of the output and the
re-encoding of the few GOPs it touches, not a second run over the whole input.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Iterator
from pathlib import Path

from autoblur.config import PipelineConfig
from autoblur.io import VideoFrame, VideoReader
from autoblur.progress import Silent
from autoblur.remove import MaskedFrame, build_removers
from autoblur.remove.write import write_removed
from autoblur.types import union_mask
from autoblur.verify.output import Repairs


def repair_output(
    output_path: Path,
    repairs: Repairs,
    config: PipelineConfig,
    shot_starts: Container[int] = (),
    written: Callable[[MaskedFrame], None] | None = None,
) -> None:
    """Remove ``repairs`` from the video at ``output_path``, in place.

    The previous output is moved aside while the new one is written (to a temporary name,
    renamed at the end), and put back if writing fails: the path always holds a whole video.

    Args:
        output_path: the output to repair.
        repairs: per frame, per action, the masks to remove.
        config: the run's settings (removers, encoder).
        shot_starts: frames that start a shot (temporal removers take nothing across them).
        written: called with every frame once it is handed to the encoder.

    Raises:
        VideoError: the output cannot be read back or written.
    """
    previous = output_path.with_name(
        f".{output_path.stem}.repairing-{os.getpid()}{output_path.suffix}"
    )
    os.replace(output_path, previous)
    try:
        actions = {action for repair in repairs.values() for action in repair}

        def masked(frames: Iterator[VideoFrame]) -> Iterator[MaskedFrame]:
            for frame in frames:
                found = repairs.get(frame.index, {})
                masks = {action: union_mask(parts) for action, parts in found.items()}
                yield MaskedFrame(frame, masks, starts_shot=frame.index in shot_starts)

        with VideoReader(previous) as reader:
            write_removed(
                reader,
                output_path,
                config.encode,
                masked,
                build_removers(config, actions),
                Silent(),
                written,
            )
    except BaseException:
        os.replace(previous, output_path)
        raise
    previous.unlink()
