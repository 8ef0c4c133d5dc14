"""The border pixel nearest to each pixel of a crop, and values averaged along a border."""

from __future__ import annotations

import cv2
import numpy as np


class NearestBorder:
    """For each pixel of a crop, the border pixel nearest to it (computed once per crop).

    Args:
        border: (h * w,) bool the border pixels, flat.
        shape: (h, w) of the crop.

    Attributes:
        nearest: (h * w,) int64 flat index of each pixel's nearest border pixel.
    """

    def __init__(self, border: np.ndarray, shape: tuple[int, int]) -> None:
        self.border, self.shape = border, shape
        _, labels = cv2.distanceTransformWithLabels(
            (~border).astype(np.uint8).reshape(shape),
            cv2.DIST_L2,
            5,
            labelType=cv2.DIST_LABEL_PIXEL,
        )
        labels = labels.reshape(-1)
        of_label = np.zeros(int(labels.max()) + 1, np.int64)
        of_label[labels[border]] = np.flatnonzero(border)
        self.nearest = of_label[labels]


def smooth_along(
    values: np.ndarray, known: np.ndarray, shape: tuple[int, int], sigma_px: float
) -> np.ndarray:
    """(h * w,) float32 Gaussian average of the ``known`` (h * w,) ``values`` near each pixel.

    Args:
        values: (h * w,) float32, read where ``known``.
        known: (h * w,) bool pixels whose value is known (a border, say).
        shape: (h, w) of the crop.
        sigma_px: how far values are averaged (Gaussian sigma, pixels).
    """
    weight = cv2.GaussianBlur(known.astype(np.float32).reshape(shape), (0, 0), sigma_px)
    total = cv2.GaussianBlur(
        np.where(known, values, 0).astype(np.float32).reshape(shape), (0, 0), sigma_px
    )
    return (total / np.maximum(weight, 1e-4)).reshape(-1)
