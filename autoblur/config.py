"""Pipeline configuration: validated models, presets and CLI overrides.

Defaults live here and only here. A preset or YAML file sets some keys; CLI options that a
user did not give are None and leave the value underneath unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autoblur.errors import ConfigError
from autoblur.resources import data_dir
from autoblur.yaml_file import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LogoDetectorConfig(_Strict):
    """Reference-logo matching with local features."""

    max_side: int = Field(960, ge=64, description="keyframes are downscaled to this longest side")
    min_side: int = Field(
        640,
        ge=64,
        description="smaller keyframes are enlarged to this longest side (at most max_side)",
    )
    ratio: float = Field(0.8, gt=0, lt=1, description="Lowe's ratio test")
    min_inliers: int = Field(12, ge=4, description="RANSAC inliers needed to accept an instance")
    ransac_px: float = Field(5.0, gt=0, description="RANSAC reprojection threshold, frame pixels")
    max_instances: int = Field(4, ge=1, description="instances of one logo per keyframe")
    reference_max_side: int = Field(800, ge=32, description="references are resized to this")


class TextDetectorConfig(_Strict):
    """Wordmark reading with offline OCR."""

    max_side: int = Field(1280, ge=64, description="keyframes are downscaled to this for OCR")
    rotations: list[Literal[0, 90, 180, 270]] = Field(
        default_factory=lambda: [0], description="also read the frame turned by these degrees"
    )
    max_edit_fraction: float = Field(
        0.2, ge=0, lt=1, description="OCR slips allowed per letter of a brand word"
    )
    min_score: float = Field(0.5, ge=0, le=1, description="OCR confidence of a line to use it")


class GroundingDinoConfig(_Strict):
    """Open-vocabulary detection from text prompts (needs the models extra)."""

    model: str = Field(
        "IDEA-Research/grounding-dino-tiny",
        description="Hugging Face hub id (from the hub cache) or a local model folder",
    )
    box_threshold: float = Field(0.35, ge=0, le=1, description="best token score of a box")
    text_threshold: float = Field(0.25, ge=0, le=1, description="score of the winning phrase")
    nms_iou: float = Field(0.5, gt=0, le=1, description="boxes overlapping more are one object")
    max_detections: int = Field(20, ge=1, description="best boxes kept per keyframe")
    batch_size: int = Field(4, ge=1, description="keyframes per forward pass in detect_batch")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on a GPU that has it, else fp32"
    )


class DetectConfig(_Strict):
    """Detectors run on keyframes."""

    logo: LogoDetectorConfig = LogoDetectorConfig()
    text: TextDetectorConfig = TextDetectorConfig()
    grounding_dino: GroundingDinoConfig = GroundingDinoConfig()
    min_confidence: float = Field(0.0, ge=0, le=1)
    keyframe_batch: int | None = Field(
        None,
        ge=1,
        description="keyframes detected together (None: the prompt detector's batch_size on a "
        "GPU, else 1); holds that many keyframe stretches of frames back",
    )


class SamConfig(_Strict):
    """Box-prompted Segment Anything (needs the models extra and a checkpoint)."""

    variant: Literal["vit_b", "vit_l", "vit_h"] = "vit_b"
    checkpoint: str | None = Field(
        None, description="a checkpoint file to use instead of the model folder's"
    )
    max_leak: float = Field(
        0.2, ge=0, le=1, description="share of a mask allowed outside its (padded) box"
    )


class SegmentConfig(_Strict):
    """Turning detection boxes into masks on keyframes."""

    backend: str = "auto"
    sam: SamConfig = SamConfig()


class SceneCutConfig(_Strict):
    """Histogram scene-cut detection."""

    enabled: bool = True
    threshold: float = Field(0.35, gt=0, le=1, description="Bhattacharyya distance of a cut")


class DeaotConfig(_Strict):
    """The DeAOT tracker (models extra and checkpoint)."""

    max_side: int = Field(
        481, ge=33, description="frames are tracked at this longest side (rounded to 16k+1)"
    )
    long_term_gap: int = Field(5, ge=1, description="every this many frames joins the memory")
    max_memory_frames: int = Field(
        8, ge=2, description="long-term memory cap in frames, so memory is bounded"
    )
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="an object whose mean probability drops below is lost"
    )


class TrackConfig(_Strict):
    """Carrying masks between keyframes."""

    backend: str = "auto"
    deaot: DeaotConfig = DeaotConfig()
    min_similarity: float = Field(0.55, ge=-1, le=1, description="NCC to the keyframe look")
    min_visible: float = Field(0.25, gt=0, le=1, description="share of the mask left in frame")
    max_missed_keyframes: int = Field(1, ge=0, description="keyframes a track may go undetected")
    min_side: int = Field(
        640, ge=64, description="flow: smaller frames are tracked enlarged to this longest side"
    )
    match_iou: float = Field(0.3, gt=0, le=1, description="box IoU to join a detection to a track")
    lookback_keyframes: int = Field(
        2,
        ge=0,
        description="keyframe stretches of frames held back, so that a logo first detected on a "
        "keyframe is tracked backwards through them too; memory: this many more stretches",
    )


class E2fgviConfig(_Strict):
    """The E2FGVI inpainters (models extra, checkpoint; non-commercial licence)."""

    local_frames: int = Field(10, ge=2, description="neighbouring frames inpainted together")
    stride: int = Field(5, ge=1, description="window step; windows overlap by the rest")
    reference_frames: int = Field(3, ge=0, description="earlier output frames given as context")
    reference_step: int = Field(10, ge=1, description="frames between reference frames")
    context: float = Field(0.75, ge=0, description="picture around the masks, x their size")
    max_side: int = Field(
        432, ge=108, description="HQ: crops are scaled to at most this longest side"
    )


class RemoveConfig(_Strict):
    """How masked pixels are replaced."""

    mode: Literal["inpaint", "blur", "pixelate", "fill"] | None = Field(
        None, description="one action for every brand, overriding rule files"
    )
    default_action: Literal["inpaint", "blur", "pixelate", "fill", "keep"] = "inpaint"
    inpainter: str = "auto"
    margin_px: int = Field(6, ge=0, description="masks are dilated by this many pixels")
    feather_px: int = Field(4, ge=0, description="soft edge width of the blend")
    blur_fraction: float = Field(0.25, gt=0, le=2, description="blur sigma / mask short side")
    pixel_fraction: float = Field(0.2, gt=0, le=1, description="block size / mask short side")
    fill_color: tuple[int, int, int] | None = Field(None, description="RGB; None = surroundings")
    inpaint_max_side: int = Field(160, ge=16, description="spatial inpaint works at this scale")
    temporal_window: int = Field(30, ge=1, le=120, description="propagate: frames on each side")
    temporal_consistency: float = Field(
        12.0,
        gt=0,
        description="propagate: median error allowed on a source's border, on top of the "
        "border's own pixel-to-pixel step",
    )
    ghost_fallback: Literal["spatial", "blur"] = Field(
        "spatial",
        description="propagate: what fills pixels that no other frame shows consistently "
        "(moving foreground behind the mark): a spatial fill, or that fill blurred",
    )
    inpaint_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description="propagate: worker processes that share the fills while the main process "
        "detects and tracks later frames (0: fill in the main process; None: one per free "
        "core, at most 4, as many as half the available memory holds, none on one core)",
    )
    e2fgvi: E2fgviConfig = E2fgviConfig()


class VerifyConfig(_Strict):
    """The verification pass of ``run``: the detectors look again at the output."""

    enabled: bool = Field(True, description="check the output; remove what is found again")
    sample_seconds: float | None = Field(
        2.0,
        gt=0,
        description="also search whole output pictures this often (and around every cut) for "
        "brands the run missed: a find away from everything removed fails the verification "
        "(None: off)",
    )
    follow_frames: int = Field(
        24,
        ge=0,
        description="follow each track's mark through the input, without the detectors, from "
        "each detection to the next and this many frames past the track's ends: a frame where "
        "the output left it on screen fails the verification (0: off)",
    )
    follow_min_score: float = Field(
        0.8,
        ge=0,
        le=1,
        description="a track found on one keyframe only with a lower score is not followed (a "
        "false find's scenery stays on screen and would pass for a brand left)",
    )


class EncodeConfig(_Strict):
    """Output video encoding."""

    codec: str = Field(
        "auto", description="encoder name, or auto: the input's own codec family and format"
    )
    crf: int = Field(12, ge=0, le=63)
    preset: str = "medium"
    encoder: Literal["auto", "cpu", "nvenc"] = Field(
        "auto",
        description="H.264/HEVC on NVENC or the CPU (auto: NVENC where an NVIDIA GPU runs it)",
    )
    copy_untouched: bool = Field(
        True,
        description="copy untouched frames' packets (intra-only codecs) and unchanged GOPs "
        "(H.264, HEVC, MPEG-2) instead of re-encoding them",
    )


class ChunkConfig(_Strict):
    """Splitting a long file's scan into pieces run side by side (``autoblur.chunks``)."""

    seconds: float = Field(60.0, gt=0, description="the wanted length of a piece")
    min_seconds: float = Field(
        180.0, ge=0, description="files up to this long are scanned in one piece"
    )


class PipelineConfig(_Strict):
    """Everything a run needs besides its inputs."""

    keyframe_interval: int = Field(12, ge=1)
    change_keyframes: bool = Field(
        True,
        description="also take a keyframe where something new appears between two keyframes "
        "(a brand on screen for less than keyframe_interval frames is seen)",
    )
    scan_idle_keyframe_interval: int | None = Field(
        None,
        ge=1,
        description="scans: keyframe spacing while no brand is on screen (None: as usual); "
        "faster, but an appearance shorter than it can be missed",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    detect: DetectConfig = DetectConfig()
    segment: SegmentConfig = SegmentConfig()
    scene_cut: SceneCutConfig = SceneCutConfig()
    track: TrackConfig = TrackConfig()
    remove: RemoveConfig = RemoveConfig()
    encode: EncodeConfig = EncodeConfig()
    verify: VerifyConfig = VerifyConfig()
    chunk: ChunkConfig = ChunkConfig()


def preset_names() -> list[str]:
    """Names of the presets shipped in ``configs/``."""
    return sorted(p.stem for p in (data_dir("configs")).glob("*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    loaded = read_yaml(path, "config file")
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys at the top level")
    return loaded


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validation_message(source: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: key '{where}': {first['msg']}{more}"


def load_config(
    preset_or_path: str | None = None, overrides: dict[str, Any] | None = None
) -> PipelineConfig:
    """Build the config from a preset name or YAML path, then CLI overrides.

    Args:
        preset_or_path: a preset name from ``configs/`` (e.g. ``fast``) or a YAML file path;
            None for the defaults.
        overrides: nested mapping of keys to set; None values are ignored.

    Raises:
        ConfigError: unknown preset, unreadable file, unknown key or bad value, naming the
            file and the key.
    """
    values: dict[str, Any] = {}
    source = "defaults"
    if preset_or_path is not None:
        candidate = Path(preset_or_path)
        if candidate.suffix in (".yaml", ".yml") or candidate.exists():
            path = candidate
        else:
            path = data_dir("configs") / f"{preset_or_path}.yaml"
            if not path.exists():
                raise ConfigError(
                    f"--config {preset_or_path!r}: no such file or preset; "
                    f"presets: {', '.join(preset_names())}"
                )
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        values = _read_yaml(path)
        source = str(path)
    try:
        config = PipelineConfig.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_validation_message(source, exc)) from None
    cleaned = _drop_none(overrides or {})
    if not cleaned:
        return config
    try:
        return PipelineConfig.model_validate(_deep_merge(config.model_dump(), cleaned))
    except ValidationError as exc:
        raise ConfigError(_validation_message("command-line options", exc)) from None


def _drop_none(tree: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            value = _drop_none(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out
