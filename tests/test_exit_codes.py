"""Every command's exit codes come from one table (autoblur.exit_codes) and mean the same."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from autoblur.cli import main
from autoblur.exit_codes import ExitCode
from autoblur.models.manifest import Manifest, ModelEntry
from tests.conftest import REPO, write_tiny_video

LOGO = REPO / "brand_lists" / "logos" / "windows.jpg"
SAMPLE = REPO / "examples" / "sample.mp4"


def autoblur(*args: object, env_block: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """The CLI as a separate process (real exit status), optionally hiding some modules."""
    code = "import sys\n"
    code += "".join(f"sys.modules[{name!r}] = None\n" for name in env_block)
    code += "from autoblur.cli import main\nmain()\n"
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def plain_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_video(tmp_path_factory.mktemp("plain") / "plain.mp4", frames=6)


def test_run_and_scan_codes(plain_video, tmp_path):
    done = autoblur("run", plain_video, "-o", tmp_path / "o.mp4", "--logo", LOGO, "-q")
    assert done.returncode == ExitCode.OK, done.stderr
    done = autoblur("scan", plain_video, "--logo", LOGO, "-q")
    assert done.returncode == ExitCode.OK, done.stderr  # nothing found
    done = autoblur("scan", SAMPLE, "--logo", LOGO, "--keyframe-interval", "30", "-q")
    assert done.returncode == ExitCode.FOUND, done.stderr
    done = autoblur("run", tmp_path / "missing.mp4", "--logo", LOGO)
    assert done.returncode == ExitCode.ERROR
    assert done.stderr.strip().count("\n") == 0 and "input file not found" in done.stderr


def test_interrupted_run_exits_130(plain_video, tmp_path, monkeypatch):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr("autoblur.pipeline.Pipeline.run", interrupted)
    result = CliRunner().invoke(
        main, ["run", str(plain_video), "-o", str(tmp_path / "o.mp4"), "--logo", str(LOGO)]
    )
    assert result.exit_code == ExitCode.INTERRUPTED
    assert "nothing half-written" in result.output


def test_batch_with_a_failed_item_exits_3(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.mp4").write_text("not a video\n" * 20)
    result = CliRunner().invoke(
        main, ["batch", str(folder), "-o", str(tmp_path / "out"), "--scan-only", "-q",
               "--rules", str(REPO / "brand_lists" / "kr.yaml")]
    )  # fmt: skip
    assert result.exit_code == ExitCode.ITEM_FAILED, result.output


def _dead_entry(name: str, file: str) -> ModelEntry:
    return ModelEntry(
        name=name,
        kind="file",
        stage="test",
        url=f"http://127.0.0.1:9/{file}",  # port 9 (discard): the connection is refused
        file=file,
        licence="MIT",
        commercial_use=True,
    )


def test_failed_downloads_exit_2_and_name_every_failed_model(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    entries = {name: _dead_entry(name, f"{name}.pth") for name in ("one", "two")}
    manifest = Manifest(path=tmp_path / "manifest.yaml", models=entries)
    monkeypatch.setattr("autoblur.cli.models.load_manifest", lambda: manifest)
    result = CliRunner().invoke(main, ["models", "download", "all", "-q"])
    assert result.exit_code == ExitCode.ERROR
    assert "2 of 2 model(s) not downloaded: one, two" in result.output
    assert not list(tmp_path.glob("*.pth"))
    result = CliRunner().invoke(main, ["models", "download", "two", "-q"])
    assert (
        result.exit_code == ExitCode.ERROR
        and "1 of 1 model(s) not downloaded: two" in result.output
    )


def test_prompt_without_the_models_extra_is_one_sentence_with_an_installed_package_fix(
    plain_video, tmp_path
):
    hidden = ("torch", "torchvision", "transformers", "segment_anything")
    done = autoblur(
        "run", plain_video, "-o", tmp_path / "o.mp4", "--prompt", "Nike logo", env_block=hidden
    )
    assert done.returncode == ExitCode.ERROR
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("autoblur: error: the 'grounding_dino' detector")
    assert 'pip install "autoblur[models]"' in line
    assert not (tmp_path / "o.mp4").exists()


def test_readme_has_one_exit_code_table_listing_every_code():
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| `?(\d+)`? \| (.+) \|$", readme, flags=re.MULTILINE)
    assert sorted(int(code) for code, _ in rows) == sorted(int(code) for code in ExitCode)


def test_every_command_module_takes_its_codes_from_the_table():
    # No command may return a bare number: a literal exit code would drift from the table.
    for module in (REPO / "autoblur" / "cli").glob("*.py"):
        text = module.read_text()
        assert not re.search(r"return [0-9]+\b|sys\.exit\([0-9]+\)", text), module.name
