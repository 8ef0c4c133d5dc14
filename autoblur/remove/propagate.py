"""The ``propagate`` inpainter: fills a logo with the real background seen in other frames.

When the logo or the camera moves, what the logo hides on one frame is visible on others. For
each frame the remover follows the background (a homography between consecutive frames, fitted
to tracked corners outside every mask, or a rigid local motion where the surface around the
hole moves on its own) to the frames before and after it within a bounded window, warps the
nearest ones that show the hidden pixels, keeps those whose border agrees with the frame
(after a per-channel gain correction), and gives each pixel the median of up to five such
views. What no frame ever showed is filled spatially; no frame across a cut is used. Where
the hole's surroundings move from frame to frame more than the background motion explains,
the fill gives way to a spatial one (:mod:`autoblur.remove.moving_surroundings`). Frames
stream through a window of ``2 * temporal_window + 1``, so memory does not grow with video
length.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from autoblur.config import PipelineConfig, RemoveConfig
from autoblur.remove.base import INPAINTERS, MaskedFrame
from autoblur.remove.moving_surroundings import (
    border_change,
    largest_channel,
    surroundings_trust,
)
from autoblur.remove.nearest_border import NearestBorder, smooth_along
from autoblur.remove.spatial import BlurRemover, TeleaInpainter, paste_replacement
from autoblur.types import RegionMask, union_mask

_MOTION_SIDE = 640
_MIN_MOTION_POINTS = 20
_CORNERS = 400  # tracked per frame pair; more fit the same motions, only slower
_LOCAL_POINTS = 24
_LOCAL_PX = 1.5  # tolerance of the local motion fits, full-resolution pixels
_REGION_GRID = 48  # regions this close share one local motion fit
_RING_PX = 8
_RING_SAMPLES = 2000  # border pixels compared per source
_CANDIDATES = 5  # views gathered per hidden pixel
_EVERY_FRAME_WITHIN = 8  # frames this near are all looked at, farther ones sparsely
_RANSAC_ITERATIONS = 5000  # motion fits settle on the same consensus from frame to frame
_BORDER_SIGMA_PX = 3.0  # a source's border errors are averaged this far along the border
_LOCAL_TOLERANCE = 1.0  # a view is used where its nearby border error is within this x tolerance
_SPREAD = 2.0  # views of a pixel further apart than this x tolerance show something moving
_ONE_VIEW = 0.75  # confidence of a pixel that one frame shows (nothing to cross-check it)
_SPATIAL = 0.5  # confidence of a pixel filled spatially


class _Unset:
    """The motion to the next frame, not estimated yet."""


_UNSET = _Unset()


@dataclass
class _Buffered:
    """A frame held in the window."""

    item: MaskedFrame
    original: np.ndarray
    hidden: RegionMask | None
    gray: np.ndarray
    # Background motion to the next frame: None across a cut or where it cannot be followed;
    # left unset until a fill needs it (most frames of a programme have nothing to fill).
    to_next: _Motion | None | _Unset = _UNSET


@dataclass
class _Motion:
    """Background motion from one frame to the next, in full-resolution pixels.

    Attributes:
        points: (N, 2) float32 tracked corners on the earlier frame.
        moved: (N, 2) float32 where they are on the later frame.
        overall: the homography fitted to all of them.
    """

    points: np.ndarray
    moved: np.ndarray
    overall: np.ndarray
    cache: dict = field(default_factory=dict)

    def near(self, region_xyxy: tuple[int, int, int, int]) -> np.ndarray:
        """The motion (3x3) of the surface around a region (x0, y0, x1, y1).

        A logo on a moving bus must be filled with the bus, not the road: when a rigid motion
        explains the corners nearest the hole clearly better than the frame's homography
        does, that motion is used, else the frame's.
        """
        key = tuple(round(v / _REGION_GRID) for v in region_xyxy)
        if key not in self.cache:
            self.cache[key] = self._fit_near(region_xyxy)
        return self.cache[key]

    def _fit_near(self, region_xyxy: tuple[int, int, int, int]) -> np.ndarray:
        x0, y0, x1, y1 = region_xyxy
        dx = np.maximum(np.maximum(x0 - self.points[:, 0], self.points[:, 0] - x1), 0)
        dy = np.maximum(np.maximum(y0 - self.points[:, 1], self.points[:, 1] - y1), 0)
        nearest = np.argsort(np.hypot(dx, dy))[:_LOCAL_POINTS]
        if len(nearest) < _LOCAL_POINTS:
            return self.overall
        points, moved = self.points[nearest], self.moved[nearest]
        predicted = cv2.perspectiveTransform(points[None], self.overall)[0]
        frame_fits = int((np.linalg.norm(predicted - moved, axis=1) < _LOCAL_PX).sum())
        # A rigid motion (4 degrees of freedom) of the surroundings: a homography of a small
        # cluster could bend itself through walking people and the still ground alike.
        local, inliers = cv2.estimateAffinePartial2D(
            points,
            moved,
            method=cv2.RANSAC,
            ransacReprojThreshold=_LOCAL_PX,
            maxIters=_RANSAC_ITERATIONS,
            confidence=0.9999,
        )
        if local is None:
            return self.overall
        local_fits = int(inliers.sum())
        if local_fits >= _LOCAL_POINTS // 2 and local_fits > 1.5 * frame_fits:
            return np.vstack([local, [0, 0, 1]])  # the surface around moves on its own
        return self.overall


def _median_of_views(views: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of the first ``count`` (N,) of (K, N, ...) ``views``, per pixel and channel."""
    ordered = np.sort(views, axis=0)  # the unused (NaN) slots sort last
    shape = (1, len(count)) + (1,) * (views.ndim - 2)
    low = np.broadcast_to(((count - 1) // 2).reshape(shape), (1, *views.shape[1:]))
    high = np.broadcast_to((count // 2).reshape(shape), (1, *views.shape[1:]))
    middle = np.take_along_axis(ordered, low, 0) + np.take_along_axis(ordered, high, 0)
    return middle[0] / 2


def _texture(crop: np.ndarray, index: np.ndarray) -> float:
    """Median step to the next pixel right or down (largest channel) at flat ``index``."""
    if not len(index):
        return 0.0
    pixels = crop.astype(np.int16)
    step = np.zeros(crop.shape[:2], np.int16)
    step[:, :-1] = largest_channel(np.abs(np.diff(pixels, axis=1)))
    step[:-1] = np.maximum(step[:-1], largest_channel(np.abs(np.diff(pixels, axis=0))))
    return float(np.median(step.reshape(-1)[index]))


def _looked_at(source: _Buffered, distance: int) -> bool:
    """Whether a frame ``distance`` away is used as a source.

    Far frames show much what their neighbours show, so only every third one is used, the
    same ones for every frame that looks at them, which keeps consecutive fills alike.
    """
    return distance <= _EVERY_FRAME_WITHIN or source.item.frame.index % 3 == 0


def _shift(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


class PropagateInpainter:
    """Temporal inpainting from neighbouring frames, spatial fill for what none shows.

    Args:
        config: the pipeline config; ``remove.temporal_window`` frames on each side are used.
    """

    action = "inpaint"

    def __init__(self, config: PipelineConfig) -> None:
        self.config: RemoveConfig = config.remove
        self.window = config.remove.temporal_window
        self.spatial = TeleaInpainter(config)
        self.blur = BlurRemover(config)
        # (k, n): fill only the frames at stream positions k, k + n, ... (the others pass
        # through unfilled), so that n workers share a stream (autoblur.remove.worker).
        self.share = (0, 1)

    @property
    def lag(self) -> int:
        """Frames the output lags the input by."""
        return self.window

    def __call__(self, frames: Iterator[MaskedFrame]) -> Iterator[MaskedFrame]:
        """See :class:`autoblur.remove.base.Remover`; output lags input by the window."""
        buffer: deque[_Buffered] = deque()
        first = 0  # stream position of buffer[0]
        emitted = 0
        for position, item in enumerate(frames):
            entry = self._enter(item)
            if buffer and item.starts_shot:  # no frame of another shot is a source
                buffer[-1].to_next = None
            buffer.append(entry)
            while emitted + self.window <= position:
                yield self._emit(buffer, emitted - first, emitted)
                emitted += 1
                while first < emitted - self.window:
                    buffer.popleft()
                    first += 1
        while emitted - first < len(buffer):
            yield self._emit(buffer, emitted - first, emitted)
            emitted += 1

    def _enter(self, item: MaskedFrame) -> _Buffered:
        rgb = item.frame.rgb
        scale = min(1.0, _MOTION_SIDE / max(rgb.shape[:2]))
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        hidden = union_mask(list(item.masks.values()))
        return _Buffered(item=item, original=rgb.copy(), hidden=hidden, gray=gray)

    def _motion(self, earlier: _Buffered, later: _Buffered) -> _Motion | None:
        """Background motion from ``earlier``'s pixel coordinates to ``later``'s."""
        scale = earlier.gray.shape[1] / earlier.original.shape[1]
        allowed = np.full(earlier.gray.shape, 255, np.uint8)
        if earlier.hidden is not None:
            hidden = cv2.resize(
                earlier.hidden.dilate(_RING_PX).to_dense().astype(np.uint8),
                earlier.gray.shape[::-1],
                interpolation=cv2.INTER_NEAREST,
            )
            allowed[hidden > 0] = 0
        points = cv2.goodFeaturesToTrack(
            earlier.gray, _CORNERS, 0.005, 6, mask=allowed, blockSize=5
        )
        if points is None or len(points) < _MIN_MOTION_POINTS:
            return None
        moved, status, _ = cv2.calcOpticalFlowPyrLK(earlier.gray, later.gray, points, None)
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(later.gray, earlier.gray, moved, None)
        error = np.linalg.norm((back - points).reshape(-1, 2), axis=1)
        good = (status.ravel() == 1) & (status_back.ravel() == 1) & (error < 0.5)
        if good.sum() < _MIN_MOTION_POINTS:
            return None
        points, moved = points[good].reshape(-1, 2) / scale, moved[good].reshape(-1, 2) / scale
        homography, inliers = cv2.findHomography(
            points, moved, cv2.RANSAC, 1.0 / scale, maxIters=_RANSAC_ITERATIONS, confidence=0.999
        )
        if homography is None or inliers.sum() < _MIN_MOTION_POINTS:
            return None
        return _Motion(points=points, moved=moved, overall=homography)

    def _to_next(self, buffer: deque[_Buffered], index: int) -> _Motion | None:
        """The motion from ``buffer[index]`` to the frame after it (estimated when first asked)."""
        entry = buffer[index]
        if isinstance(entry.to_next, _Unset):
            entry.to_next = self._motion(entry, buffer[index + 1])
        return entry.to_next

    def _emit(self, buffer: deque[_Buffered], index: int, position: int) -> MaskedFrame:
        entry = buffer[index]
        mask = entry.item.masks.get(self.action)
        if mask is None or position % self.share[1] != self.share[0]:
            return entry.item
        pad = _RING_PX + self.config.feather_px + 2
        rgb = entry.item.frame.rgb

        def replace(
            crop: np.ndarray, crop_mask: np.ndarray, box: tuple[int, int, int, int]
        ) -> np.ndarray:
            filled, confidence = self._fill(buffer, index, crop, crop_mask, box)
            entry.item.fill_confidence.extend(
                (self.action, region, value)
                for region, value in _region_confidence(crop_mask, confidence, box)
            )
            return filled

        entry.item.mark_changed(paste_replacement(rgb, mask, pad, self.config.feather_px, replace))
        return entry.item

    def _sources(
        self, buffer: deque[_Buffered], index: int, region: tuple[int, int, int, int]
    ) -> Iterator[tuple[_Buffered, np.ndarray, int]]:
        """Other frames of the window nearest first, with their homography onto ``index``.

        Each comes with how many frames away it is. The motion is that of the surface around
        ``region`` (x0, y0, x1, y1); a frame pair whose motion could not be followed (a cut, a
        blank frame) ends the search that way.
        """
        back, ahead = np.eye(3), np.eye(3)
        back_ok = ahead_ok = True
        for distance in range(1, self.window + 1):
            if back_ok and index - distance >= 0:
                step = self._to_next(buffer, index - distance)
                back_ok = step is not None
                if back_ok:
                    back = back @ step.near(region)
                    if _looked_at(buffer[index - distance], distance):
                        yield buffer[index - distance], back, distance
            if ahead_ok and index + distance < len(buffer):
                step = self._to_next(buffer, index + distance - 1)
                ahead_ok = step is not None
                if ahead_ok:
                    ahead = ahead @ np.linalg.inv(step.near(region))
                    if _looked_at(buffer[index + distance], distance):
                        yield buffer[index + distance], ahead, distance

    def _fill(
        self,
        buffer: deque[_Buffered],
        index: int,
        crop: np.ndarray,
        crop_mask: np.ndarray,
        box: tuple[int, int, int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """The crop with its masked pixels filled from other frames, spatially where none shows.

        Each hidden pixel gathers up to ``_CANDIDATES`` views from the frames nearest in time
        that show it and agree with this frame around the hole, overall and near that pixel;
        with three or more it takes their median, so a person who walked through one of those
        frames does not end up in the fill, and neighbouring frames, which share most of their
        views, get the same fill. Where the views disagree with each other (something moved
        there) or none agrees with the surroundings, the pixel is filled spatially (or blurred,
        as ``remove.ghost_fallback`` says) rather than pasted from a frame that shows
        something else in its place; where the surroundings move on their own from frame to
        frame (see :mod:`autoblur.remove.moving_surroundings`), the temporal fill is blended
        into the spatial one as far as they do.

        Returns:
            The (h, w, 3) float32 filled crop, and the (h, w) float32 confidence of each masked
            pixel's fill in [0, 1] (1: several frames agree; 0.5: a spatial fill).
        """
        x0, y0, x1, y1 = box
        size, shape = (x1 - x0, y1 - y0), crop_mask.shape
        here = buffer[index]
        trusted = np.ones(shape, bool)
        if here.hidden is not None:
            trusted &= ~here.hidden.crop(box)
        ring = cv2.dilate(crop_mask.astype(np.uint8), np.ones((2 * _RING_PX + 1,) * 2, np.uint8))
        border = (ring.astype(bool) & ~crop_mask & trusted).reshape(-1)
        ring_index = np.flatnonzero(border)
        ring_index = ring_index[:: max(1, len(ring_index) // _RING_SAMPLES)]
        hole_index = np.flatnonzero(crop_mask)  # the hidden pixels, as flat crop indices
        views = np.full((_CANDIDATES, len(hole_index), 3), np.nan, np.float32)
        count = np.zeros(len(hole_index), np.int8)
        reference = crop.reshape(-1, 3)[ring_index].astype(np.float32)
        # A source one pixel off differs from a textured border by about its pixel-to-pixel
        # step: that much is allowed on top of the configured tolerance.
        tolerance = self.config.temporal_consistency + _texture(crop, ring_index)
        nearest = NearestBorder(border, crop_mask.shape)
        change = np.full(border.shape, np.inf, np.float32)  # the border's, to adjacent frames
        for source, homography, distance in self._sources(buffer, index, box):
            onto_crop = _shift(-x0, -y0) @ homography
            valid = self._shown(source, homography, onto_crop, box, size).reshape(-1)
            take = np.flatnonzero(valid[hole_index] & (count < _CANDIDATES))
            if not len(take) and distance > 1:
                continue  # this frame shows nothing that still needs views
            warped = cv2.warpPerspective(source.original, onto_crop, size, flags=cv2.INTER_LINEAR)
            warped = warped.reshape(-1, 3)
            if distance == 1:
                change = np.minimum(change, border_change(warped, crop, border & valid))
            gain = self._agreement(warped, reference, ring_index, valid, tolerance)
            if gain is None or not len(take):
                continue
            near = _agrees_nearby(warped, crop, gain, nearest, valid, tolerance)
            take = take[near[hole_index[take]]]
            if not len(take):
                continue
            views[count[take], take] = warped[hole_index[take]] * gain
            count[take] += 1
            if count.min() >= _CANDIDATES and distance > 1:
                break
        filled = views[0]  # with one or two views: the nearest frame that shows it
        several = count >= 3
        filled[several] = _median_of_views(views[:, several], count[several])
        spread = np.zeros(len(hole_index), np.float32)
        pairs = count >= 2
        if pairs.any():
            deviation = largest_channel(np.abs(views[:, pairs] - filled[None, pairs]))
            spread[pairs] = _median_of_views(deviation, count[pairs])
        seen = (count > 0) & (spread <= _SPREAD * tolerance)
        trust = surroundings_trust(change, tolerance)
        weight = np.where(seen, trust, 0)
        view_confidence = np.where(
            count >= 2, 1 - 0.5 * np.clip(spread / (_SPREAD * tolerance), 0, 1), _ONE_VIEW
        )
        confidence = np.zeros(crop_mask.shape, np.float32)
        confidence.reshape(-1)[hole_index] = weight * view_confidence + (1 - weight) * _SPATIAL
        target = crop.astype(np.float32)
        flat = target.reshape(-1, 3)
        # Where the surroundings move, the spatial fill from the frame's own border takes over.
        spatial = self._spatial(crop, crop_mask).reshape(-1, 3) if trust < 1 else None

        def put(pixels: np.ndarray, values: np.ndarray) -> None:
            flat[pixels] = (
                values if spatial is None else (trust * values + (1 - trust) * spatial[pixels])
            )

        put(hole_index[seen], np.clip(filled[seen], 0, 255))
        remaining = hole_index[~seen]
        if len(remaining):
            # What no frame shows continues the fill around it.
            hole = np.zeros(crop_mask.size, bool)
            hole[remaining] = True
            around = self._spatial((target + 0.5).astype(np.uint8), hole.reshape(shape))
            put(remaining, around.reshape(-1, 3)[remaining])
        return target, confidence

    def _spatial(self, crop: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """(h, w, 3) float32 the crop's (h, w) ``hole`` filled spatially, blurred if configured."""
        filled = self.spatial.replace(crop, hole)
        if self.config.ghost_fallback == "blur":
            filled = self.blur.replace(filled, hole)
        return filled.astype(np.float32)

    @staticmethod
    def _shown(
        source: _Buffered,
        homography: np.ndarray,
        onto_crop: np.ndarray,
        box: tuple[int, int, int, int],
        size: tuple[int, int],
    ) -> np.ndarray:
        """Crop pixels that ``source`` shows: inside its frame and outside its own masks."""
        x0, y0 = box[:2]
        valid = np.ones(size[::-1], bool)
        corners = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], float)
        back = cv2.perspectiveTransform(corners[None] + (x0, y0), np.linalg.inv(homography))[0]
        sh, sw = source.original.shape[:2]
        if back.min() < 0 or back[:, 0].max() >= sw or back[:, 1].max() >= sh:
            valid = cv2.warpPerspective(
                np.ones((sh, sw), np.uint8), onto_crop, size, flags=cv2.INTER_NEAREST
            ).astype(bool)
        if source.hidden is not None:
            mask = source.hidden
            covered = cv2.warpPerspective(
                mask.bitmap.view(np.uint8),
                onto_crop @ _shift(mask.x0, mask.y0),
                size,
                flags=cv2.INTER_NEAREST,
            )
            valid &= covered == 0
        return valid

    @staticmethod
    def _agreement(
        warped: np.ndarray,
        reference: np.ndarray,
        ring_index: np.ndarray,
        valid: np.ndarray,
        tolerance: float,
    ) -> np.ndarray | None:
        """Per-channel gain matching ``warped`` to the frame around the hole; None if they disagree.

        Args:
            warped: (h * w, 3) a source frame warped onto the crop, flat.
            reference: (N, 3) float32 the crop's own pixels at ``ring_index``.
            ring_index: flat indices of border pixels around the hole the frame itself shows.
            valid: (h * w,) bool pixels the source shows, flat.
            tolerance: the largest median error (grey levels, largest channel) accepted.
        """
        seen = valid[ring_index]
        if seen.sum() < 20:
            return None
        source = warped[ring_index[seen]].astype(np.float32)
        reference = reference[seen]
        # Medians: people walking through the border must not veto a good source.
        gain = np.clip(
            (np.median(reference, axis=0) + 1) / (np.median(source, axis=0) + 1), 0.8, 1.25
        )
        error = np.median(largest_channel(np.abs(source * gain - reference)))
        return gain if error <= tolerance else None


def _agrees_nearby(
    warped: np.ndarray,
    crop: np.ndarray,
    gain: np.ndarray,
    nearest: NearestBorder,
    valid: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """(h * w,) bool crop pixels where a source agrees with the border nearest to them.

    What a hole hides continues what is next to it, so each hidden pixel is judged by the
    border nearest to it: a source that agrees on one side of the hole and shows something
    else on the other (a person who walked on, behind the mark) is used on the first side
    only. The errors (grey levels, largest channel, after ``gain``) are averaged a little
    along the border, capped at four tolerances, and must be within ``_LOCAL_TOLERANCE``
    tolerances.

    Args:
        warped: (h * w, 3) the source warped onto the crop, flat.
        crop: (h, w, 3) uint8 the crop of this frame.
        gain: (3,) the source's per-channel gain.
        nearest: the border this frame shows around the hole.
        valid: (h * w,) bool the pixels the source shows, flat.
        tolerance: the source tolerance (grey levels).
    """
    judged = nearest.border & valid
    if not judged.any():
        return np.zeros(judged.shape, bool)
    error = np.zeros(judged.shape, np.float32)
    diff = np.abs(warped[judged].astype(np.float32) * gain - crop.reshape(-1, 3)[judged])
    error[judged] = np.minimum(largest_channel(diff), 4 * tolerance)
    smooth = smooth_along(error, judged, nearest.shape, _BORDER_SIGMA_PX)
    limit = _LOCAL_TOLERANCE * tolerance
    if smooth[judged].max() <= limit:  # agrees all around: no need to know which side is nearer
        return np.ones(judged.shape, bool)
    if judged.sum() < nearest.border.sum():  # the source does not show all of the border
        nearest = NearestBorder(judged, nearest.shape)
    return smooth[nearest.nearest] <= limit


def _region_confidence(
    crop_mask: np.ndarray, confidence: np.ndarray, box: tuple[int, int, int, int]
) -> list[tuple[tuple[int, int, int, int], float]]:
    """Each connected region of the crop's mask: its frame box and mean fill confidence."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(crop_mask.astype(np.uint8), 8)
    regions = []
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        value = float(confidence[labels == label].mean())
        regions.append(((box[0] + x, box[1] + y, box[0] + x + w, box[1] + y + h), value))
    return regions


@INPAINTERS.register("propagate")
def build_propagate(config: PipelineConfig) -> PropagateInpainter:
    """Temporal inpainting from neighbouring frames; needs no weights, commercially safe."""
    return PropagateInpainter(config)
