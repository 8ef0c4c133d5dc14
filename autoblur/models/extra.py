"""Checking for the optional ``models`` extra before a neural backend imports it."""

from __future__ import annotations

import importlib.util

INSTALL_HINT = (
    'install the models extra with `pip install "autoblur[models]"` '
    '(in a checkout: `pip install -e ".[models]"`)'
)


def require_modules(what: str, *modules: str) -> None:
    """Raise ImportError naming ``what`` and the install command if a module is missing."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"{what} needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; {INSTALL_HINT}"
        )
