from __future__ import annotations

import json

import pytest

from autoblur.config import load_config
from autoblur.errors import ConfigError
from autoblur.review.decisions import load_decisions, resolve_decisions

OCCURRENCES = [
    {"id": "occ-0001", "brand": "Acme", "action": "blur"},
    {"id": "occ-0002", "brand": "Acme", "action": "blur"},
    {"id": "occ-0003", "brand": "Linux", "action": "keep"},
    {"id": "occ-0004", "brand": "Globex", "action": "pixelate"},
]


def test_json_decisions_with_reasons_brand_defaults_and_remove(tmp_path):
    path = tmp_path / "d.json"
    decisions = {
        "occurrences": {
            "occ-0001": {"action": "keep", "reason": "editorial, news footage"},
            "occ-0003": "remove",
        },
        "brands": {"Acme": "fill"},
    }
    path.write_text(json.dumps(decisions))
    config = load_config(None, {"remove": {"default_action": "inpaint"}})
    resolved = resolve_decisions(OCCURRENCES, load_decisions(path), config, path)
    got = {k: (d.action, d.reason, d.decided_by) for k, d in resolved.items()}
    assert got == {
        "occ-0001": ("keep", "editorial, news footage", "decisions file"),
        "occ-0002": ("fill", None, "decisions file (brand)"),
        "occ-0003": ("inpaint", None, "decisions file"),  # remove a brand the rules keep
        "occ-0004": ("pixelate", None, "rule file"),
    }


def test_without_decisions_the_scan_actions_stand():
    resolved = resolve_decisions(OCCURRENCES, None, load_config(None), scan_source="scan")
    assert [d.action for d in resolved.values()] == ["blur", "blur", "keep", "pixelate"]
    assert {d.decided_by for d in resolved.values()} == {"scan"}


def test_unknown_ids_and_bad_actions_are_named(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("occurrences:\n  occ-0001: keep\n  occ-0042: blur\n")
    with pytest.raises(ConfigError, match=r"d\.yaml: unknown occurrence id 'occ-0042'"):
        resolve_decisions(OCCURRENCES, load_decisions(path), load_config(None), path)
    path.write_text("occurrences:\n  occ-0001: smudge\n")
    with pytest.raises(ConfigError, match=r"d\.yaml: key 'occurrences\.occ-0001\.action'"):
        load_decisions(path)
    path.write_text("occurrence:\n  occ-0001: keep\n")
    with pytest.raises(ConfigError, match="key 'occurrence'"):
        load_decisions(path)
    with pytest.raises(ConfigError, match="decisions file not found"):
        load_decisions(tmp_path / "missing.yaml")
