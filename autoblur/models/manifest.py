"""The committed model manifest (``ckpt/manifest.yaml``): what each model is and where it lives."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from autoblur.errors import ConfigError
from autoblur.resources import data_dir


class ModelEntry(BaseModel):
    """One model of the manifest.

    Attributes:
        name: the manifest key (``sam_vit_b``), used on the command line.
        kind: ``file`` (one checkpoint file) or ``hub`` (a Hugging Face hub repository).
        stage: which pipeline stage uses it, for people reading ``models list``.
        url: where the official file (or hub page) is.
        file: the official file name, for ``file`` models.
        repo: the hub repository id, for ``hub`` models.
        sha256: the published checksum of the file, or None where none is published.
        size: the file size in bytes, where known.
        licence: the SPDX licence of the weights.
        commercial_use: whether the licence allows commercial use.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["file", "hub"]
    stage: str
    url: str
    file: str | None = None
    repo: str | None = None
    sha256: str | None = None
    size: int | None = None
    licence: str
    commercial_use: bool


@dataclass(frozen=True)
class Manifest:
    """All models, by name."""

    path: Path
    models: dict[str, ModelEntry]

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name``.

        Raises:
            ConfigError: no such model, listing the known ones.
        """
        try:
            return self.models[name]
        except KeyError:
            raise ConfigError(
                f"unknown model {name!r}; known models: {', '.join(self.models)}"
            ) from None

    def by_file(self, file_name: str) -> ModelEntry | None:
        """The entry whose official file name is ``file_name``, if any."""
        return next((m for m in self.models.values() if m.file == file_name), None)


def manifest_path() -> Path:
    """Where the committed manifest is (the repository's ``ckpt/`` or the wheel's copy)."""
    return data_dir("ckpt") / "manifest.yaml"


@lru_cache(maxsize=4)
def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest.

    Raises:
        ConfigError: unreadable or invalid manifest, naming the file and the entry.
    """
    path = path or manifest_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the model manifest ({exc})") from None
    models: dict[str, ModelEntry] = {}
    for name, fields in (raw or {}).get("models", {}).items():
        try:
            entry = ModelEntry.model_validate({"name": name, **fields})
        except ValidationError as exc:
            raise ConfigError(f"{path}: model {name!r}: {exc.errors()[0]['msg']}") from None
        if (entry.kind == "file") != (entry.file is not None) or (
            (entry.kind == "hub") != (entry.repo is not None)
        ):
            raise ConfigError(
                f"{path}: model {name!r}: a file model needs `file`, a hub one `repo`"
            )
        models[name] = entry
    return Manifest(path, models)
