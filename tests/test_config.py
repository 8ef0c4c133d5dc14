import pytest

from autoblur.config import load_config, preset_names
from autoblur.errors import ConfigError


def test_every_shipped_preset_loads():
    assert {"default", "fast", "quality"} <= set(preset_names())
    for name in preset_names():
        load_config(name)
    assert load_config("fast").keyframe_interval > load_config("quality").keyframe_interval


def test_cli_overrides_apply_and_none_leaves_values():
    config = load_config(
        "fast", {"keyframe_interval": 3, "encode": {"crf": None, "preset": "slow"}}
    )
    assert config.keyframe_interval == 3
    assert config.encode.preset == "slow"
    assert config.encode.crf == load_config("fast").encode.crf


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("remove:\n  margin: 4\n")
    with pytest.raises(ConfigError, match=r"mine.yaml: key 'remove.margin'"):
        load_config(str(path))


def test_bad_value_and_missing_preset(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("keyframe_interval: 0\n")
    with pytest.raises(ConfigError, match="keyframe_interval"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="no such file or preset; presets: default"):
        load_config("nonexistent")
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(str(broken))
