"""``autoblur models``: list, download and verify the neural models."""

from __future__ import annotations

import json
from pathlib import Path

import click

from autoblur.cli.common import handle_errors
from autoblur.errors import CheckpointError
from autoblur.exit_codes import ExitCode
from autoblur.models import ModelEntry, checkpoint_path, load_manifest, model_dir, verify
from autoblur.models.download import download_model


@click.group()
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
@handle_errors
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
        return ExitCode.OK
    click.echo(f"model folder: {model_dir()}")
    for row in rows:
        size = f"{row['size_mb']} MB" if row["size_mb"] else "size ?"
        use = "commercial use ok" if row["commercial_use"] else "NON-COMMERCIAL ONLY"
        state = "present" if row["present"] else "missing"
        click.echo(
            f"{row['name']:<20} {row['file']:<36} {size:>9}  {row['licence']:<13} {use:<19} "
            f"{state:<8} {row['path']}"
        )
    return ExitCode.OK


@models.command("download")
@click.argument("names", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def models_download(names: tuple[str, ...], quiet: bool) -> int:
    """Fetch models by name (or `all`), resuming partial files and checking their sha256.

    Every model asked for is tried; exit code 2 when any of them failed, naming them.
    """
    manifest = load_manifest()
    entries = [manifest.get(name) for name in (manifest.models if "all" in names else names)]
    failed = []
    for entry in entries:
        present, where = _model_location(entry)
        if present:
            click.echo(f"{entry.name}: already present at {where}", err=True)
            continue
        try:
            path = download_model(entry, quiet=quiet)
        except CheckpointError as exc:
            click.echo(f"autoblur: error: {entry.name}: {exc}", err=True)
            failed.append(entry.name)
            continue
        click.echo(f"{entry.name}: downloaded to {path}", err=True)
    if failed:
        raise CheckpointError(
            f"{len(failed)} of {len(entries)} model(s) not downloaded: {', '.join(failed)}; "
            "run the same command again to resume"
        )
    return ExitCode.OK


@models.command("verify")
@handle_errors
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
    return ExitCode.FOUND if bad else ExitCode.OK
