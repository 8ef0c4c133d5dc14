import cv2
import numpy as np
import pytest

from autoblur.config import load_config
from autoblur.job import Job
from autoblur.keyframes.change import ChangeTrigger
from autoblur.pipeline import Pipeline
from autoblur.types import BrandCue
from tests.conftest import IMAGES, make_composite

WINDOWS = IMAGES / "WindowsLogo.jpg"


def _frames(count, block_from=None, block_to=None, move=0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 120, (90, 160, 3)).astype(np.float32)
    base = np.repeat(np.repeat(base[::10, ::10], 10, 0), 10, 1)[:90, :160]
    for i in range(count):
        frame = base + rng.normal(0, noise, base.shape) if noise else base.copy()
        if block_from is not None and block_from <= i <= block_to:
            x = 40 + move * (i - block_from)
            frame[30:50, x : x + 24] = 240
        yield np.clip(frame, 0, 255).astype(np.uint8)


def _fires(frames, min_gap=3, interval=12):
    trigger, last, fired = ChangeTrigger(min_gap), None, []
    for i, frame in enumerate(frames):
        since = 0 if last is None else i - last
        appeared = trigger.wants_keyframe(frame, since)
        if last is None or appeared or since >= interval:
            trigger.keyframe()
            last = i
            if appeared:
                fired.append(i)
    return fired


def test_a_still_or_noisy_picture_triggers_nothing():
    assert _fires(_frames(40)) == []
    assert _fires(_frames(40, noise=4.0)) == []


def test_an_appearance_triggers_one_keyframe_while_it_is_on_screen():
    # A block cut in at frame 15 (keyframes at 0 and 12), moving 3 px a frame: one trigger at
    # once, none for its steady motion after.
    assert _fires(_frames(40, 15, 22, move=3)) == [15]
    # Cut in one frame after a keyframe: the trigger waits out the gap, still on screen; a
    # still block cut out again (frame 21) is a change too.
    assert _fires(_frames(40, 13, 20)) == [15, 21]


@pytest.mark.parametrize("change_keyframes", [True, False])
def test_a_brand_between_two_keyframes_is_removed(tmp_path, real_media, change_keyframes):
    # On screen on frames 13-22 only, between keyframes 12 and 24.
    clip = make_composite(
        tmp_path, "bikes.mp4", WINDOWS, 30, width_frac=0.3, speed_px=2, start_frame=13,
        end_frame=22,
    )  # fmt: skip
    config = load_config(None, {"change_keyframes": change_keyframes, "keyframe_interval": 12})
    masks_dir = tmp_path / "masks"
    Pipeline(
        Job(clip.path, None, [BrandCue("windows", "blur", (WINDOWS,))], config,
            masks_dir=masks_dir)
    ).run()  # fmt: skip
    covered = []
    for index in range(13, 23):
        mask = cv2.imread(str(masks_dir / f"{index:06d}.png"), cv2.IMREAD_GRAYSCALE) > 0
        covered.append(mask[clip.masks[index].to_dense()].mean())
    if change_keyframes:
        assert min(covered) > 0.97, covered
    else:
        assert max(covered) == 0.0  # what the trigger is for
