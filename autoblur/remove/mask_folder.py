"""The ``--masks`` folder: one PNG per frame, written hidden and renamed into place at the end."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from autoblur.remove.base import MaskedFrame


class MaskFolder:
    """Writes per-frame masks into a hidden folder that is renamed into place at the end."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
        self.partial.mkdir()

    def write(self, item: MaskedFrame) -> None:
        """Write a frame's masks (every action's, joined) as its PNG."""
        dense = np.zeros(item.frame.rgb.shape[:2], bool)
        for mask in item.masks.values():
            mask.paste_into(dense)
        cv2.imwrite(str(self._path(item)), dense.astype(np.uint8) * 255)

    def add(self, item: MaskedFrame) -> None:
        """Join a frame's masks to those already written for it (a repair's)."""
        dense = cv2.imread(str(self._path(item)), cv2.IMREAD_GRAYSCALE) > 0
        for mask in item.masks.values():
            mask.paste_into(dense)
        cv2.imwrite(str(self._path(item)), dense.astype(np.uint8) * 255)

    def _path(self, item: MaskedFrame) -> Path:
        return self.partial / f"{item.frame.index:06d}.png"

    def commit(self) -> None:
        """Rename the finished folder into place (an empty one there is replaced)."""
        if self.final.exists():
            self.final.rmdir()
        os.replace(self.partial, self.final)

    def discard(self) -> None:
        """Remove the unfinished folder."""
        shutil.rmtree(self.partial, ignore_errors=True)
