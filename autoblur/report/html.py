"""Self-contained HTML reports (one file, images embedded): a review sheet per video, a batch."""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path

_PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"]
_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.status-failed,.status-residual,.residual{color:#b00}.verified{color:#070}.status-found,.status-removed{color:#a60}.status-clean{color:#070}
.thumbs{display:flex;flex-wrap:wrap;gap:12px}.thumbs figure{margin:0}
.occurrence{border:1px solid #ddd;margin:8px 0;padding:4px 8px}.decision{font-weight:bold}
figcaption{font-size:12px}section{border-top:2px solid #ddd;margin-top:24px;padding-top:8px}
"""


def _colour(brand: str, brands: list[str]) -> str:
    return _PALETTE[brands.index(brand) % len(_PALETTE)]


def _timeline(report: dict) -> str:
    """An SVG bar per occurrence over the video's duration."""
    occurrences = report.get("occurrences", [])  # reports of older versions have none
    frames = max(report["input"]["frame_count"], 1)
    brands = sorted({o["brand"] for o in occurrences})
    width, row = 800, 18
    height = row * max(len(occurrences), 1) + 20
    bars = []
    for i, occ in enumerate(occurrences):
        x = width * occ["start_frame"] / frames
        w = max(width * (occ["end_frame"] + 1 - occ["start_frame"]) / frames, 2)
        label = (
            f"{occ['id']}: {occ['brand']} ({_decision(occ)}) "
            f"{occ['start_timecode']}-{occ['end_timecode']}"
        )
        bars.append(
            f'<rect class="occurrence-bar" x="{x:.1f}" y="{i * row + 2}" width="{w:.1f}" '
            f'height="{row - 4}" fill="{_colour(occ["brand"], brands)}">'
            f"<title>{escape(label)}</title></rect>"
        )
    duration = report["input"].get("duration_s") or 0
    axis = (
        f'<text x="0" y="{height - 4}" font-size="11">0 s</text>'
        f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end">'
        f"{duration:.1f} s</text>"
    )
    return (
        f'<svg class="timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height - 16}" '
        f'fill="#f4f4f4"/>{"".join(bars)}{axis}</svg>'
    )


def _decision(occ: dict) -> str:
    """The action an occurrence got: a render's decision, else the scan's action."""
    return occ.get("decision") or occ["action"]


def _image(occ: dict, key: str, label: str) -> str:
    data = occ.get(f"{key}_jpeg_base64")
    if not data:
        return ""
    return (
        f'<figure class="{key}"><img alt="{escape(occ["id"])} {label}" '
        f'src="data:image/jpeg;base64,{data}"><figcaption>{label}</figcaption></figure>'
    )


def _review_card(occ: dict) -> str:
    """One occurrence: timecodes, cues, decision, thumbnail and before/after crops."""
    reason = occ.get("reason")
    decided_by = occ.get("decided_by")
    decision = (
        f"<span class='decision'>{escape(_decision(occ))}</span>"
        + (f" ({escape(decided_by)})" if decided_by else "")
        + (f": {escape(reason)}" if reason else "")
    )
    images = "".join(
        _image(occ, key, label)
        for key, label in (("thumbnail", "found"), ("before", "before"), ("after", "after"))
    )
    return (
        f'<div class="occurrence" id="{escape(occ["id"])}"><h3>{escape(occ["id"])}: '
        f"{escape(occ['brand'])}</h3><p><span class='timecode'>{escape(occ['start_timecode'])}"
        f"</span> - <span class='timecode'>{escape(occ['end_timecode'])}</span> "
        f"(frames {occ['start_frame']}-{occ['end_frame']}); found by "
        f"{escape(', '.join(occ['cues']))}; decision: {decision}</p>"
        f"<div class='thumbs'>{images}</div></div>"
    )


def _worst_frame(track: dict) -> str:
    """Before | after of a track at its worst frame (lowest fill confidence), if there is one."""
    image, worst = track.get("before_after_jpeg_base64"), track.get("worst_frame")
    if not image or not worst:
        return ""
    return (
        f'<figure class="worst-frame"><img alt="track {track["id"]} before and after" '
        f'src="data:image/jpeg;base64,{image}"><figcaption>#{track["id"]} before | after, '
        f"frame {worst['frame']} ({worst['time_s']:.2f} s), its least sure fill "
        f"(confidence {worst['fill_confidence']:.2f})</figcaption></figure>"
    )


def _verification(report: dict) -> str:
    """The verification's verdict: clean on the frames checked, or what is still found."""
    verification = report.get("verification")
    if verification is None:
        return ""
    checked = len(verification["checked_frames"])
    if verification["verified_clean"]:
        return (
            f"<p class='verified'>Verified clean: the detectors found nothing on the "
            f"{checked} output frames checked.</p>"
        )
    items = "".join(
        f"<li>{escape(r['brand'])} on frame {r['frame']} ({r['time']:.2f} s), box "
        f"{', '.join(f'{v:.0f}' for v in r['box'])}</li>"
        for r in verification["residual"]
    )
    return (
        f"<div class='residual'><p>Still found after the second pass ({checked} frames "
        f"checked):</p><ul>{items}</ul></div>"
    )


def video_section(report: dict, anchor: str = "video", back_link: str | None = None) -> str:
    """The HTML of one video's report: facts, timeline, and a review card per occurrence."""
    info = report["input"]
    rules = report.get("rules") or {}
    brands_found = report["brands_found"]
    rows = "".join(
        f"<tr><td>{escape(b)}</td><td class='brand-count' data-brand='{escape(b)}'>{n}</td></tr>"
        for b, n in sorted(brands_found.items())
    )
    occurrences = report.get("occurrences", [])
    cards = "".join(_review_card(occ) for occ in occurrences)
    worst_frames = "".join(_worst_frame(track) for track in report.get("tracks", []))
    back = f'<p><a href="#{back_link}">back to the batch summary</a></p>' if back_link else ""
    return (
        f'<section id="{escape(anchor)}"><h2>{escape(os.path.basename(info["path"]))}</h2>{back}'
        f"<p>{info['width']}x{info['height']}, {info['fps']:.3f} fps, "
        f"<span class='frame-count'>{info['frame_count']}</span> frames from "
        f"{escape(str(info.get('start_timecode') or '-'))}; rules: "
        f"{escape(str(rules.get('path') or '-'))} "
        f"(country {escape(str(rules.get('country') or '-'))})"
        f"; <span class='occurrence-count'>{len(occurrences)}</span> occurrences</p>"
        f"<table><tr><th>brand</th><th>occurrences</th></tr>{rows}</table>"
        f"{_verification(report)}{_timeline(report)}{cards}"
        f"<div class='thumbs'>{worst_frames}</div></section>"
    )


def _page(title: str, body: str, data: dict) -> str:
    payload = escape(json.dumps(data))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{body}"
        f"<script type='application/json' id='report-data'>{payload}</script></body></html>"
    )


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_video_html(path: Path, report: dict) -> None:
    """Write one video's report as a self-contained HTML file."""
    summary = {k: report[k] for k in ("brands_found",)}
    _write(path, _page("autoblur report", video_section(report), summary))


def write_batch_html(path: Path, summary: dict) -> None:
    """Write a batch summary with every item's report, linked both ways, as one HTML file."""
    rows, sections = [], []
    for number, item in enumerate(summary["items"], 1):
        anchor = f"item-{number}"
        brands = ", ".join(f"{b} ({n})" for b, n in sorted((item.get("brands") or {}).items()))
        report = None
        if item.get("report") and Path(item["report"]).exists():
            report = json.loads(Path(item["report"]).read_text(encoding="utf-8"))
        name = escape(item["key"])
        link = f'<a href="#{anchor}">{name}</a>' if report else name
        rows.append(
            f"<tr class='item' data-key='{name}'><td>{link}</td>"
            f"<td class='status status-{item['status']}'>{item['status']}</td>"
            f"<td>{escape(brands or '-')}</td>"
            f"<td class='occurrences'>{item.get('occurrences', 0)}</td>"
            f"<td>{escape(item.get('reason') or '')}</td></tr>"
        )
        if report:
            sections.append(video_section(report, anchor, back_link="summary"))
    totals = "".join(
        f"<tr><td>{escape(b)}</td>"
        f"<td class='batch-brand-count' data-brand='{escape(b)}'>{n}</td></tr>"
        for b, n in sorted(summary["brand_counts"].items())
    )
    body = (
        f'<section id="summary"><h2>Batch summary ({escape(summary["mode"])})</h2>'
        f"<table><tr><th>video</th><th>status</th><th>brands</th><th>occurrences</th>"
        f"<th>reason</th></tr>{''.join(rows)}</table>"
        f"<table><tr><th>brand</th><th>occurrences, all videos</th></tr>{totals}</table></section>"
        f"{''.join(sections)}"
    )
    data = {"status_counts": summary["status_counts"], "brand_counts": summary["brand_counts"]}
    _write(path, _page("autoblur batch report", body, data))
