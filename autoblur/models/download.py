"""Fetching models: checkpoint files over HTTP with resume and checksum, hub models via the hub."""

from __future__ import annotations

import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from autoblur.errors import CheckpointError
from autoblur.models.extra import INSTALL_HINT
from autoblur.models.manifest import ModelEntry
from autoblur.models.store import checkpoint_path, recorded_sha256_path, sha256_file

_CHUNK = 1 << 20
_TIMEOUT_S = 60


class _Interrupted(Exception):
    """The server sent fewer bytes than it announced."""


def partial_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept until it is complete and checked."""
    return dest.with_name(dest.name + ".part")


def download_file(
    url: str,
    dest: Path,
    sha256: str | None,
    size: int | None = None,
    quiet: bool = False,
) -> str:
    """Download ``url`` to ``dest``, resuming an earlier partial download, and check it.

    The bytes go to ``dest.part`` and are renamed to ``dest`` only once complete and matching
    ``sha256`` (when given), so ``dest`` is never a half-written file.

    Returns:
        The sha256 of the downloaded file.

    Raises:
        CheckpointError: network failure (the partial file is kept for a later resume), or a
            checksum mismatch (the bad file is deleted).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(dest)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "autoblur"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            resumed = have > 0 and response.status == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else size
            with (
                part.open("ab" if resumed else "wb") as out,
                tqdm(
                    total=total,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    desc=dest.name,
                    disable=quiet,
                    file=sys.stderr,
                    leave=False,
                ) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        if total is not None and part.stat().st_size < total:
            raise _Interrupted(f"connection closed after {part.stat().st_size} of {total} bytes")
    except (urllib.error.URLError, http.client.HTTPException, OSError, _Interrupted) as exc:
        reason = getattr(exc, "reason", exc)
        raise CheckpointError(
            f"{url}: download failed ({reason}); {part.stat().st_size if part.exists() else 0} "
            "bytes kept, run the same command again to resume"
        ) from None
    actual = sha256_file(part)
    if sha256 is not None and actual != sha256:
        part.unlink()
        raise CheckpointError(
            f"{dest.name}: sha256 {actual} does not match the manifest's {sha256}; the file was "
            "deleted, run the download again"
        )
    os.replace(part, dest)
    return actual


def download_model(entry: ModelEntry, quiet: bool = False) -> Path:
    """Fetch one manifest model into the model folder (or the hub cache); return where it is.

    Raises:
        CheckpointError: the download failed or did not match its checksum.
    """
    if entry.kind == "hub":
        return _download_hub(entry)
    dest = checkpoint_path(entry)
    actual = download_file(entry.url, dest, entry.sha256, entry.size, quiet=quiet)
    if entry.sha256 is None:
        recorded_sha256_path(dest).write_text(f"{actual}  {dest.name}\n")
    return dest


def _download_hub(entry: ModelEntry) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise CheckpointError(
            f"{entry.name} needs huggingface_hub, which is not installed; {INSTALL_HINT}"
        ) from None
    try:
        return Path(snapshot_download(entry.repo))
    except Exception as exc:  # the hub raises many kinds; all mean "not fetched"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{entry.repo}: download from the hub failed ({first_line})"
        ) from None
