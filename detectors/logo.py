"""Reference-logo detector: SIFT features, ratio test, RANSAC homographies, several instances.

Each instance's mask is the reference's silhouette warped by its homography, so a round logo
gives a round mask under any perspective, not a box. References that are flat marks (a few
solid colours) are searched by the flat-mark detector (``detectors.flat``) first, and by SIFT
on every keyframe where the flat matcher finds no instance of them: neither search excludes
the other (a flat badge with lettering can be missed by one and found by the other). Every
reference is also searched as a translucent overlay fixed in a corner (``detectors.overlay``)
on whole frames; where that finds one, its fit replaces the others' fits there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from autoblur.config import DetectConfig, LogoDetectorConfig, PipelineConfig
from autoblur.errors import ConfigError
from autoblur.types import BrandCue, Detections, RegionMask, box_iou
from detectors.base import DETECTORS
from detectors.flat import FlatMatcher, prepare_flat_reference
from detectors.overlay import OverlayMatcher, overlay_reference
from detectors.reference import plausible_quad, read_logo, silhouette_of

_REFERENCE_MIN_SIDE = 400
_REFERENCE_SCALES = (1.0, 0.5, 0.25)
_REFERENCE_MIN_VIEW_PX = 48
_SAME_POINT_PX = 8.0
_NEIGHBOURS = 6
_RANSAC_ITERATIONS = 20000
_RANSAC_SEED = 7
_EXTRA_ATTEMPTS = 1
# A fit whose reference outline lies mostly outside the frame is thrown there by a few stray
# matches (15 in foliage put a 400 px reference on a quad five frames wide: 7 % inside); a mark
# leaving through an edge is found while it is at least half in.
_MIN_INSIDE = 0.25


@dataclass(frozen=True)
class LogoReference:
    """One reference image, prepared for matching.

    Attributes:
        brand: the brand it belongs to.
        path: the image file.
        keypoints_xy: (K, 2) float32 keypoint positions in the prepared image.
        descriptors: (K, 128) float32 SIFT descriptors.
        silhouette: region mask of the logo's own pixels in the prepared image.
    """

    brand: str
    path: Path
    keypoints_xy: np.ndarray
    descriptors: np.ndarray
    silhouette: RegionMask


def _views(gray: np.ndarray, alpha: np.ndarray | None) -> list[tuple[float, np.ndarray]]:
    """The reference as SIFT should see it: at several scales, over dark and light ground.

    Flat graphic logos give few features, and which ones depends on the scale and on the
    picture behind transparent parts (black lettering vanishes over black), so the reference
    is described over both grounds and at 1, 1/2 and 1/4 size.
    """
    if alpha is None:
        grounds = [gray]
    else:
        weight = alpha.astype(np.float32) / 255
        grounds = [(weight * gray + (1 - weight) * g).astype(np.uint8) for g in (0, 255)]
    views = []
    for scale in _REFERENCE_SCALES:
        if scale < 1 and min(gray.shape) * scale < _REFERENCE_MIN_VIEW_PX:
            break
        for ground in grounds:
            views.append(
                (
                    scale,
                    ground
                    if scale == 1
                    else cv2.resize(ground, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                )
            )
    return views


def prepare_reference(
    brand: str, path: Path, sift: cv2.SIFT, config: LogoDetectorConfig
) -> LogoReference:
    """Load, rescale and describe one reference image.

    Raises:
        ConfigError: unreadable image, or too little texture to match.
    """
    rgb, alpha = read_logo(path)
    longest = max(rgb.shape[:2])
    scale = min(config.reference_max_side / longest, max(1.0, _REFERENCE_MIN_SIDE / longest))
    if scale != 1.0:
        size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        alpha = None if alpha is None else cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
    silhouette = silhouette_of(rgb, alpha)
    support = cv2.dilate(silhouette.astype(np.uint8) * 255, np.ones((9, 9), np.uint8))
    points, descriptors = [], []
    for view_scale, view in _views(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), alpha):
        view_support = cv2.resize(support, view.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        keypoints, found = sift.detectAndCompute(view, view_support)
        if found is not None:
            points += [(kp.pt[0] / view_scale, kp.pt[1] / view_scale) for kp in keypoints]
            descriptors.append(found)
    if len(points) < config.min_inliers:
        raise ConfigError(
            f"{path}: logo image of brand {brand!r} has too little detail to match "
            f"({len(points)} features, need {config.min_inliers}); use a larger or sharper "
            "reference"
        )
    return LogoReference(
        brand=brand,
        path=path,
        keypoints_xy=np.float32(points),
        descriptors=np.vstack(descriptors),
        silhouette=RegionMask(0, 0, silhouette, silhouette.shape),
    )


def _usac_params(threshold: float) -> cv2.UsacParams:
    """Homography search settings: MSAC scoring with inner local optimisation.

    OpenCV's USAC tests each hypothesis on a few points first (SPRT), so it affords five times
    the iterations of plain RANSAC in 1/25 of its time; the most common case, a keyframe
    without the logo (no hypothesis ever wins), is the one plain RANSAC spent longest on. A
    fixed seed keeps detections reproducible.
    """
    params = cv2.UsacParams()
    params.threshold = threshold
    params.maxIterations = _RANSAC_ITERATIONS
    params.confidence = 0.999
    params.sampler = cv2.SAMPLING_UNIFORM
    params.score = cv2.SCORE_METHOD_MSAC
    params.loMethod = cv2.LOCAL_OPTIM_INNER_LO
    params.randomGeneratorState = _RANSAC_SEED
    return params


class LogoDetector:
    """Finds every instance of the reference logos on a keyframe.

    Args:
        cues: brands; those with ``logos`` are used.
        config: detection settings.
    """

    name = "logo"
    # The sources of its detections: SIFT, the flat-colour matcher (overlays say "logo").
    sources = ("logo", "flat")

    def __init__(self, cues: Sequence[BrandCue], config: DetectConfig) -> None:

        self.config = config.logo
        self._sift = cv2.SIFT_create()
        reference_sift = cv2.SIFT_create(contrastThreshold=0.02)
        self.references: list[LogoReference] = []
        flat, overlays = [], []
        for cue in cues:
            for path in cue.logos:
                rgb, alpha = read_logo(path)
                if alpha is None:
                    alpha = silhouette_of(rgb, None).astype(np.uint8) * 255
                overlays.append(overlay_reference(cue.name, path, rgb, alpha))
                try:
                    sift_ref = prepare_reference(cue.name, path, reference_sift, self.config)
                    sift_error = None
                except ConfigError as exc:
                    sift_ref, sift_error = None, exc
                try:
                    flat.append(prepare_flat_reference(cue.name, path))
                except ConfigError:
                    if sift_error is not None:
                        raise sift_error from None
                if sift_ref is not None:
                    self.references.append(sift_ref)
        self.flat = FlatMatcher(flat, self.config.max_instances)
        self.overlay = OverlayMatcher(overlays)

    def detect(self, rgb: np.ndarray) -> Detections:
        """Instances of every reference on an (H, W, 3) uint8 RGB frame.

        Flat references go to the flat-mark matcher first (its silhouette fit is the closer
        one for solid shapes); SIFT looks for the other references and for flat ones the
        matcher did not find.
        """
        return self.detect_crop(rgb, rgb.shape[:2])

    def detect_crop(self, rgb: np.ndarray, frame_hw: tuple[int, int]) -> Detections:
        """Instances on an (h, w, 3) uint8 RGB part of a frame of ``frame_hw`` (H, W).

        SIFT looks at it at the scale it looks at the whole frame (see :meth:`working_scale`),
        boxes in the part's pixel coordinates.
        """
        found = self.flat.detect(rgb) if self.flat.references else Detections.empty()
        done = {Path(c) for c in found.cue}
        todo = [ref for ref in self.references if ref.path not in done]
        if todo:
            scale = self.working_scale(frame_hw)
            found = Detections.concat([found, self._sift_detect(rgb, todo, scale)])
        if rgb.shape[:2] == tuple(frame_hw):  # a whole frame: overlays too
            found = _overlays_first(self.overlay.detect(rgb), found)
        return found

    def working_scale(self, frame_hw: tuple[int, int]) -> float:
        """The factor SIFT looks at a frame of ``frame_hw`` (H, W) at.

        Large frames are reduced to ``max_side`` on their longest side; small ones (archive
        QCIF and CIF, phone thumbnails) are enlarged to ``min_side``, where a logo a few
        dozen pixels wide has features enough to be found.
        """
        longest = max(frame_hw)
        return min(self.config.max_side, max(longest, self.config.min_side)) / longest

    def _sift_detect(
        self, rgb: np.ndarray, references: list[LogoReference], scale: float
    ) -> Detections:
        height, width = rgb.shape[:2]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=interpolation)
        keypoints, descriptors = self._sift.detectAndCompute(gray, None)
        if descriptors is None or len(keypoints) < self.config.min_inliers:
            return Detections.empty()
        frame_xy = np.float32([kp.pt for kp in keypoints])
        to_full = np.diag([1 / scale, 1 / scale, 1.0])
        found = [
            self._instance_detection(ref, to_full @ homography, inliers, (height, width))
            for ref in references
            for homography, inliers in self._instances(
                ref, frame_xy, descriptors, scale, (gray.shape[1], gray.shape[0])
            )
        ]
        return Detections.concat([d for d in found if d is not None])

    def _instances(
        self,
        ref: LogoReference,
        frame_xy: np.ndarray,
        frame_desc: np.ndarray,
        scale: float,
        frame_wh: tuple[float, float],
    ) -> list[tuple[np.ndarray, int]]:
        distance, train = cv2.batchDistance(
            frame_desc, ref.descriptors, cv2.CV_32F, normType=cv2.NORM_L2, K=_NEIGHBOURS
        )
        frame_index, ref_index = self._ratio_test(ref, distance, train)
        dst = frame_xy[frame_index].reshape(-1, 2)
        src = ref.keypoints_xy[ref_index].reshape(-1, 2)
        h, w = ref.silhouette.bitmap.shape
        outline = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        threshold = max(self.config.ransac_px * scale, 1.0)
        instances: list[tuple[np.ndarray, int]] = []
        attempts = self.config.max_instances + _EXTRA_ATTEMPTS
        while len(src) >= self.config.min_inliers and len(instances) < self.config.max_instances:
            attempts -= 1
            if attempts < 0:
                break
            homography, inlier_mask = cv2.findHomography(src, dst, _usac_params(threshold))
            if homography is None:
                break
            inliers = inlier_mask.ravel().astype(bool)
            if inliers.sum() < self.config.min_inliers:
                break
            quad = cv2.perspectiveTransform(outline[None], homography)[0]
            if not plausible_quad(quad) or _share_inside(quad, frame_wh) < _MIN_INSIDE:
                src, dst = src[~inliers], dst[~inliers]  # a degenerate fit: try the rest
                continue
            refined, _ = cv2.findHomography(
                src[inliers], dst[inliers], 0
            )  # least squares on inliers
            if refined is not None and plausible_quad(
                cv2.perspectiveTransform(outline[None], refined)[0]
            ):
                homography = refined
            instances.append((homography, int(inliers.sum())))
            # The next instance must come from matches outside the one just found.
            contour = quad.reshape(-1, 1, 2)
            outside = np.array(
                [cv2.pointPolygonTest(contour, (float(x), float(y)), False) < 0 for x, y in dst]
            )
            keep = outside & ~inliers
            src, dst = src[keep], dst[keep]
        return instances

    def _ratio_test(
        self, ref: LogoReference, distance: np.ndarray, train: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lowe's ratio test against the nearest match at another reference position.

        The reference holds several views of each spot, so the runner-up is taken from a
        different place of the logo, not from another view of the same place.

        Args:
            ref: the reference matched against.
            distance: (N, K) descriptor distances of each frame keypoint's K nearest
                reference keypoints, nearest first.
            train: (N, K) indices of those reference keypoints.

        Returns:
            (frame keypoint indices, reference keypoint indices) of the matches that pass.
        """
        best_xy = ref.keypoints_xy[train[:, :1]]
        other_xy = ref.keypoints_xy[train[:, 1:]]
        elsewhere = np.linalg.norm(other_xy - best_xy, axis=2) > _SAME_POINT_PX
        first_elsewhere = elsewhere.argmax(axis=1)
        runner_up = distance[:, 1:][np.arange(len(train)), first_elsewhere]
        runner_up[~elsewhere.any(axis=1)] = np.inf
        good = distance[:, 0] < self.config.ratio * runner_up
        return np.nonzero(good)[0], train[good, 0].astype(np.intp)

    def _instance_detection(
        self, ref: LogoReference, homography: np.ndarray, inliers: int, frame_hw: tuple[int, int]
    ) -> Detections | None:
        mask = ref.silhouette.warp(homography, frame_hw)
        if mask is None:
            return None
        return Detections(
            xyxy=mask.xyxy[None],
            confidence=[inliers / (inliers + 15.0)],
            brand=[ref.brand],
            source=[self.name],
            cue=[str(ref.path)],
            masks=[mask],
        )


def _share_inside(quad_xy: np.ndarray, frame_wh: tuple[float, float]) -> float:
    """The share of a convex (4, 2) quad's area that lies inside a frame of ``frame_wh``."""
    area = cv2.contourArea(quad_xy.astype(np.float32))
    if area <= 0:
        return 0.0
    width, height = frame_wh
    frame = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    inside, _ = cv2.intersectConvexConvex(quad_xy.astype(np.float32), frame)
    return float(inside) / area


def _overlays_first(overlays: Detections, found: Detections) -> Detections:
    """``found`` with the overlay hits in place of the other matchers' hits they overlap.

    An overlay hit is a place fixed over three keyframes, fitted to the reference's outline;
    SIFT's homography on a translucent mark, fitted to the few features that show through, is
    the looser one.
    """
    if not len(overlays) or not len(found):
        return Detections.concat([found, overlays])
    iou = box_iou(found.xyxy, overlays.xyxy)
    keep = [
        i
        for i in range(len(found))
        if not any(
            iou[i, j] >= 0.3 and found.brand[i] == overlays.brand[j] for j in range(len(overlays))
        )
    ]
    return Detections.concat([found.select(keep), overlays])


@DETECTORS.register("logo")
def build_logo_detector(cues: Sequence[BrandCue], config: PipelineConfig) -> LogoDetector:
    """The reference-logo detector for the brands that have logo images."""
    return LogoDetector(cues, config.detect)
