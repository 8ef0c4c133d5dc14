"""The model folder: where checkpoints are looked up, and checking them against the manifest."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from autoblur.errors import CheckpointError
from autoblur.models.manifest import ModelEntry
from autoblur.resources import PACKAGE_DIR

ENV_VAR = "AUTOBLUR_CKPT"
_CHUNK = 1 << 20


def model_dir() -> Path:
    """The folder checkpoints live in: ``$AUTOBLUR_CKPT``, else the checkout's ``ckpt/``.

    An installed wheel has no checkout, so it uses ``~/.cache/autoblur/ckpt``.
    """
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    checkout = PACKAGE_DIR.parent / "ckpt"
    if (checkout / "manifest.yaml").is_file():
        return checkout
    return Path.home() / ".cache" / "autoblur" / "ckpt"


def checkpoint_path(entry: ModelEntry) -> Path:
    """Where the file of a ``file`` model is (or would be) in the model folder."""
    if entry.file is None:
        raise ValueError(f"{entry.name} is a hub model, not a file")
    return model_dir() / entry.file


def recorded_sha256_path(path: Path) -> Path:
    """The sidecar holding the hash ``download`` saw, for models with no published hash."""
    return path.with_name(path.name + ".sha256")


def expected_sha256(entry: ModelEntry, path: Path) -> str | None:
    """The published checksum, else the one recorded at download time, else None."""
    if entry.sha256:
        return entry.sha256
    record = recorded_sha256_path(path)
    return record.read_text().split()[0] if record.is_file() else None


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def missing_message(entry: ModelEntry) -> str:
    """One line naming a missing model and the command that fetches it."""
    if entry.kind == "hub":
        where, other = (
            "the Hugging Face cache",
            "or point HF_HOME at a cache that has it, or give a local model folder with --model",
        )
    else:
        where, other = (
            checkpoint_path(entry),
            f"or copy the file there, or point ${ENV_VAR} at a folder that has it",
        )
    return (
        f"model {entry.name!r} ({entry.file or entry.repo}) is not in {where}; fetch it with "
        f"`autoblur models download {entry.name}` ({other})"
    )


def require_checkpoint(entry: ModelEntry) -> Path:
    """The path of a ``file`` model's checkpoint.

    Raises:
        CheckpointError: the file is not in the model folder, saying how to get it.
    """
    path = checkpoint_path(entry)
    if not path.is_file():
        raise CheckpointError(missing_message(entry))
    return path


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found for one model file."""

    entry: ModelEntry
    path: Path
    status: str  # "ok", "mismatch", "unchecked" (no hash known) or "missing"
    sha256: str | None


def verify(entry: ModelEntry) -> Verdict:
    """Hash a present model file and compare it with the manifest (or the download record)."""
    path = checkpoint_path(entry)
    if not path.is_file():
        return Verdict(entry, path, "missing", None)
    actual = sha256_file(path)
    expected = expected_sha256(entry, path)
    if expected is None:
        return Verdict(entry, path, "unchecked", actual)
    return Verdict(entry, path, "ok" if actual == expected else "mismatch", actual)
