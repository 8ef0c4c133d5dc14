"""How far a temporal fill can be trusted, judged by how the hole's surroundings move.

Other frames fill a hole with what they showed there, which is right when what the hole hides
stays in place (under the background motion the fill follows) between those frames and this
one. The surroundings tell whether it does: where the border around the hole changes from this
frame to the previous and next ones more than that motion explains (a rabbit turning its head
behind the mark, a branch swaying through it), what the hole hides moves too, and no other
frame shows it where it is now. There the temporal fill gives way to the spatial one, softly,
by the median change of the hole's border.
"""

from __future__ import annotations

import cv2
import numpy as np

# Surroundings whose change from frame to frame (median over the border, in tolerances) is up
# to _STILL keep the temporal fill; from _MOVING on the hole is filled spatially.
_STILL, _MOVING = 0.06, 0.16
_GRAIN_SIGMA_PX = 1.5  # pictures are averaged this far before they are compared


def border_change(warped: np.ndarray, crop: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """(h * w,) float32 change (grey levels) of ``judged`` pixels, inf elsewhere.

    Both pictures are turned grey and averaged a little over the judged pixels first, so that
    grain and compression noise, which differ from frame to frame, do not count as motion.

    Args:
        warped: (h * w, 3) an adjacent frame warped onto the crop, flat.
        crop: (h, w, 3) uint8 this frame's crop.
        judged: (h * w,) bool border pixels the adjacent frame shows.
    """
    shape = crop.shape[:2]
    weight = judged.astype(np.float32).reshape(shape)
    spread = np.maximum(cv2.GaussianBlur(weight, (0, 0), _GRAIN_SIGMA_PX), 1e-4)

    def smooth(rgb: np.ndarray) -> np.ndarray:
        grey = rgb.reshape(*shape, 3).astype(np.float32).mean(axis=2) * weight
        return cv2.GaussianBlur(grey, (0, 0), _GRAIN_SIGMA_PX) / spread

    change = np.full(judged.shape, np.inf, np.float32)
    change[judged] = np.abs(smooth(warped) - smooth(crop)).reshape(-1)[judged]
    return change


def largest_channel(values: np.ndarray) -> np.ndarray:
    """The largest of the last axis' three channels (faster than ``max(axis=-1)``)."""
    return np.maximum(np.maximum(values[..., 0], values[..., 1]), values[..., 2])


def surroundings_trust(change: np.ndarray, tolerance: float) -> float:
    """How much a hole's temporal fill can be trusted, in [0, 1] (1: still surroundings).

    Args:
        change: (h * w,) float32 the change of each border pixel to the adjacent frames (the
            smaller of the two where both show it; inf off the border or where neither does).
        tolerance: the fill's tolerance (grey levels).
    """
    known = np.isfinite(change)
    if not known.any():  # no adjacent frame (a cut): nothing says the surroundings move
        return 1.0
    moving = float(np.median(change[known])) / tolerance
    return float(np.clip((_MOVING - moving) / (_MOVING - _STILL), 0, 1))
