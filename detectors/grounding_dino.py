"""Open-vocabulary detector: finds brands from text prompts with Grounding-DINO.

Uses the ``transformers`` implementation (``GroundingDinoForObjectDetection``). All prompts go
into one caption ("nike logo . red bull can ."), split into several captions only when they
exceed the model's text length; each box is credited to the phrase whose tokens score highest,
and overlapping boxes are merged across prompts by non-maximum suppression.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoblur.config import GroundingDinoConfig, PipelineConfig
from autoblur.errors import CheckpointError
from autoblur.models import load_manifest, missing_message
from autoblur.models.extra import require_modules
from autoblur.types import BrandCue, Detections, box_iou
from detectors.base import DETECTORS

require_modules("the grounding_dino detector", "torch", "transformers")

import torch  # noqa: E402
from huggingface_hub import try_to_load_from_cache  # noqa: E402
from transformers import AutoProcessor, GroundingDinoForObjectDetection  # noqa: E402

from autoblur.models.torch_io import resolve_device  # noqa: E402

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phrase:
    """One prompt: its text as it appears in the caption and the brand it stands for."""

    text: str
    brand: str


@dataclass(frozen=True)
class Caption:
    """A caption fed to the model and which token positions belong to which phrase."""

    text: str
    phrase_tokens: list[tuple[Phrase, list[int]]]


def _clean(prompt: str) -> str:
    return " ".join(prompt.lower().replace(".", " ").split())


def build_captions(phrases: Sequence[Phrase], tokenizer, max_tokens: int) -> list[Caption]:
    """Pack phrases into as few ``"a . b . c ."`` captions as fit in ``max_tokens`` tokens."""
    captions: list[Caption] = []
    group: list[Phrase] = []
    for phrase in phrases:
        trial = [*group, phrase]
        if group and len(tokenizer(_join(trial))["input_ids"]) > max_tokens:
            captions.append(_caption(group, tokenizer))
            trial = [phrase]
        group = trial
    if group:
        captions.append(_caption(group, tokenizer))
    return captions


def _join(group: Sequence[Phrase]) -> str:
    return " . ".join(p.text for p in group) + " ."


def _caption(group: Sequence[Phrase], tokenizer) -> Caption:
    text = _join(group)
    offsets = tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    spans, start = [], 0
    for phrase in group:
        spans.append((phrase, start, start + len(phrase.text)))
        start += len(phrase.text) + len(" . ")
    phrase_tokens = []
    for phrase, begin, end in spans:
        tokens = [i for i, (a, b) in enumerate(offsets) if b > a and a >= begin and b <= end]
        phrase_tokens.append((phrase, tokens))
    return Caption(text, phrase_tokens)


def nms(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = list(np.argsort(-scores, kind="stable"))
    kept: list[int] = []
    overlaps = box_iou(xyxy, xyxy)
    for index in order:
        if all(overlaps[index, k] <= iou for k in kept):
            kept.append(int(index))
    return kept


class GroundingDinoDetector:
    """Finds the brands that have ``prompts`` on keyframes.

    Args:
        cues: the brands; only their ``prompts`` are read.
        config: the pipeline config (``detect.grounding_dino`` and ``device``).

    Raises:
        CheckpointError: the model is neither a local folder nor in the Hugging Face cache,
            with the command that fetches it.
    """

    name = "grounding_dino"

    def __init__(self, cues: Sequence[BrandCue], config: PipelineConfig) -> None:
        self.settings: GroundingDinoConfig = config.detect.grounding_dino
        self.device = resolve_device(config.device)
        self.processor, self.model = _load(self.settings.model, self.device)
        phrases = [Phrase(_clean(p), cue.name) for cue in cues for p in cue.prompts if _clean(p)]
        max_tokens = self.model.config.max_text_len
        self.captions = build_captions(phrases, self.processor.tokenizer, max_tokens)
        self.autocast = _autocast(self.device, self.settings.precision)

    def detect(self, rgb: np.ndarray) -> Detections:
        """See :class:`detectors.base.Detector`."""
        return self.detect_batch([rgb])[0]

    def detect_batch(self, frames_rgb: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for several same-sized keyframes, ``batch_size`` per forward pass."""
        found: list[list[Detections]] = [[] for _ in frames_rgb]
        step = self.settings.batch_size
        for caption in self.captions:
            for first in range(0, len(frames_rgb), step):
                chunk = frames_rgb[first : first + step]
                for offset, dets in enumerate(self._run(chunk, caption)):
                    found[first + offset].append(dets)
        return [self._merge(parts) for parts in found]

    @torch.inference_mode()
    def _run(self, frames_rgb: Sequence[np.ndarray], caption: Caption) -> list[Detections]:
        inputs = self.processor(
            images=list(frames_rgb), text=[caption.text] * len(frames_rgb), return_tensors="pt"
        ).to(self.device)
        with self.autocast:
            outputs = self.model(**inputs)
        token_scores = outputs.logits.float().sigmoid().cpu().numpy()  # (B, Q, T)
        boxes = outputs.pred_boxes.float().cpu().numpy()  # (B, Q, 4) cx, cy, w, h in [0, 1]
        return [
            self._decode(token_scores[i], boxes[i], caption, frames_rgb[i].shape[:2])
            for i in range(len(frames_rgb))
        ]

    def _decode(
        self, token_scores: np.ndarray, boxes: np.ndarray, caption: Caption, frame_hw
    ) -> Detections:
        usable = [(p, t) for p, t in caption.phrase_tokens if t]
        if not usable:
            return Detections.empty()
        best = np.stack([token_scores[:, t].max(axis=1) for _, t in usable], axis=1)  # (Q, P)
        mean = np.stack([token_scores[:, t].mean(axis=1) for _, t in usable], axis=1)
        winner = best.argmax(axis=1)
        rows = np.arange(len(winner))
        score = best[rows, winner]
        keep = np.nonzero(
            (score >= self.settings.box_threshold)
            & (mean[rows, winner] >= self.settings.text_threshold)
        )[0]
        h, w = frame_hw
        centre, size = boxes[keep, :2], boxes[keep, 2:]
        xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1) * [w, h, w, h]
        xyxy = np.clip(xyxy, 0, [w, h, w, h])
        phrases = [usable[winner[q]][0] for q in keep]
        return Detections(
            xyxy,
            score[keep],
            [p.brand for p in phrases],
            [self.name] * len(keep),
            [p.text for p in phrases],
        )

    def _merge(self, parts: list[Detections]) -> Detections:
        found = Detections.concat(parts)
        sizes = found.xyxy[:, 2:] - found.xyxy[:, :2]
        found = found.select(np.nonzero((sizes > 1).all(axis=1))[0])
        kept = nms(found.xyxy, found.confidence, self.settings.nms_iou)
        return found.select(kept[: self.settings.max_detections])


def _autocast(device: torch.device, precision: str):
    if device.type != "cuda" or precision == "fp32":
        return nullcontext()
    if precision == "fp16" or (precision == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast("cuda", dtype=torch.bfloat16)


def _load(model_ref: str, device: torch.device):
    folder = Path(model_ref).expanduser()
    if not folder.is_dir():
        if not isinstance(try_to_load_from_cache(model_ref, "config.json"), str):
            entry = next((m for m in load_manifest().models.values() if m.repo == model_ref), None)
            if entry is not None:
                raise CheckpointError(missing_message(entry))
            raise CheckpointError(
                f"Grounding-DINO model {model_ref!r} is neither a folder nor in the Hugging "
                f"Face cache; fetch it with `hf download {model_ref}`"
            )
    source = str(folder) if folder.is_dir() else model_ref
    try:
        processor = AutoProcessor.from_pretrained(source, local_files_only=True)
        model = GroundingDinoForObjectDetection.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{source}: cannot load a Grounding-DINO model ({first})") from None
    return processor, model.to(device).eval()


@DETECTORS.register("grounding_dino")
def build_grounding_dino(cues: Sequence[BrandCue], config: PipelineConfig) -> GroundingDinoDetector:
    """The prompt detector for the brands that have ``prompts``."""
    return GroundingDinoDetector(cues, config)
