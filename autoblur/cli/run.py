"""``autoblur run``: remove brands from a video and write the cleaned file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from autoblur.cli.common import (
    build_job,
    execute,
    handle_errors,
    shared_options,
    summary_line,
)
from autoblur.exit_codes import ExitCode
from autoblur.job import default_output


@click.command()
@shared_options
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
@click.option(
    "--verify/--no-verify",
    default=None,
    help="Run the detectors again on the output and remove what they still find (default: on); "
    "exit code 4 when something is left.",
)
@handle_errors
def run(
    output: Path | None,
    mode: str | None,
    inpainter: str | None,
    crf: int | None,
    preset: str | None,
    codec: str | None,
    encoder: str | None,
    verify: bool | None,
    **options: Any,
) -> int:
    """Remove brands from INPUT_PATH and write the cleaned video (audio kept)."""
    output = output or default_output(options["input_path"])
    job = build_job(
        options,
        output,
        {
            "remove": {"mode": mode, "inpainter": inpainter},
            "encode": {"crf": crf, "preset": preset, "codec": codec, "encoder": encoder},
            "verify": {"enabled": verify},
        },
    )
    report = execute(job, "removing", options["quiet"], options["html_path"])
    if not options["quiet"]:
        click.echo(f"autoblur: wrote {output}: {summary_line(report)}", err=True)
    verification = report.get("verification")
    if verification is not None and not verification["verified_clean"]:
        residual = verification["residual"]
        left = sorted({r["frame"] for r in residual if not (r.get("missed") or r.get("followed"))})
        missed = sorted({r["frame"] for r in verification.get("missed", [])})
        followed_left = verification.get("followed_left", [])
        followed = sorted({r["frame"] for r in followed_left})
        repaired = sorted(
            {r["frame"] for r in followed_left if r.get("repaired")}
            - {r["frame"] for r in followed_left if not r.get("repaired")}
        )
        if left:
            click.echo(
                f"autoblur: verification: brands still found on frames {left} of {output}; "
                "check them (see the report's 'verification')",
                err=True,
            )
        if missed:
            click.echo(
                f"autoblur: verification: brands on frames {missed} of {output} were never "
                "removed (missed by the search); check them, or run again with a smaller "
                "--keyframe-interval (see the report's 'verification', 'missed')",
                err=True,
            )
        if followed:
            click.echo(
                f"autoblur: verification: a mark followed from where it was found was left on "
                f"screen on frames {_spans(followed)} of {output}"
                + (f" (removed by a repair on {_spans(repaired)})" if repaired else "")
                + "; check them and the frames around them (see the report's 'verification', "
                "'followed_left')",
                err=True,
            )
        return ExitCode.RESIDUAL
    return ExitCode.OK


def _spans(frames: list[int]) -> str:
    """Frame numbers as runs: ``[3, 4, 5, 9]`` gives ``3-5, 9``."""
    runs: list[list[int]] = []
    for f in frames:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
