from __future__ import annotations

import zipfile

import numpy as np
import pytest

from autoblur.errors import ConfigError
from autoblur.review import saved_detections
from autoblur.review.saved_detections import MaskWriter, SavedMasks, masks_path_for
from autoblur.types import RegionMask

FRAME_HW = (120, 160)


def random_masks(rng: np.random.Generator, frames: int) -> list[dict[int, RegionMask]]:
    """Per frame, 0-3 tracks with random blobs of random sizes (odd sizes test the bit packing)."""
    out = []
    for _ in range(frames):
        masks = {}
        for track_id in rng.choice(5, size=rng.integers(0, 4), replace=False):
            h, w = rng.integers(1, 40, size=2)
            x0, y0 = rng.integers(0, FRAME_HW[1] - w), rng.integers(0, FRAME_HW[0] - h)
            masks[int(track_id)] = RegionMask(int(x0), int(y0), rng.random((h, w)) > 0.4, FRAME_HW)
        out.append(masks)
    return out


def test_masks_stream_to_disk_in_chunks_and_come_back_exactly(tmp_path, monkeypatch):
    monkeypatch.setattr(saved_detections, "_CHUNK_BYTES", 2000)  # a chunk every few frames
    per_frame = random_masks(np.random.default_rng(0), 200)
    path = masks_path_for(tmp_path / "scan.json")
    writer = MaskWriter(path)
    for frame_idx, masks in enumerate(per_frame):
        writer.add(frame_idx, masks)
        assert writer._size < 2000 + 3 * 200  # never more than one chunk held in memory
    assert not path.exists()  # nothing at the final path until the end
    writer.commit([0, 70, 150], FRAME_HW)
    assert path.name == "scan.masks.npz" and not list(tmp_path.glob(".*partial*"))
    with zipfile.ZipFile(path) as archive:
        assert sum(n.endswith("_index.npy") for n in archive.namelist()) >= 5
    saved = SavedMasks(path)
    assert saved.shot_starts == [0, 70, 150] and saved.frame_hw == FRAME_HW
    back = dict(saved.frames())
    assert sorted(back) == [i for i, m in enumerate(per_frame) if m]
    for frame_idx, masks in back.items():
        assert masks.keys() == per_frame[frame_idx].keys()
        for track_id, mask in masks.items():
            expected = per_frame[frame_idx][track_id]
            assert (mask.x0, mask.y0) == (expected.x0, expected.y0)
            assert np.array_equal(mask.bitmap, expected.bitmap)
    saved.close()


def test_a_missing_or_foreign_archive_is_one_error(tmp_path):
    with pytest.raises(ConfigError, match="saved detections missing or unreadable"):
        SavedMasks(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ConfigError, match="scan the video again"):
        SavedMasks(tmp_path / "other.npz")
