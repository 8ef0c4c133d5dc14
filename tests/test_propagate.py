import cv2
import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from autoblur.remove import MaskedFrame, build_removers
from autoblur.remove.propagate import _median_of_views, _texture
from tests.conftest import IMAGES, VIDEOS, make_composite


def remove_with_true_masks(composite, inpainter):
    """The remover's output frames for the composite's exact masks (grown by 6 px)."""
    config = PipelineConfig.model_validate({"remove": {"inpainter": inpainter}})
    (remover,) = build_removers(config, {"inpaint"})
    with VideoReader(composite.path) as reader:
        items = [
            MaskedFrame(f, {"inpaint": composite.masks[f.index].dilate(6)}) for f in reader.frames()
        ]
    out = list(remover(iter(items)))
    assert [o.frame.index for o in out] == list(range(len(items)))  # all frames, in order
    return [o.frame.rgb for o in out]


def in_mask_psnr(composite, outputs, clean):
    errors = []
    for index, rgb in enumerate(outputs):
        truth = composite.masks[index].to_dense()
        errors.append(np.mean((rgb[truth].astype(float) - clean[index][truth]) ** 2))
    return 10 * np.log10(255**2 / np.mean(errors))


def flicker(composite, outputs, clean):
    """Frame-to-frame change inside the mask, over the clean video's (1 = as steady)."""
    ours, theirs = [], []
    for index in range(1, len(outputs)):
        both = composite.masks[index].to_dense() & composite.masks[index - 1].to_dense()
        ours.append(np.abs(outputs[index][both].astype(float) - outputs[index - 1][both]).mean())
        theirs.append(np.abs(clean[index][both].astype(float) - clean[index - 1][both]).mean())
    return np.mean(ours) / np.mean(theirs)


def composite_with_clean(tmp_path_factory, video, frames, speed_px):
    clip = make_composite(
        tmp_path_factory.mktemp(video.split(".")[0]),
        video,
        IMAGES / "WindowsLogo.jpg",
        frames,
        width_frac=0.15,
        speed_px=speed_px,
    )
    with VideoReader(VIDEOS / video) as reader:
        clean = [f.rgb for f in reader.frames() if f.index < frames]
    return clip, clean


@pytest.fixture(scope="module")
def carphone(tmp_path_factory, real_media):
    return composite_with_clean(tmp_path_factory, "carphone_pristine.mp4", 60, 4)


@pytest.fixture(scope="module")
def street(tmp_path_factory, real_media):
    """vtest.avi: a fixed camera, people walking past and through the logo."""
    return composite_with_clean(tmp_path_factory, "vtest.avi", 60, 6)


@pytest.fixture(scope="module")
def tree(tmp_path_factory, real_media):
    """tree.avi: Cinepak, a panning camera over leaves: a textured, blocky border."""
    return composite_with_clean(tmp_path_factory, "tree.avi", 68, 6)


def gain_and_flicker(composite_and_clean):
    """propagate's in-mask PSNR gain over the spatial fill (dB), and its flicker."""
    clip, clean = composite_and_clean
    spatial = in_mask_psnr(clip, remove_with_true_masks(clip, "spatial"), clean)
    temporal = remove_with_true_masks(clip, "propagate")
    return in_mask_psnr(clip, temporal, clean) - spatial, flicker(clip, temporal, clean)


def test_propagate_brings_back_the_real_background(carphone):
    gain, steadiness = gain_and_flicker(carphone)
    assert gain > 3
    assert steadiness < 1.25


def test_people_walking_by_neither_move_the_background_nor_flicker(street):
    # With a fixed camera the fill must come from the same place in other frames, whatever
    # the people near the logo do, and the median of several views keeps it steady.
    clip, clean = street
    spatial = remove_with_true_masks(clip, "spatial")
    temporal = remove_with_true_masks(clip, "propagate")
    assert flicker(clip, temporal, clean) < 1.3 < flicker(clip, spatial, clean)
    assert in_mask_psnr(clip, temporal, clean) > in_mask_psnr(clip, spatial, clean) + 0.5


def test_sources_are_judged_against_the_texture_of_the_border(tree):
    # On leaves, a source a fraction of a pixel off differs from the frame around the hole by
    # about the pixel-to-pixel step; rejecting those left most of the hole to the spatial fill.
    gain, steadiness = gain_and_flicker(tree)
    assert gain > 4.5
    assert steadiness < 0.8


def test_texture_of_a_border():
    stripes = np.zeros((4, 6, 3), np.uint8)
    stripes[:, ::2] = 50  # every step to the right is 50 grey levels
    assert _texture(stripes, np.arange(stripes.shape[0] * stripes.shape[1])) == 50
    assert _texture(stripes, np.array([], int)) == 0.0  # a border the logo hides entirely


def test_median_of_views_ignores_unused_slots_and_one_outlier():
    views = np.full((5, 3, 3), np.nan, np.float32)
    views[:3, 0] = [[10, 10, 10], [12, 12, 12], [250, 0, 250]]  # one passer-by
    views[:4, 1] = [[1, 2, 3], [3, 4, 5], [5, 6, 7], [7, 8, 9]]
    views[:, 2] = 42
    median = _median_of_views(views, np.array([3, 4, 5]))
    np.testing.assert_allclose(median, [[12, 10, 12], [4, 5, 6], [42, 42, 42]])


def test_nothing_is_taken_across_a_cut(real_media):
    # Shot 1: the street, no logo. Shot 2: the same view a little brighter, a logo that never
    # moves. Shot 1 shows what shot 2 hides, but a frame that starts a shot ends the search.
    from autoblur.io.reader import VideoFrame
    from autoblur.types import RegionMask

    with VideoReader(VIDEOS / "vtest.avi") as reader:
        street = [f.rgb.copy() for f in reader.frames() if f.index < 12]
    brighter = [np.clip(rgb.astype(int) + 8, 0, 255).astype(np.uint8) for rgb in street]
    hidden = np.zeros(street[0].shape[:2], bool)
    hidden[20:100, 160:280] = True  # still ground: nobody walks there in these frames
    logo = RegionMask.from_dense(hidden)

    def run(inpainter, flag_cut):
        items = [MaskedFrame(VideoFrame(i, i, 0.0, rgb.copy())) for i, rgb in enumerate(street)]
        for i, rgb in enumerate(brighter):
            painted = rgb.copy()
            painted[hidden] = (20, 200, 40)
            items.append(
                MaskedFrame(
                    VideoFrame(12 + i, 12 + i, 0.0, painted),
                    {"inpaint": logo},
                    starts_shot=flag_cut and i == 0,
                )
            )
        config = PipelineConfig.model_validate({"remove": {"inpainter": inpainter}})
        (remover,) = build_removers(config, {"inpaint"})
        out = [item.frame.rgb for item in remover(iter(items))][12:]
        error = np.mean(
            [(o[hidden].astype(float) - b[hidden]) ** 2 for o, b in zip(out, brighter, strict=True)]
        )
        return 10 * np.log10(255**2 / error)

    spatial = run("spatial", False)
    assert run("propagate", False) > spatial + 3  # without the cut, shot 1 fills the hole
    assert run("propagate", True) < spatial + 1  # with it, only a spatial fill is possible


def test_grain_is_not_motion_but_a_new_border_is():
    from autoblur.remove.moving_surroundings import border_change, surroundings_trust

    rng = np.random.default_rng(0)

    def picture():  # a smooth texture, as a picture has
        return cv2.GaussianBlur(rng.integers(60, 200, (60, 80, 3)).astype(np.uint8), (0, 0), 2)

    crop = picture()
    border = np.zeros((60, 80), bool)
    border[10:50, 15:65] = True
    border[18:42, 23:57] = False  # an 8-px ring around the hole
    tolerance = 12 + _texture(crop, np.flatnonzero(border))

    def trust(neighbour):
        return surroundings_trust(
            border_change(neighbour.reshape(-1, 3), crop, border.reshape(-1)), tolerance
        )

    grain = np.clip(crop + rng.normal(0, 10, crop.shape), 0, 255).astype(np.uint8)
    assert trust(crop) == 1.0
    assert trust(grain) == 1.0  # grain differs from frame to frame, the picture does not
    assert trust(picture()) == 0.0  # something else moved in around the hole
    assert surroundings_trust(np.full(border.size, np.inf, np.float32), tolerance) == 1.0


def test_motion_is_estimated_only_around_frames_to_fill(carphone, monkeypatch):
    # A programme with a logo on a few frames: the motion between frames is estimated only
    # where a fill looks at it, and the fill is the one every motion estimated up front gives.
    composite, _ = carphone
    # In this process, where the calls can be counted.
    config = PipelineConfig.model_validate(
        {"remove": {"temporal_window": 6, "inpaint_processes": 0}}
    )
    with VideoReader(composite.path) as reader:
        frames = list(reader.frames())
    on = {30, 31}

    def items():
        return iter(
            MaskedFrame(f.__class__(f.index, f.pts, f.time_s, rgb=f.rgb.copy()),
                        {"inpaint": composite.masks[f.index].dilate(6)} if f.index in on else {})
            for f in frames
        )  # fmt: skip

    from autoblur.remove import propagate

    calls = []
    motion = propagate.PropagateInpainter._motion
    monkeypatch.setattr(
        propagate.PropagateInpainter, "_motion", lambda s, a, b: calls.append(1) or motion(s, a, b)
    )
    (remover,) = build_removers(config, {"inpaint"})
    lazy = [o.frame.rgb for o in remover(items())]
    assert 0 < len(calls) <= 2 * 6 + 1  # the pairs within the window of frames 30 and 31

    # Every pair estimated as frames arrive (as before): the same pixels.
    enter = propagate.PropagateInpainter._enter
    buffer_of = {}

    def eager(self, item):
        entry = enter(self, item)
        last = buffer_of.get(id(self))
        if last is not None and not item.starts_shot:
            last.to_next = self._motion(last, entry)
        buffer_of[id(self)] = entry
        return entry

    monkeypatch.setattr(propagate.PropagateInpainter, "_enter", eager)
    calls.clear()
    (remover,) = build_removers(config, {"inpaint"})
    everywhere = [o.frame.rgb for o in remover(items())]
    assert len(calls) == len(frames) - 1
    for index in range(len(frames)):
        assert np.array_equal(lazy[index], everywhere[index]), index
