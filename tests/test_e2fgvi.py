"""E2FGVI: parity of both variants with the official code, and the inpainter's plumbing.

Parity: rule weights (architecture constants kept as built) load strictly and reproduce the
stored official outputs (``$AUTOBLUR_PARITY_DIR/e2fgvi`` and ``e2fgvi_hq``) within the
README's acceptance: max abs diff 1e-4 on ``pred_imgs`` and flows, stats within rel. 1e-5.
Plumbing: the same weights as checkpoint files, on a real clip with a composited logo (crop
and paste back, window boundaries, frame count, bounded look-ahead).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="needs the models extra: pip install -e '.[test,models]' -c constraints.txt"
)

from autoblur.config import load_config  # noqa: E402
from autoblur.io import VideoReader  # noqa: E402
from autoblur.remove import MaskedFrame, build_removers  # noqa: E402
from autoblur.remove.e2fgvi.inpainter import (  # noqa: E402
    E2fgviInpainter,
    crop_box,
    padded_size,
    working_size,
)
from autoblur.remove.e2fgvi.model import InpaintGenerator  # noqa: E402
from tests.conftest import IMAGES, make_composite, needs_parity, parity_dir  # noqa: E402
from tests.parity_weights import assert_stats_close, rule_state_dict, tensor_sha256  # noqa: E402

TOL = 1e-4
VARIANTS = {"e2fgvi": False, "e2fgvi_hq": True}


def _rule_model(variant: str) -> InpaintGenerator:
    """The variant with rule weights; its constant buffers (no weights) stay as built."""
    model = InpaintGenerator(hq=VARIANTS[variant]).eval()
    kept = dict(model.named_buffers())
    model.load_state_dict(rule_state_dict(model, kept), strict=True)
    return model


@pytest.mark.parametrize("variant", list(VARIANTS))
@needs_parity
def test_parity(variant):
    torch.set_num_threads(2)
    folder = parity_dir(variant)
    manifest = json.loads((folder / "state_dict_manifest.json").read_text())
    model = _rule_model(variant)
    kept = {e["name"] for e in manifest["entries"] if e["rule"] == "kept_constructed_value"}
    assert kept == {name for name, _ in model.named_buffers()}
    weights = model.state_dict()
    assert sorted(weights) == sorted(e["name"] for e in manifest["entries"])
    for entry in manifest["entries"]:
        if entry["name"] in kept:
            value = torch.tensor(entry["kept_value"], dtype=weights[entry["name"]].dtype)
            assert torch.equal(value.view(weights[entry["name"]].shape), weights[entry["name"]])
        assert tensor_sha256(weights[entry["name"]]) == entry["generated_sha256"], entry["name"]
    assert sum(p.numel() for p in model.parameters()) == manifest["num_parameters"]
    case = np.load(folder / "case.npz")
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        (model.encoder, "enc_feat"),
        (model.feat_prop_module, "feat_prop_out"),
        (model.ss, "ss_out"),
        (model.transformer[-1], "transformer_out"),
        (model.sc, "sc_out"),
        (model.decoder, "decoder_out_pre_tanh"),
    ]
    for module, name in hooks:
        module.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o))
    with torch.no_grad():
        pred, (forward, backward) = model(
            torch.from_numpy(case["masked_frames"]), int(case["num_local_frames"])
        )
    assert np.abs(pred.numpy() - case["pred_imgs"]).max() <= TOL
    assert np.abs(forward.numpy() - case["pred_flows_forward"]).max() <= TOL
    assert np.abs(backward.numpy() - case["pred_flows_backward"]).max() <= TOL
    for name in ("enc_feat", "feat_prop_out", "ss_out", "transformer_out", "sc_out"):
        assert list(seen[name].shape) == list(case[f"shape__{name}"]), name
        assert_stats_close(seen[name], case[f"stats__{name}"])
    assert_stats_close(seen["decoder_out_pre_tanh"], case["stats__decoder_out_pre_tanh"])
    assert np.abs(seen["enc_feat"][:, :8].numpy() - case["enc_feat_ch0_8"]).max() <= TOL


def test_sizes_and_crops():
    assert working_size((90, 500), hq=False, max_side=432) == (240, 432)
    assert working_size((300, 864), hq=True, max_side=432) == (152, 432)
    assert padded_size((152, 432)) == (180, 432)
    box = crop_box([np.array([100, 100, 140, 120])], (360, 640), 0.75, 432 / 240)
    x0, y0, x1, y1 = box
    assert x0 <= 100 and y0 <= 100 and x1 >= 140 and y1 >= 120
    assert abs((x1 - x0) / (y1 - y0) - 1.8) < 0.05 and 0 <= x0 and x1 <= 640


@pytest.fixture(scope="module")
def clip(tmp_path_factory, real_media):
    folder = tmp_path_factory.mktemp("e2")
    return make_composite(folder, "bikes.mp4", IMAGES / "box.png", 9, width_frac=0.2)


def _masked_frames(clip, count):
    with VideoReader(clip.path) as reader:
        for frame, mask in zip(reader.frames(), clip.masks[:count], strict=False):
            yield MaskedFrame(frame, {"inpaint": mask.dilate(4)} if mask is not None else {})


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_inpainter_windows_crop_and_paste(clip, variant):
    hq = VARIANTS[variant]
    config = load_config(
        None,
        {"remove": {"e2fgvi": {"local_frames": 3, "stride": 2, "reference_frames": 1,
                               "reference_step": 2, "max_side": 216}}},
    )  # fmt: skip
    inpainter = E2fgviInpainter(config, hq=hq, model=_rule_model(variant))
    originals = [f.frame.rgb.copy() for f in _masked_frames(clip, 6 if hq else 4)]
    pulled = []

    def source():
        for item in _masked_frames(clip, len(originals)):
            pulled.append(item.frame.index)
            yield item

    windows_seen = []
    out = []
    original_paste = inpainter._paste

    def spy(pending):
        windows_seen.append((pending.position, pending.windows))
        original_paste(pending)

    inpainter._paste = spy
    for item in inpainter(source()):
        assert len(pulled) - len(out) <= 3 + 2  # look-ahead bounded by one window plus a step
        out.append(item)
    assert [i.frame.index for i in out] == list(range(len(originals)))
    # Stride 2, windows of 3: frames at the window overlaps are predicted twice.
    assert dict(windows_seen)[2] == 2 and dict(windows_seen)[1] == 1
    for item, before, truth in zip(out, originals, clip.masks, strict=False):
        after = item.frame.rgb
        inside = truth.to_dense()
        near = truth.dilate(4 + 4 + 3).to_dense()
        assert np.array_equal(after[~near], before[~near])  # nothing changes away from the mask
        assert np.abs(after[inside].astype(int) - before[inside]).mean() > 1  # the hole is filled
        assert item.changed_xyxy is not None


def test_missing_checkpoint_and_licence_notice(tmp_path, monkeypatch):
    from autoblur.errors import CheckpointError

    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    config = load_config(None, {"remove": {"inpainter": "e2fgvi-hq"}})
    with pytest.raises(CheckpointError, match="autoblur models download e2fgvi_hq"):
        build_removers(config, {"inpaint"})
    # auto never picks E2FGVI (non-commercial): the temporal inpainter without weights.
    [remover] = build_removers(load_config(None, {"remove": {"inpaint_processes": 0}}), {"inpaint"})
    assert type(remover).__name__ == "PropagateInpainter"
    [remover] = build_removers(load_config(None, {"remove": {"inpaint_processes": 1}}), {"inpaint"})
    assert (type(remover).__name__, remover.backend) == ("WorkerRemover", "propagate")


def test_e2fgvi_hq_run_end_to_end(tmp_path, clip, monkeypatch):
    from click.testing import CliRunner

    from autoblur.cli import main

    model = _rule_model("e2fgvi_hq")
    torch.save(model.state_dict(), tmp_path / "E2FGVI-HQ-CVPR22.pth")
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    config = tmp_path / "e2.yaml"
    config.write_text("remove:\n  e2fgvi:\n    local_frames: 5\n    stride: 4\n    max_side: 216\n")
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(
        main,
        ["run", str(clip.path), "-o", str(out), "--logo", str(IMAGES / "box.png"),
         "--inpainter", "e2fgvi-hq", "--config", str(config), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with VideoReader(out) as reader:
        assert sum(1 for _ in reader.frames()) == clip.frame_count
