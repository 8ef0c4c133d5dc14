import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoFrame
from autoblur.remove import MaskedFrame, build_removers
from autoblur.remove.spatial import feather_alpha
from autoblur.types import RegionMask


def textured_frame():
    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(0, 255, (30, 40, 3)), np.ones((8, 8, 1))).astype(np.uint8)
    return base  # 240x320 blocks


def logo_mask():
    dense = np.zeros((240, 320), bool)
    dense[80:150, 100:200] = True
    return RegionMask.from_dense(dense)


@pytest.mark.parametrize("action", ["blur", "pixelate", "fill", "inpaint"])
def test_each_action_replaces_the_mask_and_nothing_far_away(action):
    rgb = textured_frame()
    original = rgb.copy()
    stripes = np.where((np.arange(100) // 4) % 2, 255, 0)  # the "logo": sharp stripes
    rgb[80:150, 100:200] = stripes[None, :, None]
    config = PipelineConfig()
    (remover,) = build_removers(config, {action, "keep"})
    item = MaskedFrame(VideoFrame(0, 0, 0.0, rgb), {action: logo_mask()})
    (out,) = list(remover(iter([item])))
    inside = out.frame.rgb[80:150, 100:200].mean(axis=2)
    pattern = np.broadcast_to(stripes[None, :], inside.shape)
    assert abs(np.corrcoef(inside.ravel(), pattern.ravel())[0, 1]) < 0.3  # the pattern is gone
    far = np.ones((240, 320), bool)
    x0, y0, x1, y1 = out.changed_xyxy
    far[y0:y1, x0:x1] = False
    assert np.array_equal(out.frame.rgb[far], original[far])
    assert x0 <= 100 and y0 <= 80 and x1 >= 200 and y1 >= 150


def test_fill_uses_the_configured_colour():
    config = PipelineConfig.model_validate({"remove": {"fill_color": [0, 255, 0], "feather_px": 0}})
    (remover,) = build_removers(config, {"fill"})
    rgb = textured_frame()
    (out,) = list(remover(iter([MaskedFrame(VideoFrame(0, 0, 0.0, rgb), {"fill": logo_mask()})])))
    assert (out.frame.rgb[80:150, 100:200] == (0, 255, 0)).all()


def test_inpaint_continues_a_smooth_background():
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.float32), (240, 1))
    rgb = np.stack([ramp, ramp, ramp], axis=2).astype(np.uint8)
    clean = rgb.copy()
    rgb[80:150, 100:200] = (250, 20, 20)
    (remover,) = build_removers(PipelineConfig(), {"inpaint"})
    (out,) = list(
        remover(iter([MaskedFrame(VideoFrame(0, 0, 0.0, rgb), {"inpaint": logo_mask()})]))
    )
    error = np.abs(out.frame.rgb[80:150, 100:200].astype(int) - clean[80:150, 100:200]).mean()
    assert error < 15


def test_frames_without_masks_pass_untouched():
    (remover,) = build_removers(PipelineConfig(), {"blur"})
    rgb = textured_frame()
    (out,) = list(remover(iter([MaskedFrame(VideoFrame(0, 0, 0.0, rgb.copy()))])))
    assert out.changed_xyxy is None and np.array_equal(out.frame.rgb, rgb)


def test_feather_is_one_inside_and_fades_outside():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    alpha = feather_alpha(mask, 4)
    assert (alpha[mask] == 1).all()
    assert 0 < alpha[10, 16] < 1 and alpha[10, 19] < alpha[10, 16]
    assert alpha[0, 0] == 0
