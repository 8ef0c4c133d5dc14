#!/usr/bin/env bash
# Every GPU figure in one run: bench/gpu_suite.py on the GPU machine as it is (its Python has
# torch, torchvision, transformers, OpenCV, numpy, PyYAML, click and tqdm). PyAV, pydantic and
# segment-anything travel as wheels in bench/wheels/ (bench/fetch_gpu_wheels.sh) and are
# installed into a folder of their own when this Python lacks them.
# Usage: bench/gpu_suite.sh [--smoke] [--out DIR] [--only STEP ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c "import av, pydantic, segment_anything" 2>/dev/null; then
    if ! compgen -G "bench/wheels/*.whl" >/dev/null; then
        echo "gpu_suite: PyAV, pydantic or segment-anything missing and no wheels in" \
            "bench/wheels: run bench/fetch_gpu_wheels.sh where pip works, and carry bench/wheels" >&2
        exit 2
    fi
    site=${AUTOBLUR_WHEEL_SITE:-$PWD/out/wheel-site}  # out/ is ignored by git
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$site" bench/wheels/*.whl
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PYTHON" -m bench.gpu_suite "$@"
