"""The safety net: does `run` exit 0 ("verified clean") while a brand it missed is on screen?

A recall run (``bench/bench_recall.py --json RESULTS``) scans each case. For every case the scan
did not find well, this renders the same composite again and runs ``autoblur run`` on it (the
default config: inpaint, verification on), then counts the frames of the output where the
brand is still on screen: at least 5 % (and, plainly, 50 %) of some copy's true pixels left as
the composite showed them (within 12 levels on every channel). A run with such frames must not
end verified clean (exit 0); it must exit 4 (residual) so a person looks.

With ``--found-well N`` it also runs the first N cases the scan found well, where a run that
leaves nothing and still exits 4 is a false alarm (a person checks a clean output for nothing);
those are counted apart.

Usage:
    python bench/bench_safety_net.py RESULTS.json [--jobs 2] [--found-well 20]
        [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from autoblur.config import load_config  # noqa: E402
from autoblur.io import VideoReader  # noqa: E402
from autoblur.pipeline import Job, Pipeline  # noqa: E402
from autoblur.types import BrandCue  # noqa: E402
from bench.bench_recall import clips_for  # noqa: E402
from bench.recall_cases import CaseSpec, render_case  # noqa: E402

_SAME = 12  # a pixel within this many levels of the composite on every channel is unchanged
_LEFT = 0.05  # a copy with this share of its pixels unchanged is still on screen
_HALF = 0.5  # (and plainly so with this share)


def frames_left(composite: Path, output: Path, truths, share: float = _LEFT) -> list[int]:
    """Frames of ``output`` where some copy keeps ``share`` of its pixels as ``composite``."""
    left = []
    with VideoReader(composite) as before, VideoReader(output) as after:
        pairs = zip(before.frames(), after.frames(), truths, strict=True)
        for index, (a, b, copies) in enumerate(pairs):
            unchanged = (np.abs(a.rgb.astype(np.int16) - b.rgb) <= _SAME).all(axis=2)
            for copy in copies:
                if copy is not None and unchanged[copy.to_dense()].mean() >= share:
                    left.append(index)
                    break
    return left


def check_case(case_dict: dict, marks_dir: str, clip_path: str) -> dict:
    """Render the case, run it, and compare the frames left with the run's verdict."""
    started = time.perf_counter()
    case = CaseSpec.from_dict(case_dict)
    mark = Path(marks_dir) / case.mark
    with tempfile.TemporaryDirectory(prefix="safety-") as tmp_name:
        tmp = Path(tmp_name)
        rendered = render_case(case, mark, Path(clip_path), tmp / "composite.mp4")
        out = tmp / "out.mp4"
        cues = [BrandCue(mark.stem, "inpaint", (mark,))]
        report = Pipeline(Job(rendered.path, out, cues, load_config(None))).run()
        left = frames_left(rendered.path, out, rendered.truths)
        half = frames_left(rendered.path, out, rendered.truths, _HALF)
    verification = report.get("verification") or {}
    clean = bool(verification.get("verified_clean"))
    return {
        "case": case.name,
        "frames_left": len(left),
        "first_left": left[0] if left else None,
        "frames_half_left": len(half),
        "verified_clean": clean,
        "exit": 0 if clean else 4,
        "residual_frames": len(
            {
                r["frame"]
                for r in verification.get("residual", [])
                if not (r.get("missed") or r.get("followed"))
            }
        ),  # fmt: skip
        "missed_frames": len({r["frame"] for r in verification.get("missed", [])}),
        "followed_frames": len({r["frame"] for r in verification.get("followed_left", [])}),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Check the cases a recall run did not find well; 1 when a run ends clean with a brand left."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a bench_recall.py --json file")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--found-well", type=int, default=0, help="also run this many cases found well"
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text())
        todo = [r for r in results["results"] if r.get("verdict") != "found well"]
        well = [r for r in results["results"] if r.get("verdict") == "found well"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"{args.results}: not a bench_recall.py --json file ({exc}); write one with --json")
        return 2
    if not (args.data / "brand_marks").is_dir():
        print(f"no brand marks at {args.data / 'brand_marks'}; see --data")
        return 2
    todo += well[: max(0, args.found_well)]
    seed = results.get("seed")
    print(
        f"# Safety net: seed {seed}, {len(todo) - min(len(well), args.found_well)} cases the "
        f"scan did not find well, {min(len(well), args.found_well)} found well\n"
    )
    clips = clips_for(args.data)
    marks = str(args.data / "brand_marks")
    jobs = [(r["case"], marks, str(clips[r["case"]["clip"]].path)) for r in todo]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        checked = list(pool.map(check_case, *zip(*jobs, strict=True))) if jobs else []
    print(
        "| case | scan verdict | frames with 5 % / 50 % of the brand left | run exit "
        "| frames flagged: removed regions / sampled search / followed marks |"
    )
    print("| --- | --- | --- | --- | --- |")
    for r, c in zip(todo, checked, strict=True):
        flagged = f"{c['residual_frames']} / {c['missed_frames']} / {c['followed_frames']}"
        print(
            f"| {c['case']} | {r['verdict']} | {c['frames_left']} / {c['frames_half_left']} "
            f"| {c['exit']} | {flagged} |"
        )
    unsafe = [c for c in checked if c["frames_left"] and c["exit"] == 0]
    alarms = [c for c in checked if not c["frames_left"] and c["exit"] != 0]
    print(
        f"\nruns with a brand left: {sum(bool(c['frames_left']) for c in checked)}; "
        f"of them ending verified clean (exit 0): {len(unsafe)}\n"
        f"runs with nothing left: {sum(not c['frames_left'] for c in checked)}; "
        f"of them exiting 4 (false alarm): {len(alarms)}"
    )
    return 1 if unsafe else 0


if __name__ == "__main__":
    sys.exit(main())
