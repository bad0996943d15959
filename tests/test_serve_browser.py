"""`vidcolor serve` as a person uses it: a real headless Chromium (Debian's chromium and chromium-driver, driven by
Selenium) loads the pages, sends a photo and a short video through the Colorize page and watches a UDP stream on
the Live page. Skipped where Chromium, its driver or Selenium is absent; .ci/run installs them."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import TEST_SIZE
from media import ServeProcess, UdpStreamer, frame_times, free_udp_port, picture, write_video

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium")
pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def get_json(url: str) -> object:
    return json.loads(urllib.request.urlopen(url, timeout=5).read())


@pytest.fixture
def server(weights, tmp_path):
    """The command itself, on a free port, with a looping UDP camera as its one live source."""
    camera = write_video(tmp_path / "camera.mp4", frames=48, fps=24)
    with UdpStreamer(camera, free_udp_port()) as stream:
        with ServeProcess("--out", tmp_path / "out", "--weights", weights, "--size", TEST_SIZE, "--backend", "cpu",
                          "--source", f"cam={stream.url}") as served:  # fmt: skip
            yield served.base
    assert "Traceback" not in served.stderr, served.stderr


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def test_the_colorize_page_takes_a_photo_and_a_video(server, browser, tmp_path):
    photo, clip = tmp_path / "old photo.png", write_video(tmp_path / "reel.mp4", frames=10)
    cv2.imwrite(str(photo), cv2.cvtColor(picture(5, 160, 120), cv2.COLOR_RGB2GRAY))
    browser.get(server + "/")
    browser.find_element(By.ID, "pick").send_keys(str(photo))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photos img.result"))
    result = browser.execute_async_script(
        "const done = arguments[0]; fetch(document.querySelector('#photos img.result').src)"
        ".then((r) => r.arrayBuffer()).then((b) => done(Array.from(new Uint8Array(b))));")
    colour = cv2.imdecode(np.array(result, np.uint8), cv2.IMREAD_COLOR)
    assert colour.shape == (120, 160, 3) and np.ptp(colour.astype(int), axis=2).mean() > 1  # chroma present

    browser.find_element(By.ID, "pick").send_keys(str(clip))
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs a.result"))
    (tmp_path / "back.mp4").write_bytes(urllib.request.urlopen(
        browser.find_element(By.CSS_SELECTOR, "#jobs a.result").get_attribute("href"), timeout=30).read())
    assert frame_times(tmp_path / "back.mp4") == pytest.approx(frame_times(clip), abs=1e-6)
    assert browser.find_element(By.ID, "message").text == ""
    browser.save_screenshot(str(tmp_path / "colorize-page.png"))


def test_the_live_page_shows_the_stream(server, browser, tmp_path):
    browser.get(server + "/live")
    shown = "const i = document.querySelector('figure[data-name=cam] img'); return i ? i.naturalWidth : 0;"
    WebDriverWait(browser, 60).until(lambda d: d.execute_script(shown) > 0)
    WebDriverWait(browser, 60).until(lambda _: get_json(f"{server}/api/streams")[0]["frames"] >= 20)
    caption = browser.find_element(By.CSS_SELECTOR, "figure[data-name=cam] figcaption").text
    assert caption.startswith("cam: ") and "fps" in caption and "latency" in caption
    browser.save_screenshot(str(tmp_path / "live-page.png"))


def test_a_viewer_that_leaves_ends_its_stream(server):
    """Three viewers of one source share its one loop; each one's stream ends when it goes away."""
    import http.client

    port = int(server.rsplit(":", 1)[1])
    viewers = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(3)]
    for viewer in viewers:
        viewer.request("GET", "/api/streams/cam")
        response = viewer.getresponse()
        assert response.status == 200 and response.read(4096).startswith(b"--frame")
    assert get_json(f"{server}/api/streams/cam/status")["viewers"] == 3
    for viewer in viewers:
        viewer.close()
    deadline = time.monotonic() + 10
    while get_json(f"{server}/api/streams/cam/status")["viewers"]:
        assert time.monotonic() < deadline, "a stream outlived its viewer"
        time.sleep(0.2)


def test_the_page_menus_choose_a_night_sensor(browser, tmp_path):
    """A server on a shipped model offers the others: choosing the thermal camera greys out the model menu and
    sends the video to the thermal model, which the jobs table shows."""
    from selenium.webdriver.support.ui import Select

    clip = write_video(tmp_path / "night.mp4", frames=6)
    with ServeProcess("--out", tmp_path / "out", "--model", "fast", "--backend", "cpu") as served:
        browser.get(served.base + "/")
        WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "choices").is_displayed())
        Select(browser.find_element(By.ID, "sensor-choice")).select_by_value("thermal")
        assert not browser.find_element(By.ID, "model-choice").is_enabled()
        browser.find_element(By.ID, "pick").send_keys(str(clip))
        WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs a.result"))
        assert "thermal" in browser.find_element(By.CSS_SELECTOR, "#jobs tr").text
        assert [job["sensor"] for job in get_json(served.base + "/api/jobs")] == ["thermal"]
    assert "Traceback" not in served.stderr, served.stderr
