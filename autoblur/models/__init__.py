"""Models: the manifest, the model folder, downloads and (with torch) strict loading."""

from autoblur.models.manifest import Manifest, ModelEntry, load_manifest
from autoblur.models.store import (
    checkpoint_path,
    missing_message,
    model_dir,
    require_checkpoint,
    verify,
)

__all__ = [
    "Manifest",
    "ModelEntry",
    "checkpoint_path",
    "load_manifest",
    "missing_message",
    "model_dir",
    "require_checkpoint",
    "verify",
]
