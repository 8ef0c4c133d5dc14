"""Model manager, the part that needs torch: strict checkpoint loading and device choice.

The rest of the model manager (manifest, folder, downloads, verify) is in test_models.py and runs
in the README's install; these tests need the models extra.
"""

from __future__ import annotations

import logging

import pytest

from autoblur.errors import CheckpointError
from autoblur.models import ModelEntry, load_manifest

torch = pytest.importorskip(
    "torch", reason="needs the models extra: pip install -e '.[test,models]'"
)

from autoblur.models.torch_io import load_checkpoint, read_state_dict, resolve_device  # noqa: E402


class _Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.BatchNorm2d(4)


@pytest.mark.parametrize("layout", ["bare", "state_dict", "model", "module_prefix"])
def test_checkpoint_layouts_load_strictly(tmp_path, layout):
    state = _Small().state_dict()
    if layout == "module_prefix":
        saved = {f"module.{k}": v for k, v in state.items()}
    elif layout == "bare":
        saved = state
    else:
        saved = {layout: state, "epoch": 3}
    torch.save(saved, tmp_path / "c.pth")
    loaded = read_state_dict(tmp_path / "c.pth")
    assert set(loaded) == set(state)
    model = load_checkpoint(_Small(), tmp_path / "c.pth")
    assert torch.equal(model.conv.weight, state["conv.weight"])


def test_non_strict_checkpoint_is_refused_with_its_keys(tmp_path):
    state = _Small().state_dict()
    state.pop("norm.running_var")
    state["extra.weight"] = torch.zeros(1)
    state["conv.bias"] = torch.zeros(5)
    torch.save(state, tmp_path / "c.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(_Small(), tmp_path / "c.pth")
    message = str(info.value)
    assert "missing keys: norm.running_var" in message
    assert "unexpected keys: extra.weight" in message
    assert "conv.bias (5,) vs (4,)" in message


def test_unsafe_or_garbage_files_are_refused(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_state_dict(tmp_path / "junk.pth")
    torch.save({"state_dict": {"w": torch.zeros(1)}, "cfg": _Small}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_state_dict(tmp_path / "pickled.pth")  # weights_only refuses arbitrary objects


def test_changed_checkpoint_loads_with_one_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    entry = ModelEntry(
        name="small",
        kind="file",
        stage="t",
        url="https://x/s.pth",
        file="s.pth",
        sha256="0" * 64,
        licence="MIT",
        commercial_use=True,
    )
    torch.save(_Small().state_dict(), tmp_path / "s.pth")
    with caplog.at_level(logging.WARNING):
        load_checkpoint(_Small(), tmp_path / "s.pth", entry)
    assert [r.message.count("sha256 differs") for r in caplog.records] == [1]


def test_device_choice():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(CheckpointError, match="no CUDA device"):
            resolve_device("cuda")


def test_a_foreign_checkpoint_gets_our_words_and_the_fix_never_torchs_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    entry = load_manifest().get("sam_vit_b")
    path = tmp_path / entry.file
    path.write_bytes(b"garbage\n")
    torch.save({"state_dict": {"w": torch.zeros(1)}, "cfg": _Small}, tmp_path / "pickled.pth")
    for candidate, named in ((path, entry), (tmp_path / "pickled.pth", None)):
        with pytest.raises(CheckpointError) as info:
            read_state_dict(candidate, named)
        message = str(info.value)
        assert "weights_only" not in message and "arbitrary code" not in message
        assert "\n" not in message
    # Named: the file's sha256 against the manifest's, and the command that gets a good copy.
    with pytest.raises(CheckpointError) as info:
        read_state_dict(path, entry)
    assert f"expected {entry.sha256}" in str(info.value)
    assert "autoblur models download sam_vit_b" in str(info.value)
