"""The remover interface, its registries, and the chain that applies one remover per action.

Building the removers a run needs is :mod:`autoblur.remove.build`'s (it knows the backends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from autoblur.io.reader import VideoFrame
from autoblur.registry import Registry
from autoblur.types import RegionMask, union_mask


@dataclass
class MaskedFrame:
    """A frame on its way through the removers.

    Attributes:
        frame: the decoded frame; removers edit ``frame.rgb`` in place.
        masks: action name to the (already dilated) region to remove with it.
        changed_xyxy: box (x0, y0, x1, y1, exclusive) enclosing every edited pixel, or None.
        starts_shot: the frame follows a scene cut (temporal removers take nothing across it).
        fill_confidence: per filled region, the action that filled it, its box (x0, y0, x1,
            y1, exclusive) and how sure the remover is that the fill shows what the mark
            hides, in [0, 1] (removers that do not judge their fills leave it empty).
    """

    frame: VideoFrame
    masks: dict[str, RegionMask] = field(default_factory=dict)
    changed_xyxy: tuple[int, int, int, int] | None = None
    starts_shot: bool = False
    fill_confidence: list[tuple[str, tuple[int, int, int, int], float]] = field(
        default_factory=list
    )

    def mark_changed(self, xyxy: tuple[int, int, int, int]) -> None:
        """Grow ``changed_xyxy`` to cover ``xyxy``."""
        if self.changed_xyxy is None:
            self.changed_xyxy = xyxy
            return
        a = self.changed_xyxy
        self.changed_xyxy = (
            min(a[0], xyxy[0]),
            min(a[1], xyxy[1]),
            max(a[2], xyxy[2]),
            max(a[3], xyxy[3]),
        )


def add_repairs(
    by_action: dict[str, list[RegionMask]], repairs: Mapping[str, list[RegionMask]]
) -> None:
    """Add a verification's repair masks of one frame to its masks per action, in place.

    A ``blur`` repair means the fill failed twice there: it takes the ``inpaint`` masks too.
    """
    for action, extra in repairs.items():
        if action == "blur":
            extra = extra + by_action.pop("inpaint", [])
        by_action.setdefault(action, []).extend(extra)


def masked_frame(
    frame: VideoFrame,
    track_masks: Mapping[int, RegionMask],
    action_of_track: Callable[[int], str],
    margin_px: int,
    starts_shot: bool,
    repairs: Mapping[str, list[RegionMask]] | None = None,
) -> MaskedFrame:
    """A frame with its tracks' masks dilated by ``margin_px`` and joined per action.

    Tracks whose action is ``keep`` are left out; ``repairs`` (masks per action that a
    verification added on this frame) are joined in with :func:`add_repairs`.
    """
    by_action: dict[str, list[RegionMask]] = {}
    for track_id, mask in track_masks.items():
        action = action_of_track(track_id)
        if action != "keep":
            by_action.setdefault(action, []).append(mask.dilate(margin_px))
    add_repairs(by_action, repairs or {})
    masks = {action: union_mask(parts) for action, parts in by_action.items()}
    return MaskedFrame(frame, masks, starts_shot=starts_shot)


def apply_removers(frames: Iterator[MaskedFrame], removers: list[Remover]) -> Iterator[MaskedFrame]:
    """The frames with every remover's action applied, in order."""
    for remover in removers:
        frames = remover(frames)
    return frames


class Remover(Protocol):
    """Replaces the pixels under one action's mask in a stream of frames.

    A remover is a stream transformer, so a temporal one may hold a bounded window of frames
    back and look ahead; a spatial one passes each frame straight through.
    """

    action: str

    def __call__(self, frames: Iterator[MaskedFrame]) -> Iterator[MaskedFrame]:
        """Yield the same frames, in order, with ``masks[self.action]`` removed."""
        ...


# Builders of the removers for blur, pixelate and fill, keyed by action.
REMOVERS: Registry[Remover] = Registry("remover")
# Builders of the removers for the inpaint action, keyed by backend (``--inpainter``).
INPAINTERS: Registry[Remover] = Registry("inpainter")
