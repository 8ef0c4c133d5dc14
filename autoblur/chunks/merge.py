"""Joining the pieces of a scan into one report and one archive of masks, as one process writes.

Track ids are given again in the order of the pieces and, within one, of the piece's own ids
(the order a single process creates them in). Occurrences are built once over every track, so
a mark whose tracks meet at a border inside a shot is one occurrence, as in one process.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from autoblur.chunks.piece import PieceResult
from autoblur.chunks.plan import ChunkPlan
from autoblur.io.format_plan import planned_format
from autoblur.io.reader import VideoInfo
from autoblur.job import Job
from autoblur.report.build import build_report
from autoblur.review.occurrences import MIN_OVERLAP, Footprints, build_occurrences, overlap
from autoblur.review.saved_detections import MaskWriter, SavedMasks, file_sha256
from autoblur.timecode import source_clock
from autoblur.track.manager import Track


def merge_pieces(
    job: Job,
    info: VideoInfo,
    plan: ChunkPlan,
    results: list[PieceResult],
    seconds: float,
    masks_path: Path | None,
) -> dict:
    """The scan's report from its pieces' results (plan order); the masks joined at ``masks_path``.

    Raises:
        VideoError: the joined archive cannot be written.
    """
    tracks: list[Track] = []
    footprints = Footprints()
    thumbnails: dict[int, bytes] = {}
    renumbered: list[dict[int, int]] = []
    for result in results:
        new_ids: dict[int, int] = {}
        border = result.piece.start
        # Tracks of the last piece that reach its last frame, where this one starts mid-shot.
        reaching = [] if result.piece.starts_at == "cut" else [
            t for t in tracks if t.last_frame == border - 1
        ]  # fmt: skip
        for track in sorted(result.tracks, key=lambda t: t.track_id):
            own = result.boxes[track.track_id]
            before = _continued(track, own, reaching, footprints) if reaching else None
            if before is not None:  # the same track, on both sides of the border
                reaching.remove(before)
                new_ids[track.track_id] = before.track_id
                before.last_frame, before.last_time_s = track.last_frame, track.last_time_s
                before.keyframes = [*before.keyframes, *track.keyframes]
                before.sources |= track.sources
                footprints.boxes[before.track_id] |= own
                continue
            new_ids[track.track_id] = new_id = len(tracks) + 1
            tracks.append(dataclasses.replace(track, track_id=new_id))
            footprints.boxes[new_id] = dict(own)
            if track.track_id in result.thumbnails:
                thumbnails[new_id] = result.thumbnails[track.track_id]
        renumbered.append(new_ids)
        if result.piece.starts_at == "cut":
            footprints.shot_starts.append(result.piece.start)
        footprints.shot_starts.extend(result.shot_starts)
    footprints.shot_starts = sorted(set(footprints.shot_starts))
    clock = source_clock(job.input_path, info.fps)
    occurrences = build_occurrences(tracks, footprints, thumbnails)
    saved = None
    if masks_path is not None:
        _join_masks(results, renumbered, footprints.shot_starts, masks_path)
        saved = {"path": masks_path.name, "input_sha256": file_sha256(job.input_path)}
    notices = list(dict.fromkeys(n for r in results for n in r.notices))
    report = build_report(
        job=dataclasses.replace(job, notices=notices),
        info=info,
        frames_decoded=sum(r.frames for r in results),
        tracks=tracks,
        seconds=seconds,
        keyframes=sum(len(r.keyframes) for r in results),
        stage_seconds=_summed_stages(results),
        thumbnails=thumbnails,
        output_format=planned_format(job.input_path, job.config.encode),
        occurrences=[o.to_json(clock) for o in occurrences],
        start_timecode=clock.start,
        saved_detections=saved,
    )
    report["chunks"] = plan.describe() | {
        "frames_read": sum(r.frames_read for r in results),
    }
    return report


def _continued(
    track: Track, own: dict[int, np.ndarray], reaching: list[Track], footprints: Footprints
) -> Track | None:
    """The track of the piece before that ``track`` continues across the border, if any.

    It starts on the border's frame, and one of the same brand and action ends on the frame
    before with a box that overlaps its own as one mark's (as occurrences are joined).
    """
    if track.first_frame not in own:
        return None
    box = own[track.first_frame]
    same = [
        t for t in reaching
        if (t.brand, t.action) == (track.brand, track.action)
        and overlap(footprints.boxes[t.track_id][t.last_frame], box) >= MIN_OVERLAP
    ]  # fmt: skip
    return (
        max(same, key=lambda t: overlap(footprints.boxes[t.track_id][t.last_frame], box))
        if same
        else None
    )


def _summed_stages(results: list[PieceResult]) -> dict[str, dict[str, float]]:
    """Each stage's seconds over every piece (CPU seconds of processes side by side)."""
    total: dict[str, dict[str, float]] = {}
    for result in results:
        for name, entry in result.stages.items():
            into = total.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
            for key in into:
                into[key] = round(into[key] + entry[key], 3)
    return dict(sorted(total.items(), key=lambda kv: -kv[1]["wall_s"]))


def _join_masks(
    results: list[PieceResult],
    renumbered: list[dict[int, int]],
    shot_starts: list[int],
    final: Path,
) -> None:
    """One archive with every piece's masks, in frame order, under the new track ids."""
    writer = MaskWriter(final)
    try:
        for result, new_ids in zip(results, renumbered, strict=True):
            if result.masks_path is None:
                continue
            saved = SavedMasks(result.masks_path)
            try:
                for frame_idx, masks in saved.frames():
                    writer.add(frame_idx, {new_ids[k]: m for k, m in masks.items()})
            finally:
                saved.close()
        writer.commit(shot_starts, results[0].frame_hw)
    except BaseException:
        writer.discard()
        raise
