import numpy as np
import pytest

from autoblur.types import Detections, RegionMask, box_iou, union_mask


def test_region_mask_round_trips_a_dense_mask():
    dense = np.zeros((40, 60), bool)
    dense[5:15, 20:33] = True
    dense[12, 40] = True
    mask = RegionMask.from_dense(dense)
    assert (mask.x0, mask.y0) == (20, 5)
    assert mask.bitmap.shape == (10, 21)
    assert mask.area == dense.sum()
    assert np.array_equal(mask.to_dense(), dense)
    assert RegionMask.from_dense(np.zeros((4, 4), bool)) is None


def test_polygon_is_clipped_to_the_frame():
    mask = RegionMask.from_polygon(np.array([[-10, -10], [20, -10], [20, 20], [-10, 20]]), (15, 15))
    assert mask.xyxy.tolist() == [0, 0, 15, 15]
    assert RegionMask.from_polygon(np.array([[30, 30], [40, 30], [40, 40]]), (15, 15)) is None


def test_warp_by_translation_moves_the_mask():
    dense = np.zeros((50, 50), bool)
    dense[10:20, 10:30] = True
    mask = RegionMask.from_dense(dense)
    moved = mask.warp(np.array([[1, 0, 7], [0, 1, -4], [0, 0, 1]], float))
    expected = np.zeros_like(dense)
    expected[6:16, 17:37] = True
    assert np.array_equal(moved.to_dense(), expected)
    assert mask.warp(np.array([[1, 0, 500], [0, 1, 0], [0, 0, 1]], float)) is None


def test_dilate_grows_by_the_radius_and_stays_in_frame():
    dense = np.zeros((30, 30), bool)
    dense[0:5, 10:15] = True
    grown = RegionMask.from_dense(dense).dilate(3)
    assert grown.xyxy.tolist() == [7, 0, 18, 8]
    assert grown.area > dense.sum()


def test_union_and_iou():
    a = RegionMask.from_polygon(np.array([[0, 0], [10, 0], [10, 10], [0, 10]]), (40, 40))
    b = RegionMask.from_polygon(np.array([[20, 20], [30, 20], [30, 30], [20, 30]]), (40, 40))
    both = union_mask([a, b])
    assert both.area == a.area + b.area
    iou = box_iou(
        np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [50, 50, 60, 60]])
    )
    assert iou[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_detections_check_their_columns():
    with pytest.raises(ValueError, match="expected 1 entries, got 2"):
        Detections([[0, 0, 1, 1]], [0.5, 0.6], ["a"], ["logo"], ["x"])
    empty = Detections.empty()
    assert len(Detections.concat([empty, empty])) == 0
    dets = Detections(
        [[0, 0, 4, 4], [1, 1, 5, 5]], [0.5, 0.9], ["a", "b"], ["logo"] * 2, ["x", "y"]
    )
    picked = dets.select([1])
    assert picked.brand == ["b"] and picked.confidence.tolist() == pytest.approx([0.9])
    box = dets.mask_or_box(0, (10, 10))
    assert box.area == 16


def test_crop_matches_the_dense_mask_in_any_box():
    dense = np.zeros((40, 60), bool)
    dense[5:15, 20:33] = True
    mask = RegionMask.from_dense(dense)
    for box in [(0, 0, 60, 40), (25, 10, 50, 30), (0, 0, 10, 10), (30, 12, 31, 13)]:
        x0, y0, x1, y1 = box
        assert np.array_equal(mask.crop(box), dense[y0:y1, x0:x1])


def test_from_crop_trims_to_the_set_pixels_of_any_bitmap():
    rng = np.random.default_rng(5)
    for trial in range(300):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        bitmap = np.zeros((h, 2 * w), np.uint8)
        for _ in range(trial % 4):  # none on every fourth: no mask
            bitmap[rng.integers(0, h), rng.integers(0, 2 * w)] = 7
        view = bitmap[:, ::2]  # a strided view, values other than 0 and 1
        mask = RegionMask.from_crop(3, 4, view, (100, 100))
        ys, xs = np.nonzero(view)
        if not len(xs):
            assert mask is None
            continue
        assert (mask.x0, mask.y0) == (3 + xs.min(), 4 + ys.min())
        assert mask.bitmap.dtype == bool
        trimmed = view[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        assert np.array_equal(mask.bitmap, trimmed > 0)
