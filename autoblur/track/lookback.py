"""Stretches of tracked frames held back, where a track first found later is followed backwards."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from autoblur.io import VideoFrame
from autoblur.track.manager import FrameMasks, TrackManager
from autoblur.types import box_iou

# A frame, its track masks and whether it follows a cut.
Tracked = tuple[VideoFrame, FrameMasks, bool]


class LookBack:
    """Holds the last ``keep`` stretches (keyframe to keyframe) of tracked frames.

    A track first detected on a keyframe is followed back through the held frames (a brand
    on screen before the keyframe that found it), back to the last cut, since no track
    crosses one; a cut does not release them, for an overlay found after it was on the
    keyframes before it too (:meth:`carry_overlays`).

    Args:
        manager: the run's tracks (``reach_back``, ``extend_back``, ``new_still``, ``twin``).
        keep: stretches held at most (``track.lookback_keyframes``).
    """

    def __init__(self, manager: TrackManager, keep: int) -> None:
        self.manager = manager
        self.keep = keep
        self._held: deque[list[Tracked]] = deque()

    def reach_back(self, first: VideoFrame) -> None:
        """Follow the tracks new on the last keyframe back through the held frames.

        Args:
            first: the first frame of the last stretch, where the manager's ``reach_back``
                masks hold.
        """
        starts = self.manager.reach_back
        if not starts or not self._held:
            return
        earlier = []
        for item in (item for stretch in reversed(self._held) for item in reversed(stretch)):
            earlier.append(item)
            if item[2]:  # the shot's first frame: nothing before it
                break
        found = self.manager.extend_back(first, [frame for frame, _, _ in earlier], starts)
        for (_, masks, _), extra in zip(earlier, found, strict=True):
            for track_id, mask in extra.items():
                masks.setdefault(track_id, mask)

    def carry_overlays(self, stretch: list[Tracked], since: int) -> None:
        """Give the overlays new on ``stretch``'s keyframe to the shots before its last cut.

        The overlay matcher reports a fixed place on the third keyframe that shows it; the
        two before may lie in an earlier shot (a channel's bug stays through cuts). From
        ``since`` (the older of those two keyframes) to the last cut, each earlier shot gets
        a track of its own (:meth:`TrackManager.twin`) with the overlay's mask, unless a
        track there already covered that place; the shot of the keyframe is reached by
        tracking backwards (:meth:`reach_back`).

        Args:
            stretch: the frames up to the keyframe, not held yet.
            since: the first frame to give the masks to.
        """
        new = self.manager.new_still
        if not new:  # most keyframes: nothing to look through
            return
        frames = [item for held in self._held for item in held] + stretch
        cuts = [i for i, (_, _, cut) in enumerate(frames) if cut]
        if not cuts:
            return
        shots: list[list[Tracked]] = [[]]
        for item in frames[: cuts[-1]]:
            if item[2]:
                shots.append([])
            if item[0].index >= since:
                shots[-1].append(item)
        for shot in (shot for shot in shots if shot):
            last = shot[-1][1]
            for track_id, mask in new.items():
                if any(box_iou(mask.xyxy[None], m.xyxy[None])[0, 0] > 0.5 for m in last.values()):
                    continue
                twin = self.manager.twin(track_id, shot[-1][0])
                for frame, masks, _ in shot:
                    masks.setdefault(twin, mask)
                    self.manager.track(twin).seen(frame)

    def hold(self, stretch: list[Tracked]) -> Iterator[Tracked]:
        """Hold a stretch; the frames of those now more than ``keep`` stretches old."""
        self._held.append(stretch)
        while len(self._held) > self.keep:
            yield from self._held.popleft()

    def release(self) -> Iterator[Tracked]:
        """Every held frame, oldest first (at the end)."""
        while self._held:
            yield from self._held.popleft()
