"""Pre-air scan speed: ``batch --scan-only`` against a full removal ``batch`` on the same inputs.

Three clips from ../shared/data/videos (Big Buck Bunny 720p with a logo composited, bikes with
the box logo, and vtest without any logo), run through the batch runner in this process, both
ways. Prints the frames per second of each and the ratio (target: scan at least 3x faster).

Usage: python bench/bench_scan.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from autoblur.batch import BatchOptions, discover_items, run_batch
from autoblur.config import load_config
from autoblur.synth import composite_logo, moving_placement
from detectors.logo import read_logo

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inputs = tmp / "in"
        inputs.mkdir()
        rules = tmp / "rules.yaml"
        windows, box = args.data / "images/WindowsLogo.jpg", args.data / "images/box.png"
        rules.write_text(
            f"brands:\n  - name: Windows\n    logos: ['{windows}']\n"
            f"  - name: Box\n    logos: ['{box}']\ndefault_action: inpaint\n"
        )
        for video, logo in (("bigbuckbunny.mp4", windows), ("bikes.mp4", box)):
            shape = read_logo(logo)[0].shape[:2]
            composite_logo(
                args.data / "videos" / video,
                logo,
                inputs / video,
                moving_placement(shape, start_frame=10, speed_px=4),
            )
        (inputs / "vtest.avi").symlink_to(args.data / "videos/vtest.avi")
        items = discover_items(inputs, tmp / "out", rules)
        print(f"inputs: {', '.join(i.key for i in items)}")
        runs = {
            "batch (removal)": (False, load_config(None)),
            "batch --scan-only": (True, load_config(None)),
            "scan-only, idle 36": (True, load_config(None, {"scan_idle_keyframe_interval": 36})),
        }
        seconds_of = {}
        for label, (scan_only, config) in runs.items():
            out = tmp / label.replace(" ", "_")
            started = time.perf_counter()
            options = BatchOptions(out_dir=out, config=config, scan_only=scan_only)
            summary = run_batch(items, options)
            seconds_of[label] = time.perf_counter() - started
            frames = sum(i.get("frames", 0) for i in summary["items"])
            fps = frames / seconds_of[label]
            print(f"{label:<20} {frames} frames {seconds_of[label]:7.2f} s {fps:6.1f} fps")
        for label in list(runs)[1:]:
            ratio = seconds_of["batch (removal)"] / seconds_of[label]
            print(f"{label}: {ratio:.2f}x faster than removal (target at least 3x)")


if __name__ == "__main__":
    main()
