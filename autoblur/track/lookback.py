"""Stretches of tracked frames held back, where a track first found later is followed backwards."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from autoblur.io import VideoFrame
from autoblur.track.manager import FrameMasks, TrackManager

# A frame, its track masks and whether it follows a cut.
Tracked = tuple[VideoFrame, FrameMasks, bool]


class LookBack:
    """Holds the last ``keep`` stretches (keyframe to keyframe) of tracked frames.

    A track first detected on a keyframe is followed back through the held frames (a brand
    on screen before the keyframe that found it); a cut releases them, since no track
    crosses it.

    Args:
        manager: the run's tracks (``reach_back`` and ``extend_back``).
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

    def carry_over_cut(self) -> None:
        """Give the manager's :attr:`carried_back` masks to the held frames, before a cut.

        The frames from the older of the two keyframes held last (those that showed the
        overlay before the cut's keyframe confirmed it), and not before an earlier cut.
        """
        carried = self.manager.carried_back
        if not carried or not self._held:
            return
        held = [item for stretch in self._held for item in stretch]
        keys = [stretch[-1][0].index for stretch in self._held]
        since = max([keys[-2] if len(keys) > 1 else keys[-1]] + [f.index for f, _, c in held if c])
        for frame, masks, _ in held:
            if frame.index >= since:
                for track_id, mask in carried.items():
                    masks.setdefault(track_id, mask)
                    self.manager.track(track_id).seen(frame)

    def hold(self, stretch: list[Tracked]) -> Iterator[Tracked]:
        """Hold a stretch; the frames of those now more than ``keep`` stretches old."""
        self._held.append(stretch)
        while len(self._held) > self.keep:
            yield from self._held.popleft()

    def release(self) -> Iterator[Tracked]:
        """Every held frame, oldest first (at a cut, and at the end)."""
        while self._held:
            yield from self._held.popleft()
