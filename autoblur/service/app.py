"""The HTTP app: the JSON API under ``/api``, ``/healthz``, and the browser pages.

``create_app(settings)`` builds the app; its lifespan starts the :class:`Service` (queue,
workers, watcher) and stops it at shutdown. The OpenAPI schema is at ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict

from autoblur import __version__
from autoblur.service.auth import COOKIE, LoginRequired, require_token
from autoblur.service.pages import router as pages_router
from autoblur.service.queue import FINISHED, JobQueue, new_job_id
from autoblur.service.review import Decision, occurrences_of, render_spec
from autoblur.service.runtime import DataDirLock, Service
from autoblur.service.settings import ServiceSettings
from autoblur.service.spec import FieldInvalid, JobRequest, PathRefused, build_spec

Status = Literal["queued", "running", "done", "failed", "cancelled"]


class JobCreated(BaseModel):
    """The answer to a submitted job."""

    id: str


class JobView(BaseModel):
    """A job as the API shows it."""

    id: str
    status: Status
    mode: str
    progress: float
    eta_s: float | None
    error: str | None
    attempts: int
    source: str
    parent: str | None
    input: str
    output: str | None
    report: str
    created_at: str
    started_at: str | None
    finished_at: str | None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def job_view(job: dict[str, Any]) -> JobView:
    """The API's view of a queue row."""
    spec = job["spec"]
    return JobView(
        id=job["id"],
        status=job["status"],
        mode=job["mode"],
        progress=round(job["progress"], 4),
        eta_s=job["eta_s"],
        error=job["error"],
        attempts=job["attempts"],
        source=job["source"],
        parent=job["parent"],
        input=spec["input"],
        output=spec.get("output"),
        report=spec["report"],
        created_at=_iso(job["created_at"]) or "",
        started_at=_iso(job["started_at"]),
        finished_at=_iso(job["finished_at"]),
    )


def queue_of(request: Request) -> JobQueue:
    """The service's queue."""
    return request.app.state.service.queue


def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """The job's row; 404 when there is none."""
    job = queue_of(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job


api = APIRouter(prefix="/api", dependencies=[Depends(require_token)])


@api.post("/jobs", status_code=201, response_model=JobCreated)
def submit_job(body: JobRequest, request: Request) -> JobCreated:
    """Queue a scan or a removal (or a render of a scan with decisions)."""
    settings: ServiceSettings = request.app.state.settings
    job_id = new_job_id()
    spec = build_spec(body, settings, job_id)
    queue_of(request).submit(spec, job_id=job_id)
    return JobCreated(id=job_id)


@api.get("/jobs", response_model=list[JobView])
def list_jobs(request: Request, status: Status | None = None) -> list[JobView]:
    """Every job, newest first; ``?status=`` keeps one status."""
    return [job_view(job) for job in queue_of(request).list(status)]


@api.get("/jobs/{job_id}", response_model=JobView)
def show_job(job_id: str, request: Request) -> JobView:
    """One job: status, progress 0..1, seconds left, error."""
    return job_view(get_job(request, job_id))


@api.get("/jobs/{job_id}/report")
def job_report(job_id: str, request: Request) -> FileResponse:
    """The job's JSON report, once it is done."""
    job = get_job(request, job_id)
    if job["status"] != "done":
        raise HTTPException(409, f"job {job_id} is {job['status']}; a report comes when done")
    report = Path(job["spec"]["report"])
    if not report.is_file():
        raise HTTPException(410, f"job {job_id}: its report {report} was deleted")
    return FileResponse(report, media_type="application/json")


@api.delete("/jobs/{job_id}", response_model=JobView)
def cancel_job(job_id: str, request: Request) -> JobView:
    """Cancel a queued or running job; a running one stops and leaves no output."""
    job = get_job(request, job_id)
    if job["status"] in FINISHED:
        raise HTTPException(409, f"job {job_id} is already {job['status']}")
    queue_of(request).cancel(job_id)
    return job_view(get_job(request, job_id))


class RenderRequest(BaseModel):
    """The body of ``POST /api/jobs/{id}/render``: a decision per occurrence of the scan."""

    model_config = ConfigDict(extra="forbid")

    decisions: dict[str, Decision]


@api.post("/jobs/{job_id}/render", status_code=201, response_model=JobCreated)
def render_job(job_id: str, body: RenderRequest, request: Request) -> JobCreated:
    """Queue a render of a finished scan job with a decision per occurrence."""
    settings: ServiceSettings = request.app.state.settings
    scan = get_job(request, job_id)
    if scan["mode"] != "scan" or scan["status"] != "done":
        raise HTTPException(409, f"job {job_id} is not a finished scan ({scan['status']})")
    known = {occ["id"] for occ in occurrences_of(scan)}
    unknown = sorted(set(body.decisions) - known)
    if unknown:
        raise FieldInvalid("decisions", f"no occurrence {unknown[0]!r} in the scan of job {job_id}")
    render_id = new_job_id()
    spec = render_spec(scan, body.decisions, settings, render_id)
    queue_of(request).submit(spec, source="review", parent=job_id, job_id=render_id)
    return JobCreated(id=render_id)


def _path_refused(request: Request, exc: PathRefused) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=403)


def _field_invalid(request: Request, exc: FieldInvalid) -> JSONResponse:
    detail = [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


def _login_required(request: Request, exc: LoginRequired) -> RedirectResponse:
    response = RedirectResponse(exc.target, status_code=303)
    if exc.token is not None:
        response.set_cookie(COOKIE, exc.token, httponly=True, samesite="strict")
    return response


def create_app(settings: ServiceSettings, lock: DataDirLock | None = None) -> FastAPI:
    """The service's ASGI app.

    Args:
        settings: the service settings.
        lock: the data-folder lock if the caller took it (the CLI does, to fail before
            binding the port); otherwise the app's startup takes it.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, lock)
        service.start()
        app.state.service = service
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="autoblur",
        version=__version__,
        summary="Automated logo removal: a job queue over the autoblur pipeline.",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind the token like every route but /healthz
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_exception_handler(PathRefused, _path_refused)
    app.add_exception_handler(FieldInvalid, _field_invalid)
    app.add_exception_handler(LoginRequired, _login_required)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_token)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    app.include_router(api)
    app.include_router(pages_router)
    return app
