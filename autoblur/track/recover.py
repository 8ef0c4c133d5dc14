"""A track lost between keyframes: looked for once more where it was lost, and followed."""

from __future__ import annotations

from collections.abc import Callable

from autoblur.io import VideoFrame
from autoblur.track.base import MaskPropagator
from autoblur.track.manager import FrameMasks, TrackManager
from autoblur.types import RegionMask, box_iou

# (frame, brand, the lost mask) to the mask of a find of that brand near it, or None.
FindNear = Callable[[VideoFrame, str, RegionMask], RegionMask | None]


class LostTracks:
    """Looks again where the tracker lost a track between keyframes.

    Args:
        manager: the run's tracks.
        propagator: follows a find to the keyframe.
        find_near: the detectors near the lost mask
            (:meth:`~autoblur.keyframes.search.KeyframeSearch.find_near`).
        match_iou: a followed mask this close to another track's is that track's mark.
    """

    def __init__(
        self,
        manager: TrackManager,
        propagator: MaskPropagator,
        find_near: FindNear,
        match_iou: float,
    ) -> None:
        self.manager = manager
        self.propagator = propagator
        self.find_near = find_near
        self.match_iou = match_iou

    def recover(
        self, between: list[VideoFrame], key: VideoFrame, cut: bool, per_frame: list[FrameMasks]
    ) -> None:
        """Find and follow the tracks lost in one stretch; their masks go into ``per_frame``.

        A track whose mask stops inside the stretch and that the keyframe did not find either
        has ended. On the first frame without it the detectors look once more, near its last
        place; a find of its brand there is followed to the keyframe (not across a cut), its
        masks added to ``per_frame`` (in place), and the track goes on from the keyframe.
        """
        frames = [*between, key]
        end = len(between) if cut else len(frames)
        for track_id in {t for masks in per_frame[: end - 1] for t in masks}:
            if track_id in self.manager.active:
                continue
            last = max(i for i in range(end) if track_id in per_frame[i])
            if last + 1 >= end:
                continue
            track = self.manager.track(track_id)
            found = self.find_near(frames[last + 1], track.brand, per_frame[last][track_id])
            if found is None:
                continue
            followed = self.propagator.propagate(
                [f.rgb for f in frames[last + 1 : end]], {track_id: found}
            )
            for offset, masks in enumerate([{track_id: found}, *followed]):
                if track_id not in masks:
                    break
                frame_index = last + 1 + offset
                if any(
                    box_iou(masks[track_id].xyxy[None], m.xyxy[None])[0, 0] >= self.match_iou
                    for t, m in per_frame[frame_index].items()
                    if t != track_id
                ):
                    break  # another track holds that mark now
                per_frame[frame_index][track_id] = masks[track_id]
                track.seen(frames[frame_index])
            if not cut and track_id in per_frame[-1]:
                self.manager.resume(track_id, per_frame[-1][track_id])
