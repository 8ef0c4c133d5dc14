"""Name-to-builder registries through which config picks a backend for each stage."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

from autoblur.errors import CheckpointError, ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from backend name to the callable that builds it.

    Args:
        stage: the pipeline stage the backends belong to, used in messages.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._builders: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator that registers a builder under ``name`` (warns on a duplicate)."""

        def decorate(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._builders:
                warnings.warn(f"{self.stage} backend {name!r} registered twice", stacklevel=2)
            self._builders[name] = builder
            return builder

        return decorate

    def names(self) -> list[str]:
        """Registered backend names, sorted."""
        return sorted(self._builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def build(self, name: str, *args: object, **kwargs: object) -> T:
        """Build the backend registered as ``name``.

        Raises:
            ConfigError: no backend of that name is registered.
        """
        try:
            builder = self._builders[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.stage} backend {name!r}; available: {', '.join(self.names())}"
            ) from None
        return builder(*args, **kwargs)


def build_preferred(
    registry: Registry[T],
    requested: str,
    neural: str,
    classical: str,
    module: str,
    config: object,
    notices: list[str],
    worth_trying: Callable[[], bool] = lambda: True,
) -> T:
    """Build the backend ``requested``; ``auto``: ``neural`` when it can run, else ``classical``.

    Args:
        registry: the stage's registry.
        requested: the backend name from the config (or ``auto``).
        neural: the neural backend ``auto`` prefers; its ``module`` needs the models extra.
        classical: the weight-free backend ``auto`` falls back to, saying why in ``notices``.
        module: the module whose import registers ``neural``.
        config: passed to the builder.
        notices: where a fallback is explained, once.
        worth_trying: whether ``auto`` should consider ``neural`` at all (say, only on a GPU);
            when not, the classical backend is used without a notice.

    Raises:
        CheckpointError: ``neural`` was asked for by name and cannot run.
        ConfigError: unknown backend name.
    """
    if requested == "auto" and not worth_trying():
        return registry.build(classical, config)
    if requested in (neural, "auto"):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            if requested == neural:
                raise CheckpointError(f"{registry.stage} {neural}: {exc}") from None
            notices.append(
                f"{registry.stage} auto: {neural} unavailable ({exc}); using {classical}"
            )
            return registry.build(classical, config)
    if requested != "auto":
        return registry.build(requested, config)
    try:
        return registry.build(neural, config)
    except CheckpointError as exc:
        notices.append(_fallback_note(registry.stage, neural, exc, classical))
        return registry.build(classical, config)


def _fallback_note(stage: str, neural: str, reason: Exception, classical: str) -> str:
    return f"{stage} auto: {neural} unavailable ({reason}); using {classical}"
