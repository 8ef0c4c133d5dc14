"""Self-contained HTML reports (one file, images embedded) for a video and for a batch."""

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
figcaption{font-size:12px}section{border-top:2px solid #ddd;margin-top:24px;padding-top:8px}
"""


def _colour(brand: str, brands: list[str]) -> str:
    return _PALETTE[brands.index(brand) % len(_PALETTE)]


def _timeline(report: dict) -> str:
    """An SVG bar per track over the video's duration."""
    tracks = report["tracks"]
    frames = max(report["input"]["frame_count"], 1)
    brands = sorted({t["brand"] for t in tracks})
    width, row = 800, 18
    height = row * max(len(tracks), 1) + 20
    bars = []
    for i, track in enumerate(tracks):
        x = width * track["first_frame"] / frames
        w = max(width * (track["last_frame"] + 1 - track["first_frame"]) / frames, 2)
        label = (
            f"track {track['id']}: {track['brand']} ({track['action']}) "
            f"{track['first_time_s']:.2f}-{track['last_time_s']:.2f} s"
        )
        bars.append(
            f'<rect class="track-bar" x="{x:.1f}" y="{i * row + 2}" width="{w:.1f}" '
            f'height="{row - 4}" fill="{_colour(track["brand"], brands)}">'
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
    """The HTML of one video's report: facts, timeline, one thumbnail per occurrence."""
    info = report["input"]
    rules = report.get("rules") or {}
    brands_found = report["brands_found"]
    rows = "".join(
        f"<tr><td>{escape(b)}</td><td class='brand-count' data-brand='{escape(b)}'>{n}</td></tr>"
        for b, n in sorted(brands_found.items())
    )
    figures = []
    for track in report["tracks"]:
        image = track.get("thumbnail_jpeg_base64")
        picture = (
            f'<img alt="track {track["id"]}" src="data:image/jpeg;base64,{image}">' if image else ""
        )
        figures.append(
            f'<figure class="occurrence">{picture}<figcaption>#{track["id"]} '
            f"{escape(track['brand'])}: {escape(track['action'])}, frames {track['first_frame']}"
            f"-{track['last_frame']}, found by {escape(track['source'])}</figcaption></figure>"
        )
        figures.append(_worst_frame(track))
    back = f'<p><a href="#{back_link}">back to the batch summary</a></p>' if back_link else ""
    return (
        f'<section id="{escape(anchor)}"><h2>{escape(os.path.basename(info["path"]))}</h2>{back}'
        f"<p>{info['width']}x{info['height']}, {info['fps']:.3f} fps, "
        f"<span class='frame-count'>{info['frame_count']}</span> frames; rules: "
        f"{escape(str(rules.get('path') or '-'))} "
        f"(country {escape(str(rules.get('country') or '-'))})"
        f"; <span class='track-count'>{len(report['tracks'])}</span> occurrences</p>"
        f"<table><tr><th>brand</th><th>occurrences</th></tr>{rows}</table>"
        f"{_verification(report)}{_timeline(report)}"
        f"<div class='thumbs'>{''.join(figures)}</div></section>"
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
            f"<td>{escape(brands or '-')}</td><td class='tracks'>{item.get('tracks', 0)}</td>"
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
