"""Downloads: a version as a zip (the int8 ONNX served directory, or the PyTorch
checkpoint) and a job's log, as routes of the studio's web process.

Beyond loopback a link carries a token (an HMAC of its path with the admin key), so a link
works only for someone who unlocked the studio with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tempfile
import zipfile
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from persian_chat.studio.service import get_studio

KINDS = ("served", "checkpoint")


def link_token(admin_key: str, path: str) -> str:
    return hmac.new(admin_key.encode(), path.encode(), hashlib.sha256).hexdigest()


def signed(path: str) -> str:
    settings = get_studio().settings
    if not settings.needs_key:
        return path
    return f"{path}?token={link_token(settings.admin_key, path)}"


def _refused(request: Request) -> Response | None:
    settings = get_studio().settings
    if not settings.needs_key:
        return None
    expected = link_token(settings.admin_key, request.url.path)
    if hmac.compare_digest(request.query_params.get("token", ""), expected):
        return None
    return JSONResponse(
        {"error": {"message": "invalid or missing token", "param": "token"}}, status_code=401
    )


def zip_directory(directory: Path) -> Path:
    """The directory as a zip in a temporary file (stored, not compressed: ONNX and
    safetensors weights do not compress)."""
    fd, name = tempfile.mkstemp(prefix="persian-chat-", suffix=".zip")
    os.close(fd)
    with zipfile.ZipFile(name, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, Path(directory.name) / path.relative_to(directory))
    return Path(name)


async def download_version(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    kind = request.path_params["kind"]
    version = get_studio().store.version(int(request.path_params["version_id"]))
    if version is None or kind not in KINDS:
        return JSONResponse(
            {"error": {"message": "no such version", "param": "version_id"}}, status_code=404
        )
    directory = Path(str(version["checkpoint"] if kind == "checkpoint" else version["served"]))
    if not directory.is_dir():
        return JSONResponse(
            {"error": {"message": f"{directory} is gone", "param": "kind"}}, status_code=410
        )
    archive = zip_directory(directory)
    return FileResponse(
        archive,
        filename=f"{version['name']}-{kind}.zip",
        media_type="application/zip",
        background=BackgroundTask(archive.unlink, missing_ok=True),
    )


async def download_log(request: Request) -> Response:
    refused = _refused(request)
    if refused is not None:
        return refused
    job = get_studio().store.job(int(request.path_params["job_id"]))
    path = Path(job["directory"]) / "job.log" if job else None
    if path is None or not path.is_file():
        return JSONResponse(
            {"error": {"message": "no log for this job", "param": "job_id"}}, status_code=404
        )
    return FileResponse(
        path, filename=f"job-{job['id'] if job else 0}.log", media_type="text/plain; charset=utf-8"
    )


ROUTES = [
    Route("/studio/download/version/{version_id:int}/{kind}", download_version),
    Route("/studio/download/job/{job_id:int}/log", download_log),
]
