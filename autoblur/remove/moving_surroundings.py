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

import numpy as np

# Surroundings whose change from frame to frame (median over the border, in tolerances) is up
# to _STILL keep the temporal fill; from _MOVING on the hole is filled spatially. What no frame
# shows is continued from the temporal fill around it only where they hold stiller still: an
# extrapolation of pieces of a moving foreground spreads them over the whole hole.
_STILL, _MOVING = 0.3, 0.5
_STILL_AROUND, _MOVING_AROUND = 0.2, 0.4


def border_change(warped: np.ndarray, crop: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """(h * w,) float32 change (grey levels, largest channel) of ``judged`` pixels, inf elsewhere.

    Args:
        warped: (h * w, 3) an adjacent frame warped onto the crop, flat.
        crop: (h, w, 3) uint8 this frame's crop.
        judged: (h * w,) bool border pixels the adjacent frame shows.
    """
    change = np.full(judged.shape, np.inf, np.float32)
    change[judged] = largest_channel(
        np.abs(warped[judged].astype(np.float32) - crop.reshape(-1, 3)[judged])
    )
    return change


def largest_channel(values: np.ndarray) -> np.ndarray:
    """The largest of the last axis' three channels (faster than ``max(axis=-1)``)."""
    return np.maximum(np.maximum(values[..., 0], values[..., 1]), values[..., 2])


def surroundings_trust(change: np.ndarray, tolerance: float) -> tuple[float, float]:
    """How much a hole's temporal fill can be trusted, in [0, 1] (1: still surroundings).

    Args:
        change: (h * w,) float32 the change of each border pixel to the adjacent frames (the
            smaller of the two where both show it; inf off the border or where neither does).
        tolerance: the fill's tolerance (grey levels).

    Returns:
        The trust of the pixels other frames show, and that of the spatial fill that continues
        them over the pixels no frame shows.
    """
    known = np.isfinite(change)
    if not known.any():  # no adjacent frame (a cut): nothing says the surroundings move
        return 1.0, 1.0
    moving = float(np.median(change[known])) / tolerance
    return _ramp(moving, _STILL, _MOVING), _ramp(moving, _STILL_AROUND, _MOVING_AROUND)


def _ramp(value: float, still: float, moving: float) -> float:
    """1 up to ``still``, falling linearly to 0 at ``moving``."""
    return float(np.clip((moving - value) / (moving - still), 0, 1))
