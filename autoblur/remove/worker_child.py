"""An inpainting worker process: ``python -m autoblur.remove.worker_child READ_FD WRITE_FD``.

A module of its own, which the package never imports, so that running it as ``__main__``
does not run a module the package has already imported (Python warns of that on stderr).
"""

from __future__ import annotations

import sys

import autoblur.remove.propagate  # noqa: F401 - registers the inpainter
from autoblur.remove.worker import _child_main

if __name__ == "__main__":
    _child_main(int(sys.argv[1]), int(sys.argv[2]))
