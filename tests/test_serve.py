"""`vidcolor serve`'s API through FastAPI's test client: a photo's round trip, a video job's life, cancelling,
and every bad case: a file that is not what it says, an upload over the limit, a wrong token, a path in a name."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_cli
from media import ServeProcess, frame_times, picture, write_video

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
pytest.importorskip("httpx", reason="FastAPI's test client needs httpx")
from fastapi.testclient import TestClient  # noqa: E402

from vidcolor.serve import create_app  # noqa: E402


@pytest.fixture
def client(colorizer, tmp_path):
    with TestClient(create_app(colorizer, tmp_path / "out", max_upload=2_000_000)) as client:
        yield client


def png_bytes(width: int = 96, height: int = 64) -> bytes:
    grey = cv2.cvtColor(picture(3, width, height), cv2.COLOR_RGB2GRAY)
    return cv2.imencode(".png", grey)[1].tobytes()


def wait_for(client, job_id: str, states: set[str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {status['state']}")


def test_health_names_the_model(client):
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["model"] == "random.pt" and health["backend"] == "cpu"


def test_a_photo_comes_back_coloured_in_the_format_asked(client):
    for fmt, magic in (("png", b"\x89PNG"), ("jpeg", b"\xff\xd8")):
        response = client.post(f"/api/images?name=scan.png&format={fmt}", content=png_bytes())
        assert response.status_code == 200 and response.content.startswith(magic)
        rgb = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert rgb.shape == (64, 96, 3) and np.ptp(rgb.astype(int), axis=2).mean() > 1  # chroma, not grey


def test_a_video_job_runs_to_a_result_with_the_inputs_frames(client, tmp_path):
    clip = write_video(tmp_path / "reel.mp4", frames=12)
    submitted = client.post("/api/jobs?name=reel.mp4", content=clip.read_bytes())
    assert submitted.status_code == 202 and submitted.json()["total"] == 12
    job_id = submitted.json()["id"]
    done = wait_for(client, job_id, {"done", "failed"})
    assert done["state"] == "done" and done["frames"] == 12, done
    result = client.get(f"/api/jobs/{job_id}/result")
    assert result.status_code == 200 and "reel_colour.mp4" in result.headers["content-disposition"]
    (tmp_path / "back.mp4").write_bytes(result.content)
    assert frame_times(tmp_path / "back.mp4") == pytest.approx(frame_times(clip), abs=1e-6)
    assert client.delete(f"/api/jobs/{job_id}").json()["state"] == "deleted"
    assert client.get(f"/api/jobs/{job_id}").status_code == 404


def test_a_cancelled_job_stops_and_leaves_nothing(client, tmp_path):
    clip = write_video(tmp_path / "long.mp4", width=320, height=192, frames=300)
    job_id = client.post("/api/jobs?name=long.mp4", content=clip.read_bytes()).json()["id"]
    wait_for(client, job_id, {"running"})
    assert client.delete(f"/api/jobs/{job_id}").status_code == 200
    assert wait_for(client, job_id, {"cancelled", "done"})["state"] == "cancelled"
    assert client.get(f"/api/jobs/{job_id}/result").status_code == 409
    out = tmp_path / "out"
    assert not [p for p in out.rglob("*") if p.is_file() and p.name != "jobs.json"]  # no partial, no upload


@pytest.mark.parametrize(("url", "body", "status", "message"), [
    ("/api/images?name=x.png", b"not a picture", 400, "not an image"),
    ("/api/images?name=x.exe", b"MZ", 415, "must end in one of"),
    ("/api/images?name=x.png", b"", 400, "empty"),
    ("/api/jobs?name=x.mp4", b"not a video at all", 400, "x.mp4"),
    ("/api/images?name=x.png", bytes(2_000_001), 413, "larger than the limit"),
])  # fmt: skip
def test_bad_uploads_are_json_errors_with_one_line(client, url, body, status, message):
    response = client.post(url, content=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert message in error and "\n" not in error and "Traceback" not in error and ".uploads" not in error
    kept = [p for p in Path(client.app.state.runner.folder).rglob("*") if p.is_file() and p.name != "jobs.json"]
    assert not kept


def test_a_name_with_a_path_writes_nowhere_else(client, tmp_path):
    response = client.post("/api/images?name=../../etc/evil.png", content=png_bytes())
    assert response.status_code == 200
    job = client.post("/api/jobs?name=../../escape.mp4", content=write_video(tmp_path / "c.mp4", frames=4).read_bytes())
    job_id = job.json()["id"]
    wait_for(client, job_id, {"done", "failed"})
    assert job.json()["name"] == "escape.mp4" and not (tmp_path / "escape.mp4").exists()
    assert (tmp_path / "out" / f"{job_id}.mp4").is_file()


def test_a_token_guards_every_route(colorizer, tmp_path):
    with TestClient(create_app(colorizer, tmp_path / "out", token="s3cret")) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/api/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert "bearer token" in client.post("/api/images?name=x.png", content=png_bytes()).json()["error"]
        assert client.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_unknown_job_is_404(client):
    assert client.get("/api/jobs/nope").json() == {"error": "no job nope"}


def test_serve_names_its_extra_and_warns_off_loopback():
    result = run_cli("serve", "--help")
    assert result.returncode == 0 and "--token" in result.stdout and "127.0.0.1" in result.stdout


def test_the_command_serves_on_loopback(weights, tmp_path):
    """`vidcolor serve` for real: uvicorn on 127.0.0.1, a photo through it, an upload cut off half-way that leaves
    nothing, and a clean stop on SIGTERM."""
    import socket
    import urllib.request

    with ServeProcess("--out", tmp_path / "out", "--weights", weights, "--size", "64", "--backend", "cpu") as server:
        assert server.health["model"] == "random.pt"
        request = urllib.request.Request(f"{server.base}/api/images?name=a.png", data=png_bytes(), method="POST")
        assert urllib.request.urlopen(request, timeout=30).read().startswith(b"\x89PNG")
        # a client that goes away mid-upload: its part-written file goes too
        with socket.create_connection(("127.0.0.1", server.port)) as client:
            client.sendall(b"POST /api/jobs?name=big.mp4 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            client.sendall(bytes(200_000))
        uploads, deadline = tmp_path / "out" / ".uploads", time.monotonic() + 10
        while any(uploads.iterdir()):
            assert time.monotonic() < deadline, list(uploads.iterdir())
            time.sleep(0.2)
    assert "Traceback" not in server.stderr


def test_a_restarted_server_continues_its_unfinished_job(colorizer, tmp_path):
    """Stopped mid-job, the server keeps the partial output; the next one on the same folder resumes it."""
    clip = write_video(tmp_path / "film.mp4", width=320, height=192, frames=240, fps=24)
    out = tmp_path / "out"
    with TestClient(create_app(colorizer, out)) as client:
        job_id = client.post("/api/jobs?name=film.mp4", content=clip.read_bytes()).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/jobs/{job_id}").json()["frames"] < 100:  # two whole fragments (2 s each)
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert (out / f".{job_id}.mp4.partial.mp4").is_file()
    with TestClient(create_app(colorizer, out)) as client:
        assert client.get(f"/api/jobs/{job_id}").json()["name"] == "film.mp4"
        done = wait_for(client, job_id, {"done", "failed"})
        assert done["state"] == "done" and done["resumed_at"] >= 48, done  # not from the start
        (tmp_path / "back.mp4").write_bytes(client.get(f"/api/jobs/{job_id}/result").content)
    assert frame_times(tmp_path / "back.mp4") == pytest.approx(frame_times(clip), abs=1e-6)


def test_a_checkpoint_server_offers_no_other_model(client):
    assert client.get("/api/health").json()["choices"]["models"] == []
    response = client.post("/api/images?name=a.png&sensor=thermal", content=png_bytes())
    assert response.status_code == 400 and "runs random.pt only" in response.json()["error"]


def test_a_request_chooses_a_shipped_model_or_sensor_loaded_once(tmp_path):
    """The page's menus: a photo or a job names a model or a night sensor; the server loads each once, keeps the
    job's choice across a restart, and says in one line what it cannot do."""
    from vidcolor import Colorizer

    loads: list[tuple[str, str]] = []

    def load(model: str, sensor: str) -> Colorizer:
        loads.append((model, sensor))
        return Colorizer(backend="cpu", model=model, sensor=sensor)

    with TestClient(create_app(Colorizer(backend="cpu", model="fast"), tmp_path / "out", load=load)) as client:
        choices = client.get("/api/health").json()["choices"]
        assert choices == {"models": ["fast", "quality"], "sensors": ["visible", "thermal", "thermal-blackhot", "nir"],
                           "model": "fast", "sensor": "visible"}  # fmt: skip
        pictures = {}
        for query in ("", "&model=fast", "&sensor=thermal", "&sensor=thermal", "&sensor=visible"):
            response = client.post(f"/api/images?name=a.png{query}", content=png_bytes(128, 96))
            assert response.status_code == 200, response.text
            pictures[query] = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert loads == [("auto", "thermal")]  # fast is the server's own; thermal loaded once for two photos
        assert np.array_equal(pictures[""], pictures["&model=fast"])
        assert np.abs(pictures[""].astype(int) - pictures["&sensor=thermal"]).mean() > 1  # another model's colour
        for query, message in (("&model=bogus", "unknown model 'bogus'"), ("&sensor=uv", "unknown sensor 'uv'"),
                               ("&model=fast&sensor=nir", "has a model of its own")):  # fmt: skip
            error = client.post(f"/api/images?name=a.png{query}", content=png_bytes()).json()["error"]
            assert message in error and "\n" not in error
        clip = write_video(tmp_path / "night.mp4", frames=6)
        job_id = client.post("/api/jobs?name=night.mp4&sensor=nir", content=clip.read_bytes()).json()["id"]
        done = wait_for(client, job_id, {"done", "failed"})
        assert done["state"] == "done" and (done["model"], done["sensor"]) == ("nir", "nir"), done
    assert loads == [("auto", "thermal"), ("auto", "nir")]
    with TestClient(create_app(Colorizer(backend="cpu", model="fast"), tmp_path / "out", load=load)) as client:
        assert client.get(f"/api/jobs/{job_id}").json()["sensor"] == "nir"  # kept in jobs.json
