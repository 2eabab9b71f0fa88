"""Headless Chromium for the playground's browser tests, its latency bench and its screenshot.

Debian's ``chromium`` driven through the ``chromedriver`` on PATH (selenium's own driver manager
would reach for the network). Every host but 127.0.0.1 resolves to nothing, so a page that tried
to load anything from elsewhere would fail, and the tests also check the URLs it did load.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def missing() -> str | None:
    """Why no browser test can run here (None: they can)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -c constraints.txt -e '.[dev]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "no chromium on PATH (apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver on PATH (apt-get install chromium-driver)"
    return None


def required() -> bool:
    """Under CI the browser tests must run: a missing browser is a failure there, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium(width: int = 1200, height: int = 900) -> Any:
    """A headless Chromium WebDriver that can reach 127.0.0.1 only."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    binary = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    options.binary_location = str(binary)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    return webdriver.Chrome(options=options, service=service)
