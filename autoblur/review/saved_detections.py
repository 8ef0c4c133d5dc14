"""Saved detections: every track's mask on every frame, kept by a scan so render needs no detector.

The masks go into one ``.npz`` archive beside the scan report (``scan.json`` ->
``scan.masks.npz``), streamed to disk in chunks of whole frames so that memory stays bounded
on a long video. A chunk is two arrays: ``chunkNNNNN_index`` ((n, 7) int32 rows of frame,
track id, x0, y0, height, width and byte offset) and ``chunkNNNNN_bits`` (uint8, each mask's
cropped bitmap as ``np.packbits`` of its rows). ``shot_starts`` lists the frames that start a
shot and ``frame_hw`` the frame size. The report records the archive's path and the input's
sha256, so a render on another video is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoblur.errors import ConfigError, VideoError
from autoblur.track.manager import FrameMasks
from autoblur.types import RegionMask

_CHUNK_BYTES = 4 << 20  # packed mask bytes buffered before a chunk goes to disk


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def masks_path_for(report_path: Path) -> Path:
    """Where a scan report's masks go: ``scan.json`` -> ``scan.masks.npz``."""
    return report_path.with_name(f"{report_path.stem}.masks.npz")


class MaskWriter:
    """Streams every track's per-frame masks into a hidden archive renamed into place at the end.

    Args:
        final: the archive's path.
    """

    def __init__(self, final: Path) -> None:
        self.final = final
        self.partial = final.with_name(f".{final.name}.partial-{os.getpid()}")
        self._zip = zipfile.ZipFile(self.partial, "w", zipfile.ZIP_DEFLATED)
        self._rows: list[tuple[int, ...]] = []
        self._bits: list[np.ndarray] = []
        self._size = 0
        self._chunks = 0
        self.frame_hw: tuple[int, int] | None = None

    def add(self, frame_idx: int, track_masks: FrameMasks) -> None:
        """Add the masks of frame ``frame_idx`` (frames in order), track id to mask."""
        for track_id, mask in sorted(track_masks.items()):
            packed = np.packbits(mask.bitmap, axis=None)
            height, width = mask.bitmap.shape
            self._rows.append((frame_idx, track_id, mask.x0, mask.y0, height, width, self._size))
            self._bits.append(packed)
            self._size += packed.size
            self.frame_hw = mask.frame_hw
        if self._size >= _CHUNK_BYTES:
            self._flush()

    def _save(self, name: str, array: np.ndarray) -> None:
        with self._zip.open(f"{name}.npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.ascontiguousarray(array))

    def _flush(self) -> None:
        if not self._rows:
            return
        name = f"chunk{self._chunks:05d}"
        self._save(f"{name}_index", np.array(self._rows, np.int32).reshape(-1, 7))
        self._save(f"{name}_bits", np.concatenate(self._bits))
        self._rows, self._bits, self._size = [], [], 0
        self._chunks += 1

    def commit(self, shot_starts: Sequence[int], frame_hw: tuple[int, int]) -> None:
        """Write the last chunk and the shot starts, close and move the archive into place."""
        self._flush()
        self._save("shot_starts", np.array(shot_starts, np.int64))
        self._save("frame_hw", np.array(frame_hw, np.int64))
        self._zip.close()
        os.replace(self.partial, self.final)

    def discard(self) -> None:
        """Close and delete the partial archive."""
        self._zip.close()
        self.partial.unlink(missing_ok=True)


class SavedMasks:
    """Reads the archive back one chunk at a time.

    Args:
        path: the ``.npz`` archive a scan wrote.

    Raises:
        ConfigError: the archive is missing or not one that a scan wrote.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._npz = np.load(path)
            self.shot_starts = [int(v) for v in self._npz["shot_starts"]]
            self.frame_hw = tuple(int(v) for v in self._npz["frame_hw"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            raise ConfigError(
                f"{path}: saved detections missing or unreadable; scan the video again "
                "with `autoblur scan INPUT --report scan.json`"
            ) from None
        self._chunks = sorted(
            k.removesuffix("_index") for k in self._npz.files if k.endswith("_index")
        )

    def frames(self) -> Iterator[tuple[int, FrameMasks]]:
        """Frame index and its masks (track id to mask), for each frame with a mask, in order."""
        for chunk in self._chunks:
            index = self._npz[f"{chunk}_index"]
            bits = self._npz[f"{chunk}_bits"]
            current, masks = None, {}
            for frame_idx, track_id, x0, y0, height, width, offset in index.tolist():
                if frame_idx != current:
                    if masks:
                        yield current, masks
                    current, masks = frame_idx, {}
                count = height * width
                flat = np.unpackbits(bits[offset : offset + (count + 7) // 8], count=count)
                bitmap = flat.reshape(height, width).astype(bool)
                masks[track_id] = RegionMask(x0, y0, bitmap, self.frame_hw)
            if masks:
                yield current, masks

    def close(self) -> None:
        """Release the archive."""
        self._npz.close()


@dataclass(frozen=True)
class Scan:
    """A scan report with its saved detections, checked against the video to render.

    Attributes:
        path: the report file.
        report: the report as loaded.
        masks_path: the archive of its masks.
        input_sha256: the sha256 of the video it was made from (and that is rendered).
    """

    path: Path
    report: dict
    masks_path: Path
    input_sha256: str


def load_scan(scan_path: Path, input_path: Path) -> Scan:
    """Load a scan report and check that it was made from ``input_path``.

    Raises:
        ConfigError: the report is missing, unreadable or has no saved detections.
        VideoError: the report was made from another video.
    """
    try:
        report = json.loads(scan_path.read_text(encoding="utf-8"))
        saved = report["saved_detections"]
        masks_path = scan_path.parent / saved["path"]
        expected = saved["input_sha256"]
        if not isinstance(report["occurrences"], list):
            raise TypeError("occurrences is not a list")
    except FileNotFoundError:
        raise ConfigError(f"{scan_path}: scan report not found") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise ConfigError(
            f"{scan_path}: not a scan report with saved detections; make one with "
            "`autoblur scan INPUT --report scan.json`"
        ) from None
    try:
        actual = file_sha256(input_path)
    except OSError as exc:
        raise VideoError(f"{input_path}: cannot read the input ({exc.strerror})") from None
    if actual != expected:
        raise VideoError(
            f"{input_path}: is not the video that {scan_path} was made from (sha256 "
            f"{actual[:12]}... vs {expected[:12]}...); scan this video first"
        )
    return Scan(path=scan_path, report=report, masks_path=masks_path, input_sha256=actual)
