"""Browser pages: the job list at ``/``, the login form, and the review page of a scan."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from autoblur.errors import VideoError
from autoblur.service.auth import COOKIE, require_page_token, safe_next, token_ok
from autoblur.service.review import (
    DECISIONS,
    crop_jpeg,
    decisions_of,
    frame_at,
    occurrences_of,
    report_of,
)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
)

router = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(require_page_token)])


def _page(name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(_templates.get_template(name).render(**context), status_code=status_code)


@router.get("/login")
def login_form(next: str = "/") -> HTMLResponse:  # noqa: A002 - the query parameter's name
    """The login form: one token field."""
    return _page("login.html", next=safe_next(next), wrong=False)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token; set the cookie and go on, or show the form again."""
    form = parse_qs((await request.body()).decode())
    token = (form.get("token") or [""])[0]
    target = safe_next((form.get("next") or ["/"])[0])
    if not token_ok(request.app.state.settings.token, token):
        return _page("login.html", status_code=401, next=target, wrong=True)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
    return response


@pages.get("/")
def job_list(request: Request) -> HTMLResponse:
    """Every job, newest first, with links to the reviews of finished scans."""
    return _page("jobs.html", jobs=request.app.state.service.queue.list())


def _job(request: Request, job_id: str) -> dict:
    job = request.app.state.service.queue.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


def _latest_render(request: Request, job_id: str) -> dict | None:
    renders = request.app.state.service.queue.list(status="done", parent=job_id)
    return renders[0] if renders else None


@pages.get("/review/{job_id}")
def review(job_id: str, request: Request) -> HTMLResponse:
    """A scan's occurrences on a timeline, with crops and a decision each, and Render."""
    job = _job(request, job_id)
    report = report_of(job)
    render = _latest_render(request, job_id)
    duration = 0.0
    if report is not None:
        info = report["input"]
        duration = info.get("duration_s") or info["frame_count"] / max(info["fps"], 1e-9)
    return _page(
        "review.html",
        job=job,
        report=report,
        occurrences=occurrences_of(job),
        duration=max(duration, 1e-9),
        render=render,
        choices=DECISIONS,
        chosen=decisions_of(render),
    )


@pages.get("/review/{job_id}/crop/{occurrence_id}/{which}.jpg")
def crop(job_id: str, occurrence_id: str, which: str, request: Request) -> Response:
    """The occurrence's box at its first frame, in the input (before) or the render (after)."""
    job = _job(request, job_id)
    occurrence = next((o for o in occurrences_of(job) if o["id"] == occurrence_id), None)
    if occurrence is None or which not in ("before", "after"):
        raise HTTPException(404, f"no {which} crop of {occurrence_id} in job {job_id}")
    video = Path(job["spec"]["input"])
    if which == "after":
        render = _latest_render(request, job_id)
        if render is None:
            raise HTTPException(404, f"job {job_id} has no finished render yet")
        video = Path(render["spec"]["output"])
    try:
        rgb = frame_at(video, occurrence["start_frame"])
    except VideoError as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(crop_jpeg(rgb, occurrence["xyxy"]), media_type="image/jpeg")


router.include_router(pages)
