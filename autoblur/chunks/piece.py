"""One piece of a scan split into pieces: the pipeline on a stretch, keeping what the piece owns.

The piece reads from ``lead_in`` frames before its first frame to ``lead_out`` after its last
(:class:`~autoblur.chunks.plan.Piece`), runs the whole pipeline on them, and keeps only what
lies on its own frames: each track cut to them, its boxes there, its masks there (saved to an
archive of the piece's own), the shot starts there. The lead frames are context: a logo that
entered before the piece's first frame is detected there and tracked into the piece as in one
process.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autoblur.chunks.plan import Piece
from autoblur.io import VideoFrame, VideoReader
from autoblur.io.format_plan import planned_format
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.progress import Progress
from autoblur.remove.mask_folder import MaskFolder
from autoblur.review.saved_detections import MaskWriter
from autoblur.track.manager import Track


@dataclass
class PieceResult:
    """What one piece found on its own frames, in its own track ids.

    Attributes:
        piece: the plan's piece.
        tracks: every track with a mask on the piece's frames, cut to them.
        boxes: per track id, its box per frame (the piece's frames only).
        shot_starts: cuts on the piece's frames (its first frame is not one it can see).
        thumbnails: JPEG of each kept track's first detection, where taken.
        keyframes: the keyframes on the piece's frames.
        stages: wall and CPU seconds per stage, lead frames included.
        notices: the run's notices.
        masks_path: the archive of its masks, or None where none is kept.
        frame_hw: the frame size.
        frames: frames of its own decoded.
        frames_read: frames it ran the pipeline on, lead frames included.
    """

    piece: Piece
    tracks: list[Track]
    boxes: dict[int, dict[int, np.ndarray]]
    shot_starts: list[int]
    thumbnails: dict[int, bytes]
    keyframes: list[int]
    stages: dict[str, dict[str, float]]
    notices: list[str]
    masks_path: Path | None
    frame_hw: tuple[int, int]
    frames: int
    frames_read: int


class PiecePipeline(Pipeline):
    """The scan pipeline on ``piece``'s frames and its lead frames.

    Args:
        job: the scan (no output video).
        piece: the piece.
        begin: a frame where decoding can begin at or before the piece's first lead frame,
            with its presentation time.
        masks_path: where to save the masks of the piece's own frames; None: nowhere.
        progress: told of each of the piece's own frames once done.
    """

    def __init__(
        self,
        job: Job,
        piece: Piece,
        begin: tuple[int, int],
        masks_path: Path | None,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(job, progress)
        self.piece = piece
        self.begin = begin
        self.masks_path = masks_path
        self.times: dict[int, float] = {}  # the piece's own frames' presentation times
        self.frames_read = 0

    def _stream(self, reader: VideoReader, removers: list, masks: MaskFolder | None) -> int:
        self.output_format = planned_format(self.job.input_path, self.config.encode)
        if self.masks_path is not None:
            self.saved = _OwnFrames(self.masks_path, self.piece)
        for item in self._masked_frames(self._read(reader)):
            if self.piece.start <= item.frame.index < self.piece.end:
                self.progress.advance(1)
        return len(self.times)

    def _read(self, reader: VideoReader) -> Iterator[VideoFrame]:
        first = self.piece.start - self.piece.lead_in
        stop = self.piece.end + self.piece.lead_out
        for frame in reader.frames(begin=self.begin):
            if frame.index >= stop:
                break
            if frame.index < first:
                continue
            if self.piece.start <= frame.index < self.piece.end:
                self.times[frame.index] = frame.time_s
            self.frames_read += 1
            yield frame

    def _save_detections(self, frame_hw: tuple[int, int]) -> dict | None:
        if self.saved is not None:
            self.saved.commit(self.footprints.shot_starts, frame_hw)
        return None  # the merge writes the file's entry

    def result(self, frame_hw: tuple[int, int]) -> PieceResult:
        """What the piece keeps, after :meth:`run`."""
        start, end = self.piece.start, self.piece.end
        boxes: dict[int, dict[int, np.ndarray]] = {}
        tracks = []
        for track in self.manager.all_tracks():
            own = {f: b for f, b in self.footprints.boxes.get(track.track_id, {}).items()
                   if start <= f < end}  # fmt: skip
            if not own:
                continue
            first, last = min(own), max(own)
            tracks.append(
                dataclasses.replace(
                    track,
                    first_frame=first,
                    last_frame=last,
                    first_time_s=self.times[first],
                    last_time_s=self.times[last],
                    keyframes=[k for k in track.keyframes if start <= k["frame"] < end],
                    sources=set(track.sources),
                    mask=None,
                )
            )
            boxes[track.track_id] = own
        kept = {t.track_id for t in tracks}
        return PieceResult(
            piece=self.piece,
            tracks=tracks,
            boxes=boxes,
            shot_starts=[f for f in self.footprints.shot_starts if start <= f < end and f > 0],
            thumbnails={k: v for k, v in self.thumbnails.items() if k in kept},
            keyframes=[k for k in self.keyframe_indices if start <= k < end],
            stages=self.clock.to_json(),
            notices=list(self.job.notices),
            masks_path=self.masks_path,
            frame_hw=frame_hw,
            frames=len(self.times),
            frames_read=self.frames_read,
        )


class _OwnFrames(MaskWriter):
    """Saves the masks of the piece's own frames only."""

    def __init__(self, final: Path, piece: Piece) -> None:
        super().__init__(final)
        self.piece = piece

    def add(self, frame_idx: int, track_masks: dict) -> None:
        if self.piece.start <= frame_idx < self.piece.end:
            super().add(frame_idx, track_masks)


class QueuedProgress:
    """A piece's progress, sent to the process that runs the pieces as (piece, frames done).

    The first message, (piece, 0), says that the piece has begun.
    """

    EVERY = 25  # frames between messages

    def __init__(self, queue: Any, piece: int) -> None:
        self.queue = queue
        self.piece = piece
        self.done = self.sent = 0

    def start(self, total_frames: int | None) -> None:
        """The piece has begun."""
        self.queue.put((self.piece, 0))

    def advance(self, frames: int) -> None:
        """Send the frames done now and then."""
        self.done += frames
        if self.done - self.sent >= self.EVERY:
            self.queue.put((self.piece, self.done))
            self.sent = self.done

    def note(self, message: str) -> None:
        """The notices come back with the result."""


def run_piece(
    job: Job, piece: Piece, begin: tuple[int, int], masks_path: Path | None, queue: Any = None
) -> PieceResult:
    """Run one piece (in a worker process) and return what it keeps.

    With ``queue``, the piece's progress goes there (:class:`QueuedProgress`).
    """
    job = dataclasses.replace(job, output_path=None, report_path=None, notices=list(job.notices))
    progress = QueuedProgress(queue, piece.index) if queue is not None else None
    pipeline = PiecePipeline(job, piece, begin, masks_path, progress)
    report = pipeline.run()
    return pipeline.result((report["input"]["height"], report["input"]["width"]))
