"""The chunk plan: where a long file is cut into pieces, and how far each piece reads around.

A piece may start only where its first frame decodes without any frame before it: at a
closed GOP's keyframe for long-GOP codecs (the keyframe is the first frame shown of its GOP),
at any frame of an intra-only stream. Among those, a scene cut near the wanted length is
taken first (tracks end at cuts, so nothing crosses the border); otherwise the start nearest
the wanted length. A piece reads ``lead_in`` frames before its first written frame and
``lead_out`` after its last (the lead-in never across a cut, the lead-out only as far as
the keyframes that confirm an overlay after one), so that a logo crossing the border is
detected, tracked back and filled with the same frames around it as in one process.

The plan is read from the packets alone (no decoding): a two-hour file is indexed in seconds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from autoblur.chunks.cuts import CutSource, KnownCuts
from autoblur.config import PipelineConfig
from autoblur.errors import VideoError
from autoblur.io.streams import main_video_stream
from detectors.overlay import STEADY_KEYFRAMES


@dataclass(frozen=True)
class FrameIndex:
    """The video's frames in display order, from its packets.

    Attributes:
        times: each frame's presentation time (stream time base), in display order.
        starts: display indices where a piece may start (closed-GOP keyframes, or every
            frame of an intra-only stream); always holds 0.
        fps: the nominal frame rate.
        intra_only: every packet is a keyframe.
    """

    times: list[int]
    starts: list[int]
    fps: Fraction
    intra_only: bool


@dataclass(frozen=True)
class Piece:
    """One piece of the plan.

    Attributes:
        index: its place in the plan, from 0.
        start: the first frame it writes (display index).
        end: one past the last frame it writes.
        lead_in: frames before ``start`` it reads and processes but does not write.
        lead_out: frames after ``end`` it reads and processes but does not write.
        start_time: ``start``'s presentation time (stream time base).
        starts_at: why the border is there: ``file start``, ``cut``, ``closed GOP`` or
            ``frame`` (intra-only).
    """

    index: int
    start: int
    end: int
    lead_in: int
    lead_out: int
    start_time: int
    starts_at: str

    @property
    def frames(self) -> int:
        """Frames written."""
        return self.end - self.start


@dataclass(frozen=True)
class ChunkPlan:
    """The pieces of one file, in order; together they write every frame once."""

    seconds: float
    fps: Fraction
    frames: int
    pieces: list[Piece] = field(default_factory=list)

    def describe(self) -> dict:
        """The plan for the report."""
        return {
            "seconds": self.seconds,
            "frames": self.frames,
            "pieces": [
                {**asdict(p), "seconds": round(p.frames / float(self.fps), 3)} for p in self.pieces
            ],
        }


def read_frame_index(path: Path) -> FrameIndex:
    """Index ``path``'s main video stream from its packets.

    Raises:
        VideoError: the file has no video stream, or its packets carry no presentation times
            (the pieces could not be placed).
    """
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot be read ({exc})") from None
    with container:
        stream = main_video_stream(container)
        if stream is None:
            raise VideoError(f"{path}: no video stream to split")
        gops: list[list[int]] = []
        keyframes = 0
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.pts is None:
                raise VideoError(
                    f"{path}: its video packets carry no presentation times, so it cannot be "
                    "split into pieces; remux it first (ffmpeg -fflags +genpts -i IN -c copy "
                    "OUT.mkv)"
                )
            if packet.is_keyframe or not gops:
                gops.append([])
                keyframes += packet.is_keyframe
            gops[-1].append(packet.pts)
        fps = Fraction(stream.average_rate or stream.base_rate or 25)
    times = sorted(t for gop in gops for t in gop)
    packets = len(times)
    position = {t: i for i, t in enumerate(times)}
    intra_only = keyframes == packets
    starts = {0}
    for gop in gops[1:]:
        # Closed: the keyframe (first in decode order) is also the first frame shown.
        if min(gop) == gop[0]:
            starts.add(position[gop[0]])
    return FrameIndex(times, sorted(starts), fps, intra_only)


def overlap_frames(config: PipelineConfig) -> int:
    """Frames a piece reads on each side of what it writes, inside one shot.

    The tracker carries a logo first found on a keyframe back through ``lookback_keyframes``
    stretches and forward to the next keyframe; the temporal remover takes its sources from
    ``temporal_window`` frames on each side.
    """
    stretch = config.keyframe_interval
    return (config.track.lookback_keyframes + 1) * stretch + config.remove.temporal_window


def past_cut_frames(config: PipelineConfig) -> int:
    """Frames a piece reads past a cut after its end.

    The cut's keyframe and the keyframes after it on which an overlay seen across the cut is
    confirmed.
    """
    return (STEADY_KEYFRAMES - 1) * config.keyframe_interval + 1


def plan_chunks(
    index: FrameIndex,
    seconds: float,
    config: PipelineConfig,
    cuts: Iterable[int] | CutSource = (),
) -> ChunkPlan:
    """Split ``index``'s frames into pieces of about ``seconds``.

    Args:
        index: the video's frames (``read_frame_index``).
        seconds: the wanted length of a piece; 0 or more than the file: one piece.
        config: where the overlap comes from (``overlap_frames``).
        cuts: display indices of scene cuts known beforehand (a scan's report), or where to
            ask for them (:class:`~autoblur.chunks.cuts.CutScanner` decodes the stretches
            asked about); a border is put on one where a piece may start there, and no
            overlap crosses one.
    """
    source = cuts if hasattr(cuts, "between") else KnownCuts(cuts)
    total = len(index.times)
    overlap = overlap_frames(config)
    borders = [0]
    starts = set(index.starts)
    if seconds > 0:
        wanted = max(1, round(seconds * index.fps))
        while total - borders[-1] > wanted * 3 // 2:  # no last piece under half the length
            target = borders[-1] + wanted
            low, high = borders[-1] + wanted // 2, min(total - wanted // 2, target + wanted // 2)
            # Cuts are looked for only near the wanted length (a stretch of the overlap or an
            # eighth of a piece on each side): the frames a scanner decodes before the pieces.
            reach = max(overlap, wanted // 8)
            seen = source.between(max(low, target - reach), min(high, target + reach))
            near = _within(sorted(set(seen) & starts), low, high)
            near = near or _within(index.starts, low, high)
            if not near:  # a GOP longer than half a piece: the next place a piece may start
                after = bisect_right(index.starts, borders[-1])
                later = index.starts[after : after + 1]
                if not later or total - later[0] < wanted // 2:
                    break
                near = later
            borders.append(min(near, key=lambda s: (abs(s - target), s)))
    borders.append(total)
    pieces = []
    for k, (start, end) in enumerate(zip(borders, borders[1:], strict=False)):
        # No lead-in across a cut: from the last cut at or before the start. The lead-out
        # stops at the first cut at or after the end, plus the keyframes after it that confirm
        # an overlay (one found there covers the shot before, as in one process); reading the
        # cut's frame also ends the tracks there as one process does.
        before = max(source.between(start - overlap, start), default=0)
        after = min(source.between(end, end + overlap), default=total)
        lead_in = min(overlap, start - before)
        lead_out = min(overlap, after - end)
        if after < total:
            lead_out = min(after - end + past_cut_frames(config), total - end)
        if start == 0:
            reason = "file start"
        elif source.between(start, start):
            reason = "cut"
        else:
            reason = "frame" if index.intra_only else "closed GOP"
        pieces.append(Piece(k, start, end, lead_in, lead_out, index.times[start], reason))
    return ChunkPlan(seconds, index.fps, total, pieces)


def _within(values: list[int], low: int, high: int) -> list[int]:
    """The sorted ``values`` from ``low`` to ``high``, both included."""
    return values[bisect_left(values, low) : bisect_right(values, high)]
