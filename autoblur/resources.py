"""Where the shipped presets and rule files live, in a wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder of shipped data ``name`` (``configs``, ``brand_lists`` or ``ckpt``).

    A wheel carries them under ``autoblur/_data/``; an editable install reads them from the
    repository root beside the package.
    """
    bundled = PACKAGE_DIR / "_data" / name
    if bundled.is_dir():
        return bundled
    return PACKAGE_DIR.parent / name
