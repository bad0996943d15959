"""Make the README's pictures of `vidcolor serve`: the Colorize page after a photo (a frame of
samples/indoor_gray.mp4) went through it, and the Live page playing that clip as a looped source, with today's
shipped model, in headless Chromium.

    python samples/make_serve_screenshots.py     # writes samples/serve_colorize.png and samples/serve_live.png

Needs the serve extra, Debian's chromium and chromium-driver, and selenium.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import av
import cv2
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
PORT = 8765


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        photo = Path(scratch) / "indoor_frame.png"
        with av.open(str(HERE / "indoor_gray.mp4")) as clip:
            frame = next(f for i, f in enumerate(clip.decode(video=0)) if i == 20)
            cv2.imwrite(str(photo), frame.to_ndarray(format="gray"))
        server = subprocess.Popen([sys.executable, "-m", "vidcolor", "serve", "--port", str(PORT), "--out", scratch,
                                   "--source", f"indoor={HERE / 'indoor_gray.mp4'}", "-q"])  # fmt: skip
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--window-size=1100,760"):
            options.add_argument(flag)
        browser = webdriver.Chrome(options=options, service=webdriver.ChromeService("/usr/bin/chromedriver"))
        try:
            base = f"http://127.0.0.1:{PORT}"
            for _ in range(100):
                try:
                    json.loads(urllib.request.urlopen(f"{base}/api/health", timeout=2).read())
                    break
                except OSError:
                    time.sleep(0.3)
            browser.get(base + "/")
            browser.find_element(By.ID, "pick").send_keys(str(photo))
            WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#photos img.result"))
            time.sleep(0.5)
            browser.save_screenshot(str(HERE / "serve_colorize.png"))
            browser.get(base + "/live")
            time.sleep(4)  # a few seconds of the loop: the caption's figures settle
            browser.save_screenshot(str(HERE / "serve_live.png"))
        finally:
            browser.quit()
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    print("wrote samples/serve_colorize.png and samples/serve_live.png")


if __name__ == "__main__":
    main()
