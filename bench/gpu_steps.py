"""The measurements of ``bench/gpu_suite.py``, one function per step.

Each step runs in its own process (so that a step past its time limit can be stopped and GPU
memory peaks are its own) and records one row per figure as soon as it has it. Frames are
Big Buck Bunny from ``tests/data`` (part of the repository, so they travel with it), scaled.
Weights: a checkpoint in the model folder when present, else random weights of the real
architecture (speed and memory do not depend on the values); the smoke sizes use the tests'
tiny Grounding-DINO and SAM instead, and the real DeAOT and E2FGVI on tiny frames.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch

from autoblur.config import load_config
from autoblur.io import VideoReader
from autoblur.io.reader import VideoFrame
from autoblur.models import checkpoint_path, load_manifest
from autoblur.types import BrandCue, Detections
from bench.bench_deaot import objects
from bench.bench_models import PROMPTS

ROOT = Path(__file__).resolve().parent.parent
VIDEO = ROOT / "tests" / "data" / "videos" / "bigbuckbunny.mp4"


@dataclass(frozen=True)
class Sizes:
    """How much each step measures: the full GPU run or the CPU smoke run."""

    gd_heights: tuple[int, ...]
    gd_precisions: tuple[str, ...]
    gd_batch: int
    keyframes: int
    sam_variants: tuple[str, ...]
    sam_height: int
    deaot_heights: tuple[int, ...]
    deaot_objects: tuple[int, ...]
    deaot_frames: int
    deaot_max_side: int
    e2fgvi_height: int
    e2fgvi_frames: int
    encode_height: int
    encode_frames: int
    pipeline_height: int
    pipeline_frames: int
    pipeline_logos: tuple[int, ...]
    memory_frames: tuple[int, ...]
    tiny_models: bool


FULL = Sizes(
    gd_heights=(720, 1080),
    gd_precisions=("fp32", "bf16", "fp16"),
    gd_batch=4,
    keyframes=8,
    sam_variants=("vit_b", "vit_l", "vit_h"),
    sam_height=1080,
    deaot_heights=(480, 720),
    deaot_objects=(1, 3, 10),
    deaot_frames=60,
    deaot_max_side=481,
    e2fgvi_height=1080,
    e2fgvi_frames=40,
    encode_height=1080,
    encode_frames=120,
    pipeline_height=1080,
    pipeline_frames=300,
    pipeline_logos=(1, 3),
    memory_frames=(100, 1000),
    tiny_models=False,
)
SMOKE = Sizes(
    gd_heights=(72,),
    gd_precisions=("fp32",),  # autocast is for CUDA only
    gd_batch=2,
    keyframes=2,
    sam_variants=("tiny",),
    sam_height=72,
    deaot_heights=(64,),
    deaot_objects=(1, 3),
    deaot_frames=4,
    deaot_max_side=65,
    e2fgvi_height=72,
    e2fgvi_frames=2,
    encode_height=64,
    encode_frames=8,
    pipeline_height=72,
    pipeline_frames=6,
    pipeline_logos=(1, 2),
    memory_frames=(3,),  # the (2 logos, 6 frames) run is the pipeline step's last
    tiny_models=True,
)


@dataclass
class Row:
    """One figure of the table."""

    step: str
    case: str
    value: float | None
    unit: str
    peak_gpu_mib: float | None = None
    note: str = ""


class Recorder:
    """Appends rows as JSON lines to ``path`` the moment they are measured."""

    def __init__(self, path: Path, step: str, device: torch.device) -> None:
        self.path, self.step, self.device = path, step, device

    def add(self, case: str, value: float | None, unit: str, note: str = "") -> None:
        row = Row(self.step, case, value, unit, peak_gpu_mib(self.device), note)
        with self.path.open("a") as out:
            out.write(json.dumps(asdict(row)) + "\n")

    def start(self) -> None:
        """Start a new memory peak (before each measured case)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()


def peak_gpu_mib(device: torch.device) -> float | None:
    """Peak GPU memory allocated since the last reset, MiB; None off CUDA."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def timed(device: torch.device, work: Callable[[], object], repeat: int) -> float:
    """Seconds per call of ``work`` (after one warm-up call)."""
    work()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeat


def scaled_frames(height: int, count: int) -> list[np.ndarray]:
    """``count`` RGB frames of the test clip scaled to ``height`` (even width), repeating."""
    frames = []
    with VideoReader(VIDEO) as reader:
        for frame in itertools.islice(reader.frames(), count):
            width = round(frame.rgb.shape[1] * height / frame.rgb.shape[0] / 2) * 2
            frames.append(cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_AREA))
    return [frames[i % len(frames)] for i in range(count)]


def _config(device: torch.device, **settings: object):
    return load_config(None, {"device": device.type, **settings})


def _e2fgvi_settings(sizes: Sizes) -> dict:
    """The defaults; smoke: windows of two frames (the CVPR model always works at 240x432)."""
    return {"local_frames": 2, "stride": 2, "reference_frames": 0} if sizes.tiny_models else {}


# --- weights -------------------------------------------------------------------------------


def grounding_dino_folder(work: Path, sizes: Sizes) -> tuple[str, str]:
    """A Grounding-DINO model reference and what its weights are."""
    if sizes.tiny_models:
        from tests.tiny_models import write_tiny_grounding_dino

        return str(write_tiny_grounding_dino(work / "gd")), "tiny random model"
    from bench.bench_models import grounding_dino_source

    return grounding_dino_source(work / "gd")


def sam_file(work: Path, variant: str) -> tuple[Path, str]:
    """A SAM checkpoint of ``variant`` (``vit_b|l|h`` or ``tiny``) and what its weights are."""
    from tests.tiny_models import TINY_SAM, write_sam_checkpoint

    if variant == "tiny":
        return write_sam_checkpoint(work / "sam_tiny.pth", TINY_SAM), "tiny random model"
    path = checkpoint_path(load_manifest().get(f"sam_{variant}"))
    if path.is_file():
        return path, "downloaded weights"
    from segment_anything import sam_model_registry

    path = work / f"sam_{variant}.pth"
    torch.save(sam_model_registry[variant]().state_dict(), path)
    return path, "random weights"


def model_folder(work: Path, names: tuple[str, ...]) -> tuple[Path, str]:
    """A model folder, set as ``$AUTOBLUR_CKPT``, with the checkpoints ``names``.

    Downloaded checkpoints where present, else random weights of the architecture.
    """
    from autoblur.remove.e2fgvi.model import InpaintGenerator
    from autoblur.track.deaot.model import DeAOT

    folder = work / "ckpt"
    folder.mkdir(exist_ok=True)
    builders = {"deaot_r50_l": DeAOT, "e2fgvi": InpaintGenerator}
    builders["e2fgvi_hq"] = lambda: InpaintGenerator(hq=True)
    kinds = []
    for name in names:
        entry, build = load_manifest().get(name), builders[name]
        if checkpoint_path(entry).is_file():
            (folder / entry.file).symlink_to(checkpoint_path(entry))
            kinds.append(f"{name} downloaded")
        else:
            torch.save(build().state_dict(), folder / entry.file)
            kinds.append(f"{name} random")
    os.environ["AUTOBLUR_CKPT"] = str(folder)  # after looking in the model folder
    return folder, ", ".join(kinds)


# --- steps ---------------------------------------------------------------------------------


def step_grounding_dino(rec: Recorder, sizes: Sizes, work: Path) -> None:
    from detectors.grounding_dino import GroundingDinoDetector

    source, weights = grounding_dino_folder(work, sizes)
    cues = [BrandCue(p, "blur", prompts=(p,)) for p in PROMPTS]
    for precision in sizes.gd_precisions:
        settings = {"model": source, "batch_size": sizes.gd_batch, "precision": precision}
        detector = GroundingDinoDetector(
            cues, _config(rec.device, detect={"grounding_dino": settings})
        )
        for height in sizes.gd_heights:
            frames = scaled_frames(height, sizes.keyframes)
            note = f"{weights}, {len(PROMPTS)} prompts"
            rec.start()
            alone = timed(rec.device, lambda d=detector, fs=frames: [d.detect(f) for f in fs], 1)
            rec.add(f"{height}p batch 1 {precision}", 1000 * alone / len(frames), "ms/keyframe",
                    note)  # fmt: skip
            rec.start()
            batched = timed(rec.device, lambda d=detector, fs=frames: d.detect_batch(fs), 1)
            rec.add(f"{height}p batch {sizes.gd_batch} {precision}",
                    1000 * batched / len(frames), "ms/keyframe", note)  # fmt: skip
        detector = None  # frees its GPU memory before the next one loads


def step_sam(rec: Recorder, sizes: Sizes, work: Path) -> None:
    from autoblur.segment.sam import SamSegmenter

    frames = scaled_frames(sizes.sam_height, sizes.keyframes)
    h, w = frames[0].shape[:2]
    boxes = np.array(
        [[w * 0.1, h * 0.1, w * 0.3, h * 0.3], [w * 0.5, h * 0.4, w * 0.7, h * 0.6],
         [w * 0.6, h * 0.7, w * 0.9, h * 0.9]], np.float32,
    )  # fmt: skip

    def found() -> Detections:  # new each time: the segmenter fills in the masks it makes
        return Detections(boxes, [0.9] * 3, ["a"] * 3, ["grounding_dino"] * 3, ["x"] * 3)

    for variant in sizes.sam_variants:
        path, weights = sam_file(work, variant)
        settings = {"checkpoint": str(path)} | ({} if variant == "tiny" else {"variant": variant})
        segmenter = SamSegmenter(_config(rec.device, segment={"sam": settings}))
        rec.start()
        seconds = timed(rec.device, lambda s=segmenter: [s.segment(f, found()) for f in frames], 1)
        rec.add(f"{variant} {sizes.sam_height}p, 3 boxes", 1000 * seconds / len(frames),
                "ms/keyframe", f"{weights}; one embedding + 3 masks")  # fmt: skip
        segmenter = None
        if path.parent == work:
            path.unlink()


def step_deaot(rec: Recorder, sizes: Sizes, work: Path) -> None:
    from autoblur.track.deaot.propagator import DeAOTPropagator
    from bench.bench_deaot import run

    _, weights = model_folder(work, ("deaot_r50_l",))
    config = _config(rec.device, track={"deaot": {"max_side": sizes.deaot_max_side}})
    propagator = DeAOTPropagator(config)
    interval = 12 if sizes.deaot_frames >= 24 else 2
    for height in sizes.deaot_heights:
        frames = scaled_frames(height, max(2 * interval + 1, 24))
        for count in sizes.deaot_objects:
            run(propagator, frames, count, interval, interval)  # warm-up
            rec.start()
            seconds = run(propagator, frames, count, sizes.deaot_frames, interval)
            rec.add(f"{height}p, {count} object(s)", 1 / seconds, "fps",
                    f"{weights}; working side {sizes.deaot_max_side}")  # fmt: skip


def _masked(frames: list[np.ndarray], masks: dict) -> Iterator:
    from autoblur.remove import MaskedFrame

    for i, rgb in enumerate(frames):
        yield MaskedFrame(VideoFrame(i, i, i / 25, rgb.copy()), dict(masks))


def step_e2fgvi(rec: Recorder, sizes: Sizes, work: Path) -> None:
    from autoblur.remove.e2fgvi.inpainter import E2fgviInpainter

    _, weights = model_folder(work, ("e2fgvi", "e2fgvi_hq"))
    frames = scaled_frames(sizes.e2fgvi_height, sizes.e2fgvi_frames)
    logo = objects(frames[0].shape[:2], 1)[1].dilate(6)
    for hq, region in itertools.product((False, True), ("crop", "full frame")):
        context = {"context": 100.0} if region == "full frame" else {}
        config = _config(rec.device, remove={"e2fgvi": {**_e2fgvi_settings(sizes), **context}})
        inpainter = E2fgviInpainter(config, hq=hq)
        if not sizes.tiny_models:  # a warm-up window (the smoke run only checks the step works)
            warm = frames[: config.remove.e2fgvi.local_frames]
            for _ in inpainter(_masked(warm, {"inpaint": logo})):
                pass
        rec.start()
        started = time.perf_counter()
        for _ in inpainter(_masked(frames, {"inpaint": logo})):
            pass
        if rec.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / len(frames)
        name = "e2fgvi-hq" if hq else "e2fgvi"
        rec.add(f"{name} {sizes.e2fgvi_height}p {region}", 1000 * seconds, "ms/frame",
                f"{weights}; {'fp16' if inpainter.half else 'fp32'}")  # fmt: skip
        inpainter = None


def step_encode(rec: Recorder, sizes: Sizes, work: Path) -> None:
    import av

    frames = [
        av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        for rgb in scaled_frames(sizes.encode_height, sizes.encode_frames)
    ]
    h, w = frames[0].height, frames[0].width
    codecs = {
        "libx264 medium crf 12 (pipeline default)": ("libx264", {"preset": "medium", "crf": "12"}),
        "libx264 veryfast crf 18": ("libx264", {"preset": "veryfast", "crf": "18"}),
        "h264_nvenc p4": ("h264_nvenc", {"preset": "p4"}),
        "hevc_nvenc p4": ("hevc_nvenc", {"preset": "p4"}),
    }
    for case, (name, options) in codecs.items():
        try:
            codec = av.CodecContext.create(name, "w")
            codec.width, codec.height, codec.pix_fmt = w, h, "yuv420p"
            codec.time_base, codec.framerate = Fraction(1, 25), Fraction(25)
            codec.options = options
            codec.open()
        except (av.error.FFmpegError, ValueError) as exc:  # no such encoder, or no GPU for it
            rec.add(f"{case} {sizes.encode_height}p", None, "fps", f"unavailable: {exc}")
            continue
        started = time.perf_counter()
        size = 0
        for i, frame in enumerate(frames):
            frame.pts = i
            size += sum(p.size for p in codec.encode(frame))
        size += sum(p.size for p in codec.encode(None))
        seconds = time.perf_counter() - started
        rate = 8 * size / len(frames) * 25 / 1e6
        rec.add(f"{case} {sizes.encode_height}p", len(frames) / seconds, "fps",
                f"PyAV {av.__version__}, {rate:.1f} Mbit/s")  # fmt: skip


def _write_clip(path: Path, height: int, count: int) -> Path:
    """The test clip scaled to ``height``, repeated to ``count`` frames, as H.264 at 25 fps."""
    import av

    frames = scaled_frames(height, min(count, 132))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(count):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)])))
        container.mux(stream.encode(None))
    return path


def _pipeline_runs(rec: Recorder, sizes: Sizes, work: Path, runs: list[tuple[int, int]]) -> None:
    """Whole runs (prompts + SAM + DeAOT + E2FGVI-HQ) for each (logos, frames) in ``runs``.

    The prompts are one per logo and the detector keeps its best ``logos`` boxes whatever
    their score: with random weights those boxes stand in for the logos.
    """
    from autoblur.pipeline import Job, Pipeline

    source, gd_weights = grounding_dino_folder(work, sizes)
    variant = "tiny" if sizes.tiny_models else "vit_b"
    sam, sam_weights = sam_file(work, variant)
    _, weights = model_folder(work, ("deaot_r50_l", "e2fgvi_hq"))
    note = f"GD: {gd_weights}; SAM {variant}: {sam_weights}; {weights}"
    clips: dict[int, Path] = {}
    for logos, frames in runs:
        if frames not in clips:
            clips[frames] = _write_clip(work / f"in_{frames}.mp4", sizes.pipeline_height, frames)
        config = _config(
            rec.device,
            keyframe_interval=12,
            detect={"grounding_dino": {"model": source, "box_threshold": 0.0,
                                       "text_threshold": 0.0, "max_detections": logos}},
            segment={"backend": "sam", "sam": {"checkpoint": str(sam)}},
            track={"backend": "deaot", "deaot": {"max_side": sizes.deaot_max_side}},
            remove={"inpainter": "e2fgvi-hq", "e2fgvi": _e2fgvi_settings(sizes)},
        )  # fmt: skip
        cues = [BrandCue(f"brand {i}", "inpaint", prompts=(PROMPTS[i],)) for i in range(logos)]
        rec.start()
        report = Pipeline(Job(clips[frames], work / "out.mp4", cues, config)).run()
        timing = report["timing"]
        rec.add(f"{sizes.pipeline_height}p, {logos} logo(s), {frames} frames",
                timing["fps"], "fps",
                f"whole run, model loading included ({timing['seconds']:.1f} s); detection "
                f"{timing['detect_ms_per_keyframe']:.0f} ms/keyframe; "
                f"{len(report['tracks'])} tracks; {note}")  # fmt: skip


def step_pipeline(rec: Recorder, sizes: Sizes, work: Path) -> None:
    _pipeline_runs(rec, sizes, work, [(n, sizes.pipeline_frames) for n in sizes.pipeline_logos])


def step_pipeline_memory(rec: Recorder, sizes: Sizes, work: Path) -> None:
    logos = max(sizes.pipeline_logos)
    _pipeline_runs(rec, sizes, work, [(logos, frames) for frames in sizes.memory_frames])


STEPS: dict[str, Callable[[Recorder, Sizes, Path], None]] = {
    "grounding_dino": step_grounding_dino,
    "sam": step_sam,
    "deaot": step_deaot,
    "e2fgvi": step_e2fgvi,
    "encode": step_encode,
    "pipeline": step_pipeline,
    "pipeline_memory": step_pipeline_memory,
}


def run_step(name: str, smoke: bool, device: str, rows: Path, work: Path) -> None:
    """Run step ``name`` in this process, appending its rows to ``rows``."""
    from autoblur.models.torch_io import resolve_device

    if smoke:  # one thread: the smoke run checks that the steps work, on a shared CI machine
        torch.manual_seed(0)
        torch.set_num_threads(1)
    STEPS[name](Recorder(rows, name, resolve_device(device)), SMOKE if smoke else FULL, work)
