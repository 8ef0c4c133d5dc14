"""Grounding-DINO prompts and box-prompted SAM, on random-weight models in the real formats.

Random weights find random things, so these tests check the plumbing: the real loading code,
captions and phrase mapping, boxes inside the frame, masks of the frame's size, tracks and
report through the whole ``--prompt`` pipeline, and the errors when a model is missing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip(
    "torch", reason="needs the models extra: pip install -e '.[test,models]' -c constraints.txt"
)
pytest.importorskip(
    "transformers",
    reason="needs the models extra: pip install -e '.[test,models]' -c constraints.txt",
)
pytest.importorskip(
    "segment_anything",
    reason="needs the models extra: pip install -e '.[test,models]' -c constraints.txt",
)

from autoblur.cli import main  # noqa: E402
from autoblur.config import load_config  # noqa: E402
from autoblur.errors import CheckpointError  # noqa: E402
from autoblur.io import VideoReader  # noqa: E402
from autoblur.segment import build_segmenter  # noqa: E402
from autoblur.segment.classical import grabcut_box  # noqa: E402
from autoblur.segment.sam import SamSegmenter, leak_share, load_sam, sam_architecture  # noqa: E402
from autoblur.types import BrandCue, Detections, RegionMask  # noqa: E402
from detectors.grounding_dino import GroundingDinoDetector, build_captions, nms  # noqa: E402
from tests.conftest import IMAGES, make_composite  # noqa: E402
from tests.tiny_models import VIT_B, write_sam_checkpoint, write_tiny_grounding_dino  # noqa: E402

SCENE = IMAGES / "box_in_scene.png"
CUES = [
    BrandCue("Nike", "blur", prompts=("Nike logo",)),
    BrandCue("Red Bull", "blur", prompts=("red bull can", "blue can")),
]


@pytest.fixture(scope="module")
def gd_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_grounding_dino(tmp_path_factory.mktemp("gd") / "tiny-gd")


@pytest.fixture(scope="module")
def sam_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ckpt")
    write_sam_checkpoint(folder / "sam_vit_b_01ec64.pth")
    return folder


def _scene() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(SCENE)), cv2.COLOR_BGR2RGB)


def _gd_config(gd_folder: Path, **settings):
    values = {"model": str(gd_folder), "box_threshold": 0.0, "text_threshold": 0.0, **settings}
    return load_config(None, {"detect": {"grounding_dino": values}})


def test_prompts_share_captions_and_map_back_to_their_phrases(gd_folder, real_media):
    detector = GroundingDinoDetector(CUES, _gd_config(gd_folder))
    [caption] = detector.captions
    assert caption.text == "nike logo . red bull can . blue can ."
    tokenizer = detector.processor.tokenizer
    for phrase, tokens in caption.phrase_tokens:
        ids = tokenizer(caption.text)["input_ids"]
        assert tokenizer.decode([ids[t] for t in tokens]) == phrase.text
    # A text budget too small for all phrases splits them: [CLS] + 7 + [SEP] tokens fit in 9.
    split = build_captions([p for p, _ in caption.phrase_tokens], tokenizer, max_tokens=9)
    assert [c.text for c in split] == ["nike logo . red bull can .", "blue can ."]


def test_detections_are_inside_the_frame_and_named_after_brands(gd_folder, real_media):
    detector = GroundingDinoDetector(CUES, _gd_config(gd_folder, max_detections=6))
    rgb = _scene()
    found = detector.detect(rgb)
    h, w = rgb.shape[:2]
    assert 0 < len(found) <= 6
    assert (found.xyxy >= 0).all() and (found.xyxy[:, [2, 3]] <= [w, h]).all()
    assert (found.xyxy[:, 2:] > found.xyxy[:, :2]).all()
    assert set(found.brand) <= {"Nike", "Red Bull"} and set(found.source) == {"grounding_dino"}
    assert set(found.cue) <= {"nike logo", "red bull can", "blue can"}
    overlaps = np.triu(
        np.array([[_iou(a, b) for b in found.xyxy] for a in found.xyxy]), k=1
    )  # no two kept boxes overlap more than the NMS threshold
    assert overlaps.max() <= 0.5
    batch = detector.detect_batch([rgb, rgb[:, ::-1].copy(), rgb])
    assert np.allclose(batch[0].xyxy, found.xyxy, atol=0.5) and batch[0].brand == found.brand
    assert np.allclose(batch[2].xyxy, found.xyxy, atol=0.5)
    # Thresholds bite: nothing reaches a box score above 1.
    strict = GroundingDinoDetector(CUES, _gd_config(gd_folder, box_threshold=1.0))
    assert len(strict.detect(rgb)) == 0


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    from autoblur.types import box_iou

    return float(box_iou(a, b)[0, 0])


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.1]), 0.5) == [1, 2]


def test_missing_hub_model_names_the_download_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match="autoblur models download grounding_dino_tiny"):
        GroundingDinoDetector(CUES, load_config())
    with pytest.raises(CheckpointError, match="not a Grounding-DINO|cannot load"):
        GroundingDinoDetector(CUES, _gd_config(tmp_path))


def test_sam_architecture_is_read_from_the_checkpoint(tmp_path):
    path = write_sam_checkpoint(tmp_path / "vit_b.pth", VIT_B)  # the real vit_b configuration
    from autoblur.models.torch_io import read_state_dict

    assert sam_architecture(read_state_dict(path)) == VIT_B
    model = load_sam(path, __import__("torch").device("cpu"))
    assert sum(p.numel() for p in model.parameters()) == 93_735_472  # SAM ViT-B's size


def test_sam_masks_each_box_from_one_embedding(sam_folder, monkeypatch, caplog, real_media):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(sam_folder))
    with caplog.at_level(logging.WARNING):
        segmenter = SamSegmenter(load_config(None, {"segment": {"backend": "sam"}}))
    assert sum("sha256 differs" in r.message for r in caplog.records) == 1  # not the official file
    rgb = _scene()
    boxes = np.array([[40, 60, 200, 220], [300, 100, 420, 180]], np.float32)
    detections = Detections(boxes, [0.9, 0.8], ["a", "b"], ["grounding_dino"] * 2, ["x", "y"])
    calls = []
    original = segmenter.predictor.set_image
    monkeypatch.setattr(
        segmenter.predictor, "set_image", lambda img: (calls.append(1), original(img))
    )
    out = segmenter.segment(rgb, detections)
    assert calls == [1]
    for box, mask in zip(boxes, out.masks, strict=True):
        assert mask is not None and mask.frame_hw == rgb.shape[:2]
        dense = mask.to_dense()
        assert leak_share(dense, box) <= 0.2
    # A detection with an exact mask of its own (a logo silhouette) keeps it, with no SAM pass.
    own = RegionMask.from_dense(_box_mask(rgb.shape[:2], 50, 70, 90, 110))
    kept = Detections(boxes[:1], [0.9], ["a"], ["logo"], ["x"], [own])
    assert segmenter.segment(rgb, kept).masks[0] is own and calls == [1]


def _box_mask(frame_hw, x0, y0, x1, y1):
    dense = np.zeros(frame_hw, bool)
    dense[y0:y1, x0:x1] = True
    return dense


def test_leaking_masks_are_refused():
    mask = np.zeros((100, 100), bool)
    mask[10:20, 10:20] = True
    assert leak_share(mask, np.array([10, 10, 20, 20])) == 0
    mask[50:90, 50:90] = True
    assert leak_share(mask, np.array([10, 10, 20, 20])) > 0.9


def test_grabcut_finds_a_logo_in_its_box(tmp_path, real_media):
    clip = make_composite(tmp_path, "bikes.mp4", IMAGES / "box.png", 2, width_frac=0.3)
    with VideoReader(clip.path) as reader:
        rgb = next(reader.frames()).rgb
    truth = clip.masks[0]
    mask = grabcut_box(rgb, truth.xyxy)
    assert mask is not None
    dense, want = mask.to_dense(), truth.to_dense()
    assert (dense & want).sum() / (dense | want).sum() > 0.6


def test_auto_segmenter_falls_back_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    notices: list[str] = []
    segmenter = build_segmenter(load_config(), notices)
    assert segmenter.name == "grabcut"
    assert len(notices) == 1 and "autoblur models download sam_vit_b" in notices[0]
    with pytest.raises(CheckpointError, match="autoblur models download sam_vit_b"):
        build_segmenter(load_config(None, {"segment": {"backend": "sam"}}), [])


def test_prompt_pipeline_end_to_end(tmp_path, gd_folder, sam_folder, monkeypatch, real_media):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(sam_folder))
    clip = make_composite(tmp_path, "bikes.mp4", IMAGES / "box.png", 30, width_frac=0.3)
    config = tmp_path / "prompt.yaml"
    config.write_text(
        "keyframe_interval: 10\n"
        "detect:\n  grounding_dino:\n    box_threshold: 0.0\n    text_threshold: 0.0\n"
        "    max_detections: 2\n"
        # A random-weight model at threshold 0 finds a box on every frame, the output's too.
        "verify:\n  enabled: false\n"
    )
    out, report, masks = tmp_path / "out.mp4", tmp_path / "r.json", tmp_path / "masks"
    result = CliRunner().invoke(
        main,
        [
            "run", str(clip.path), "-o", str(out), "--prompt", "biscuit box",
            "--model", str(gd_folder), "--segmenter", "sam", "--config", str(config),
            "--report", str(report), "--masks", str(masks), "--mode", "blur",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert "neural models run on cpu" in data["notices"]
    assert data["tracks"] and {t["brand"] for t in data["tracks"]} == {"biscuit box"}
    height, width = clip.masks[0].frame_hw
    for track in data["tracks"]:
        for key in track["keyframes"]:
            x0, y0, x1, y1 = key["xyxy"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    pngs = sorted(masks.glob("*.png"))
    assert len(pngs) == 30
    assert cv2.imread(str(pngs[0]), cv2.IMREAD_GRAYSCALE).shape == (height, width)
    with VideoReader(out) as reader:
        assert sum(1 for _ in reader.frames()) == 30


def test_prompt_without_its_model_fails_at_start(tmp_path, monkeypatch, real_media):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(
        main, ["run", str(IMAGES.parent / "videos" / "bikes.mp4"), "-o", str(out),
               "--prompt", "Nike logo"],
    )  # fmt: skip
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert "grounding_dino_tiny" in line and "autoblur models download grounding_dino_tiny" in line
    assert not out.exists()


def test_keyframes_detected_in_batches_give_the_same_tracks(tmp_path, gd_folder, real_media):
    from autoblur.pipeline import Job, Pipeline

    clip = make_composite(tmp_path, "bikes.mp4", IMAGES / "box.png", 30, width_frac=0.3)
    cues = [BrandCue("biscuit box", "blur", prompts=("biscuit box",))]
    reports = []
    for batch in (1, 3):
        config = load_config(
            None,
            {
                "keyframe_interval": 6,
                "change_keyframes": False,  # the 6 scheduled keyframes, batched or not
                "segment": {"backend": "none"},  # box masks: no GrabCut randomness
                "detect": {
                    "keyframe_batch": batch,
                    "grounding_dino": {"model": str(gd_folder), "box_threshold": 0.0,
                                       "text_threshold": 0.0, "max_detections": 2},
                },
            },
        )  # fmt: skip
        reports.append(Pipeline(Job(clip.path, None, cues, config)).run())
    single, batched = reports
    assert single["timing"]["keyframes"] == batched["timing"]["keyframes"] == 6
    assert len(single["tracks"]) == len(batched["tracks"]) > 0
    for a, b in zip(single["tracks"], batched["tracks"], strict=True):
        assert (a["first_frame"], a["last_frame"]) == (b["first_frame"], b["last_frame"])
        for ka, kb in zip(a["keyframes"], b["keyframes"], strict=True):
            assert ka["frame"] == kb["frame"]
            assert np.allclose(ka["xyxy"], kb["xyxy"], atol=1.0)


def test_runs_without_box_detectors_load_no_segmentation_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))  # SAM absent: it would be noted
    notices: list[str] = []
    segmenter = build_segmenter(load_config(), notices, boxes_expected=False)
    assert segmenter.name == "grabcut" and notices == []
