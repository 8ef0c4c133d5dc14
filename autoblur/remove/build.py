"""Building the removers a run needs: one per action, the inpainter by its backend's name."""

from __future__ import annotations

import importlib

from autoblur.config import PipelineConfig
from autoblur.errors import CheckpointError
from autoblur.remove.base import INPAINTERS, REMOVERS, Remover
from autoblur.remove.worker import WorkerRemover

_MODULES = ("autoblur.remove.spatial", "autoblur.remove.propagate")
# Neural inpainters, imported only when asked for (they need the models extra).
_NEURAL = {
    "e2fgvi": "autoblur.remove.e2fgvi.inpainter",
    "e2fgvi-hq": "autoblur.remove.e2fgvi.inpainter",
}
# The inpainter ``auto`` picks: commercially safe and weight-free, and better than ``spatial``
# on every clip of the quality benchmark (BENCHMARKS.md). E2FGVI is never picked
# automatically: its licence forbids commercial use.
_AUTO_INPAINTER = "propagate"


def _inpainter(name: str, config: PipelineConfig) -> Remover:
    """The inpainter ``name``; the weight-free one in worker processes where cores are free."""
    if name == _AUTO_INPAINTER and config.remove.inpaint_processes != 0:
        return WorkerRemover(config, name)
    return INPAINTERS.build(name, config)


def build_removers(config: PipelineConfig, actions: set[str]) -> list[Remover]:
    """One remover per action that some brand uses (``keep`` needs none).

    Raises:
        CheckpointError: a neural inpainter was asked for and cannot run.
    """
    for module in _MODULES:
        importlib.import_module(module)
    removers = []
    for action in sorted(actions - {"keep"}):
        if action == "inpaint":
            backend = config.remove.inpainter
            name = _AUTO_INPAINTER if backend == "auto" else backend
            if name in _NEURAL:
                try:
                    importlib.import_module(_NEURAL[name])
                except ImportError as exc:
                    raise CheckpointError(f"--inpainter {name}: {exc}") from None
            removers.append(_inpainter(name, config))
        else:
            removers.append(REMOVERS.build(action, config))
    return removers
