import cv2
import pytest

from autoblur.config import DetectConfig, TextDetectorConfig
from autoblur.types import BrandCue
from detectors import detect_crop
from detectors.text import TextDetector, edit_distance, find_word, normalise
from tests.conftest import IMAGES

BRANDS = [
    BrandCue("Bastoncini", "blur", text=("BASTONCINI", "PAN DUCALE")),
    BrandCue("Linux", "blur", text=("Linux",)),
    BrandCue("Nike", "blur", text=("NIKE",)),
    BrandCue("Windows", "blur", text=("WINDOWS",)),
]


@pytest.fixture(scope="module")
def upright():
    return TextDetector(BRANDS, DetectConfig())


@pytest.fixture(scope="module")
def turning():
    return TextDetector(BRANDS, DetectConfig(text=TextDetectorConfig(rotations=[0, 90, 270])))


def load_rgb(name):
    return cv2.cvtColor(cv2.imread(str(IMAGES / name)), cv2.COLOR_BGR2RGB)


def centres(found, word):
    return [
        ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        for b, c in zip(found.xyxy, found.cue, strict=True)
        if c == word
    ]


def test_matching_rules():
    assert normalise("Pan Ducale!") == ("panducale", [0, 1, 2, 4, 5, 6, 7, 8, 9])
    assert edit_distance("bastoncini", "bastonclni") == 1
    assert find_word("famosibastonclni", "bastoncini", 0.2) == [(6, 16, 1)]
    assert find_word("nlke", "nike", 0.2) == []  # short words must match exactly
    assert find_word("nikenike", "nike", 0.2) == [(0, 4, 0), (4, 8, 0)]
    assert find_word("abcdefgh", "bastoncini", 0.2) == []


def test_box_words_found_where_they_are(upright, turning, real_media):
    found = upright.detect(load_rgb("box.png"))
    ((x, y),) = centres(found, "PAN DUCALE")
    assert 125 < x < 146 and 60 < y < 160  # the vertical PAN DUCALE label
    found = turning.detect(load_rgb("box.png"))
    x, y = centres(found, "BASTONCINI")[0]
    assert 40 < x < 110 and 60 < y < 160  # the big vertical brand name
    assert set(found.brand) == {"Bastoncini"}


def test_scene_words_lie_on_the_box(turning, real_media):
    found = turning.detect(load_rgb("box_in_scene.png"))
    assert set(found.brand) == {"Bastoncini"}
    for word in ("PAN DUCALE", "BASTONCINI"):
        assert centres(found, word)
        for x, y in centres(found, word):
            assert 91 < x < 283 and 163 < y < 298  # where the box stands in the scene
    # The words run at a slant: their masks are rotated rectangles, not their bounding boxes.
    i = found.cue.index("PAN DUCALE")
    x0, y0, x1, y1 = found.xyxy[i]
    assert found.masks[i].area < 0.7 * (x1 - x0) * (y1 - y0)


def test_wordmark_logo_and_absent_words(upright, real_media):
    found = upright.detect(load_rgb("LinuxLogo.jpg"))
    assert found.brand == ["Linux"]
    x0, y0, x1, y1 = found.xyxy[0]
    assert x0 < 60 and y0 < 60 and x1 > 240 and y1 > 150
    assert len(upright.detect(load_rgb("WindowsLogo.jpg"))) == 0
    assert len(upright.detect(load_rgb("graf1.png"))) == 0


def test_word_inside_a_longer_line_gets_its_own_box(real_media):
    detector = TextDetector([BrandCue("Almond", "blur", text=("Almond",))], DetectConfig())
    image = load_rgb("box.png")
    (line,) = [ln for ln in detector.read(image) if "Almond" in ln.text]
    found = detector.detect(image)
    assert len(found) == 1
    line_mask = found.masks[0].from_polygon(line.quad_xy, image.shape[:2])
    word_area, line_area = found.masks[0].area, line_mask.area
    assert 0.15 < word_area / line_area < 0.55  # "Almond" of "Crisp Almond Cookies"
    inside = (found.masks[0].to_dense() & line_mask.dilate(3).to_dense()).sum()
    assert inside > 0.9 * word_area


def test_a_part_of_the_frame_is_read_as_the_frame_is(turning, real_media):
    rgb = load_rgb("box_in_scene.png")
    whole = turning.detect(rgb)
    x0, y0, x1, y1 = 60, 130, 320, 330  # around the box, with room
    part = detect_crop(turning, rgb[y0:y1, x0:x1], rgb.shape[:2]).shifted(x0, y0, rgb.shape[:2])
    assert set(part.cue) == set(whole.cue) == {"PAN DUCALE", "BASTONCINI"}
    for word in ("PAN DUCALE", "BASTONCINI"):
        for (xa, ya), (xb, yb) in zip(
            sorted(centres(whole, word)), sorted(centres(part, word)), strict=True
        ):
            assert abs(xa - xb) < 4 and abs(ya - yb) < 4
