"""Errors a user can act on. The CLI turns each into one line and exit code 2."""

from __future__ import annotations


class AutoblurError(Exception):
    """Base class of every error that reaches the user as one line."""


class ConfigError(AutoblurError):
    """A bad preset, config file, rule file or option value."""


class VideoError(AutoblurError):
    """An input video that cannot be read, or an output that cannot be written."""


class CheckpointError(AutoblurError):
    """A missing or unusable model checkpoint."""
