"""The border pixel nearest to each pixel of a crop, and border values spread over the crop."""

from __future__ import annotations

import cv2
import numpy as np


class NearestBorder:
    """For each pixel of a crop, the border pixel nearest to it (computed once per crop).

    Args:
        border: (h * w,) bool the border pixels, flat (at least one).
        shape: (h, w) of the crop.
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
        self.nearest = of_label[labels]  # (h * w,) flat index of each pixel's border pixel

    def spread(self, values: np.ndarray, known: np.ndarray, sigma_px: float) -> np.ndarray:
        """Border ``values`` averaged along the border, then given to every pixel of the crop.

        Args:
            values: (h * w,) float32, read where ``known``.
            known: (h * w,) bool border pixels whose value is known.
            sigma_px: how far along the border values are averaged (Gaussian sigma, pixels).

        Returns:
            (h * w,) float32: each pixel gets the average near its nearest border pixel.
        """
        return smooth_along(values, known, self.shape, sigma_px)[self.nearest]


def smooth_along(
    values: np.ndarray, known: np.ndarray, shape: tuple[int, int], sigma_px: float
) -> np.ndarray:
    """(h * w,) float32 Gaussian average of the ``known`` (h * w,) ``values`` near each pixel."""
    weight = cv2.GaussianBlur(known.astype(np.float32).reshape(shape), (0, 0), sigma_px)
    total = cv2.GaussianBlur(
        np.where(known, values, 0).astype(np.float32).reshape(shape), (0, 0), sigma_px
    )
    return (total / np.maximum(weight, 1e-4)).reshape(-1)
