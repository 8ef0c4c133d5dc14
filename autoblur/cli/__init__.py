"""Command line: ``run``, ``scan``, ``render``, ``batch`` and ``models``, one module each.

Thin by design: parse options, build the config and the job, call the pipeline, and turn
errors into one line with the exit codes of :mod:`autoblur.exit_codes`.
"""

from __future__ import annotations

import logging

import click

from autoblur import __version__
from autoblur.cli.batch import batch
from autoblur.cli.models import models
from autoblur.cli.render import render
from autoblur.cli.run import run
from autoblur.cli.scan import scan


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autoblur")
def main() -> None:
    """Find brand logos in video and remove them: no clicks, any length, on a CPU."""
    logging.basicConfig(format="autoblur: %(message)s", level=logging.WARNING)


for _command in (run, scan, render, batch, models):
    main.add_command(_command)
