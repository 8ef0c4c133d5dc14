"""What the commands share: progress bar, error handling, the run/scan options and the job.

Errors the user can act on become one line on stderr and exit code 2 (see
:mod:`autoblur.exit_codes`); nothing here prints a traceback for them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import av.error
import click
from tqdm import tqdm

from autoblur.config import PipelineConfig, load_config
from autoblur.errors import AutoblurError, ConfigError
from autoblur.exit_codes import ExitCode
from autoblur.job import Job
from autoblur.pipeline import Pipeline
from autoblur.report.html import write_video_html
from autoblur.rules import RuleSet, load_rules
from autoblur.types import BrandCue

_OUT_OF_MEMORY = (
    "out of memory; nothing half-written was left behind. Lower track.deaot.max_side, "
    "remove.e2fgvi.max_side or local_frames, or detect.grounding_dino.batch_size in a --config "
    "file, or run with --device cpu"
)


class Bar:
    """A tqdm progress bar on stderr: frames done, fps, time left."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.quiet = quiet
        self.bar: tqdm | None = None

    def start(self, total_frames: int | None) -> None:
        """Open the bar; ``total_frames`` may be None (unknown)."""
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
        """Count ``frames`` more frames done."""
        if self.bar is not None:
            self.bar.update(frames)

    def note(self, message: str) -> None:
        """Print one note line above the bar (not when quiet)."""
        if not self.quiet:
            tqdm.write(f"autoblur: note: {message}", file=sys.stderr)

    def close(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.close()


def shared_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that ``run`` and ``scan`` share to a click command."""
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


def _ffmpeg_failure(exc: av.error.FFmpegError) -> str:
    """One line for an FFmpeg failure that reached the command: what, on which file, and how on."""
    where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
    return (
        f"{where}FFmpeg failed ({exc.strerror or exc}); nothing half-written was left behind. "
        "Convert the input with ffmpeg (e.g. -c:v libx264 -c:a copy) and run again, and "
        "report the file"
    )


def handle_errors(func: Callable[..., int]) -> Callable[..., None]:
    """Run a command; exit with its code, or one error line and the code of the failure."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = func(*args, **kwargs)
        except AutoblurError as exc:
            click.echo(f"autoblur: error: {exc}", err=True)
            sys.exit(ExitCode.ERROR)
        except KeyboardInterrupt:
            click.echo("autoblur: interrupted; nothing half-written was left behind", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except av.error.FFmpegError as exc:  # what no stage turned into an AutoblurError
            click.echo(f"autoblur: error: {_ffmpeg_failure(exc)}", err=True)
            sys.exit(ExitCode.ERROR)
        except (MemoryError, RuntimeError) as exc:
            if not isinstance(exc, MemoryError) and "out of memory" not in str(exc).lower():
                raise
            click.echo(f"autoblur: error: {_OUT_OF_MEMORY}", err=True)
            sys.exit(ExitCode.ERROR)
        sys.exit(code)

    return wrapper


def execute(job: Job, label: str, quiet: bool, html_path: Path | None) -> dict:
    """Run the pipeline on ``job`` with a progress bar; write the HTML report if asked."""
    bar = Bar(label, quiet)
    try:
        report = Pipeline(job, bar).run()
    finally:
        bar.close()
    if html_path is not None:
        write_video_html(html_path, report)
    return report


def summary_line(report: dict) -> str:
    """One line: frames, time, speed and the brands found."""
    found = report["brands_found"]
    brands = ", ".join(f"{b} ({n})" for b, n in sorted(found.items())) or "none"
    timing = report["timing"]
    return (
        f"{report['input']['frame_count']} frames in {timing['seconds']:.1f} s "
        f"({timing['fps']} fps); brands found: {brands}"
    )


def build_job(options: dict[str, Any], output: Path | None, overrides: dict[str, Any]) -> Job:
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
