#!/usr/bin/env bash
# Download, here, the wheels that bench/gpu_suite.sh installs on the GPU machine, which reaches
# no package registry and lacks these packages: cp312 manylinux wheels of the versions
# installed in this Python environment, into bench/wheels/ (ignored by git; name it in the
# device call's carry). The OCR wheel stays behind: the suite never reads text.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PACKAGES="av pydantic pydantic-core annotated-types typing-inspection typing-extensions segment-anything"
pins=()
for name in $PACKAGES; do
    pins+=("$name==$("$PYTHON" -c "import importlib.metadata as m; print(m.version('$name'))")")
done
rm -rf bench/wheels
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d bench/wheels "${pins[@]}"
ls -l bench/wheels
du -sh bench/wheels
