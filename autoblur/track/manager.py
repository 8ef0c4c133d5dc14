"""Track bookkeeping between keyframes: ids, association, re-seeding, ends, back-filling.

Between two keyframes the manager runs the propagator forwards from the earlier keyframe's
tracks, joins the later keyframe's detections to them, starts new tracks for the rest, and
runs the propagator backwards from the later keyframe, so that a logo which appears, or whose
forward tracking was lost, between two keyframes is covered from the frame it shows up.

A logo on screen before the previous keyframe but first detected on this one (too small, cut
by the frame edge or blurred there) reaches back further: :attr:`TrackManager.reach_back` holds
the new tracks' masks on the first frame of the stretch, and :meth:`TrackManager.extend_back`
follows them through earlier frames that the caller still holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autoblur.config import TrackConfig
from autoblur.io.reader import VideoFrame
from autoblur.track.base import MaskPropagator
from autoblur.types import Detections, RegionMask, box_iou

FrameMasks = dict[int, RegionMask]


@dataclass
class Track:
    """One logo instance followed through a shot.

    Attributes:
        track_id: public id, stable for as long as the logo is followed.
        brand: the brand it shows.
        action: what is done with its pixels.
        source: the detector that found it first.
        cue: the reference, word or prompt that found it first.
        first_frame: first frame index with a mask.
        last_frame: last frame index with a mask.
        first_time_s: presentation time of ``first_frame``.
        last_time_s: presentation time of ``last_frame``.
        keyframes: one record per keyframe where a detector saw it: frame, time, box, score.
        sources: every detector source that found it on a keyframe.
        mask: its mask on the latest keyframe, while it is active.
        missed: keyframes in a row where no detection was joined to it.
    """

    track_id: int
    brand: str
    action: str
    source: str
    cue: str
    first_frame: int
    last_frame: int
    first_time_s: float
    last_time_s: float
    keyframes: list[dict] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    mask: RegionMask | None = None
    missed: int = 0

    def seen(self, frame: VideoFrame) -> None:
        """Extend the track's span to ``frame``."""
        if frame.index < self.first_frame:
            self.first_frame, self.first_time_s = frame.index, frame.time_s
        if frame.index > self.last_frame:
            self.last_frame, self.last_time_s = frame.index, frame.time_s


class TrackManager:
    """Turns keyframe detections into per-frame masks of tracks.

    Args:
        propagator: the tracker backend.
        config: association and track-ending settings.
        action_of: the action of a brand.
    """

    def __init__(self, propagator: MaskPropagator, config: TrackConfig, action_of: dict[str, str]):
        self.propagator = propagator
        self.config = config
        self.action_of = action_of
        self.active: dict[int, Track] = {}
        self.finished: list[Track] = []
        self._by_id: dict[int, Track] = {}  # every track, active or ended
        # The last keyframe's pixels, copied: removers edit frames in place once yielded.
        self._anchor_rgb: np.ndarray | None = None
        self._next_id = 1
        # Tracks started on the last keyframe that reach the first frame of its stretch: their
        # masks there, where tracking backwards may go on into earlier frames.
        self.reach_back: FrameMasks = {}
        # Tracks started on the last keyframe whose masks the tracker holds still (overlays
        # fixed on screen), and their masks: shown on the keyframes before, which may lie in
        # an earlier shot (:meth:`twin`).
        self.new_still: FrameMasks = {}
        # Tracks that end on the keyframe being handled (missed once too often) while the
        # tracker still followed them to it: their masks there.
        self._followed_to_key: FrameMasks = {}

    def all_tracks(self) -> list[Track]:
        """Every track so far, ended and active, by id."""
        return [self._by_id[track_id] for track_id in sorted(self._by_id)]

    def advance(
        self,
        between: list[VideoFrame],
        key: VideoFrame,
        detections: Detections,
        cut: bool,
        extra: bool = False,
    ) -> list[FrameMasks]:
        """Masks for the frames after the last keyframe, up to and including ``key``.

        Args:
            between: frames strictly between the previous keyframe and ``key``, in order.
            key: the new keyframe.
            detections: what the detectors found on ``key``.
            cut: ``key`` starts a new shot: tracks do not cross into it, nor backwards out of it.
            extra: ``key`` was taken because something new appeared (not on the schedule): a
                track it does not find, still followed to it, goes on without counting a miss.

        Returns:
            One dict per frame of ``between + [key]``: track id to mask.
        """
        forward = self._forward(between, key, cut)
        forward_key: FrameMasks = (
            {} if cut else (forward[-1] if len(forward) > len(between) else {})
        )
        if cut:
            self._end_all()
            self.propagator.reset()
        detections = _suppress_duplicates(detections)
        matched = self._associate(forward_key, detections, key)
        backward_starts = self._update_at_key(
            forward_key, detections, matched, key, between, forward, extra
        )
        backward = self._backward(between, key, {} if cut else backward_starts)
        new_ids = {tid for tid, t in self.active.items() if t.first_frame == key.index}
        self.new_still = self._held_still(new_ids)
        per_frame = []
        for i, frame in enumerate(between):
            masks = dict(backward[i])
            masks.update(forward[i] if i < len(forward) else {})
            for track_id in masks:
                self._track(track_id).seen(frame)
            per_frame.append(masks)
        key_masks = {tid: t.mask for tid, t in self.active.items() if t.mask is not None}
        key_masks.update(self._followed_to_key)
        for tid in key_masks:
            self._track(tid).seen(key)
        self._followed_to_key = {}
        per_frame.append(key_masks)
        self._anchor_rgb = key.rgb.copy()
        self.reach_back = (
            {} if cut else {tid: m for tid, m in per_frame[0].items() if tid in new_ids}
        )
        return per_frame

    def extend_back(
        self, first: VideoFrame, earlier: list[VideoFrame], starts: FrameMasks
    ) -> list[FrameMasks]:
        """Track new tracks backwards from the first frame of a stretch into earlier frames.

        Args:
            first: the first frame of the last stretch, where ``starts`` hold.
            earlier: the frames before it, newest first, none before the shot's first frame.
            starts: track id to its mask on ``first`` (usually :attr:`reach_back`).

        Returns:
            One dict per frame of ``earlier``: the masks of the tracks followed that far.
        """
        if not starts or not earlier:
            return [{} for _ in earlier]
        found = self.propagator.propagate([first.rgb, *(f.rgb for f in earlier)], starts)
        for frame, masks in zip(earlier, found, strict=True):
            for track_id in masks:
                self._track(track_id).seen(frame)
        return found

    def _held_still(self, new_ids: set[int]) -> FrameMasks:
        """The masks of the tracks in ``new_ids`` that the propagator holds still."""
        holds_still = getattr(self.propagator, "holds_still", None)
        if holds_still is None:
            return {}
        masks = {tid: self._by_id[tid].mask for tid in new_ids}
        return {tid: m for tid, m in masks.items() if m is not None and holds_still(m)}

    def twin(self, track_id: int, frame: VideoFrame) -> int:
        """A new ended track like ``track_id`` (same brand, action and cues), seen on ``frame``.

        For an overlay found in one shot and shown by earlier keyframes in a shot before: no
        track crosses a cut, so that shot gets a track of its own. Returns its id.
        """
        track = self._by_id[track_id]
        twin = Track(
            self._next_id, track.brand, track.action, track.source, track.cue,
            frame.index, frame.index, frame.time_s, frame.time_s, sources=set(track.sources),
        )  # fmt: skip
        self._next_id += 1
        self._by_id[twin.track_id] = twin
        self.finished.append(twin)
        return twin.track_id

    def resume(self, track_id: int, key_mask: RegionMask) -> None:
        """Take an ended track up again from the last keyframe, where it has ``key_mask``.

        For a track the tracker lost and a detection found again before the keyframe; the
        keyframe itself did not find it, which counts as a missed keyframe.
        """
        track = self._by_id[track_id]
        if track in self.finished:
            self.finished.remove(track)
        track.mask, track.missed = key_mask, track.missed + 1
        self.active[track_id] = track

    def action_of_track(self, track_id: int) -> str:
        """The action that applies to a track's pixels."""
        return self._track(track_id).action

    def track(self, track_id: int) -> Track:
        """The track with this id, active or ended."""
        return self._by_id[track_id]

    def _track(self, track_id: int) -> Track:
        return self._by_id[track_id]

    def _forward(self, between: list[VideoFrame], key: VideoFrame, cut: bool) -> list[FrameMasks]:
        if self._anchor_rgb is None or not self.active:
            return [{} for _ in between]
        sequence = [self._anchor_rgb, *(f.rgb for f in between)] + ([] if cut else [key.rgb])
        starts = {tid: t.mask for tid, t in self.active.items() if t.mask is not None}
        return self.propagator.propagate(sequence, starts, continues=True)

    def _associate(
        self, forward_key: FrameMasks, detections: Detections, key: VideoFrame
    ) -> dict[int, int]:
        """Greedy best-IoU matching of detections to tracks of the same brand: det -> track."""
        if not forward_key or not len(detections):
            return {}
        track_ids = list(forward_key)
        iou = box_iou(detections.xyxy, np.stack([forward_key[t].xyxy for t in track_ids]))
        for d, brand in enumerate(detections.brand):
            for j, tid in enumerate(track_ids):
                if self.active[tid].brand != brand:
                    iou[d, j] = 0.0
        matched: dict[int, int] = {}
        while iou.size and iou.max() >= self.config.match_iou:
            d, j = np.unravel_index(int(iou.argmax()), iou.shape)
            matched[int(d)] = track_ids[j]
            iou[d, :] = 0.0
            iou[:, j] = 0.0
        return matched

    def _update_at_key(
        self,
        forward_key: FrameMasks,
        detections: Detections,
        matched: dict[int, int],
        key: VideoFrame,
        between: list[VideoFrame],
        forward: list[FrameMasks],
        extra: bool = False,
    ) -> FrameMasks:
        """Re-seed matched tracks, start new ones, age or end the rest; return backward starts."""
        frame_hw = key.rgb.shape[:2]
        backward_starts: FrameMasks = {}
        joined = set(matched.values())
        for tid in list(self.active):
            if tid in joined:
                continue
            track = self.active[tid]
            if tid in forward_key and (extra or track.missed < self.config.max_missed_keyframes):
                track.missed += 0 if extra else 1
                track.mask = forward_key[tid]
            else:
                if tid in forward_key:  # still followed to this keyframe: it ends after it
                    self._followed_to_key[tid] = forward_key[tid]
                self._end(tid)
        for d in range(len(detections)):
            mask = detections.mask_or_box(d, frame_hw)
            if mask is None:
                continue
            record = {
                "frame": key.index,
                "time_s": round(key.time_s, 6),
                "xyxy": [round(float(v), 1) for v in detections.xyxy[d]],
                "score": round(float(detections.confidence[d]), 4),
            }
            if d in matched:
                track = self.active[matched[d]]
                track.missed = 0
                lost_between = any(track.track_id not in f for f in forward[: len(between)])
                # A tracker may hold its own fit over a worse one of the same mark.
                choose = getattr(self.propagator, "keyframe_mask", None)
                if choose is not None and track.track_id in forward_key:
                    mask = choose(key.rgb, forward_key[track.track_id], mask)
            else:
                track = self._start(detections, d, key)
                lost_between = True
            track.mask = mask
            track.keyframes.append(record)
            track.sources.add(detections.source[d])
            if lost_between and between:
                backward_starts[track.track_id] = mask
        return backward_starts

    def _backward(
        self, between: list[VideoFrame], key: VideoFrame, starts: FrameMasks
    ) -> list[FrameMasks]:
        if not starts or not between:
            return [{} for _ in between]
        sequence = [key, *reversed(between)]
        return list(reversed(self.propagator.propagate([f.rgb for f in sequence], starts)))

    def _start(self, detections: Detections, d: int, key: VideoFrame) -> Track:
        brand = detections.brand[d]
        track = Track(
            track_id=self._next_id,
            brand=brand,
            action=self.action_of.get(brand, "inpaint"),
            source=detections.source[d],
            cue=detections.cue[d],
            first_frame=key.index,
            last_frame=key.index,
            first_time_s=key.time_s,
            last_time_s=key.time_s,
        )
        self._next_id += 1
        self.active[track.track_id] = track
        self._by_id[track.track_id] = track
        return track

    def _end(self, track_id: int) -> None:
        track = self.active.pop(track_id)
        track.mask = None
        self.finished.append(track)

    def _end_all(self) -> None:
        for tid in list(self.active):
            self._end(tid)


def _suppress_duplicates(detections: Detections, iou_threshold: float = 0.5) -> Detections:
    """Keep the best-scoring detection among overlapping ones of the same brand."""
    if len(detections) < 2:
        return detections
    order = np.argsort(-detections.confidence)
    iou = box_iou(detections.xyxy, detections.xyxy)
    keep: list[int] = []
    for i in order:
        if all(
            iou[i, k] < iou_threshold or detections.brand[i] != detections.brand[k] for k in keep
        ):
            keep.append(int(i))
    return detections.select(sorted(keep))
