"""Translucent overlays fixed in a corner (a channel's bug), found by their edges and their blend.

A semi-transparent mark over a moving picture shows neither its own colours (they are mixed
with the picture behind) nor stable SIFT features. Its outline and inner edges do stay, in
place, while the picture behind changes. This matcher:

1. describes a keyframe by its edge orientations: the colour structure tensor's doubled-angle
   vector, which reads the same whether the picture behind the mark is lighter or darker than
   it, weighted by edge strength up to a cap (``_EDGE_CAP``), at ``_WORK_WIDTH`` pixels wide;
   and averages that over the last ``_MEMORY`` keyframes, so that edges that stay add up and
   those of a moving picture blur away;
2. correlates the reference's own edge field (outline and inner edges), at a range of widths,
   with it (normalised), on a half-size copy first, keeping places whose centre lies in a
   corner zone (the outer third of the frame both across and down): a few local maxima at each
   width, not only the best, since a mark of the picture's own colour (a green shield over
   grass) correlates less where it is than the grass does elsewhere;
3. refines the best places at the work size and keeps a place only when the picture just inside
   the outline is the one just outside it mixed with the reference's colours at one opacity
   (``_MIN_OPACITY`` to ``_MAX_OPACITY``), which must explain ``_MIN_EXPLAINED`` of the change
   across the outline: another shape's edges or a darker patch of the picture do not blend so;
   or, where the outline shows little (a white plate over a white sky), when the picture's
   colour gradients inside the mark are the reference's own scaled by one such opacity
   (``_MIN_INNER_EXPLAINED`` of them; a place of picture that merely has edges there scores
   under 0.1).

A hit's mask is the reference's silhouette at the place, at frame resolution, grown by
``_GROW_PX``. The matcher remembers its hits (:meth:`OverlayMatcher.holds`), so that a tracker
can hold them still between keyframes instead of following the picture behind.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from autoblur.types import Detections, RegionMask, box_iou

_WORK_WIDTH = 640  # keyframes are looked at this wide (never enlarged)
_COARSE = 0.5  # the first search: at this share of the work size
_MEMORY = 4  # keyframes whose edge fields are averaged
_EDGE_CAP = 12.0  # gradient (grey levels per pixel) that counts as a full edge
_FIELD_SIGMA = 1.2  # Gaussian blur of the edge fields, work pixels
_MIN_WIDTH = 40  # the smallest overlay searched, work pixels (1/16 of the width)
_MAX_SHARE = 0.35  # the largest, as a share of the frame width (and 0.45 of its height)
_WIDTH_STEP = 1.1  # between searched widths (coarse)
_CANDIDATES = 12  # places per reference refined at the work size
_PEAKS_PER_WIDTH = 3  # the best local maxima kept at each searched width (coarse)
_PEAK_GAP = 2  # coarse pixels between two local maxima
_REFINE_STEPS = (0.94, 0.97, 1.0, 1.03, 1.06)
_FINE_STEPS = (0.985, 1.0, 1.015)
_REFINE_PX = 4  # work pixels around a coarse place
_MIN_SCORE = 0.25  # edge correlation; the blend checks decide (a mark of the picture's own
# colour, as a green shield over grass, correlates at 0.27-0.33 where it is)
_MIN_OPACITY = 0.2
_MAX_OPACITY = 1.05
_MIN_EXPLAINED = 0.7
_MIN_REACH = 0.1  # blurred share of ring pixels around a band pixel to judge it
_MIN_CHANGE = 8.0  # RMS colour change (grey levels) across the outline to see one
_OPACITY_SPREAD = 0.3
_MIN_INSIDE_SHARE = 0.15  # of a reference's edge energy inside its outline, to check it
_MIN_INSIDE_SCORE = (
    0.3  # correlation of the edges inside the outline  # between the quarters of the outline
)
_MIN_INNER_EXPLAINED = 0.5
# Edge correlation a place needs when only the inner check passes (no outline seen): a door's
# panels in vtest.avi passed it at 0.35-0.36 as a made-up two-colour mark; of the 40
# translucent cases of seeds 3391 and 7759, none was found by the inner check alone.
_MIN_INNER_ONLY_SCORE = 0.45
_INNER_STRONG = 0.3  # inner check: reference gradients from this share of its strongest
_MIN_INNER_PIXELS = 20
_BAND_PX = 2  # inside the outline: the band whose blend is checked
_RING_PX = 5  # outside the outline: the ring the picture behind is taken from
_BORDER = 3  # pixels around a template: the outline's edge lies inside it
_GROW_PX = 2  # work pixels the mask is grown by (refinement is to a pixel or two there)
_SAME_PLACE = 0.9
_STEADY_PX = 1  # work pixels a fixed overlay's place may move between keyframes (refinement)
STEADY_KEYFRAMES = 3  # keyframes in a row that must show a place before it counts
_REFERENCE_SIDE = 400  # IoU of two masks taken as the same hit


def edge_field(channels: Sequence[np.ndarray], sigma: float = _FIELD_SIGMA) -> np.ndarray:
    """The (H, W, 2) float32 doubled-angle edge field of float32 ``channels`` (each (H, W)).

    Per pixel, the colour structure tensor's dominant orientation as a vector at twice its
    angle (so opposite contrasts agree), as long as min(1, strength / ``_EDGE_CAP``).
    """
    jxx = jyy = jxy = np.zeros(channels[0].shape, np.float32)
    for channel in channels:
        gx = cv2.Sobel(channel, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(channel, cv2.CV_32F, 0, 1, ksize=3) / 8
        jxx, jyy, jxy = jxx + gx * gx, jyy + gy * gy, jxy + gx * gy
    u, v = jxx - jyy, 2 * jxy
    strength = np.sqrt(u * u + v * v) + 1e-6
    weight = np.minimum(np.sqrt(strength) / _EDGE_CAP, 1.0) / strength
    return cv2.GaussianBlur(np.dstack([u * weight, v * weight]), (0, 0), sigma)


@dataclass
class OverlayReference:
    """One reference as an overlay: its colours, its coverage and its edge fields by width.

    Attributes:
        brand: the brand.
        path: the image file.
        rgb: (h, w, 3) uint8 colours.
        alpha: (h, w) uint8 coverage (the silhouette where the image has no alpha).
        fields: width (pixels) to the reference's edge field at that width, with a border.
        sized: width (pixels) to its colours and coverage at that width.
    """

    brand: str
    path: Path
    rgb: np.ndarray
    alpha: np.ndarray
    fields: dict[int, np.ndarray] = field(default_factory=dict)
    sized: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def aspect(self) -> float:
        """Width over height."""
        return self.alpha.shape[1] / self.alpha.shape[0]

    def height_at(self, width: int) -> int:
        """Its height when ``width`` pixels wide."""
        return max(4, round(width / self.aspect))

    def at_width(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(rgb float32, coverage 0-1 float32) resized to ``width`` (cached; not to be changed)."""
        if width not in self.sized:
            size = (width, self.height_at(width))
            alpha = cv2.resize(self.alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32)
            rgb = cv2.resize(self.rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
            self.sized[width] = (rgb, alpha / 255)
        return self.sized[width]

    def edge_template(self, width: int, sigma: float) -> np.ndarray:
        """The edge field at ``width``, with a border of ``_BORDER`` pixels (cached)."""
        key = (width, sigma)
        if key not in self.fields:
            rgb, alpha = self.at_width(width)
            pad = _BORDER
            alpha = cv2.copyMakeBorder(alpha * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT, 0)
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, 0)
            channels = [alpha] + [rgb[..., c] * alpha / 255 for c in range(3)]
            self.fields[key] = edge_field(channels, sigma)
        return self.fields[key]


@dataclass(frozen=True)
class _Place:
    """A place tried: top-left corner and width in work pixels, and its edge correlation."""

    score: float
    x: int
    y: int
    width: int


def overlay_reference(
    brand: str, path: Path, rgb: np.ndarray, alpha: np.ndarray
) -> OverlayReference:
    """A reference from its (h, w, 3) uint8 colours and (h, w) uint8 coverage.

    Large images are reduced to ``_REFERENCE_SIDE`` on their longest side first (templates are
    made from it at every searched width).
    """
    scale = _REFERENCE_SIDE / max(alpha.shape)
    if scale < 1:
        size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    return OverlayReference(brand, path, rgb, alpha)


class OverlayMatcher:
    """Finds translucent references fixed on screen; remembers where, for a tracker to hold.

    Args:
        references: the references.
        max_instances: places of one reference per keyframe.
    """

    def __init__(self, references: Sequence[OverlayReference], max_instances: int = 2) -> None:
        self.references = list(references)
        self.max_instances = max_instances
        self._memory: deque[np.ndarray] = deque(maxlen=_MEMORY)
        # The hits of the last two keyframes: a track starts from the earlier one's.
        self._held: deque[list[RegionMask]] = deque(maxlen=2)
        # Per reference, the places that passed on the last keyframes: an overlay is fixed, so
        # a place counts once the keyframes before showed it too (a slow mover drifts away).
        self._seen: list[deque[list[_Place]]] = self._no_places()

    def _no_places(self) -> list[deque[list[_Place]]]:
        return [deque(maxlen=STEADY_KEYFRAMES - 1) for _ in self.references]

    def holds(self, mask: RegionMask) -> bool:
        """Whether ``mask`` is (nearly) a recent hit of this matcher: an overlay to hold still."""
        return any(_same_place(mask, held) for hits in self._held for held in hits)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Overlays on an (H, W, 3) uint8 RGB keyframe (which joins the remembered ones)."""
        if not self.references:
            return Detections.empty()
        height, width = rgb.shape[:2]
        scale = min(1.0, _WORK_WIDTH / width)
        small = (
            rgb
            if scale == 1.0
            else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        picture = small.astype(np.float32)
        here = edge_field([picture[..., c] for c in range(3)])
        if self._memory and self._memory[-1].shape != here.shape:
            self._memory.clear()
            self._seen = self._no_places()
        self._memory.append(here)
        work = np.mean(self._memory, axis=0) if len(self._memory) > 1 else here
        coarse = cv2.resize(work, None, fx=_COARSE, fy=_COARSE, interpolation=cv2.INTER_AREA)
        found = []
        for k, ref in enumerate(self.references):
            places = self._places(ref, coarse, work, picture)[: self.max_instances]
            confirmed = [
                p
                for p in places
                if len(self._seen[k]) == STEADY_KEYFRAMES - 1
                and all(any(_steady(p, q) for q in earlier) for earlier in self._seen[k])
            ]
            self._seen[k].append(places)
            for place in confirmed:
                mask = self._mask(ref, place, scale, (height, width))
                if mask is not None:
                    found.append((ref, place, mask))
        self._held.append([mask for _, _, mask in found])
        if not found:
            return Detections.empty()
        return Detections(
            xyxy=np.stack([mask.xyxy for _, _, mask in found]),
            confidence=[place.score for _, place, _ in found],
            brand=[ref.brand for ref, _, _ in found],
            source=["logo"] * len(found),
            cue=[str(ref.path) for ref, _, _ in found],
            masks=[mask for _, _, mask in found],
        )

    def _places(
        self, ref: OverlayReference, coarse: np.ndarray, work: np.ndarray, picture: np.ndarray
    ) -> list[_Place]:
        """The reference's places that pass the blend check, best first, none overlapping."""
        kept: list[_Place] = []
        for rough in _coarse_places(ref, coarse):
            place = _refine(ref, work, rough)
            if place is None or place.score < _MIN_SCORE:
                continue
            if any(_overlap(ref, place, other) for other in kept):
                continue
            if not _inside_agrees(ref, work, place):
                continue
            if blend_check(ref, picture, place.x, place.y, place.width) or (
                place.score >= _MIN_INNER_ONLY_SCORE
                and inner_blend_check(ref, picture, place.x, place.y, place.width)
            ):
                kept.append(place)
        return sorted(kept, key=lambda p: -p.score)

    @staticmethod
    def _mask(
        ref: OverlayReference, place: _Place, scale: float, frame_hw: tuple[int, int]
    ) -> RegionMask | None:
        width = max(1, round(place.width / scale))
        height = max(1, round(ref.height_at(place.width) / scale))
        alpha = cv2.resize(ref.alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        shape = alpha > max(int(ref.alpha.max()) // 2, 1)
        canvas = np.zeros(frame_hw, bool)
        x0, y0 = round(place.x / scale), round(place.y / scale)
        fx0, fy0 = max(x0, 0), max(y0, 0)
        fx1, fy1 = min(x0 + width, frame_hw[1]), min(y0 + height, frame_hw[0])
        if fx1 <= fx0 or fy1 <= fy0:
            return None
        canvas[fy0:fy1, fx0:fx1] = shape[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
        grow = max(1, round(_GROW_PX / scale))
        grown = cv2.dilate(canvas.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=grow)
        return RegionMask.from_dense(grown.astype(bool))


def _corner_response(field: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Normalised correlation of ``template`` over ``field``, only in the corner zones.

    A corner zone: where the template's centre lies in the outer third of the frame both
    across and down; the response is -1 elsewhere. The zones are at most four windows of the
    field: correlating those alone gives the values the whole field gives there (each place is
    normalised by its own window), at less cost.
    """
    height, width = field.shape[:2]
    th, tw = template.shape[:2]
    response = np.full((height - th + 1, width - tw + 1), -1.0, np.float32)
    rows = _outer_runs(np.arange(response.shape[0]) + th / 2, height)
    columns = _outer_runs(np.arange(response.shape[1]) + tw / 2, width)
    for y0, y1 in rows:
        for x0, x1 in columns:
            window = field[y0 : y1 + th - 1, x0 : x1 + tw - 1]
            response[y0:y1, x0:x1] = cv2.matchTemplate(window, template, cv2.TM_CCORR_NORMED)
    return response


def _outer_runs(centres: np.ndarray, extent: float) -> list[tuple[int, int]]:
    """The [start, stop) runs of ``centres`` in the outer thirds of ``extent``.

    Two runs, or one where the thirds meet.
    """
    outer = (centres < extent / 3) | (centres > 2 * extent / 3)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], outer.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _coarse_places(ref: OverlayReference, coarse: np.ndarray) -> list[_Place]:
    """The best place at each searched width on the half-size field, best first, in work px."""
    height, width = coarse.shape[:2]
    sigma = _FIELD_SIGMA * _COARSE
    places: list[_Place] = []
    size = _MIN_WIDTH * _COARSE
    while size <= _MAX_SHARE * width:
        w = round(size)
        size *= _WIDTH_STEP
        template = ref.edge_template(w, sigma)
        th, tw = template.shape[:2]
        if th - 2 * _BORDER > 0.45 * height or th >= height or tw >= width:
            continue
        response = _corner_response(coarse, template)
        for y, x in _peaks(response, _PEAKS_PER_WIDTH):
            places.append(
                _Place(
                    float(response[y, x]),
                    round((x + _BORDER) / _COARSE),
                    round((y + _BORDER) / _COARSE),
                    round(w / _COARSE),
                )
            )
    places.sort(key=lambda p: -p.score)
    distinct: list[_Place] = []
    for place in places:
        if all(
            abs(place.x - o.x) > 8 or abs(place.y - o.y) > 8 or abs(place.width / o.width - 1) > 0.3
            for o in distinct
        ):
            distinct.append(place)
        if len(distinct) == _CANDIDATES:
            break
    return distinct


def _peaks(response: np.ndarray, count: int) -> np.ndarray:
    """The (y, x) of the ``count`` highest positive local maxima of ``response``, best first."""
    kernel = np.ones((2 * _PEAK_GAP + 1,) * 2, np.uint8)
    peaks = (response == cv2.dilate(response, kernel)) & (response > 0)
    where = np.argwhere(peaks)
    order = np.argsort(-response[peaks], kind="stable")[:count]
    return where[order]


def _refine(ref: OverlayReference, work: np.ndarray, rough: _Place) -> _Place | None:
    """The best place near ``rough`` on the work-size field.

    Widths and shifts around it, then the widths a pixel or two either side of the best (a mask
    one pixel off at the work size is two off on a 1280-wide frame).
    """
    near = _best_near(ref, work, rough, _REFINE_STEPS, _REFINE_PX)
    if near is None:
        return None
    finer = _best_near(ref, work, near, _FINE_STEPS, 1)
    return near if finer is None or finer.score < near.score else finer


def _best_near(
    ref: OverlayReference, work: np.ndarray, rough: _Place, steps: Sequence[float], shift: int
) -> _Place | None:
    height, width = work.shape[:2]
    best: _Place | None = None
    for w in sorted({round(rough.width * step) for step in steps}):
        template = ref.edge_template(w, _FIELD_SIGMA)
        th, tw = template.shape[:2]
        x0 = max(rough.x - _BORDER - shift, 0)
        y0 = max(rough.y - _BORDER - shift, 0)
        x1 = min(rough.x - _BORDER + shift + tw, width)
        y1 = min(rough.y - _BORDER + shift + th, height)
        if x1 - x0 < tw or y1 - y0 < th:
            continue
        response = cv2.matchTemplate(work[y0:y1, x0:x1], template, cv2.TM_CCORR_NORMED)
        y, x = np.unravel_index(int(np.argmax(response)), response.shape)
        score = float(response[y, x])
        if best is None or score > best.score:
            best = _Place(score, x0 + x + _BORDER, y0 + y + _BORDER, w)
    return best


def _inside_agrees(ref: OverlayReference, work: np.ndarray, place: _Place) -> bool:
    """Whether the edges inside the outline match the reference's own inner edges.

    Many marks share an outline (round badges, rounded squares); what is inside tells them
    apart. A reference with little inside its outline passes.
    """
    template = ref.edge_template(place.width, _FIELD_SIGMA)
    th, tw = template.shape[:2]
    x0, y0 = place.x - _BORDER, place.y - _BORDER
    if x0 < 0 or y0 < 0 or y0 + th > work.shape[0] or x0 + tw > work.shape[1]:
        return True
    _, alpha = ref.at_width(place.width)
    inner = cv2.erode((alpha > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=4)
    keep = np.zeros((th, tw), np.float32)
    keep[_BORDER : _BORDER + alpha.shape[0], _BORDER : _BORDER + alpha.shape[1]] = inner
    own = template * keep[..., None]
    own_energy = float((own * own).sum())
    if own_energy < _MIN_INSIDE_SHARE * float((template * template).sum()):
        return True
    seen = work[y0 : y0 + th, x0 : x0 + tw] * keep[..., None]
    agreement = float((own * seen).sum()) / max(
        np.sqrt(own_energy * float((seen * seen).sum())), 1e-6
    )
    return agreement >= _MIN_INSIDE_SCORE


def blend_check(ref: OverlayReference, picture: np.ndarray, x: int, y: int, width: int) -> bool:
    """Whether the picture just inside the reference's outline at (x, y, width) is a blend.

    Args:
        ref: the reference.
        picture: (H, W, 3) float32 RGB at the work size.
        x: left column of the reference's box in ``picture``.
        y: top row.
        width: its width.

    Returns:
        True when one opacity in [_MIN_OPACITY, _MAX_OPACITY] explains at least
        ``_MIN_EXPLAINED`` of the colour change across the outline (the picture behind taken
        as the picture just outside, smoothed).
    """
    rgb, alpha = ref.at_width(width)
    h, w = alpha.shape
    pad = _RING_PX + 3
    padded = cv2.copyMakeBorder(picture, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    y0, x0 = y, x  # in padded coordinates, the box starts at pad + y; the crop starts at y
    if y0 < 0 or x0 < 0 or y0 + h + 2 * pad > padded.shape[0] or x0 + w + 2 * pad > padded.shape[1]:
        return False
    crop = padded[y0 : y0 + h + 2 * pad, x0 : x0 + w + 2 * pad]
    cover = np.zeros(crop.shape[:2], np.float32)
    cover[pad : pad + h, pad : pad + w] = alpha
    colours = np.zeros(crop.shape, np.float32)
    colours[pad : pad + h, pad : pad + w] = rgb
    inside = (cover > 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    ring = (cv2.dilate(inside, kernel, iterations=_RING_PX) > 0) & ~(
        cv2.dilate(inside, kernel, iterations=1) > 0
    )
    band = (inside > 0) & ~(cv2.erode(inside, kernel, iterations=_BAND_PX) > 0) & (cover > 0.9)
    if band.sum() < 10 or ring.sum() < 10:
        return False
    weight = ring.astype(np.float32)
    reach = cv2.GaussianBlur(weight, (0, 0), 3)
    behind = (
        cv2.GaussianBlur(crop * weight[..., None], (0, 0), 3) / np.maximum(reach, 1e-3)[..., None]
    )
    band &= reach >= _MIN_REACH  # band pixels with picture just outside them (not deep holes)
    if band.sum() < 10:
        return False
    change = (crop - behind)[band]
    towards = (colours - behind)[band]
    if np.sqrt(float((change * change).sum(axis=1).mean())) < _MIN_CHANGE:
        return False  # no visible outline: a plain patch of picture fits any blend
    opacity = float((change * towards).sum() / max(float((towards * towards).sum()), 1e-6))
    explained = 1 - float(((change - opacity * towards) ** 2).sum()) / max(
        float((change * change).sum()), 1e-6
    )
    if not (_MIN_OPACITY <= opacity <= _MAX_OPACITY and explained >= _MIN_EXPLAINED):
        return False
    # One overlay has one opacity all round: each quarter of the outline (by its angle from
    # the middle) must blend at nearly the same one.
    ys, xs = np.nonzero(band)
    angle = np.arctan2(ys - ys.mean(), xs - xs.mean())
    quarter = ((angle + np.pi) / (np.pi / 2)).astype(int) % 4
    opacities = []
    for q in range(4):
        pick = quarter == q
        weight = float((towards[pick] ** 2).sum())
        if pick.sum() >= 10 and weight > 1e-6:
            opacities.append(float((change[pick] * towards[pick]).sum()) / weight)
    return len(opacities) < 2 or max(opacities) - min(opacities) <= _OPACITY_SPREAD


def _gradients(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 6) float32 x and y Sobel gradients of each channel of an (h, w, 3) float32 image."""
    return np.dstack(
        [
            cv2.Sobel(rgb[..., c], cv2.CV_32F, dx, dy)
            for c in range(3)
            for dx, dy in ((1, 0), (0, 1))
        ]
    )


def inner_blend_check(
    ref: OverlayReference, picture: np.ndarray, x: int, y: int, width: int
) -> bool:
    """Whether the colour gradients inside the reference's outline at (x, y, width) are its own.

    A translucent mark over a smooth picture shows its own inner edges scaled by its opacity:
    where the reference's gradients are strong (``_INNER_STRONG`` of its strongest), one
    opacity in [_MIN_OPACITY, _MAX_OPACITY] must explain ``_MIN_INNER_EXPLAINED`` of the
    picture's gradients, in every colour channel and both directions at once.
    """
    rgb, alpha = ref.at_width(width)
    h, w = alpha.shape
    if x < 0 or y < 0 or y + h > picture.shape[0] or x + w > picture.shape[1]:
        return False
    region = cv2.erode((alpha > 0.9).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not region.any():
        return False
    own = _gradients(rgb)
    seen = _gradients(picture[y : y + h, x : x + w])
    strength = np.sqrt((own * own).sum(axis=2))
    strong = region & (strength >= _INNER_STRONG * float(strength[region].max()))
    if strong.sum() < _MIN_INNER_PIXELS:
        return False
    own, seen = own[strong], seen[strong]
    opacity = float((own * seen).sum() / max(float((own * own).sum()), 1e-6))
    explained = 1 - float(((seen - opacity * own) ** 2).sum()) / max(
        float((seen * seen).sum()), 1e-6
    )
    return _MIN_OPACITY <= opacity <= _MAX_OPACITY and explained >= _MIN_INNER_EXPLAINED


def _overlap(ref: OverlayReference, a: _Place, b: _Place) -> bool:
    ha, hb = ref.height_at(a.width), ref.height_at(b.width)
    ix = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    iy = min(a.y + ha, b.y + hb) - max(a.y, b.y)
    return ix > 0 and iy > 0 and ix * iy > 0.3 * min(a.width * ha, b.width * hb)


def _steady(a: _Place, b: _Place) -> bool:
    """Whether two places on successive keyframes are one fixed place (refinement jitter)."""
    return (
        abs(a.x - b.x) <= _STEADY_PX
        and abs(a.y - b.y) <= _STEADY_PX
        and abs(a.width / b.width - 1) <= 0.03
    )


def _same_place(a: RegionMask, b: RegionMask) -> bool:
    return bool(box_iou(a.xyxy[None], b.xyxy[None])[0, 0] >= _SAME_PLACE)
