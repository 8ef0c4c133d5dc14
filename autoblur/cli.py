"""Command line: ``autoblur run`` removes brands from a video, ``autoblur scan`` reports them.

Thin by design: parse options, build the config and the job, call the pipeline, and turn
errors into one line with exit code 2.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from autoblur import __version__
from autoblur.batch import BatchOptions, discover_items, run_batch
from autoblur.batch.runner import SUMMARY_JSON, exit_code
from autoblur.config import PipelineConfig, load_config
from autoblur.errors import AutoblurError, ConfigError
from autoblur.html import write_video_html
from autoblur.models import ModelEntry, checkpoint_path, load_manifest, model_dir, verify
from autoblur.models.download import download_model
from autoblur.pipeline import Job, Pipeline
from autoblur.rules import RuleSet, load_rules
from autoblur.types import BrandCue

EXIT_FOUND = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
_OUT_OF_MEMORY = (
    "out of memory; nothing half-written was left behind. Lower track.deaot.max_side, "
    "remove.e2fgvi.max_side or local_frames, or detect.grounding_dino.batch_size in a --config "
    "file, or run with --device cpu"
)


class _Bar:
    """A tqdm progress bar on stderr: frames done, fps, time left."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.bar: tqdm | None = None

    def start(self, total_frames: int | None) -> None:
        self.bar = tqdm(
            total=total_frames,
            desc=self.label,
            unit="frame",
            disable=self.quiet,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=False,
        )

    def advance(self, frames: int) -> None:
        if self.bar is not None:
            self.bar.update(frames)

    def note(self, message: str) -> None:
        if not self.quiet:
            tqdm.write(f"autoblur: note: {message}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _shared_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("input_path", type=click.Path(path_type=Path)),
        click.option(
            "--logo",
            "logos",
            multiple=True,
            type=click.Path(path_type=Path),
            help="Reference logo image (repeatable); each file is one brand.",
        ),
        click.option(
            "--text",
            "words",
            multiple=True,
            help="Brand word to find written in the picture (repeatable); each is one brand.",
        ),
        click.option(
            "--prompt",
            "prompts",
            multiple=True,
            help='What to find, in words (repeatable), e.g. "Nike logo"; each is one brand. '
            "Needs the models extra and the Grounding-DINO model.",
        ),
        click.option(
            "--model",
            "prompt_model",
            help="Grounding-DINO model for --prompt: a Hugging Face hub id or a local folder.",
        ),
        click.option(
            "--rules",
            type=click.Path(path_type=Path),
            help="Country rule file (brand_lists/<cc>.yaml).",
        ),
        click.option(
            "--config",
            "config_name",
            help="Preset name from configs/ (default, fast, quality) or a YAML file.",
        ),
        click.option(
            "--report",
            "report_path",
            type=click.Path(path_type=Path),
            help="Write the JSON report here.",
        ),
        click.option(
            "--html",
            "html_path",
            type=click.Path(path_type=Path),
            help="Also write a self-contained HTML report here.",
        ),
        click.option(
            "--masks",
            "masks_dir",
            type=click.Path(path_type=Path),
            help="Write each frame's removal mask as PNG into this new folder.",
        ),
        click.option(
            "--keyframe-interval",
            type=click.IntRange(min=1),
            help="Run the detectors every N frames (and at every scene cut).",
        ),
        click.option(
            "--tracker",
            type=click.Choice(["auto", "flow", "deaot"]),
            help="Tracker carrying masks between keyframes (auto: DeAOT on a GPU when its "
            "checkpoint is present, else flow).",
        ),
        click.option(
            "--segmenter",
            type=click.Choice(["auto", "sam", "grabcut", "none"]),
            help="Segmenter turning boxes into masks (auto: SAM when present, else GrabCut).",
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda", "mps"]),
            help="Where neural backends run (auto: CUDA, then Apple MPS, then CPU).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or notes."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _cues(
    logos: tuple[Path, ...],
    words: tuple[str, ...],
    prompts: tuple[str, ...],
    rules: RuleSet | None,
    config: PipelineConfig,
) -> list[BrandCue]:
    cues = list(rules.brands) if rules is not None else []
    action = config.remove.mode or config.remove.default_action
    for path in logos:
        if not path.is_file():
            raise ConfigError(f"{path}: logo image not found")
        cues.append(BrandCue(name=path.stem, action=action, logos=(path,)))
    for word in words:
        if not word.strip():
            raise ConfigError("--text needs a word, got an empty string")
        cues.append(BrandCue(name=word, action=action, text=(word,)))
    for prompt in prompts:
        if not prompt.strip():
            raise ConfigError("--prompt needs a phrase, got an empty string")
        cues.append(BrandCue(name=prompt, action=action, prompts=(prompt,)))
    return cues


def _default_output(input_path: Path) -> Path:
    """``INPUT_clean.<input's extension>``: the output keeps the input's container."""
    return input_path.with_name(f"{input_path.stem}_clean{input_path.suffix or '.mp4'}")


def _handle_errors(func: Callable[..., int]) -> Callable[..., None]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs)
        except AutoblurError as exc:
            click.echo(f"autoblur: error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("autoblur: interrupted; nothing half-written was left behind", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (MemoryError, RuntimeError) as exc:
            if not isinstance(exc, MemoryError) and "out of memory" not in str(exc).lower():
                raise
            click.echo(f"autoblur: error: {_OUT_OF_MEMORY}", err=True)
            sys.exit(EXIT_ERROR)
        sys.exit(code)

    return wrapper


def _execute(job: Job, label: str, quiet: bool, html_path: Path | None) -> dict:
    bar = _Bar(label, quiet)
    try:
        report = Pipeline(job, bar).run()
    finally:
        bar.close()
    if html_path is not None:
        write_video_html(html_path, report)
    return report


def _summary(report: dict) -> str:
    found = report["brands_found"]
    brands = ", ".join(f"{b} ({n})" for b, n in sorted(found.items())) or "none"
    timing = report["timing"]
    return (
        f"{report['input']['frame_count']} frames in {timing['seconds']:.1f} s "
        f"({timing['fps']} fps); brands found: {brands}"
    )


def _build_job(options: dict[str, Any], output: Path | None, overrides: dict[str, Any]) -> Job:
    """The job described by the options that ``run`` and ``scan`` share, plus their own."""
    overrides = {
        "keyframe_interval": options["keyframe_interval"],
        "segment": {"backend": options["segmenter"]},
        "device": options["device"],
        "detect": {"grounding_dino": {"model": options["prompt_model"]}},
        "track": {"backend": options["tracker"]},
        **overrides,
    }
    config = load_config(options["config_name"], overrides)
    rules = None
    if options["rules"] is not None:
        rules = load_rules(options["rules"], fallback_action=config.remove.default_action)
    return Job(
        input_path=options["input_path"],
        output_path=output,
        cues=_cues(options["logos"], options["words"], options["prompts"], rules, config),
        config=config,
        rules=rules,
        masks_dir=options["masks_dir"],
        report_path=options["report_path"],
        thumbnails=options["html_path"] is not None,
        required_detectors=frozenset(
            name
            for name, given in (
                ("logo", options["logos"]),
                ("text", options["words"]),
                ("grounding_dino", options["prompts"]),
            )
            if given
        ),
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autoblur")
def main() -> None:
    """Find brand logos in video and remove them: no clicks, any length, on a CPU."""
    logging.basicConfig(format="autoblur: %(message)s", level=logging.WARNING)


@main.command()
@_shared_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output video (default: INPUT_clean.EXT beside the input, in its container).",
)
@click.option(
    "--mode",
    type=click.Choice(["inpaint", "blur", "pixelate", "fill"]),
    help="One removal action for every brand (overrides rule files).",
)
@click.option(
    "--inpainter",
    type=click.Choice(["auto", "spatial", "propagate", "e2fgvi", "e2fgvi-hq"]),
    help="Backend of the inpaint action (e2fgvi: non-commercial licence, models extra).",
)
@click.option("--crf", type=click.IntRange(0, 63), help="Encoder quality (lower is better).")
@click.option("--preset", help="Encoder speed preset (e.g. veryfast, medium, slow).")
@click.option(
    "--codec",
    help="Video encoder, e.g. libx264 (default auto: the input's own codec, profile, bit depth "
    "and chroma).",
)
@click.option(
    "--encoder",
    type=click.Choice(["auto", "cpu", "nvenc"]),
    help="H.264/HEVC encoder: NVENC or the CPU (auto: NVENC where an NVIDIA GPU runs it).",
)
@_handle_errors
def run(
    output: Path | None,
    mode: str | None,
    inpainter: str | None,
    crf: int | None,
    preset: str | None,
    codec: str | None,
    encoder: str | None,
    **options: Any,
) -> int:
    """Remove brands from INPUT_PATH and write the cleaned video (audio kept)."""
    output = output or _default_output(options["input_path"])
    job = _build_job(
        options,
        output,
        {
            "remove": {"mode": mode, "inpainter": inpainter},
            "encode": {"crf": crf, "preset": preset, "codec": codec, "encoder": encoder},
        },
    )
    report = _execute(job, "removing", options["quiet"], options["html_path"])
    if not options["quiet"]:
        click.echo(f"autoblur: wrote {output}: {_summary(report)}", err=True)
    return 0


@main.command()
@_shared_options
@_handle_errors
def scan(**options: Any) -> int:
    """Detect and track brands in INPUT_PATH without writing video.

    Exit code 0 when nothing was found, 1 when brands were found.
    """
    quiet = options["quiet"]
    job = _build_job(options, None, {})
    report = _execute(job, "scanning", quiet, options["html_path"])
    if options["report_path"] is None and not quiet:
        click.echo(json.dumps({k: report[k] for k in ("brands_found", "tracks")}, indent=2))
    if not quiet:
        click.echo(f"autoblur: scanned {job.input_path}: {_summary(report)}", err=True)
    return EXIT_FOUND if report["tracks"] else 0


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Output folder: videos, reports, state and summary.",
)
@click.option(
    "--rules",
    type=click.Path(path_type=Path),
    help="Rule file for items whose manifest row names none.",
)
@click.option("--scan-only", is_flag=True, help="Detect and report only; write no video.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Videos processed at once (local executor).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run items here, or as Ray tasks (RAY_ADDRESS or local Ray).",
)
@click.option(
    "--gpus-per-task",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="GPUs Ray reserves per item.",
)
@click.option("--html", is_flag=True, help="Also write self-contained HTML reports.")
@click.option("--config", "config_name", help="Preset name or YAML file.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@_handle_errors
def batch(
    source: Path,
    out_dir: Path,
    rules: Path | None,
    scan_only: bool,
    workers: int,
    executor: str,
    gpus_per_task: float,
    html: bool,
    config_name: str | None,
    quiet: bool,
) -> int:
    """Process every video of a folder, or of a CSV/JSONL manifest, against rule files.

    Re-running skips items already finished with the same input and rules, and retries failed
    ones. Exit code 0 all clean or removed, 1 brands found (--scan-only), 3 some item failed.
    """
    options = BatchOptions(
        out_dir=out_dir,
        config=load_config(config_name),
        scan_only=scan_only,
        workers=workers,
        executor=executor,
        gpus_per_task=gpus_per_task,
        html=html,
    )
    items = discover_items(source, out_dir, rules)
    bar = tqdm(total=len(items), desc="batch", unit="video", disable=quiet, file=sys.stderr)
    try:
        summary = run_batch(items, options, on_result=lambda result: bar.update(1))
    finally:
        bar.close()
    if not quiet:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(summary["status_counts"].items()))
        click.echo(
            f"autoblur: batch of {len(items)}: {counts}; see {out_dir / SUMMARY_JSON}", err=True
        )
    return exit_code(summary)


@main.group()
def models() -> None:
    """List, download and verify the neural models (folder: ckpt/ or $AUTOBLUR_CKPT)."""


def _hub_snapshot(entry: ModelEntry) -> Path | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    config = try_to_load_from_cache(entry.repo, "config.json")
    return Path(config).parent if isinstance(config, str) else None


def _model_location(entry: ModelEntry) -> tuple[bool, str]:
    if entry.kind == "hub":
        snapshot = _hub_snapshot(entry)
        return snapshot is not None, str(snapshot or f"hub: {entry.repo}")
    path = checkpoint_path(entry)
    return path.is_file(), str(path)


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_handle_errors
def models_list(as_json: bool) -> int:
    """Every model the manifest knows: file, size, licence, commercial use, present or not."""
    rows = []
    for entry in load_manifest().models.values():
        present, where = _model_location(entry)
        rows.append(
            {
                "name": entry.name,
                "file": entry.file or entry.repo,
                "size_mb": round(entry.size / 1e6) if entry.size else None,
                "licence": entry.licence,
                "commercial_use": entry.commercial_use,
                "present": present,
                "path": where,
                "stage": entry.stage,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return 0
    click.echo(f"model folder: {model_dir()}")
    for row in rows:
        size = f"{row['size_mb']} MB" if row["size_mb"] else "size ?"
        use = "commercial use ok" if row["commercial_use"] else "NON-COMMERCIAL ONLY"
        state = "present" if row["present"] else "missing"
        click.echo(
            f"{row['name']:<20} {row['file']:<36} {size:>9}  {row['licence']:<13} {use:<19} "
            f"{state:<8} {row['path']}"
        )
    return 0


@models.command("download")
@click.argument("names", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_handle_errors
def models_download(names: tuple[str, ...], quiet: bool) -> int:
    """Fetch models by name (or `all`), resuming partial files and checking their sha256."""
    manifest = load_manifest()
    wanted = list(manifest.models) if "all" in names else list(names)
    for name in wanted:
        entry = manifest.get(name)
        present, where = _model_location(entry)
        if present:
            click.echo(f"{name}: already present at {where}", err=True)
            continue
        path = download_model(entry, quiet=quiet)
        click.echo(f"{name}: downloaded to {path}", err=True)
    return 0


@models.command("verify")
@_handle_errors
def models_verify() -> int:
    """Check the sha256 of every present model file against the manifest (exit 1 on a mismatch)."""
    bad = 0
    for entry in load_manifest().models.values():
        if entry.kind == "hub":
            continue
        verdict = verify(entry)
        if verdict.status == "missing":
            continue
        bad += verdict.status == "mismatch"
        detail = {
            "ok": "sha256 matches",
            "mismatch": f"sha256 {verdict.sha256} differs from the expected one",
            "unchecked": f"no published sha256 to check against (file has {verdict.sha256})",
        }[verdict.status]
        click.echo(f"{entry.name}: {verdict.path}: {detail}")
    return 1 if bad else 0
