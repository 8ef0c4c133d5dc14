"""Palette colours as boxes in lightness, chroma and hue, and the frame pixels inside them.

A mark's colour on screen keeps its hue far better than its chroma: a thin stroke a few pixels
wide shares its chroma with the background under 4:2:0 subsampling and blur, a dimmed or hazy
picture pales it, and both leave the hue where it was. A box in Lab around the reference's
colour, narrow in chroma, loses those strokes (a 40 px orange ring keeps half its chroma on a
dark car). So a chromatic colour is told by its hue within an angle and its chroma from a
fraction to a multiple of the reference's; an achromatic one (grey, black, white) by its
lightness and a low chroma.

Frames are converted once to LCh (float32: lightness 0-255 as OpenCV's 8-bit Lab gives it,
chroma in the same units, hue in degrees 0-360) and tested with ``cv2.inRange``.
"""

from __future__ import annotations

import cv2
import numpy as np

ACHROMATIC = 18.0  # chroma (uint8 Lab units) below which a colour is told by lightness

# (lightness tolerance, chroma floor share, chroma ceiling share, chroma margin, hue
# half-angle at least): tight boxes seed hypotheses, loose ones verify them.
_TIGHT = (70.0, 0.7, 1.3, 6.0, 15.0)
_LOOSE = (85.0, 0.35, 1.5, 10.0, 22.0)
PALE = 0.45  # chroma floor (share of the colour's) of the boxes that group a mark's pieces
_MIN_CHROMA = 6.0  # below this a pixel's hue is noise: never a chromatic colour's pixel
# Achromatic colours: lightness tolerance below (a white dimmed by the picture's exposure is
# grey) and above (a black lit up stays dark), tight and loose.
_GREY_L_BELOW = (40.0, 60.0)
# The loose box of the mark's own pixels reaches further down: a white shown at 0.7 of its
# brightness (lightness 186) is still the mark's white. Pixels around the mark keep the box
# above (a pale wall beside a white part is not its white spilling over).
_DIMMED_L_BELOW = 75.0
_GREY_L_ABOVE = (30.0, 45.0)
# and chroma above the colour's own: a dark colour's chroma is small and so is its noise (a
# black mark's box must not take in a shadow on grass), a white's grows with the light's tint.
_GREY_C_TOL = ((4.0, 4.0), (12.0, 0.0))  # (at black, more at white), tight and loose
# A tinted grey (a slate blue, a warm dark grey) keeps a grey's lightness tolerances, but its
# seeds keep its hue within a half-angle, and chroma down to a share of its own (and a few
# units at least): told by lightness alone, a slate mark takes in every dark patch around it.
# Its check's spill does too (a grey wall round a slate mark is not the mark's colour spilling
# over); its recall does not (a pale tint, often an edge's blend, fades in a small copy).
TINTED = 8.0
_TINT_ANGLE = (30.0, 45.0)
_TINT_FLOOR = (0.5, 0.35)
_TINT_MIN_CHROMA = (5.0, 4.0)


def colour_boxes(
    centres_lab: np.ndarray,
    tight: bool,
    chroma_floor: float | None = None,
    by_hue: bool = True,
    dimmed: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """LCh boxes (lo, hi), each (C, 3) float32, of (C, 3) Lab palette centres.

    A box whose hue ``lo`` is above its hue ``hi`` wraps through 0 degrees.
    Tight boxes seed hypotheses (a mark's part should not merge with a background of a
    similar colour); loose ones verify them (shading, blur and compression shift colours).
    ``chroma_floor`` (a share of the colour's chroma) replaces the box's own: a lower one
    keeps the pale thin strokes of a small mark, and lets a lawn in with a green mark.
    ``by_hue`` False leaves a tinted grey's box a plain grey's (lightness and chroma only).
    ``dimmed`` (loose boxes only): an achromatic colour's box reaches ``_DIMMED_L_BELOW`` below.
    """
    centres = np.asarray(centres_lab, np.float64).reshape(-1, 3)
    a, b = centres[:, 1] - 128, centres[:, 2] - 128
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360
    l_tol, floor, ceiling, margin, min_angle = _TIGHT if tight else _LOOSE
    floor = floor if chroma_floor is None else chroma_floor
    ab_tol = 6.0 + 0.12 * chroma if tight else 10.0 + 0.3 * chroma
    angle = np.maximum(min_angle, np.degrees(np.arctan2(ab_tol, np.maximum(chroma, 1e-6))))
    lo = np.stack(
        [centres[:, 0] - l_tol, np.maximum(_MIN_CHROMA, floor * chroma), (hue - angle) % 360],
        axis=1,
    )
    hi = np.stack([centres[:, 0] + l_tol, ceiling * chroma + margin, (hue + angle) % 360], axis=1)
    grey = chroma < ACHROMATIC
    index = 0 if tight else 1
    below = _DIMMED_L_BELOW if dimmed and not tight else _GREY_L_BELOW[index]
    lo[grey] = np.stack(
        [centres[grey, 0] - below, np.zeros(grey.sum()), np.zeros(grey.sum())], axis=1
    )
    hi[grey] = np.stack(
        [
            centres[grey, 0] + _GREY_L_ABOVE[index],
            chroma[grey] + _GREY_C_TOL[index][0] + _GREY_C_TOL[index][1] * centres[grey, 0] / 255,
            np.full(grey.sum(), 360.0),
        ],
        axis=1,
    )
    tinted = grey & (chroma >= TINTED) & by_hue
    if tinted.any():
        floor_share = _TINT_FLOOR[index]
        if chroma_floor is not None:
            floor_share = min(floor_share, chroma_floor)
        angle = np.maximum(_TINT_ANGLE[index], np.degrees(np.arctan2(ab_tol, chroma)))[tinted]
        lo[tinted, 1] = np.maximum(_TINT_MIN_CHROMA[index], floor_share * chroma[tinted])
        lo[tinted, 2] = (hue[tinted] - angle) % 360
        hi[tinted, 2] = (hue[tinted] + angle) % 360
    lo[:, 0] = np.clip(lo[:, 0], 0, 255)
    hi[:, 0] = np.clip(hi[:, 0], 0, 255)
    return lo.astype(np.float32), hi.astype(np.float32)


def to_lch(lab: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 lightness, chroma, hue (degrees) of an (H, W, 3) uint8 OpenCV Lab image."""
    planes = cv2.split(lab.astype(np.float32))
    chroma, hue = cv2.cartToPolar(planes[1] - 128, planes[2] - 128, angleInDegrees=True)
    return cv2.merge([planes[0], chroma, hue])


def within(lch: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(H, W) uint8 mask (255 inside) of the pixels of an LCh image within one box (lo, hi)."""
    if lo[2] <= hi[2]:
        return cv2.inRange(lch, lo, hi)
    upper = cv2.inRange(lch, lo, np.float32([hi[0], hi[1], 360.0]))
    lower = cv2.inRange(lch, np.float32([lo[0], lo[1], 0.0]), hi)
    return cv2.bitwise_or(upper, lower)


def chromatic(lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether a box (lo, hi) is a chromatic colour's (told by hue) rather than a grey's."""
    return not (lo[2] == 0.0 and hi[2] == 360.0)
