"""Command line: ``run``, ``scan``, ``render``, ``batch``, ``models``, ``serve``: a module each.

Thin by design: parse options, build the config and the job, call the pipeline, and turn
errors into one line with the exit codes of :mod:`autoblur.exit_codes`.
"""

from __future__ import annotations

import logging

import click

from autoblur import __version__
from autoblur.cli import batch, models, render, run, scan, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="autoblur")
def main() -> None:
    """Find brand logos in video and remove them: no clicks, any length, on a CPU."""
    logging.basicConfig(format="autoblur: %(message)s", level=logging.WARNING)


# Each command lives in the module of its name; the package attributes stay the modules.
for _command in (run.run, scan.scan, render.render, batch.batch, models.models, serve.serve):
    main.add_command(_command)
