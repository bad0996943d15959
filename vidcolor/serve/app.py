"""`vidcolor serve` on FastAPI: two pages (Colorize, Live) and the JSON API behind them; photos colorized at once,
videos as jobs, live sources as MJPEG streams, all with the one colorizer the command line uses. Uploads stream to
disk under a size limit; a file's own name never becomes a path; every error is JSON with the command line's
one-line message. A photo or a job may come with hints and a reference picture (``guidance.py``)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import cv2
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..color import SATURATION_MAX
from ..colorizer import Colorizer
from ..errors import VidcolorError, first_line
from ..images import IMAGE_SUFFIXES
from ..safe_output import VIDEO_SUFFIXES
from ..sources import FileSource
from .docs import add_docs
from .guidance import Guidance, guidance_of
from .jobs import Job, JobRunner
from .models import Colorizers, Load
from .streams import LiveStream
from .uploads import OPENAPI_BODY, Uploads

DEFAULT_MAX_UPLOAD = 4 << 30  # bytes

PAGES = Path(__file__).resolve().parent / "pages"
_BEARER = HTTPBearer(auto_error=False)  # module-level: FastAPI resolves the string annotations in this module


def create_app(colorizer: Colorizer, out: Path, *, load: Load | None = None, token: str | None = None,
               max_upload: int = DEFAULT_MAX_UPLOAD, sources: dict[str, str] | None = None,
               smooth: float = 0.9) -> FastAPI:  # fmt: skip
    """The pages and API over ``colorizer`` (and the other shipped models and sensors, which ``load`` makes when a
    request asks); results and uploads in progress live under ``out``; ``sources`` (name -> what ``vidcolor
    live`` takes) are opened here, each colorized by ``colorizer`` in one loop from now on."""
    out.mkdir(parents=True, exist_ok=True)
    uploads = out / ".uploads"
    uploads.mkdir(exist_ok=True)
    receive = Uploads(uploads, max_upload).receive
    colorizers = Colorizers(colorizer, load)
    runner = JobRunner(colorizers, out, uploads)
    streams: dict[str, LiveStream] = {}
    try:
        for name, location in (sources or {}).items():
            streams[name] = LiveStream(name, location, colorizer, smooth=smooth)
    except BaseException:
        for stream in streams.values():
            stream.close()
        runner.close()
        raise

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for stream in streams.values():
            stream.close()
        runner.close()

    def authorised(request: Request,
                   credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:  # fmt: skip
        """The token from the Authorization header, or from ?token= where a browser cannot send one (a page, a
        link, an image's stream)."""
        given = credentials.credentials if credentials is not None else request.query_params.get("token")
        if token is not None and (given is None or not secrets.compare_digest(given, token)):
            raise HTTPException(401, "a bearer token is needed (Authorization: Bearer TOKEN, or ?token=TOKEN)")

    app = FastAPI(title="vidcolor", lifespan=lifespan, dependencies=[Depends(authorised)], docs_url=None,
                  redoc_url=None, openapi_url=None)  # fmt: skip
    app.state.runner = runner
    add_docs(app)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(VidcolorError)
    async def vidcolor_error(_: Request, exc: VidcolorError) -> JSONResponse:
        return JSONResponse({"error": first_line(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """A query value of the wrong type (``saturation=lots``): one line, as every other error."""
        error = exc.errors()[0]
        return JSONResponse({"error": f"{error['loc'][-1]}: {error['msg']}"}, status_code=400)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def colorize_page() -> HTMLResponse:
        return HTMLResponse((PAGES / "colorize.html").read_text())

    @app.get("/live", response_class=HTMLResponse, include_in_schema=False)
    def live_page() -> HTMLResponse:
        return HTMLResponse((PAGES / "live.html").read_text())

    def stream_of(name: str) -> LiveStream:
        if name not in streams:
            raise HTTPException(404, f"no live source {name}")
        return streams[name]

    @app.get("/api/streams")
    def list_streams() -> list[dict[str, object]]:
        return [stream.status() for stream in streams.values()]

    @app.get("/api/streams/{name}/status")
    def stream_status(name: str) -> dict[str, object]:
        return stream_of(name).status()

    @app.get("/api/streams/{name}", response_class=StreamingResponse)
    async def watch(name: str, request: Request) -> StreamingResponse:
        """The source's colour pictures as MJPEG (multipart/x-mixed-replace), newest first: a slow viewer skips
        pictures, it never queues them. A viewer that goes away ends its generator within a second."""
        stream = stream_of(name)

        async def pictures() -> AsyncIterator[bytes]:
            number = 0
            stream.viewers += 1
            try:
                while not await request.is_disconnected():
                    newest = await asyncio.to_thread(stream.newer_than, number, 1.0)
                    if newest is not None:
                        number, jpeg = newest
                        yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + \
                            str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n"
            finally:
                stream.viewers -= 1

        return StreamingResponse(pictures(), media_type="multipart/x-mixed-replace; boundary=frame")

    @app.get("/api/health")
    def health() -> dict[str, object]:
        return {"status": "ok", "model": colorizer.model_name, "backend": colorizer.backend.NAME,
                "sensor": colorizer.sensor, "hints": colorizer.takes_hints, "jobs": len(runner.jobs),
                "choices": colorizers.choices()}  # fmt: skip

    @app.post("/api/images", openapi_extra=OPENAPI_BODY, response_class=Response)
    async def colorize_image(request: Request, format: str = "png", saturation: float = 1.0,
                             model: str | None = None, sensor: str | None = None,
                             hints: str | None = None) -> Response:  # fmt: skip
        """A photo (the body, or a form's ``file``) -> its colour picture; ``hints`` (JSON, here or as a form's field)
        and a form's ``reference`` picture guide its colours."""
        if format not in ("png", "jpeg"):
            raise HTTPException(400, f"format must be png or jpeg, got {format!r}")
        if not 0 <= saturation <= SATURATION_MAX:  # as the command line refuses it
            raise HTTPException(400, f"saturation must be between 0 (grey) and {SATURATION_MAX:g}, got {saturation:g}")
        choice = colorizers.key(model, sensor)  # a choice the server cannot make fails before the upload
        received = await receive(request, tuple(IMAGE_SUFFIXES))
        try:  # on a worker thread: the event loop keeps serving the live streams meanwhile
            guidance = guidance_of(received, hints)
            encoded = await asyncio.to_thread(colorized, received.path, format, saturation, choice, guidance)
        finally:
            received.discard()
        return Response(encoded, media_type=f"image/{format}")

    def colorized(path: Path, format: str, saturation: float, choice: tuple[str, str], guidance: Guidance) -> bytes:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise HTTPException(400, "the upload is not an image OpenCV can read")
        chosen = colorizers.get(choice)
        if guidance.hints:
            chosen.hinted_backend()  # a model without hint attention: one line, before any work
        rgb = chosen.colorize_image(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), saturation, hints=guidance.hints,
                                    reference=guidance.reference)  # fmt: skip
        return cv2.imencode(".jpg" if format == "jpeg" else ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()

    @app.post("/api/jobs", openapi_extra=OPENAPI_BODY, status_code=202)
    async def submit_job(request: Request, model: str | None = None, sensor: str | None = None,
                         hints: str | None = None) -> dict[str, object]:  # fmt: skip
        """A video (the body, or a form's ``file``) queued to be colorized; ``hints`` (JSON, here or as a form's
        field, each with its ``time``) and a form's ``reference`` picture guide its colours."""
        choice = colorizers.key(model, sensor)
        received = await receive(request, VIDEO_SUFFIXES + (".avi", ".webm"))
        name, path = received.name, received.path
        try:
            guidance = guidance_of(received, hints)
            if guidance.hints:
                await asyncio.to_thread(lambda: colorizers.get(choice).hinted_backend())  # refused now, not later
            source = FileSource(path)  # checked before any work: a bad file is the client's error, now
            total = source.info.frame_count
            source.close()
        except VidcolorError as exc:  # said of the client's file, not of where the server keeps it
            received.discard()
            raise HTTPException(400, first_line(exc).replace(str(path), name)) from exc
        except BaseException:
            received.discard()
            raise
        return runner.submit(name, path, ".mp4", total, choice, guidance).status()

    def job_of(job_id: str) -> Job:
        job = runner.jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @app.get("/api/jobs")
    def list_jobs() -> list[dict[str, object]]:
        return [job.status() for job in runner.jobs.values()]

    @app.get("/api/jobs/{job_id}")
    def job_status(job_id: str) -> dict[str, object]:
        return job_of(job_id).status()

    @app.get("/api/jobs/{job_id}/result")
    def job_result(job_id: str) -> FileResponse:
        job = job_of(job_id)
        if job.state != "done":
            raise HTTPException(409, f"job {job_id} is {job.state}, not done")
        return FileResponse(job.output, media_type="video/mp4", filename=f"{Path(job.name).stem}_colour.mp4")

    @app.delete("/api/jobs/{job_id}")
    def cancel_job(job_id: str) -> dict[str, object]:
        job = job_of(job_id)
        if job.state in ("done", "failed", "cancelled"):
            runner.forget(job)
            return {"id": job_id, "state": "deleted"}
        runner.cancel(job)
        return job.status()

    return app
