"""Occurrences: what a person reviews, one per appearance of a mark within a shot.

The tracker may follow one badge as several tracks: one per cue that found it (its logo image
and its word), or a new one after it lost the badge and a keyframe found it again. Tracks of
the same brand in the same shot whose boxes overlap, at the frames they share or where one
ends and the other starts, are one occurrence. A scene cut always starts a new one.
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autoblur.timecode import SourceClock
from autoblur.track.manager import FrameMasks, Track

MIN_OVERLAP = 0.3  # intersection over the smaller box for two tracks to be one mark


class Footprints:
    """Collects, frame by frame, each track's box and where shots start.

    Holds four integers per track and frame with a mask (a ten-minute 25 fps video with three
    tracks on screen throughout: about 700 kB), never the masks themselves.
    """

    def __init__(self) -> None:
        self.boxes: dict[int, dict[int, np.ndarray]] = {}
        self.shot_starts: list[int] = [0]

    def add(self, frame_idx: int, track_masks: FrameMasks, starts_shot: bool) -> None:
        """Record the tracks' boxes on frame ``frame_idx`` (frames in order)."""
        if starts_shot and frame_idx > 0:
            self.shot_starts.append(frame_idx)
        for track_id, mask in track_masks.items():
            self.boxes.setdefault(track_id, {})[frame_idx] = mask.xyxy.astype(np.int32)

    def shot_of(self, frame_idx: int) -> int:
        """The index of the shot that frame ``frame_idx`` belongs to."""
        return bisect.bisect_right(self.shot_starts, frame_idx) - 1


@dataclass
class Occurrence:
    """One mark in one shot, as the review lists it.

    Attributes:
        occurrence_id: stable id, ``occ-0001`` onwards in order of appearance.
        brand: the brand it shows.
        action: what the rule file or ``--mode`` says to do with it.
        cues: what found it, as ``source:cue`` (e.g. ``logo:acme.png``, ``text:ACME``).
        track_ids: the tracks merged into it.
        start_frame: first frame index with a mask.
        end_frame: last frame index with a mask.
        start_time_s: presentation time of ``start_frame``.
        end_time_s: presentation time of ``end_frame``.
        xyxy: its box on ``start_frame``, [x0, y0, x1, y1] frame pixels (x1, y1 exclusive).
        fill_confidence: the worst fill confidence of its tracks, when the removers gave one.
        thumbnail: JPEG of its first detection with the box drawn, when thumbnails were taken.
    """

    occurrence_id: str
    brand: str
    action: str
    cues: list[str]
    track_ids: list[int]
    start_frame: int
    end_frame: int
    start_time_s: float
    end_time_s: float
    xyxy: list[int]
    fill_confidence: float | None = None
    thumbnail: bytes | None = field(default=None, repr=False)

    def to_json(self, clock: SourceClock) -> dict:
        """The report's entry, with timecodes from the source's ``clock``."""
        entry = {
            "id": self.occurrence_id,
            "brand": self.brand,
            "action": self.action,
            "cues": self.cues,
            "track_ids": self.track_ids,
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "start_time_s": round(self.start_time_s, 6),
            "end_time_s": round(self.end_time_s, 6),
            "start_timecode": clock.timecode(self.start_frame),
            "end_timecode": clock.timecode(self.end_frame),
            "xyxy": self.xyxy,
            "fill_confidence": self.fill_confidence,
        }
        if self.thumbnail:
            entry["thumbnail_jpeg_base64"] = base64.b64encode(self.thumbnail).decode("ascii")
        return entry


def overlap(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> float:
    """Intersection over the smaller box's area, for two [x0, y0, x1, y1] boxes."""
    iw = min(a_xyxy[2], b_xyxy[2]) - max(a_xyxy[0], b_xyxy[0])
    ih = min(a_xyxy[3], b_xyxy[3]) - max(a_xyxy[1], b_xyxy[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in (a_xyxy, b_xyxy)]
    return float(iw * ih / max(min(areas), 1))


def _same_mark(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> bool:
    """Whether two tracks' per-frame boxes show one mark: overlap where they meet in time."""
    shared = a.keys() & b.keys()
    if shared:
        return max(overlap(a[f], b[f]) for f in shared) >= MIN_OVERLAP
    _, frame_a, frame_b = min(
        (abs(fa - fb), fa, fb) for fa in (min(a), max(a)) for fb in (min(b), max(b))
    )  # where one ends and the other starts
    return overlap(a[frame_a], b[frame_b]) >= MIN_OVERLAP


# Detectors that find a reference logo image (SIFT for textured marks, flat for flat ones):
# their cue is the image, named by its file name.
_IMAGE_DETECTORS = {"logo", "flat"}


def _cue_label(track: Track) -> str:
    """``kind:cue``: the kind of cue (``logo`` image, ``text``, prompt) and what it was."""
    if track.source in _IMAGE_DETECTORS:
        return f"logo:{Path(track.cue).name}"
    return f"{track.source}:{track.cue}"


def build_occurrences(
    tracks: Sequence[Track],
    footprints: Footprints,
    thumbnails: Mapping[int, bytes] | None = None,
    fill_confidence: Mapping[int, float] | None = None,
) -> list[Occurrence]:
    """Merge tracks into occurrences.

    Args:
        tracks: every track of the video.
        footprints: the tracks' per-frame boxes and the shot starts.
        thumbnails: JPEG per track id; an occurrence shows its earliest track's.
        fill_confidence: the worst fill confidence per track id, where removers measured it.

    Returns:
        The occurrences in order of appearance, numbered from ``occ-0001``.
    """
    placed = [t for t in tracks if footprints.boxes.get(t.track_id)]
    placed.sort(key=lambda t: (t.first_frame, t.track_id))
    parent = {t.track_id: t.track_id for t in placed}

    def root(track_id: int) -> int:
        while parent[track_id] != track_id:
            parent[track_id] = parent[parent[track_id]]
            track_id = parent[track_id]
        return track_id

    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            if a.brand != b.brand:
                continue
            if footprints.shot_of(a.first_frame) != footprints.shot_of(b.first_frame):
                continue
            if _same_mark(footprints.boxes[a.track_id], footprints.boxes[b.track_id]):
                parent[root(b.track_id)] = root(a.track_id)
    groups: dict[int, list[Track]] = {}
    for track in placed:
        groups.setdefault(root(track.track_id), []).append(track)
    return [
        _merge(f"occ-{number:04d}", members, footprints, thumbnails or {}, fill_confidence or {})
        for number, members in enumerate(groups.values(), 1)
    ]


def _merge(
    occurrence_id: str,
    members: list[Track],
    footprints: Footprints,
    thumbnails: Mapping[int, bytes],
    fill_confidence: Mapping[int, float],
) -> Occurrence:
    first = min(members, key=lambda t: (t.first_frame, t.track_id))
    last = max(members, key=lambda t: t.last_frame)
    own = footprints.boxes[first.track_id]
    start = first.first_frame if first.first_frame in own else min(own)
    at_start = [footprints.boxes[t.track_id].get(start) for t in members]
    boxes = np.stack([b for b in at_start if b is not None])
    confidences = [fill_confidence[t.track_id] for t in members if t.track_id in fill_confidence]
    xyxy = [*boxes[:, :2].min(axis=0).tolist(), *boxes[:, 2:].max(axis=0).tolist()]
    return Occurrence(
        occurrence_id=occurrence_id,
        brand=first.brand,
        action=first.action,
        cues=sorted({_cue_label(t) for t in members}),
        track_ids=sorted(t.track_id for t in members),
        start_frame=first.first_frame,
        end_frame=last.last_frame,
        start_time_s=first.first_time_s,
        end_time_s=last.last_time_s,
        xyxy=[int(v) for v in xyxy],
        fill_confidence=min(confidences) if confidences else None,
        thumbnail=next((thumbnails[t.track_id] for t in members if t.track_id in thumbnails), None),
    )
