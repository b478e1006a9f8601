"""Debian's headless Chromium for the tests, driven by Selenium through Debian's own chromedriver.

Only Debian's packages (scripts/setup-chromium.sh): a test tool's download of its own browser does not
work on this closed network, and the flags below keep Chromium from reaching out at all (without the
background-networking ones its connections are refused here, many at a time). Each browser gets a fresh
profile and is quit on the way out, Ctrl-C included.
"""
from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SETUP = REPO / "scripts" / "setup-chromium.sh"
SCREENSHOTS = REPO / ".artifacts" / "screenshots"  # gitignored; stable names, so a person can look after a run
WINDOW = (1280, 900)
FLAGS = (
    "--headless",
    "--no-sandbox",  # run as root here
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--force-device-scale-factor=1",  # screenshot pixels = CSS pixels
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)


def missing_binaries() -> list[Path]:
    return [p for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]


def ensure_chromium() -> str | None:
    """None when Chromium and ChromeDriver are installed (running the idempotent set-up first if not, as
    `make test` does), else why not, with what the set-up said: the only reason a browser test may skip."""
    if not missing_binaries():
        return None
    done = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
    missing = missing_binaries()
    if not missing:
        return None
    said = " ".join((done.stderr or done.stdout).split())[-400:]
    return (f"{', '.join(map(str, missing))} missing and scripts/setup-chromium.sh could not install it "
            f"(it exited {done.returncode}{': ' + said if said else ''})")


@contextmanager
def chromium(profile_dir: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile in `profile_dir`, its console log kept; quit on exit."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium then never runs its manager (which would try to download one).
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(10)
        yield driver
    finally:
        driver.quit()


def console_errors(driver: WebDriver) -> list[str]:
    """The SEVERE entries of the browser's console since the last call (script errors, failed loads)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")
    return [str(e.get("message", "")) for e in entries if e.get("level") == "SEVERE"]


def wait_loaded(driver: WebDriver) -> None:
    """Until the document and every image in it finished loading (decoded or failed)."""
    driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const ready = () => document.readyState === "complete"
          && Array.from(document.images).every((img) => img.complete);
        const poll = () => (ready() ? done(true) : setTimeout(poll, 20));
        poll();
        """
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def full_page_screenshot(driver: WebDriver, path: Path) -> tuple[int, int]:
    """The whole page (not only the window) as a PNG at `path`, through the DevTools protocol; its size."""
    width, height = driver.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}},
    )
    data = base64.b64decode(shot["data"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return png_size(data)
