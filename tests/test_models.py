"""Model manager: manifest, model folder, resumable checked downloads, verify.

Strict checkpoint loading and the device choice need torch: test_models_torch.py.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from autoblur.cli import main
from autoblur.errors import CheckpointError
from autoblur.models import ModelEntry, load_manifest, model_dir, verify
from autoblur.models.download import download_file, download_model, partial_path
from autoblur.models.store import recorded_sha256_path

PAYLOAD = bytes(range(256)) * 1200  # 307,200 bytes
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_manifest_entries_are_complete():
    manifest = load_manifest()
    assert {"grounding_dino_tiny", "sam_vit_b", "sam_vit_l", "sam_vit_h"} <= set(manifest.models)
    assert {"deaot_r50_l", "e2fgvi", "e2fgvi_hq"} <= set(manifest.models)
    for entry in manifest.models.values():
        assert entry.url.startswith("https://"), entry.name
        assert entry.licence, entry.name
        if entry.kind == "file":
            assert entry.file and entry.url, entry.name
            assert entry.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    for name in ("sam_vit_b", "sam_vit_l", "sam_vit_h"):
        assert re.fullmatch(r"[0-9a-f]{64}", manifest.get(name).sha256)
        assert manifest.get(name).url.endswith(manifest.get(name).file)
    assert not manifest.get("e2fgvi").commercial_use
    assert not manifest.get("e2fgvi_hq").commercial_use
    assert manifest.get("sam_vit_b").commercial_use


def test_model_folder_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    assert model_dir() == tmp_path
    monkeypatch.delenv("AUTOBLUR_CKPT")
    assert model_dir().name == "ckpt"


def test_list_shows_licences_and_presence(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    (tmp_path / "sam_vit_b_01ec64.pth").write_bytes(b"x")
    result = CliRunner().invoke(main, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["sam_vit_b"]["present"] and not rows["sam_vit_l"]["present"]
    assert rows["sam_vit_b"]["path"] == str(tmp_path / "sam_vit_b_01ec64.pth")
    assert rows["e2fgvi"]["licence"] == "CC-BY-NC-4.0" and not rows["e2fgvi"]["commercial_use"]
    table = CliRunner().invoke(main, ["models", "list"]).output.splitlines()
    e2fgvi_row = next(line for line in table if line.startswith("e2fgvi "))
    assert "NON-COMMERCIAL ONLY" in e2fgvi_row and "missing" in e2fgvi_row


def test_verify_catches_a_corrupted_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    entry = load_manifest().get("sam_vit_b")
    (tmp_path / entry.file).write_bytes(b"not the real checkpoint")
    assert verify(entry).status == "mismatch"
    result = CliRunner().invoke(main, ["models", "verify"])
    assert result.exit_code == 1
    assert "sam_vit_b" in result.output and "differs" in result.output


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD with Range support; the first full request is cut off half way."""

    requests: list[str | None] = []
    cut_first = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        ranged = self.headers.get("Range")
        type(self).requests.append(ranged)
        start = int(ranged.split("=")[1].rstrip("-")) if ranged else 0
        body = PAYLOAD[start:]
        self.send_response(206 if ranged else 200)
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not ranged and type(self).cut_first:
            type(self).cut_first = False
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _RangeHandler.requests = []
    _RangeHandler.cut_first = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/model.pth"
    httpd.shutdown()


def test_download_resumes_and_checks_sha256(tmp_path, server):
    dest = tmp_path / "model.pth"
    with pytest.raises(CheckpointError, match="run the same command again to resume"):
        download_file(server, dest, PAYLOAD_SHA, quiet=True)
    kept = partial_path(dest).stat().st_size
    assert 0 < kept < len(PAYLOAD) and not dest.exists()
    assert download_file(server, dest, PAYLOAD_SHA, quiet=True) == PAYLOAD_SHA
    assert _RangeHandler.requests == [None, f"bytes={kept}-"]
    assert dest.read_bytes() == PAYLOAD and not partial_path(dest).exists()


def test_download_rejects_a_wrong_checksum(tmp_path, server):
    _RangeHandler.cut_first = False
    dest = tmp_path / "model.pth"
    with pytest.raises(CheckpointError, match="does not match"):
        download_file(server, dest, "0" * 64, quiet=True)
    assert not dest.exists() and not partial_path(dest).exists()


def test_download_without_published_hash_records_it_for_verify(tmp_path, monkeypatch, server):
    _RangeHandler.cut_first = False
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    entry = ModelEntry(
        name="demo",
        kind="file",
        stage="test",
        url=server,
        file="demo.pth",
        licence="MIT",
        commercial_use=True,
    )
    path = download_model(entry, quiet=True)
    assert recorded_sha256_path(path).read_text().split()[0] == PAYLOAD_SHA
    assert verify(entry).status == "ok"
    path.write_bytes(PAYLOAD[:-1] + b"\0")
    assert verify(entry).status == "mismatch"


def test_download_failure_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOBLUR_CKPT", str(tmp_path))
    with pytest.raises(CheckpointError, match="download failed"):
        download_file("http://127.0.0.1:9/none.pth", tmp_path / "x.pth", None, quiet=True)
    result = CliRunner().invoke(main, ["models", "download", "no_such_model"])
    assert result.exit_code == 2 and "unknown model 'no_such_model'" in result.output
