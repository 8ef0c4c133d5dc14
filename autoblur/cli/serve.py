"""``autoblur serve``: the removal service, an HTTP API over a persistent job queue."""

from __future__ import annotations

import os
from pathlib import Path

import click

from autoblur.cli.common import handle_errors
from autoblur.config import load_config
from autoblur.errors import ConfigError
from autoblur.exit_codes import ExitCode

_INSTALL = "autoblur serve needs the service extra: pip install 'autoblur[service]'"


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder of the job queue (SQLite), the lock and each job's outputs.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="Port to listen on.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (jobs run at once).",
)
@click.option(
    "--root",
    "roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder that request paths must lie in (repeatable; default: the current folder).",
)
@click.option(
    "--watch",
    "watches",
    multiple=True,
    metavar="FOLDER:RULES[:scan|remove]",
    help="Turn each new video of FOLDER into a job (repeatable); results go to "
    "FOLDER/autoblur-results.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run jobs in the workers, or hand them to the Ray cluster at RAY_ADDRESS.",
)
@click.option("--config", "config_name", help="Preset name or YAML file for every job.")
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve without a token (only on a machine no one else can reach).",
)
@handle_errors
def serve(
    data_dir: Path,
    host: str,
    port: int,
    workers: int,
    roots: tuple[Path, ...],
    watches: tuple[str, ...],
    executor: str,
    config_name: str | None,
    insecure_no_auth: bool,
) -> int:
    """Serve the job API, the job list and the review pages until interrupted.

    Every route but /healthz needs 'Authorization: Bearer TOKEN' with the token from the
    AUTOBLUR_TOKEN environment variable; browsers log in at /login or open a page once with
    ?token=TOKEN.
    """
    try:
        import uvicorn

        from autoblur.service.app import create_app
        from autoblur.service.executors import connect_ray
        from autoblur.service.runtime import DataDirLock
        from autoblur.service.settings import ServiceSettings, WatchFolder
    except ImportError:
        raise ConfigError(_INSTALL) from None
    token = os.environ.get("AUTOBLUR_TOKEN") or None
    if token is None and not insecure_no_auth:
        raise ConfigError(
            "set AUTOBLUR_TOKEN to a secret that clients send as 'Authorization: Bearer "
            "TOKEN', or pass --insecure-no-auth on a machine no one else can reach"
        )
    if executor == "ray":
        connect_ray().shutdown()  # an unreachable cluster fails now, not in every worker
    load_config(config_name)  # a bad preset fails now, not in every job
    settings = ServiceSettings(
        data_dir=data_dir.resolve(),
        roots=tuple(root.resolve() for root in roots) or (Path.cwd().resolve(),),
        token=None if insecure_no_auth else token,
        workers=workers,
        executor=executor,
        watches=tuple(WatchFolder.parse(text) for text in watches),
        config_name=config_name,
    )
    lock = DataDirLock(settings.data_dir)
    click.echo(
        f"autoblur: serving http://{host}:{port} ({workers} worker(s), data in {data_dir})",
        err=True,
    )
    uvicorn.run(create_app(settings, lock), host=host, port=port, log_level="warning")
    return ExitCode.OK
