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
from media import THREE_HINTS, ServeProcess, UdpStreamer, ab_near, frame_times, free_udp_port, picture, write_video

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


def result_picture(browser) -> np.ndarray:
    """The Colorize page's colour photo, as the PNG its download link saves (BGR)."""
    result = browser.execute_async_script(
        "const done = arguments[0]; fetch(document.querySelector('#photos img.result').src)"
        ".then((r) => r.arrayBuffer()).then((b) => done(Array.from(new Uint8Array(b))));")
    return cv2.imdecode(np.array(result, np.uint8), cv2.IMREAD_COLOR)


def ab_error(bgr: np.ndarray, truth: np.ndarray) -> float:
    """The mean a*b* distance of a colour picture from the truth (both BGR uint8)."""
    lab = [cv2.cvtColor(p.astype(np.float32) / 255, cv2.COLOR_BGR2LAB)[..., 1:] for p in (bgr, truth)]
    return float(np.abs(lab[0] - lab[1]).mean())


def test_the_colorize_page_takes_a_photo_and_a_video(server, browser, tmp_path):
    """A photo comes back coloured, coloured again with a reference picture chosen for it and once more when that is
    removed; a video runs to a result with the input's frame times."""
    photo, clip = tmp_path / "old photo.png", write_video(tmp_path / "reel.mp4", frames=10)
    cv2.imwrite(str(photo), cv2.cvtColor(picture(5, 160, 120), cv2.COLOR_RGB2GRAY))
    browser.get(server + "/")
    browser.find_element(By.ID, "pick").send_keys(str(photo))
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photos img.result"))
    colour = result_picture(browser)
    assert colour.shape == (120, 160, 3) and np.ptp(colour.astype(int), axis=2).mean() > 1  # chroma present

    # the photo's own colour picture as its reference, then removed: the photo is coloured again each time
    truth, reference = cv2.cvtColor(picture(5, 160, 120), cv2.COLOR_RGB2BGR), tmp_path / "day.png"
    cv2.imwrite(str(reference), truth)
    block = browser.find_element(By.CSS_SELECTOR, "#photos .photo")

    def shown_with(name: str) -> np.ndarray:  # the photo on show once coloured with the reference ``name`` ("" none)
        WebDriverWait(browser, 30).until(lambda _: block.get_attribute("data-state") == "idle"
                                         and block.get_attribute("data-reference") == name)  # fmt: skip
        return result_picture(browser)

    block.find_element(By.CSS_SELECTOR, ".reference-pick").send_keys(str(reference))
    guided = shown_with("day.png")
    assert block.find_element(By.CSS_SELECTOR, ".reference-name").text == "day.png"
    assert ab_error(guided, truth) < 0.5 * ab_error(colour, truth), (ab_error(guided, truth), ab_error(colour, truth))
    block.find_element(By.CSS_SELECTOR, ".reference-remove").click()
    again = shown_with("")
    assert block.find_element(By.CSS_SELECTOR, ".reference-name").text == "none"
    assert ab_error(again, truth) == pytest.approx(ab_error(colour, truth), rel=0.05)

    browser.find_element(By.ID, "pick").send_keys(str(clip))
    WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs a.result"))
    (tmp_path / "back.mp4").write_bytes(urllib.request.urlopen(
        browser.find_element(By.CSS_SELECTOR, "#jobs a.result").get_attribute("href"), timeout=30).read())
    assert frame_times(tmp_path / "back.mp4") == pytest.approx(frame_times(clip), abs=1e-6)
    assert browser.find_element(By.ID, "message").text == ""
    browser.save_screenshot(str(tmp_path / "colorize-page.png"))


def test_hints_placed_on_the_page_colour_the_photo_again(hinted_weights, browser, tmp_path):
    """Three clicks on a 480p colour photo add three hints, each given its colour in its picker: the photo comes
    back coloured again (in under a second a time), nearer each hint's colour at its place than before; a dot
    dragged and a hint removed are followed too. A video then takes a reference picture and a hints file."""
    from selenium.webdriver.common.action_chains import ActionChains

    from vidcolor.guidance.hints import hex_to_ab

    photo = tmp_path / "street.png"
    cv2.imwrite(str(photo), cv2.cvtColor(picture(5, 854, 480), cv2.COLOR_RGB2GRAY))
    model = ("--weights", hinted_weights) if hinted_weights is not None else ()  # None: the shipped model has hints
    with ServeProcess("--out", tmp_path / "out", *model, "--backend", "cpu") as served:
        browser.get(served.base + "/")
        browser.find_element(By.ID, "pick").send_keys(str(photo))
        block = WebDriverWait(browser, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#photos .photo"))
        plain = result_picture(browser)
        marks = block.find_element(By.CSS_SELECTOR, ".marks")
        width, height = marks.size["width"], marks.size["height"]
        for hint in THREE_HINTS["hints"]:
            right, down = round((hint["x"] - 0.5) * width), round((hint["y"] - 0.5) * height)  # from the centre
            ActionChains(browser).move_to_element_with_offset(marks, right, down).click().perform()
        rows = block.find_elements(By.CSS_SELECTOR, ".hints li")
        assert len(rows) == 3 and len(block.find_elements(By.CSS_SELECTOR, ".mark")) == 3
        for row, hint in zip(rows, THREE_HINTS["hints"], strict=True):
            browser.execute_script("arguments[0].value = arguments[1];"
                                   "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
                                   row.find_element(By.CSS_SELECTOR, ".hint-color"), hint["color"])  # fmt: skip
        wanted = [hint["color"] for hint in THREE_HINTS["hints"]]

        def shown(driver) -> list[dict] | None:  # the hints of the photo on show, once no colouring is under way
            if block.get_attribute("data-state") != "idle":
                return None
            hints = json.loads(block.get_attribute("data-shown"))["hints"]
            return hints if [hint["color"] for hint in hints] == wanted else None

        placed = WebDriverWait(browser, 30).until(shown)
        hinted = result_picture(browser)
        seconds = float(block.find_element(By.CSS_SELECTOR, ".timing").text.split()[-2])
        for hint, asked in zip(placed, THREE_HINTS["hints"], strict=True):
            assert abs(hint["x"] - asked["x"]) < 0.01 and abs(hint["y"] - asked["y"]) < 0.01, (hint, asked)
            target = np.array(hex_to_ab(hint["color"]))
            before = np.linalg.norm(ab_near(plain, hint["x"], hint["y"]) - target)
            after = np.linalg.norm(ab_near(hinted, hint["x"], hint["y"]) - target)
            assert after < 0.7 * before, (hint, before, after)
        assert seconds < 1.0, block.find_element(By.CSS_SELECTOR, ".timing").text
        print(f"the page's re-colour of 854x480 with 3 hints: {seconds:.2f} s")

        # a dot dragged moves its hint, a hint removed goes: the photo follows each
        ActionChains(browser).drag_and_drop_by_offset(block.find_element(By.CSS_SELECTOR, ".mark"), round(width / 10),
                                                      0).perform()  # fmt: skip
        block.find_elements(By.CSS_SELECTOR, ".hints .remove")[2].click()
        wanted = wanted[:2]
        moved = WebDriverWait(browser, 30).until(shown)
        assert abs(moved[0]["x"] - placed[0]["x"] - 0.1) < 0.01 and moved[1] == placed[1], (moved, placed)

        # a video goes with the reference picture and the hints file chosen for videos
        reference, hints = tmp_path / "day.png", tmp_path / "reel.json"
        cv2.imwrite(str(reference), picture(0, 96, 64))
        hints.write_text(json.dumps(THREE_HINTS))
        browser.find_element(By.ID, "video-reference").send_keys(str(reference))
        browser.find_element(By.ID, "video-hints").send_keys(str(hints))
        browser.find_element(By.ID, "pick").send_keys(str(write_video(tmp_path / "reel.mp4", frames=6)))
        WebDriverWait(browser, 90).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs a.result"))
        assert "3 hints, reference day.png" in browser.find_element(By.CSS_SELECTOR, "#jobs tr").text
        [job] = get_json(served.base + "/api/jobs")
        assert (job["state"], job["hints"], job["reference"]) == ("done", 3, "day.png"), job
        assert browser.find_element(By.ID, "message").text == ""
        browser.save_screenshot(str(tmp_path / "hints-page.png"))
    assert "Traceback" not in served.stderr, served.stderr


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
