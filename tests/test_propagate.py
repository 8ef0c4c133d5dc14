import numpy as np
import pytest

from autoblur.config import PipelineConfig
from autoblur.io import VideoReader
from autoblur.remove import MaskedFrame, build_removers
from tests.conftest import IMAGES, VIDEOS, make_composite


def in_mask_psnr(composite, inpainter, clean):
    config = PipelineConfig.model_validate({"remove": {"inpainter": inpainter}})
    (remover,) = build_removers(config, {"inpaint"})
    with VideoReader(composite.path) as reader:
        items = [
            MaskedFrame(f, {"inpaint": composite.masks[f.index].dilate(6)}) for f in reader.frames()
        ]
    out = list(remover(iter(items)))
    assert [o.frame.index for o in out] == list(range(len(items)))  # all frames, in order
    errors = []
    for o in out:
        truth = composite.masks[o.frame.index].to_dense()
        errors.append(
            np.mean((o.frame.rgb[truth].astype(float) - clean[o.frame.index][truth]) ** 2)
        )
    return 10 * np.log10(255**2 / np.mean(errors))


@pytest.fixture(scope="module")
def carphone(tmp_path_factory, real_media):
    clip = make_composite(
        tmp_path_factory.mktemp("carphone"),
        "carphone_pristine.mp4",
        IMAGES / "WindowsLogo.jpg",
        60,
        width_frac=0.15,
        speed_px=4,
    )
    with VideoReader(VIDEOS / "carphone_pristine.mp4") as reader:
        clean = [f.rgb for f in reader.frames() if f.index < 60]
    return clip, clean


def test_propagate_brings_back_the_real_background(carphone):
    clip, clean = carphone
    spatial = in_mask_psnr(clip, "spatial", clean)
    temporal = in_mask_psnr(clip, "propagate", clean)
    assert temporal > spatial + 3
