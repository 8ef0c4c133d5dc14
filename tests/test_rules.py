import shutil
from pathlib import Path

import pytest

from autoblur.errors import ConfigError
from autoblur.rules import load_rules

REPO = Path(__file__).resolve().parents[1]
LOGO = REPO / "brand_lists" / "logos" / "windows.jpg"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_shipped_countries_load_and_merge_their_base():
    kr = load_rules(REPO / "brand_lists" / "kr.yaml")
    assert kr.country == "KR"
    by_name = {b.name: b for b in kr.brands}
    assert set(by_name) == {"Windows", "Bastoncini", "OpenCV"}
    assert by_name["Windows"].action == "pixelate"  # overridden by kr.yaml
    assert by_name["Windows"].logos and by_name["Windows"].text == ("WINDOWS",)  # kept from base
    assert by_name["Bastoncini"].action == "inpaint"  # kr's default_action
    de = load_rules(REPO / "brand_lists" / "de.yaml")
    assert {b.name: b.action for b in de.brands}["Linux"] == "keep"
    for brand in (*kr.brands, *de.brands):
        assert all(p.is_file() for p in brand.logos)


def test_logo_paths_are_relative_to_the_file_that_names_them(tmp_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(LOGO, tmp_path / "sub" / "w.jpg")
    write(tmp_path / "sub" / "base.yaml", "brands:\n  - name: W\n    logos: [w.jpg]\n")
    rules = load_rules(write(tmp_path / "x.yaml", "extends: sub/base.yaml\ncountry: XX\n"))
    assert rules.brands[0].logos == ((tmp_path / "sub" / "w.jpg").resolve(),)
    assert rules.default_action == "inpaint"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "brands:\n  - name: Acme\n    action: explode\n    text: [A]\n",
            r"brand 'Acme': field 'action': Input should be 'inpaint'",
        ),
        (
            "brands:\n  - name: Acme\n    logos: [missing.png]\n",
            r"brand 'Acme': field 'logos': image 'missing.png' not found",
        ),
        (
            "brands:\n  - name: Acme\n    colour: red\n    text: [A]\n",
            r"brand 'Acme': field 'colour': Extra inputs",
        ),
        ("brands:\n  - name: Acme\n", r"brand 'Acme': needs at least one of"),
        ("brands:\n  - logos: [a.png]\n", r"brand #1: field 'name'"),
        ("brands: []\n", "lists no brands"),
        ("- just\n- a list\n", "must be a mapping"),
        ("brands: [\n", "not valid YAML"),
    ],
)
def test_bad_rule_files_name_file_brand_and_field(tmp_path, text, message):
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_rules(path)
    assert str(path.name) in str(caught.value)


def test_extends_loop_and_missing_file(tmp_path):
    write(tmp_path / "a.yaml", "extends: b.yaml\nbrands: [{name: A, text: [A]}]\n")
    write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_rules(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="rule file not found"):
        load_rules(tmp_path / "nope.yaml")
