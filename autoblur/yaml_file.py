"""Reading the YAML files users write (rule files, decisions, configs) with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from autoblur.errors import ConfigError


def read_yaml(path: Path, what: str) -> Any:
    """The parsed contents of a YAML (or JSON) file; None for an empty one.

    Args:
        path: the file.
        what: what the file is, for messages (``rule file``, ``decisions file``, ...).

    Raises:
        ConfigError: the file is missing, unreadable or not YAML, naming it and why.
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
