"""The recall benchmark's cases: their ground truth, variants and determinism (no pipeline run)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from autoblur.io import VideoReader
from autoblur.types import RegionMask
from bench.bench_recall import score_recall, stray_pixels
from bench.recall_cases import (
    MAX_TURN_DEG,
    VARIANTS,
    CaseSpec,
    Copy,
    MarkInfo,
    clip_table,
    composite_frame,
    copy_homography,
    make_case,
    make_cases,
    mark_info,
    mark_styles,
    render_case,
)
from detectors.logo import read_logo
from tests.conftest import VIDEOS


def made_up_mark(width: int = 90, height: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A white RGBA mark with a hard-edged alpha: a disc and a bar with a hole."""
    alpha = np.zeros((height, width), np.uint8)
    cv2.circle(alpha, (height // 2, height // 2), height // 2 - 4, 255, -1)
    cv2.rectangle(alpha, (height // 2, height // 3), (width - 3, 2 * height // 3), 255, -1)
    cv2.circle(alpha, (height // 2, height // 2), 6, 0, -1)
    return np.full((height, width, 3), 255, np.uint8), alpha


def write_mark(path: Path, rgb: np.ndarray, alpha: np.ndarray) -> Path:
    bgra = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), alpha])
    cv2.imwrite(str(path), bgra)
    return path


def union(truths: list[RegionMask | None], frame_hw: tuple[int, int]) -> np.ndarray:
    dense = np.zeros(frame_hw, bool)
    for truth in truths:
        if truth is not None:
            truth.paste_into(dense)
    return dense


def turned(angle_deg: float, scale: float, x: float, y: float, tilt: float = 0.0) -> np.ndarray:
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    h = np.array([[scale * c, -scale * s, x], [scale * s, scale * c, y], [0, 0, 1.0]])
    return h @ np.array([[1, 0, 0], [0, 1, 0], [tilt, tilt / 2, 1.0]])


@pytest.fixture(scope="module")
def clips():
    return clip_table(VIDEOS)


@pytest.fixture(scope="module")
def marks(tmp_path_factory) -> list[MarkInfo]:
    folder = tmp_path_factory.mktemp("marks")
    rgb, alpha = made_up_mark()
    made = []
    for k in range(12):
        width = 60 + 25 * k  # up to 335 wide over 60 high: the last ones are wordmarks
        rgb_k = cv2.resize(rgb, (width, 60), interpolation=cv2.INTER_NEAREST)
        alpha_k = cv2.resize(alpha, (width, 60), interpolation=cv2.INTER_NEAREST)
        path = write_mark(folder / f"mark{k:02d}.png", rgb_k, alpha_k)
        made.append(mark_info(path, f"Brand {k}", "simple-icons" if k % 2 else "super-tiny-icons"))
    return made


def test_true_mask_is_the_changed_pixels_at_a_whole_pixel_shift():
    rgb, alpha = made_up_mark()
    frame = np.zeros((120, 200, 3), np.uint8)
    shift = np.array([[1, 0, 37], [0, 1, 21], [0, 0, 1.0]])
    out, [truth] = composite_frame(frame, rgb, alpha, [shift])
    changed = (out != frame).any(axis=2)
    expected = np.zeros((120, 200), bool)
    expected[21:81, 37:127] = alpha > 0.5 * 255
    assert np.array_equal(truth.to_dense(), changed)
    assert np.array_equal(changed, expected)


def test_true_mask_is_where_the_mark_covers_over_half_under_a_homography():
    rgb, alpha = made_up_mark()
    frame = np.zeros((160, 240, 3), np.uint8)
    homography = turned(17.0, 1.37, 70.3, 40.6, tilt=0.0009)
    out, [truth] = composite_frame(frame, rgb, alpha, [homography])
    # White over black at opacity 1: a pixel's value is 255 times the mark's coverage there.
    assert truth is not None and truth.area > 3000
    assert np.array_equal(truth.to_dense(), out[..., 1] >= 128)
    assert np.array_equal((out > 0).any(axis=2), (out[..., 1] > 0))  # nothing else touched


def test_copies_have_their_own_true_masks_and_leave_the_frame_partly():
    rgb, alpha = made_up_mark()
    frame = np.full((100, 150, 3), 40, np.uint8)
    inside = np.array([[1, 0, 10], [0, 1, 10], [0, 0, 1.0]])
    half_out = np.array([[1, 0, 110], [0, 1, 30], [0, 0, 1.0]])
    _, [a, b, c] = composite_frame(frame, rgb, alpha, [inside, None, half_out])
    assert b is None
    assert a.area == int((alpha > 127).sum())
    assert 0 < c.area < a.area and c.xyxy[2] == 150  # cut by the right edge


def test_translucent_and_dimmed_blurred_marks_keep_the_shape_as_truth():
    rgb, alpha = made_up_mark()
    frame = np.full((160, 240, 3), 90, np.uint8)
    homography = turned(-12.0, 1.2, 50.5, 30.25)
    _, [solid] = composite_frame(frame, rgb, alpha, [homography])
    out, [faint] = composite_frame(frame, rgb, alpha, [homography], opacity=0.45)
    _, [styled] = composite_frame(
        frame, rgb, alpha, [homography], opacity=0.5, brightness=0.7, blur_sigma=0.9
    )
    assert np.array_equal(solid.to_dense(), faint.to_dense())
    assert np.array_equal(solid.to_dense(), styled.to_dense())
    # At opacity 0.45 white over grey 90 lifts the inside by 0.45 * 165, not to white.
    inside = out[solid.to_dense()][:, 0].astype(int)
    assert np.median(inside) == pytest.approx(90 + 0.45 * 165, abs=1)


def test_mark_styles():
    wide = np.zeros((40, 120), np.uint8)
    wide[5:35, 10:110] = 255  # 100 x 30: aspect 3.3
    assert mark_styles(wide, "simple-icons") == ((10, 5, 100, 30), ("silhouette", "wordmark"))
    badge = np.zeros((64, 64), np.uint8)
    cv2.rectangle(badge, (0, 0), (63, 63), 255, -1)
    assert mark_styles(badge, "super-tiny-icons")[1] == ("colour logo", "badge")
    ring = np.zeros((64, 64), np.uint8)
    cv2.circle(ring, (32, 32), 30, 255, 6)
    assert mark_styles(ring, "super-tiny-icons")[1] == ("colour logo",)
    assert mark_styles(ring, "simple-icons")[1] == ("silhouette",)


def on_screen_frames(case: CaseSpec, mark: MarkInfo, frame_hw: tuple[int, int]) -> list[int]:
    """Frames where some copy's true mask is in the frame (drawn on a blank frame)."""
    rgb, alpha = read_logo(mark.path)
    frame = np.zeros((*frame_hw, 3), np.uint8)
    on = []
    for t in range(case.frames):
        homographies = [copy_homography(c, t, mark.bbox) for c in case.copies]
        _, truths = composite_frame(frame, rgb, alpha, homographies)
        if any(truth is not None for truth in truths):
            on.append(t)
    return on


def test_brief_marks_are_on_screen_6_to_10_frames_mid_shot(marks, clips):
    lengths = set()
    for seed in range(8):
        mark = marks[seed % len(marks)]
        clip = clips["tree.avi"]
        case = make_case(seed, 3, mark, "brief", clip, "other.png")
        on = on_screen_frames(case, mark, (clip.height, clip.width))
        assert 6 <= len(on) <= 10
        assert on == list(range(on[0], on[-1] + 1))
        assert 0.25 * case.frames <= on[0] and on[-1] < case.frames - 1
        lengths.add(len(on))
    assert len(lengths) > 1


def test_cases_are_deterministic_per_seed_and_cover_every_variant(marks, clips):
    first = make_cases(101, marks, clips)
    again = make_cases(101, marks, clips)
    other = make_cases(102, marks, clips)
    assert [c.to_dict() for c in first] == [c.to_dict() for c in again]
    assert [c.to_dict() for c in first] != [c.to_dict() for c in other]
    assert len(first) == len(marks) and len({c.mark for c in first}) == len(marks)
    assert set(Counter(c.variant for c in first[:6])) == set(VARIANTS)
    assert all(c.other_mark != c.mark for c in first)
    assert all(CaseSpec.from_dict(c.to_dict()) == c for c in first)


def test_case_geometry_follows_the_variant(marks, clips):
    cases = [c for seed in (1, 2, 3) for c in make_cases(seed, marks, clips)]
    by_mark = {m.file: m for m in marks}
    for case in cases:
        clip = clips[case.clip]
        assert 0 <= case.start and case.start + case.frames <= clip.frames
        assert min(60, clip.frames) <= case.frames <= 90
        for copy in case.copies:
            assert copy.width_px <= 0.4 * clip.width + 1e-6
            assert abs(copy.turn_deg) + copy.wobble_deg <= MAX_TURN_DEG + 1e-6
        if case.variant == "small":
            assert all(c.width_px <= 64 for c in case.copies)
        if case.variant == "translucent":
            assert 0.4 <= case.opacity <= 0.6
            [copy] = case.copies
            assert (copy.first, copy.last) == (0, case.frames - 1)
            assert copy.path[0][1:] == copy.path[-1][1:] and copy.wobble_deg == 0
        else:
            assert case.opacity == 1.0
        if case.variant == "multi":
            assert 2 <= len(case.copies) <= 4
            widths = [c.width_px for c in case.copies]
            assert len(set(widths)) == len(widths) or min(widths) == 40.0
        if case.variant == "standard":
            assert 0.4 <= case.blur_sigma <= 1.0
            assert all(0.7 <= b <= 1.2 for b in case.brightness)
            assert case.copies[0].first >= 6  # enters mid-shot
        assert by_mark[case.mark].file == case.mark


def render_made_up_case(tmp_path: Path, clips):
    """A magenta made-up mark on tree.avi's frames 20-27, on screen from the third, rendered
    with its bare segment."""
    rgb, alpha = made_up_mark()
    rgb[:] = (250, 30, 200)
    path = write_mark(tmp_path / "mark.png", rgb, alpha)
    mark = mark_info(path, "Made Up", "simple-icons")
    case = CaseSpec(
        name="t",
        mark="mark.png",
        variant="standard",
        clip="tree.avi",
        start=20,
        frames=8,
        copies=(Copy(90.0, 2, 7, ((0.0, 100.0, 80.0), (1.0, 180.0, 120.0)), turn_deg=10.0),),
    )
    return render_case(
        case, mark.path, clips["tree.avi"].path, tmp_path / "c.mp4", tmp_path / "b.mp4"
    )


def test_rendered_case_is_the_clip_segment_with_the_mark(tmp_path, clips):
    done = render_made_up_case(tmp_path, clips)
    assert len(done.truths) == 8
    assert [frame[0] is not None for frame in done.truths] == [False, False] + [True] * 6
    with VideoReader(done.path) as a, VideoReader(done.clean_path) as b:
        pairs = list(zip(a.frames(), b.frames(), strict=True))
    assert len(pairs) == 8
    for (shown, bare), truths in zip(pairs, done.truths, strict=True):
        diff = np.abs(shown.rgb.astype(int) - bare.rgb.astype(int)).max(axis=2)
        inside = union(truths, diff.shape)
        far = cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)) == 0
        assert diff[far].max() <= 2  # lossless but for the RGB -> YUV round trip
        if inside.any():
            assert np.median(diff[inside]) > 60


def test_score_counts_frames_where_every_copy_is_covered():
    hw = (40, 60)
    a = RegionMask.from_dense(np.pad(np.ones((10, 10), bool), ((5, 25), (5, 45))))
    b = RegionMask.from_dense(np.pad(np.ones((10, 10), bool), ((5, 25), (40, 10))))
    truths = [[None, None], [a, None], [a, b], [a, b]]
    full = union([a, b], hw)
    only_a = union([a], hw)
    masks = [np.zeros(hw, bool), only_a, only_a, full]
    score = score_recall(truths, masks)
    assert (score["on_screen"], score["covered"], score["first_on"]) == (3, 2, 1)
    assert (score["first_covered"], score["verdict"]) == (1, "partly")
    stray = full.copy()
    stray[35:, :5] = True
    assert stray_pixels(stray, [a, b]) and not stray_pixels(full, [a, b])
    assert stray_pixels(full, []) and not stray_pixels(np.zeros(hw, bool), [a])


def test_the_safety_net_counts_the_frames_a_run_left_the_brand_on(tmp_path, clips):
    """The composite as its own "output" leaves the mark on every frame it is on; the clip
    without it leaves it on none; the composite with the mark gone from some frames only, on
    the others."""
    from fractions import Fraction

    from bench.bench_safety_net import frames_left
    from bench.recall_cases import _encode, _encoder

    done = render_made_up_case(tmp_path, clips)
    assert frames_left(done.path, done.path, done.truths) == [2, 3, 4, 5, 6, 7]
    assert frames_left(done.path, done.clean_path, done.truths) == []
    with VideoReader(done.path) as shown, VideoReader(done.clean_path) as bare:
        pairs = enumerate(zip(shown.frames(), bare.frames(), strict=True))
        mixed = [(a if i in (3, 6) else b).rgb for i, (a, b) in pairs]
    out = tmp_path / "mixed.mp4"
    container, stream = _encoder(out, mixed[0].shape[1], mixed[0].shape[0], Fraction(25))
    for index, picture in enumerate(mixed):
        _encode(container, stream, picture, index)
    _encode(container, stream, None, 0)
    container.close()
    assert frames_left(done.path, out, done.truths) == [3, 6]
