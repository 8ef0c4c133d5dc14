"""Keep ``constraints.txt`` (the versions the tests and benchmarks run with) in step with pyproject.

Usage:
    python .ci/constraints.py update   # resolve every extra with pip, write constraints.txt
    python .ci/constraints.py check    # pyproject and constraints.txt agree (exit 1 if not)
    python .ci/constraints.py installed  # the current environment holds exactly the pins

``update`` asks pip itself (``pip install --dry-run --report``) what it would install for the
project with all its extras, so the pins are what pip resolves on this machine, and writes one
``name==version`` line per package. ``check`` needs nothing but the standard library and
``packaging`` (which pip vendors): every requirement of ``[project.dependencies]`` and of every
extra must be pinned, and its pin must satisfy the requirement. ``installed`` compares the
active environment with the pins (run after ``pip install -e ".[...]" -c constraints.txt``):
a package installed but not pinned, or at another version, is a disagreement.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import tomllib

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # pip always carries a copy
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / "constraints.txt"
HEADER = """\
# The versions the tests, CI and BENCHMARKS.md figures were taken with (Linux x86_64, CPython 3.11).
# Install with: pip install -e ".[test]" -c constraints.txt   (add extras as needed)
# Update after changing pyproject.toml's requirements: python .ci/constraints.py update
# CI fails when this file and pyproject.toml disagree (python .ci/constraints.py check).
"""


def project() -> dict:
    """The ``[project]`` table of pyproject.toml."""
    return tomllib.loads(PYPROJECT.read_text())["project"]


def requirements() -> list[tuple[str, Requirement]]:
    """Every (where, requirement) of the project's dependencies and extras, self-references out."""
    table = project()
    name = canonicalize_name(table["name"])
    found = [("dependencies", Requirement(r)) for r in table.get("dependencies", [])]
    for extra, reqs in table.get("optional-dependencies", {}).items():
        found += [(f"extra {extra!r}", Requirement(r)) for r in reqs]
    return [(where, r) for where, r in found if canonicalize_name(r.name) != name]


def pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """{canonical name: version} of the ``name==version`` lines of a constraints file."""
    pinned = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise SystemExit(f"{path}: {line!r} is not a name==version pin")
        pinned[canonicalize_name(name)] = version.strip()
    return pinned


def update() -> int:
    """Resolve the project with every extra through pip and write constraints.txt."""
    extras = ",".join(project().get("optional-dependencies", {}))
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
            "--report", str(report), f"{ROOT}[{extras}]",
        ]  # fmt: skip
        subprocess.run(command, check=True)
        installs = json.loads(report.read_text())["install"]
    own = canonicalize_name(project()["name"])
    lines = sorted(
        f"{canonicalize_name(item['metadata']['name'])}=={item['metadata']['version']}"
        for item in installs
        if canonicalize_name(item["metadata"]["name"]) != own
    )
    CONSTRAINTS.write_text(HEADER + "\n".join(lines) + "\n")
    print(f"wrote {CONSTRAINTS.name}: {len(lines)} pins (extras: {extras})")
    return check()


def check() -> int:
    """Exit status 1 (with one line per problem) where pyproject and the pins disagree."""
    pinned = pins()
    problems = []
    for where, req in requirements():
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} ({where}) is not pinned")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} does not satisfy {req} ({where})")
    return report(problems, "pyproject.toml and constraints.txt agree")


def installed() -> int:
    """Exit status 1 where the active environment holds a package the pins do not name."""
    pinned = pins()
    own = canonicalize_name(project()["name"])
    problems = []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in {own, "pip", "setuptools", "wheel"}:
            continue
        if name not in pinned:
            problems.append(f"{name}=={dist.version} is installed but not pinned")
        elif pinned[name] != dist.version:
            problems.append(f"{name}=={dist.version} is installed, the pin says {pinned[name]}")
    return report(problems, "the environment holds the pinned versions")


def report(problems: list[str], ok: str) -> int:
    """Print the problems (or ``ok``) and return the exit status."""
    for problem in problems:
        print(f"constraints.txt: {problem}; run `python .ci/constraints.py update`")
    if not problems:
        print(f"constraints.txt: {ok}")
    return 1 if problems else 0


def main() -> int:
    """Run the sub-command named on the command line."""
    commands = {"update": update, "check": check, "installed": installed}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[sys.argv[1]]()


if __name__ == "__main__":
    sys.exit(main())
