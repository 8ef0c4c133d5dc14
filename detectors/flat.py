"""Flat-mark detector: finds texture-poor references by their few flat colours and their layout.

Most brand marks are solid shapes in two to four colours, where SIFT finds too few stable
features. This detector describes a reference by its palette (k-means in Lab) and by its
coloured parts (connected regions of one palette colour). On a keyframe it:

1. segments, at full resolution, the pixels close to each palette colour (a box in Lab that is
   wide in lightness and scales with the colour's chroma, so lighting changes keep them);
2. hypothesises a similarity transform from every pair of frame regions whose colours, areas
   and distance agree with a pair of reference parts (two centroids fix position, scale and
   rotation; marks cut by the frame edge or partly hidden still keep one intact pair);
3. verifies each hypothesis by rendering the reference's colour layout under it: the share of
   each colour's pixels that the frame shows in that colour, minus the share of the pixels just
   outside the mark that show the same colour (a red wall is not a red mark), counted only on
   the part inside the frame;
4. refines the best hypotheses to a homography with ECC (the frame crop as template, the
   reference masked by its silhouette as input, so the background and the part outside the
   frame do not count), verifies again and keeps the better of the two.

The mask of a hit is the reference silhouette warped by its homography and clipped to the frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import DetectConfig, PipelineConfig
from autoblur.errors import ConfigError
from autoblur.types import BrandCue, Detections, RegionMask, box_iou
from detectors._colour import PALE, chromatic, colour_boxes, to_lch, within
from detectors._groups import frame_groups, reference_groups, square_angle
from detectors.base import DETECTORS
from detectors.reference import plausible_quad, read_logo, silhouette_of

_WORK_SIDE = 160  # reference parts and ECC input: longest side in pixels
_MASK_SIDE = 800  # silhouette warped into frames: longest side at most
_VERIFY_SIDE = 72  # colour-layout check: the reference rendered at this longest side
_VERIFY_SIDES = (_VERIFY_SIDE, 108)  # or larger, for marks of thin strokes
_MIN_CORE_SHARE = 0.3  # (until an erosion by one pixel keeps this share of the mark)
_VERIFY_PAD = 3  # and this many pixels around it
_ECC_SIDE = 128  # ECC template: the frame crop resized to this longest side
_MAX_COLOURS = 10  # k-means colours tried at most
_MAX_KEPT_COLOURS = 6  # and colours of _MIN_COLOUR_SHARE or more kept at most
_FLAT_RESIDUAL = 7.0  # RMS Lab distance (uint8 units) of pixels to their palette colour
_MIN_COLOUR_SHARE = 0.02
_MIN_PART_SHARE = 0.04  # parts that seed hypotheses: this share of the silhouette at least
_MIN_REGION_PX = 6
_REGIONS_PER_COLOUR = 40
_OPEN_PX = (5, 9)  # the colour masks are also opened at these diameters (merged regions)
_BANDS = 3  # colour masks are also cut to this many lightness bands at most
_BAND_HALF = 12  # (each this many lightness units either side of its centre)
_MIN_BAND_PX = 60  # (and holding this many pixels above the histogram's wide average)
_MAX_HYPOTHESES = 80
_REFINED = 3  # best hypotheses refined with ECC (and two more per instance found)
_FURTHER_SCORE = 0.6  # after the first instance, a hypothesis is refined from this score
_SAME_PLACE_IOU = 0.15  # a further instance overlapping a kept one this much is a refit of it
_MIN_MARK_PX = 24  # smallest mark (longest side, frame pixels) searched
# and its shortest side found at least (a wordmark 8 px tall shows no letters to check: a
# pole at the frame's edge passes for one)
_MIN_HIT_SIDE_PX = 12.0
_MIN_VISIBLE = 0.15  # share of the silhouette inside the frame to accept a hit
_MIN_SHOWN = 0.25  # detection: a colour counts as shown from this share of its pixels
_MAIN_COLOUR = 0.05  # and as one of the mark's main colours from this share of the mark
_MIN_RECALL = 0.6  # each large colour: share of its pixels the frame shows in that colour
_MIN_SCORE = 0.75  # area-weighted share of the mark's pixels shown in their own colour
_FOLLOW_SCORE = 0.6  # the same, to follow a known mark (blurred, or its last pixels in frame)
_MAX_CORNER_STEP = 0.35  # following: a corner's move from the prediction, x the mark's size
# A chromatic colour's spill leaves out the pixels this Lab distance (uint8 units) or more from
# the mark's shade, where its own pixels are one shade (median distance from their mean).
_SPILL_NEAR = 24.0
_FLAT_SHADE = 10.0
_MAX_SPILL = 0.45  # area-weighted share of the pixels just outside shown in the same colour
# To detect a one-colour mark: at most this share of the pixels just outside it may look like
# the mark itself (within _SAME_COLOUR of its observed mean Lab, uint8 units).
_MAX_SEEN_SPILL = 0.25
_SAME_COLOUR = 14.0
# and its own pixels must be flat: their median Lab distance from their mean at most this (a
# patch of street or cloth that happens to match has texture).
_MAX_INSIDE_SPREAD = 8.0
_SPREAD_PER_CONTRAST = 0.2  # or this share of the median distance of the pixels around it
_CLEAN_SPILL = 0.15  # (where at most this share of them show the colour)
_MIN_VISIBLE_ONE_COLOUR = 0.6  # and the share of it inside the frame (its outline is all there is)
_GROWN = 0.05  # the grown silhouette: this share of the reference's longest side around it
_SINGLE_PART_SHARE = 0.3  # parts that seed one-part hypotheses: this share at least
_MAX_ELONGATION_GAP = 0.25  # a region's elongation within this of the part's
_ROUND = 0.15  # elongation under which a part's principal axis is no guide to its turn
_MAX_SINGLE_HYPOTHESES = 64
_MAX_GROUP_TURN = np.radians(45)  # hull hypotheses: turns from upright at most
_REMEMBERED = 32  # recent finds whose pose :meth:`FlatMatcher.locate` gives back unsearched


@dataclass(frozen=True)
class FlatReference:
    """A flat reference, prepared for matching.

    Attributes:
        brand: the brand it belongs to.
        path: the image file.
        box_lo: (C, 3) float32 lower LCh bounds of each palette colour (see
            ``detectors._colour``: lightness, chroma, hue in degrees; a hue range whose
            lower end is above its upper end wraps through 0).
        box_hi: (C, 3) float32 upper LCh bounds.
        spill_lo: (C, 3) float32 the same, a tinted grey's kept to its hue and a grey's not
            reaching down to a dimmed white: pixels just outside the mark that show its
            colour (``box_*`` for the mark's own pixels).
        spill_hi: (C, 3) float32 their upper bounds.
        seed_lo: (C, 3) float32 tighter lower bounds, for the regions that seed hypotheses.
        seed_hi: (C, 3) float32 tighter upper bounds.
        pale_lo: (C, 3) float32 the same down to a paler chroma, for the groups of pieces.
        pale_hi: (C, 3) float32 their upper bounds.
        work_onehot: (h, w, 3) float32 at work size, 1 where the pixel has colour k (of the
            three largest colours), for ECC.
        ecc_colours: the three largest palette colours (repeated when fewer).
        work_silhouette: (h, w) uint8 silhouette at work size (1 inside).
        parts: (P, 7) float64 seed parts at work size: colour, area, centroid x, centroid y,
            axis angle, elongation, square angle (see ``detectors._groups.square_angle``).
        groups: (G, 7) float64 the same for the hull of each large colour's pixels (see
            ``detectors._groups``).
        verify_labels: (C, hv, wv) bool, each colour's pixels at verify size, eroded by one.
        verify_rings: (C, hv, wv) bool, pixels outside the silhouette next to each colour.
        verify_silhouette: (hv, wv) bool silhouette at verify size.
        silhouette: the silhouette at mask size, warped into frames.
        grown_silhouette: the silhouette grown by ``_GROWN`` of its longest side, at mask size
            (its crop starts left of and above the reference), for uncertain fits.
        work_to_mask: scale from work to mask coordinates.
        work_to_verify: scale from work to verify coordinates.
    """

    brand: str
    path: Path
    box_lo: np.ndarray
    box_hi: np.ndarray
    spill_lo: np.ndarray
    spill_hi: np.ndarray
    seed_lo: np.ndarray
    seed_hi: np.ndarray
    pale_lo: np.ndarray
    pale_hi: np.ndarray
    work_onehot: np.ndarray
    ecc_colours: tuple[int, ...]
    work_silhouette: np.ndarray
    parts: np.ndarray
    groups: np.ndarray
    verify_labels: np.ndarray
    verify_rings: np.ndarray
    verify_silhouette: np.ndarray
    silhouette: RegionMask
    grown_silhouette: RegionMask
    work_to_mask: float
    work_to_verify: float

    @property
    def work_hw(self) -> tuple[int, int]:
        """(height, width) of the reference at work size."""
        return self.work_silhouette.shape[:2]


def _resized(image: np.ndarray, longest: int, nearest: bool = False) -> np.ndarray:
    scale = longest / max(image.shape[:2])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    if nearest:
        return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _palette(lab_pixels: np.ndarray) -> np.ndarray | None:
    """The fewest k-means centres (K, 3) float32 that fit (N, 3) Lab pixels; None if none do."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 30, 0.5)
    for k in range(1, _MAX_COLOURS + 1):
        if len(lab_pixels) < k:
            return None
        compactness, labels, centres = cv2.kmeans(
            lab_pixels, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS
        )
        shares = np.bincount(labels.ravel(), minlength=k) / len(labels)
        inliers = shares[labels.ravel()] >= _MIN_COLOUR_SHARE
        residual = np.linalg.norm(lab_pixels - centres[labels.ravel()], axis=1)[inliers]
        if np.sqrt(np.mean(residual**2)) < _FLAT_RESIDUAL:
            kept = centres[shares >= _MIN_COLOUR_SHARE]
            # An icon's extra colours are small details; a photograph (a greyscale box)
            # needs many large ones, and is no flat mark.
            return kept if len(kept) <= _MAX_KEPT_COLOURS else None
    return None


def _label_map(lab: np.ndarray, silhouette: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(h, w) int16 index of the nearest palette colour per silhouette pixel, -1 outside."""
    distance = np.linalg.norm(lab[:, :, None, :].astype(np.float32) - centres, axis=3)
    labels = distance.argmin(axis=2).astype(np.int16)
    labels[~silhouette] = -1
    return labels


def _ecc_colours(labels: np.ndarray) -> tuple[int, ...]:
    """The three largest colours of a label map (repeated when fewer): ECC's channels."""
    order = np.argsort(-np.bincount(labels[labels >= 0].ravel()))
    return tuple(int(order[i % len(order)]) for i in range(3))


def _seed_parts(labels: np.ndarray) -> np.ndarray:
    """(P, 7) colour, area, centroid x, y, axis angle, elongation, square angle of seed parts."""
    total = max(int((labels >= 0).sum()), 1)
    parts = []
    for colour in range(int(labels.max()) + 1):
        area, centre_xy, shape = _components((labels == colour).astype(np.uint8))
        for a, (x, y), (angle, elongation, square) in zip(area, centre_xy, shape, strict=True):
            if a >= _MIN_PART_SHARE * total:
                parts.append((colour, a, x, y, angle, elongation, square))
    return np.array(parts, np.float64).reshape(-1, 7)


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Areas (N,), centroids (N, 2) and shapes (N, 3) of the outer contours of a uint8 mask.

    Contours are far faster than connected-component labelling on a whole frame. Areas count
    the pixels the outline encloses (polygon area plus half its perimeter), holes included,
    the same way for the reference and the frame. A shape is the angle (radians) of the
    outline's principal axis and its elongation (0 for a disc or a square, towards 1 for a
    line), from the second-order central moments, and its square angle (the turn of its
    smallest rectangle: ``detectors._groups.square_angle``).
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    areas, centres, shapes = [], [], []
    for contour in contours:
        moments = cv2.moments(contour)
        area = moments["m00"] + cv2.arcLength(contour, True) / 2 + 1
        if moments["m00"] > 0:
            centres.append((moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]))
            mu20, mu02, mu11 = moments["mu20"], moments["mu02"], moments["mu11"]
            spread = np.hypot(mu20 - mu02, 2 * mu11)
            shapes.append(
                (
                    0.5 * np.arctan2(2 * mu11, mu20 - mu02),
                    spread / (mu20 + mu02),
                    # (only for regions kept: a frame mask has thousands of specks)
                    square_angle(contour) if moments["m00"] >= _MIN_REGION_PX else np.nan,
                )
            )
        else:
            centres.append(tuple(contour.reshape(-1, 2).mean(axis=0)))
            shapes.append((0.0, 1.0, float("nan")))
        areas.append(area)
    return (
        np.array(areas, np.float64),
        np.array(centres, np.float64).reshape(-1, 2),
        np.array(shapes, np.float64).reshape(-1, 3),
    )


def prepare_flat_reference(brand: str, path: Path) -> FlatReference:
    """Load a reference and describe it by its palette and coloured parts.

    Raises:
        ConfigError: unreadable image, or not a flat mark (too many colours, or a single
            colour filling the whole picture: nothing to match).
    """
    rgb, alpha = read_logo(path)
    silhouette = silhouette_of(rgb, alpha)
    if silhouette.all() and rgb.reshape(-1, 3).std(axis=0).max() < 8:
        raise ConfigError(f"{path}: logo image of brand {brand!r} is one flat colour: no shape")
    mask_scale = min(1.0, _MASK_SIDE / max(rgb.shape[:2]))
    mask_bitmap = _resized(
        silhouette.astype(np.uint8), round(max(rgb.shape[:2]) * mask_scale), True
    )
    work_rgb = _resized(rgb, _WORK_SIDE)
    work_sil = _resized(silhouette.astype(np.uint8), _WORK_SIDE, nearest=True).astype(bool)
    lab = cv2.cvtColor(work_rgb, cv2.COLOR_RGB2LAB)
    core = cv2.erode(work_sil.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    centres = _palette(lab[core].astype(np.float32))
    if centres is None:
        raise ConfigError(f"{path}: logo image of brand {brand!r} is not a flat mark")
    labels = _label_map(lab, work_sil, centres)
    parts = _seed_parts(labels)
    if len(parts) == 0 or (len(centres) == 1 and work_sil.all()):
        raise ConfigError(f"{path}: logo image of brand {brand!r} has no shape to match")
    # Padded, so that the rings reach past the mark's own rectangle (a square badge has all
    # its surroundings there).
    verify_labels_map = np.pad(_verify_labels(labels), _VERIFY_PAD, constant_values=-1)
    verify_sil = verify_labels_map >= 0
    kernel = np.ones((3, 3), np.uint8)
    outside = ~verify_sil
    verify_labels, verify_rings = [], []
    for colour in range(len(centres)):
        own = (verify_labels_map == colour).astype(np.uint8)
        verify_labels.append(cv2.erode(own, kernel).astype(bool))
        near = cv2.dilate(own, np.ones((7, 7), np.uint8)).astype(bool)
        verify_rings.append(near & outside & ~cv2.dilate(own, kernel).astype(bool))
    lo, hi = colour_boxes(centres, tight=False, by_hue=False, dimmed=True)
    spill_lo, spill_hi = colour_boxes(centres, tight=False)
    ecc_colours = _ecc_colours(labels)
    seed_lo, seed_hi = colour_boxes(centres, tight=True)
    pale_lo, pale_hi = colour_boxes(centres, tight=True, chroma_floor=PALE)
    return FlatReference(
        brand=brand,
        path=path,
        box_lo=lo,
        box_hi=hi,
        spill_lo=spill_lo,
        spill_hi=spill_hi,
        seed_lo=seed_lo,
        seed_hi=seed_hi,
        pale_lo=pale_lo,
        pale_hi=pale_hi,
        work_onehot=np.stack([labels == c for c in ecc_colours], axis=2).astype(np.float32),
        ecc_colours=ecc_colours,
        work_silhouette=work_sil.astype(np.uint8),
        parts=parts,
        groups=reference_groups(labels),
        verify_labels=np.stack(verify_labels),
        verify_rings=np.stack(verify_rings),
        verify_silhouette=verify_sil,
        silhouette=RegionMask(0, 0, mask_bitmap.astype(bool), mask_bitmap.shape),
        grown_silhouette=_grown(mask_bitmap.astype(bool)),
        work_to_mask=mask_bitmap.shape[1] / work_sil.shape[1],
        work_to_verify=(verify_sil.shape[1] - 2 * _VERIFY_PAD) / work_sil.shape[1],
    )


def _verify_labels(labels: np.ndarray) -> np.ndarray:
    """The label map at the verify size: ``_VERIFY_SIDE``, or larger for a mark of thin strokes.

    The check counts each colour's pixels eroded by one; a wordmark of thin letters at 72 px
    keeps a few dozen, which any patch of its colour matches. The size grows until the
    erosion keeps ``_MIN_CORE_SHARE`` of them (at most the work size).
    """
    kernel = np.ones((3, 3), np.uint8)
    for side in (*_VERIFY_SIDES, max(labels.shape)):
        resized = _resized(labels, side, nearest=True)
        own = (resized >= 0).astype(np.uint8)
        if cv2.erode(own, kernel).sum() >= _MIN_CORE_SHARE * own.sum():
            break
    return resized


def _grown(bitmap: np.ndarray) -> RegionMask:
    """A (h, w) bool silhouette grown by ``_GROWN`` of its longest side, past its rectangle."""
    radius = max(1, round(_GROWN * max(bitmap.shape)))
    padded = np.pad(bitmap, radius)
    return RegionMask(
        -radius, -radius, RegionMask(0, 0, padded, padded.shape).dilate(radius).bitmap, padded.shape
    )


@dataclass
class _Regions:
    """Connected regions of one palette colour in a frame.

    Attributes:
        area: (N,) areas.
        centre_xy: (N, 2) centroids.
        shape: (N, 3) principal-axis angle, elongation and square angle (see :func:`_components`).
    """

    area: np.ndarray
    centre_xy: np.ndarray
    shape: np.ndarray


def _overlap(ref: FlatReference, homography: np.ndarray, other: np.ndarray) -> bool:
    """Whether two instances' outlines' boxes overlap by IoU ``_SAME_PLACE_IOU`` or more."""
    boxes = [outline(ref, h) for h in (homography, other)]
    xyxy = np.array([[*q.min(axis=0), *q.max(axis=0)] for q in boxes])
    return float(box_iou(xyxy[:1], xyxy[1:])[0, 0]) >= _SAME_PLACE_IOU


_NO_REGIONS = _Regions(np.zeros(0), np.zeros((0, 2)), np.zeros((0, 3)))


def _similarity(scale: float, angle: float, ref_xy: np.ndarray, frame_xy: np.ndarray) -> np.ndarray:
    """3x3 similarity taking reference point ``ref_xy`` to ``frame_xy``."""
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    tx = frame_xy[0] - (c * ref_xy[0] - s * ref_xy[1])
    ty = frame_xy[1] - (s * ref_xy[0] + c * ref_xy[1])
    return np.array([[c, -s, tx], [s, c, ty], [0, 0, 1]], np.float64)


def outline(ref: FlatReference, homography: np.ndarray) -> np.ndarray:
    """(4, 2) float64 frame positions of the reference's work-size corners."""
    h, w = ref.work_hw
    corners = np.float64([[[0, 0], [w, 0], [w, h], [0, h]]])
    return cv2.perspectiveTransform(corners, homography)[0]


def _lightness_bands(mask: np.ndarray, lightness: np.ndarray) -> list[np.ndarray]:
    """The colour mask cut to the lightness bands where its pixels crowd, largest crowd first.

    A flat mark's pixels share one lightness, a spike on the broad hill of a lawn or a wall
    of its hue; cut to a band around that spike, the mark comes apart from the lawn that the
    colour mask joins it to. At most ``_BANDS`` bands of ``_BAND_HALF`` either side of the
    lightness values whose count stands furthest above the histogram's wide average (and
    holds ``_MIN_BAND_PX`` pixels more than it at least).
    """
    counts = cv2.calcHist([lightness], [0], mask, [256], [0, 256]).ravel()
    near = cv2.GaussianBlur(counts[None], (0, 0), 1.5, borderType=cv2.BORDER_CONSTANT).ravel()
    wide = cv2.GaussianBlur(counts[None], (0, 0), 12.0, borderType=cv2.BORDER_CONSTANT).ravel()
    excess = near - wide
    bands = []
    for _ in range(_BANDS):
        peak = int(np.argmax(excess))
        if excess[peak] * (2 * _BAND_HALF + 1) < _MIN_BAND_PX:
            break
        lo, hi = max(0, peak - _BAND_HALF), min(255, peak + _BAND_HALF)
        excess[max(0, lo - _BAND_HALF) : hi + _BAND_HALF + 1] = 0
        bands.append(cv2.bitwise_and(mask, cv2.inRange(lightness, lo, hi)))
    return bands


def _distinct(ref: FlatReference, hypotheses: list[np.ndarray]) -> list[np.ndarray]:
    """The hypotheses less repeats, each scored and refined once.

    The same outline to the pixel comes from a region found in its colour mask and again in
    the mask opened or cut to a lightness band, or as a part and as a group.
    """
    seen: set[bytes] = set()
    kept = []
    for homography in hypotheses:
        key = np.round(outline(ref, homography)).astype(np.int32).tobytes()
        if key not in seen:
            seen.add(key)
            kept.append(homography)
    return kept


def _similar_outline(ref: FlatReference, before: np.ndarray, after: np.ndarray) -> bool:
    """Whether ``after`` keeps the mark a plausible shape near ``before``'s place and size.

    ECC on a mark mostly outside the frame can bend or swing the unseen part wildly; such a
    fit is not a step of a moving mark (no corner may move by more than ``_MAX_CORNER_STEP``
    of the mark's size from the prediction).
    """
    quad, quad_before = outline(ref, after), outline(ref, before)
    if not plausible_quad(quad.astype(np.float64), min_side_px=2.0):
        return False
    area_before = cv2.contourArea(quad_before.astype(np.float32))
    area_after = cv2.contourArea(quad.astype(np.float32))
    moved = np.abs(quad - quad_before).max()
    return 0.7 < area_after / max(area_before, 1e-6) < 1.4 and moved < _MAX_CORNER_STEP * np.sqrt(
        area_before
    )


class FlatMatcher:
    """Finds instances of flat references on frames.

    Args:
        references: the prepared references.
        max_instances: instances of one reference per frame at most.
    """

    def __init__(self, references: Sequence[FlatReference], max_instances: int = 4) -> None:
        self.references = list(references)
        self.max_instances = max_instances
        # The latest finds, by mask: (mask, fingerprint of the frame under it, reference,
        # homography). Tracking starts from a keyframe's detections and asks :meth:`locate`
        # for their pose, which the search has just found on that very frame.
        self._recent: OrderedDict[int, tuple[RegionMask, int, FlatReference, np.ndarray]] = (
            OrderedDict()
        )

    def detect(self, rgb: np.ndarray, only: set[Path] | None = None) -> Detections:
        """Instances on an (H, W, 3) uint8 RGB frame of every reference (or those in ``only``)."""
        lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)
        lch = to_lch(lab)
        found = []
        for ref in self.references:
            if only is not None and ref.path not in only:
                continue
            for homography, score in self.instances(ref, lab, lch):
                mask = self.mask_of(ref, homography, lab.shape[:2])
                if mask is None:
                    continue
                self._recent[id(mask)] = (mask, _fingerprint(lab, mask), ref, homography)
                while len(self._recent) > _REMEMBERED:
                    self._recent.popitem(last=False)
                found.append(
                    Detections(
                        xyxy=mask.xyxy[None],
                        confidence=[score],
                        brand=[ref.brand],
                        source=["flat"],
                        cue=[str(ref.path)],
                        masks=[mask],
                    )
                )
        return Detections.concat(found)

    def instances(
        self, ref: FlatReference, lab: np.ndarray, lch: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, float]]:
        """(homography from work-size reference to frame, score) of each instance found.

        Args:
            ref: the reference.
            lab: (H, W, 3) uint8 OpenCV Lab frame.
            lch: the same frame as ``detectors._colour.to_lch`` gives it (computed when None).
        """
        lch = to_lch(lab) if lch is None else lch
        masks = [within(lch, ref.seed_lo[c], ref.seed_hi[c]) for c in range(len(ref.box_lo))]
        regions = [self._regions(mask, lab[..., 0]) for mask in masks]
        # Pieces are grouped from their paler shades too: a small mark's thin strokes keep
        # half their chroma (a lawn merging with a green mark's region does less harm here
        # than to the parts, since every group is tried as a whole).
        grouped = {int(c) for c in ref.groups[:, 0]}
        groups = [
            _Regions(*frame_groups(within(lch, ref.pale_lo[c], ref.pale_hi[c])))
            if c in grouped
            else _NO_REGIONS
            for c in range(len(ref.box_lo))
        ]
        hypotheses = self._hypotheses(ref, regions, groups, lab.shape[:2])
        # One colour tells a mark from a patch of that colour by its outline alone.
        one = len(ref.box_lo) == 1
        strict = {
            "outer_ring": True,
            "max_seen_spill": _MAX_SEEN_SPILL if one else None,
            "min_visible": _MIN_VISIBLE_ONE_COLOUR if one else _MIN_VISIBLE,
            # One colour of a many-coloured mark is no evidence of it (a huge mark's green
            # ring over a meadow, a white badge's white without its small purple emblem).
            "min_colours": min(2, len(ref.box_lo)),
        }
        scored = sorted(
            ((h, *self._score(ref, lab, h, **strict)) for h in _distinct(ref, hypotheses)),
            key=lambda hsp: -hsp[1],
        )
        kept: list[tuple[np.ndarray, float]] = []
        refined = 0
        for homography, score, passes in scored:
            if len(kept) >= self.max_instances or refined >= _REFINED + 2 * len(kept):
                break
            centre = self._centre(ref, homography)
            if any(self._inside(ref, h, centre) for h, _ in kept):
                continue
            # Further instances must pass, or come close, before refinement.
            if kept and not passes and score < _FURTHER_SCORE:
                continue
            refined += 1
            better = self._refine(ref, lab, homography)
            if better is not None:
                better_score, better_passes = self._score(ref, lab, better, **strict)
                if better_passes and (better_score >= score - 0.02 or not passes):
                    homography, score, passes = better, better_score, True
            if (
                passes
                and plausible_quad(outline(ref, homography), min_side_px=_MIN_HIT_SIDE_PX)
                and not any(_overlap(ref, homography, h) for h, _ in kept)
            ):
                kept.append((homography, min(1.0, max(score, 0.0))))
        return kept

    @staticmethod
    def _regions(mask: np.ndarray, lightness: np.ndarray | None = None) -> _Regions:
        """The largest connected regions of an (H, W) uint8 colour mask (255 inside).

        Also those of the mask opened at ``_OPEN_PX`` (a mark merged with a patch of its
        colour by a few thin bridges or a textured fringe comes apart), and of the mask cut to
        each band of ``lightness`` (uint8) where its pixels crowd (:func:`_lightness_bands`: a
        flat mark on a lawn of its hue, a shade lighter), repeats dropped.
        """
        pieces = [(size, mask) for size in (0, *_OPEN_PX)]
        if lightness is not None:
            pieces += [(0, band) for band in _lightness_bands(mask, lightness)]
        areas, centres, shapes = [], [], []
        for size, opened in pieces:
            if size:
                kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
                opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
            area, centre_xy, shape = _components(opened)
            keep = np.nonzero(area >= _MIN_REGION_PX)[0]
            keep = keep[np.argsort(-area[keep])[:_REGIONS_PER_COLOUR]]
            if areas:  # repeats of a region already found
                known_area, known_xy = np.concatenate(areas), np.concatenate(centres)
                near = np.hypot(*(centre_xy[keep, None] - known_xy[None]).transpose(2, 0, 1)) < 2
                alike = np.abs(area[keep, None] / known_area[None] - 1) < 0.1
                keep = keep[~(near & alike).any(axis=1)]
            areas.append(area[keep])
            centres.append(centre_xy[keep])
            shapes.append(shape[keep])
        return _Regions(np.concatenate(areas), np.concatenate(centres), np.concatenate(shapes))

    @staticmethod
    def _hypotheses(
        ref: FlatReference,
        regions: list[_Regions],
        groups: list[_Regions],
        frame_hw: tuple[int, int],
    ) -> list[np.ndarray]:
        """Similarities from pairs of frame regions that agree with pairs of reference parts.

        For parts P, Q and regions p, q of their colours, the centroid distance gives a scale
        s; both regions' areas must agree with s (one may be cut or hidden down to a third),
        and the mark must be between ``_MIN_MARK_PX`` and twice the frame.
        """
        work_long = max(ref.work_hw)
        min_scale = _MIN_MARK_PX / work_long
        max_scale = 2 * max(frame_hw) / work_long
        candidates: list[tuple[float, np.ndarray]] = []
        parts = ref.parts
        for i in range(len(parts)):
            for j in range(len(parts)):
                if i == j:
                    continue
                (ci, ai, *pi), (cj, aj, *pj) = parts[i, :4], parts[j, :4]
                rp, rq = regions[int(ci)], regions[int(cj)]
                if not len(rp.area) or not len(rq.area):
                    continue
                ref_vec = np.subtract(pj, pi)
                ref_dist = float(np.hypot(*ref_vec))
                if ref_dist < 1:
                    continue
                vec = rq.centre_xy[None, :, :] - rp.centre_xy[:, None, :]
                dist = np.hypot(vec[..., 0], vec[..., 1])
                scale = dist / ref_dist
                fit_p = np.sqrt(rp.area[:, None] / ai) / np.maximum(scale, 1e-9)
                fit_q = np.sqrt(rq.area[None, :] / aj) / np.maximum(scale, 1e-9)
                ok = (
                    (scale >= min_scale)
                    & (scale <= max_scale)
                    & (fit_p > 0.3)
                    & (fit_p < 1.5)
                    & (fit_q > 0.3)
                    & (fit_q < 1.5)
                    & (np.maximum(fit_p, fit_q) > 0.7)
                )
                if ci == cj:
                    ok &= ~np.eye(len(rp.area), dtype=bool)
                for a, b in zip(*np.nonzero(ok), strict=True):
                    angle = np.arctan2(vec[a, b, 1], vec[a, b, 0]) - np.arctan2(*ref_vec[::-1])
                    error = abs(np.log(fit_p[a, b])) + abs(np.log(fit_q[a, b]))
                    homography = _similarity(
                        float(scale[a, b]), float(angle), np.array(pi), rp.centre_xy[a]
                    )
                    candidates.append((error, homography))
        candidates.sort(key=lambda eh: eh[0])
        large = ref.parts[ref.parts[:, 1] >= _SINGLE_PART_SHARE * float(ref.work_silhouette.sum())]
        single = FlatMatcher._single_part_hypotheses(large, regions, min_scale, max_scale)
        # A hull's axis tells a turn up to a half turn, and a mark drawn in pieces is seldom
        # on its side: near upright only (a wordmark on end is a pole, a lamp a wordmark).
        grouped = FlatMatcher._single_part_hypotheses(
            ref.groups, groups, min_scale, max_scale, max_turn=_MAX_GROUP_TURN
        )
        return [h for _, h in candidates[:_MAX_HYPOTHESES]] + single + grouped

    @staticmethod
    def _single_part_hypotheses(
        parts: np.ndarray,
        regions: list[_Regions],
        min_scale: float,
        max_scale: float,
        max_turn: float = np.pi,
    ) -> list[np.ndarray]:
        """Similarities that lay one large reference part onto one frame region.

        A one-colour silhouette (most brand marks drawn in a single colour) has one large
        part and nothing to pair it with. Its region in the frame gives the rest: the
        centroid the position, the area the scale, the principal axis the turn (both ways
        along it; for a round or square part, whose axis says nothing, every 45 degrees from
        upright, or from the turn of its smallest rectangle for a square one).
        Regions whose elongation differs from the part's are ranked last. The same lays a
        colour's hull (``detectors._groups``) onto a frame group's hull.

        Args:
            parts: (P, 7) colour, area, centroid x, y, axis angle, elongation, square angle.
            regions: per palette colour, the frame's regions (or groups).
            min_scale: smallest scale from work size to the frame.
            max_scale: largest.
            max_turn: turns (radians either way from upright) tried at most.
        """
        candidates: list[tuple[float, np.ndarray]] = []
        for colour, area, x, y, angle, elongation, square in parts:
            found = regions[int(colour)]
            for r_area, r_xy, (r_angle, r_elongation, r_square) in zip(
                found.area, found.centre_xy, found.shape, strict=True
            ):
                scale = float(np.sqrt(r_area / area))
                if not min_scale <= scale <= max_scale:
                    continue
                error = abs(r_elongation - elongation)
                if error > _MAX_ELONGATION_GAP:
                    continue
                if max(elongation, r_elongation) < _ROUND and max_turn < np.pi:
                    turns = np.linspace(-max_turn, max_turn, 5)  # a round hull: any turn
                elif max(elongation, r_elongation) < _ROUND:  # a square's turn, or upright
                    turns = np.arange(8) * np.pi / 4
                    if np.isfinite(square) and np.isfinite(r_square):
                        turns = turns + r_square - square
                else:
                    turns = r_angle - angle + np.array([0.0, np.pi])
                turns = turns[np.abs((turns + np.pi) % (2 * np.pi) - np.pi) <= max_turn + 1e-9]
                candidates += [
                    (error, _similarity(scale, float(t), np.array([x, y]), r_xy)) for t in turns
                ]
        candidates.sort(key=lambda eh: eh[0])
        return [h for _, h in candidates[:_MAX_SINGLE_HYPOTHESES]]

    def locate(
        self, lab: np.ndarray, mask: RegionMask, pad: float = 0.3, min_iou: float = 0.5
    ) -> tuple[FlatReference, np.ndarray] | None:
        """The reference and homography of the instance that ``mask`` outlines, if it is one.

        Searches the frame around the mask only.

        Args:
            lab: (H, W, 3) uint8 OpenCV Lab frame.
            mask: an instance's region on that frame (or where one is expected).
            pad: the search reaches this share of the mask's size (plus 8 px) around it.
            min_iou: box overlap with ``mask`` an instance needs.

        Returns:
            (reference, homography from its work size to the frame), or None.
        """
        if self.found(mask) and self._recent[id(mask)][1] == _fingerprint(lab, mask):
            return self.pose(mask)  # found by :meth:`detect` on this very frame: its pose
        fh, fw = lab.shape[:2]
        x0, y0, x1, y1 = mask.xyxy
        pad_x, pad_y = pad * (x1 - x0) + 8, pad * (y1 - y0) + 8
        cx0, cy0 = int(max(0, x0 - pad_x)), int(max(0, y0 - pad_y))
        cx1, cy1 = int(min(fw, x1 + pad_x)), int(min(fh, y1 + pad_y))
        shift = np.array([[1, 0, cx0], [0, 1, cy0], [0, 0, 1]], np.float64)
        best, best_iou = None, min_iou
        for ref in self.references:
            for homography, _ in self.instances(ref, lab[cy0:cy1, cx0:cx1]):
                full = shift @ homography
                found = self.mask_of(ref, full, (fh, fw))
                if found is None:
                    continue
                iou = float(box_iou(found.xyxy, mask.xyxy)[0, 0])
                if iou > best_iou:
                    best, best_iou = (ref, full), iou
        return best

    def found(self, mask: RegionMask) -> bool:
        """Whether ``mask`` is one of the latest masks :meth:`detect` gave."""
        recent = self._recent.get(id(mask))
        return recent is not None and recent[0] is mask

    def pose(self, mask: RegionMask) -> tuple[FlatReference, np.ndarray] | None:
        """(reference, homography) of one of the latest masks :meth:`detect` gave; else None."""
        return self._recent[id(mask)][2:] if self.found(mask) else None

    def follow(
        self, ref: FlatReference, lab: np.ndarray, homography: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """The instance near ``homography`` on a new frame, refined, and its score.

        Tracking accepts an instance with little of it left in the frame (down to its last
        few visible pixels) and a lower colour agreement (motion blur), where detection would
        not.

        Args:
            ref: the reference.
            lab: (H, W, 3) uint8 OpenCV Lab frame.
            homography: the predicted homography from the reference's work size to the frame.

        Returns:
            (homography, score), or None when the mark is lost.
        """
        refined = self._refine(ref, lab, homography)
        if refined is None or not _similar_outline(ref, homography, refined):
            return None
        score, passes = self._score(ref, lab, refined, min_visible=0.0, min_score=_FOLLOW_SCORE)
        return (refined, score) if passes else None

    def score(self, ref: FlatReference, lab: np.ndarray, homography: np.ndarray) -> float:
        """How well the frame shows the reference under ``homography`` (1 at best)."""
        return self._score(ref, lab, homography, min_visible=0.0)[0]

    def follow_rigid(
        self, ref: FlatReference, lab: np.ndarray, homography: np.ndarray, turn: bool = True
    ) -> np.ndarray | None:
        """The instance near ``homography`` moved and turned only; None when it is lost.

        For a mark mostly outside the frame, whose visible sliver cannot pin down a
        homography: ECC with a rigid motion between the frame's colour maps and the mark's
        rendered under ``homography``, on the frame around it.

        Args:
            ref: the reference.
            lab: (H, W, 3) uint8 OpenCV Lab frame.
            homography: the mark's last homography from the reference's work size to the frame.
            turn: fit a turn too (else a shift only, for the smallest slivers).
        """
        fh, fw = lab.shape[:2]
        quad = outline(ref, homography)
        pad = 0.15 * (quad.max(axis=0) - quad.min(axis=0)) + 4
        x0, y0 = np.maximum(np.floor(quad.min(axis=0) - pad), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(quad.max(axis=0) + pad), (fw, fh)).astype(int)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        scale = min(1.0, _ECC_SIDE / max(x1 - x0, y1 - y0))
        to_small = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale], [0, 0, 1]])
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        rendered = cv2.warpPerspective(ref.work_onehot, to_small @ homography, size)
        crop = cv2.resize(lab[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        template = _membership(ref, crop)
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-4)
        try:
            _, warp = cv2.findTransformECC(
                template, rendered, np.eye(2, 3, dtype=np.float32),
                cv2.MOTION_EUCLIDEAN if turn else cv2.MOTION_TRANSLATION, criteria, None, 5,
            )  # fmt: skip
        except cv2.error:
            return None
        # warp takes frame (template) positions to where the rendering shows them.
        motion = np.linalg.inv(to_small) @ np.linalg.inv(np.vstack([warp, [0, 0, 1]])) @ to_small
        moved = motion @ homography
        if not _similar_outline(ref, homography, moved):
            return None
        _, passes = self._score(ref, lab, moved, min_visible=0.0, min_score=_FOLLOW_SCORE)
        return moved if passes else None

    @staticmethod
    def colour_share(ref: FlatReference, lab: np.ndarray, mask: RegionMask) -> float:
        """The share of ``mask``'s pixels whose colour is one of the reference's (loose boxes).

        Args:
            ref: the reference.
            lab: (H, W, 3) uint8 OpenCV Lab frame.
            mask: a region of that frame.
        """
        x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
        crop = lab[y0:y1, x0:x1]
        lch = to_lch(crop)
        shown = np.zeros(crop.shape[:2], bool)
        for lo, hi in zip(ref.box_lo, ref.box_hi, strict=True):
            shown |= within(lch, lo, hi).astype(bool)
        return float(shown[mask.bitmap].mean())

    @staticmethod
    def mask_of(
        ref: FlatReference, homography: np.ndarray, frame_hw: tuple[int, int], grown: bool = False
    ) -> RegionMask | None:
        """The reference's silhouette (or grown one) warped by a work-size homography."""
        to_work = np.diag([1 / ref.work_to_mask, 1 / ref.work_to_mask, 1.0])
        silhouette = ref.grown_silhouette if grown else ref.silhouette
        return silhouette.warp(homography @ to_work, frame_hw)

    @staticmethod
    def _score(
        ref: FlatReference,
        lab: np.ndarray,
        homography: np.ndarray,
        min_visible: float = _MIN_VISIBLE,
        min_score: float = _MIN_SCORE,
        max_seen_spill: float | None = None,
        outer_ring: bool = False,
        min_colours: int = 1,
    ) -> tuple[float, bool]:
        """Agreement of the frame with the reference's colour layout under ``homography``.

        Only pixels inside the frame count. Recall is the area-weighted share of each
        colour's pixels that the frame shows in that colour; spill the share of the pixels
        just outside each colour that show it too (a red wall is not a red ring). With
        ``max_seen_spill`` (one-colour marks, whose outline is all there is to go by) at most
        that share of the pixels just outside may look like the mark's own pixels as the frame
        shows them (a dark coat is not a black mark, green grass is not a green one unless
        their shades agree), and the mark's own pixels must be flat (``_MAX_INSIDE_SPREAD``).
        With ``outer_ring`` (detection) the rings reach past the mark's rectangle (a square
        badge has all its surroundings there); following a known mark keeps them inside it.
        ``min_colours``: main palette colours (``_MAIN_COLOUR`` of the mark's pixels at
        least) the frame must show (``_MIN_SHOWN`` of their pixels in their colour; a colour
        outside the frame is not shown), at most as many as the mark has.

        Returns:
            (recall - spill / 2, for ranking; whether it passes as a hit: enough of the mark
            in frame, recall and every large colour's recall high, spill low).
        """
        vh, vw = ref.verify_silhouette.shape
        scale, pad = ref.work_to_verify, _VERIFY_PAD
        to_verify = np.array([[scale, 0, pad], [0, scale, pad], [0, 0, 1.0]])
        warped = cv2.warpPerspective(
            lab,
            homography @ np.linalg.inv(to_verify),
            (vw, vh),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        valid = warped[:, :, 1] > 0  # OpenCV's 8-bit a* is never 0 for a real colour
        warped_lch = to_lch(warped)
        visible = (valid & ref.verify_silhouette).sum() / ref.verify_silhouette.sum()
        counts, recalls, spills, seen_spills = [], [], [], []
        shown = 0  # the reference's main colours the frame shows
        main = ref.verify_labels.sum(axis=(1, 2)) >= _MAIN_COLOUR * ref.verify_labels.sum()
        for colour in range(len(ref.box_lo)):
            own = ref.verify_labels[colour] & valid
            count = int(own.sum())
            if count < 4:
                continue
            match = within(warped_lch, ref.box_lo[colour], ref.box_hi[colour]).astype(bool)
            # Spill is judged with the spill box: a tinted grey's is told by its hue too, and
            # a grey's does not reach down to a dimmed white (see ``detectors._colour``).
            by_hue = (ref.spill_lo[colour, 2], ref.spill_hi[colour, 2]) != (
                ref.box_lo[colour, 2],
                ref.box_hi[colour, 2],
            )
            spilt = match
            if not np.array_equal(ref.spill_lo[colour], ref.box_lo[colour]):
                spilt = within(warped_lch, ref.spill_lo[colour], ref.spill_hi[colour]) > 0
            ring = ref.verify_rings[colour] & valid
            if not outer_ring and pad:
                ring[:pad] = ring[-pad:] = False
                ring[:, :pad] = ring[:, -pad:] = False
            counts.append(count)
            own_match = own & match
            recalls.append(own_match.sum() / count)
            shown += bool(main[colour] and recalls[-1] >= _MIN_SHOWN)
            # The mark's own pixels as the frame shows them, and their mean (its shade).
            mine = warped[own_match].astype(np.float32) if own_match.any() else None
            inside = None if mine is None else mine.mean(axis=0)
            spilt_ring = spilt & ring
            if (
                inside is not None
                and spilt_ring.any()
                and chromatic(ref.box_lo[colour], ref.box_hi[colour])
                and float(np.median(np.linalg.norm(mine - inside, axis=1))) <= _FLAT_SHADE
            ):
                # Spill is the mark's own shade past its outline. Where the mark is one flat
                # shade, a lawn or foliage of its hue a shade apart (seen round a green badge
                # and through its cut-outs) is not; a red jacket's folds, of many shades, are.
                # (A grey's shades are everywhere: a dark patch by a black mark is its spill.)
                outside = warped[spilt_ring].astype(np.float32)
                spilt_ring[spilt_ring] = np.linalg.norm(outside - inside, axis=1) < _SPILL_NEAR
            spills.append(spilt_ring.sum() / max(int(ring.sum()), 1))
            if max_seen_spill is not None and ring.any() and inside is not None:
                near = np.linalg.norm(warped[ring].astype(np.float32) - inside, axis=1)
                spread = np.linalg.norm(warped[own].astype(np.float32) - inside, axis=1)
                # A mark far from its surroundings' colours may vary more inside (the blend
                # at its edges, larger on a small mark) and still stand apart as one shape.
                # Only a chromatic colour with a clean outline: black, white and grey shapes
                # are everywhere (a dark jacket on grey asphalt is a black shield but for its
                # texture), and a red lamp's glow spills past a wordmark's letters.
                allowed = _MAX_INSIDE_SPREAD
                if spills[-1] <= _CLEAN_SPILL and chromatic(ref.box_lo[colour], ref.box_hi[colour]):
                    allowed = max(allowed, _SPREAD_PER_CONTRAST * float(np.median(near)))
                flat = float(np.median(spread)) <= allowed
                # (a tinted grey's: and are its colour; a grey wall is near a slate in Lab, not
                # in hue)
                seen = (near < _SAME_COLOUR) & (spilt[ring] if by_hue else True)
                seen_spills.append(float(seen.mean()) if flat else 1.0)
            else:
                seen_spills.append(0.0 if max_seen_spill is None or not own.any() else 1.0)
        if not counts:
            return 0.0, False
        weights = np.array(counts, np.float64) / sum(counts)
        recall, spill = float(weights @ recalls), float(weights @ spills)
        large = weights * len(ref.box_lo) >= 0.3
        passes = (
            visible >= min_visible
            and shown >= min(min_colours, int(main.sum()))
            and recall >= min_score
            and spill <= _MAX_SPILL
            and (max_seen_spill is None or float(weights @ seen_spills) <= max_seen_spill)
            and bool(np.all(np.array(recalls)[large] >= _MIN_RECALL))
        )
        return recall - spill / 2, passes

    @staticmethod
    def _centre(ref: FlatReference, homography: np.ndarray) -> np.ndarray:
        h, w = ref.work_hw
        return cv2.perspectiveTransform(np.float64([[[w / 2, h / 2]]]), homography)[0, 0]

    @staticmethod
    def _inside(ref: FlatReference, homography: np.ndarray, point_xy: np.ndarray) -> bool:
        h, w = ref.work_hw
        outline = np.float64([[0, 0], [w, 0], [w, h], [0, h]])[None]
        quad = cv2.perspectiveTransform(outline, homography)[0].astype(np.float32)
        return cv2.pointPolygonTest(quad, (float(point_xy[0]), float(point_xy[1])), False) >= 0

    @staticmethod
    def _refine(ref: FlatReference, lab: np.ndarray, homography: np.ndarray) -> np.ndarray | None:
        """ECC refinement of a hypothesis to a homography; None when ECC does not converge.

        Both images are colour-membership maps (one channel per palette colour: the frame
        pixels within its loose Lab box, the reference's own pixels), so the frame's texture
        and lighting do not count, and the mark's outline pulls on the fit. The template is
        the frame around the hypothesis, so only in-frame pixels count.
        """
        fh, fw = lab.shape[:2]
        if not np.all(np.isfinite(homography)):
            return None
        h, w = ref.work_hw
        outline = np.float64([[0, 0], [w, 0], [w, h], [0, h]])[None]
        quad = cv2.perspectiveTransform(outline, homography)[0]
        pad = 0.15 * (quad.max(axis=0) - quad.min(axis=0))
        x0, y0 = np.maximum(np.floor(quad.min(axis=0) - pad), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(quad.max(axis=0) + pad), (fw, fh)).astype(int)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-4)
        scale = _ECC_SIDE / max(x1 - x0, y1 - y0)
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        crop = cv2.resize(lab[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        template = _membership(ref, crop)
        to_template = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale], [0, 0, 1]])
        warp = np.linalg.inv(homography) @ np.linalg.inv(to_template)
        try:
            _, warp = cv2.findTransformECC(
                template,
                ref.work_onehot,
                (warp / warp[2, 2]).astype(np.float32),
                cv2.MOTION_HOMOGRAPHY,
                criteria,
                None,
                5,
            )
        except cv2.error:
            return None
        refined = np.linalg.inv(warp.astype(np.float64) @ to_template)
        return refined / refined[2, 2]


def _fingerprint(lab: np.ndarray, mask: RegionMask) -> int:
    """A hash of the frame's pixels in ``mask``'s box: tells the frame a find was made on."""
    x0, y0, x1, y1 = (int(v) for v in mask.xyxy)
    return hash(lab[y0 : y1 + 1, x0 : x1 + 1].tobytes())


def _membership(ref: FlatReference, crop_lab: np.ndarray) -> np.ndarray:
    """ECC channels of an (h, w, 3) uint8 Lab crop.

    Returns:
        (h, w, 3) float32: 1 where a pixel shows each of ``ref.ecc_colours`` (the spill
        boxes: loose, a tinted grey's kept to its hue).
    """
    lch = to_lch(crop_lab)
    return (
        np.stack(
            [within(lch, ref.spill_lo[c], ref.spill_hi[c]) for c in ref.ecc_colours], axis=2
        ).astype(np.float32)
        / 255
    )


def prepare_flat_references(cues: Sequence[BrandCue]) -> list[FlatReference]:
    """Flat references of every logo image of ``cues``.

    Raises:
        ConfigError: an image is unreadable or not a flat mark.
    """
    return [prepare_flat_reference(cue.name, path) for cue in cues for path in cue.logos]


class FlatDetector:
    """The flat-mark detector on its own (``logo`` uses it for references SIFT cannot match).

    Args:
        cues: brands; those with ``logos`` are used.
        config: detection settings (``logo.max_instances``).
    """

    name = "flat"

    def __init__(self, cues: Sequence[BrandCue], config: DetectConfig) -> None:
        self.matcher = FlatMatcher(prepare_flat_references(cues), config.logo.max_instances)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Instances of every reference on an (H, W, 3) uint8 RGB frame."""
        return self.matcher.detect(rgb)


@DETECTORS.register("flat")
def build_flat_detector(cues: Sequence[BrandCue], config: PipelineConfig) -> FlatDetector:
    """The flat-mark detector for the brands that have logo images."""
    return FlatDetector(cues, config.detect)
