"""Neural keyframe stages: Grounding-DINO detection and SAM segmentation time at 720p.

Uses the downloaded models when present (``autoblur models download grounding_dino_tiny
sam_vit_b``); otherwise the same architectures (Grounding-DINO tiny's configuration, SAM
ViT-B) with random weights, which take the same time. Frames: ../shared/data/videos/
bigbuckbunny.mp4 at 720p, several prompts in one caption, 3 boxes per keyframe for SAM.

Usage: python bench/bench_models.py [--device auto] [--keyframes 4] [--batch 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.models import checkpoint_path, load_manifest
from autoblur.types import BrandCue, Detections

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ["nike logo", "red bull can", "coca-cola bottle", "adidas logo"]


def keyframes(video: Path, count: int) -> list[np.ndarray]:
    with VideoReader(video) as reader:
        return [f.rgb.copy() for f in reader.frames() if f.index % 12 == 0][:count]


def grounding_dino_source(folder: Path) -> tuple[str, str]:
    """The hub model when cached, else a random model of its architecture saved to ``folder``."""
    from huggingface_hub import try_to_load_from_cache
    from transformers import (
        BertTokenizerFast,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    repo = load_manifest().get("grounding_dino_tiny").repo
    if isinstance(try_to_load_from_cache(repo, "config.json"), str):
        return repo, "downloaded weights"
    GroundingDinoForObjectDetection(GroundingDinoConfig()).save_pretrained(folder)
    words = sorted({w for p in PROMPTS for w in p.replace("-", " ").split()})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "-"]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(specials + words)})
    GroundingDinoProcessor(GroundingDinoImageProcessor(), tokenizer).save_pretrained(folder)
    return str(folder), "random weights, tiny architecture"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--keyframes", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    frames = keyframes(args.data / "videos" / "bigbuckbunny.mp4", args.keyframes)
    cues = [BrandCue(p, "blur", prompts=(p,)) for p in PROMPTS]
    with tempfile.TemporaryDirectory() as tmp:
        source, weights = grounding_dino_source(Path(tmp) / "gd")
        from detectors.grounding_dino import GroundingDinoDetector

        config = load_config(
            None,
            {"device": args.device, "detect": {"grounding_dino": {"model": source,
                                                                   "batch_size": args.batch}}},
        )  # fmt: skip
        detector = GroundingDinoDetector(cues, config)
        detector.detect(frames[0])  # warm-up
        started = time.perf_counter()
        for rgb in frames:
            detector.detect(rgb)
        single = (time.perf_counter() - started) / len(frames)
        started = time.perf_counter()
        detector.detect_batch(frames)
        batched = (time.perf_counter() - started) / len(frames)
        print(
            f"device {detector.device}; Grounding-DINO ({weights}), {len(PROMPTS)} prompts, "
            f"720p: {single * 1000:.0f} ms/keyframe alone, {batched * 1000:.0f} ms/keyframe "
            f"in batches of {args.batch}"
        )
        sam_path = checkpoint_path(load_manifest().get("sam_vit_b"))
        sam_weights = "downloaded weights"
        if not sam_path.is_file():
            from segment_anything import sam_model_registry

            sam_path = Path(tmp) / "vit_b.pth"
            torch.save(sam_model_registry["vit_b"]().state_dict(), sam_path)
            sam_weights = "random weights"
        from autoblur.segment.sam import SamSegmenter

        segmenter = SamSegmenter(
            load_config(None, {"device": args.device,
                               "segment": {"sam": {"checkpoint": str(sam_path)}}})
        )  # fmt: skip
        h, w = frames[0].shape[:2]
        boxes = np.array(
            [[w * 0.1, h * 0.1, w * 0.3, h * 0.3], [w * 0.5, h * 0.4, w * 0.7, h * 0.6],
             [w * 0.6, h * 0.7, w * 0.9, h * 0.9]], np.float32,
        )  # fmt: skip

        def detections() -> Detections:
            return Detections(boxes, [0.9] * 3, ["a"] * 3, ["grounding_dino"] * 3, ["x"] * 3)

        segmenter.segment(frames[0], detections())  # warm-up
        started = time.perf_counter()
        for rgb in frames:
            segmenter.segment(rgb, detections())
        if segmenter.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / len(frames)
        print(
            f"device {segmenter.device}; SAM ViT-B ({sam_weights}), 3 boxes, 720p: "
            f"{seconds * 1000:.0f} ms/keyframe (one embedding + 3 masks)"
        )


if __name__ == "__main__":
    main()
