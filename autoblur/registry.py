"""Name-to-builder registries through which config picks a backend for each stage."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Generic, TypeVar

from autoblur.errors import ConfigError

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
