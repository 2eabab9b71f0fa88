"""Save a screenshot of the playground (``charlm serve``'s ``GET /``) as docs/playground.png: ``make docs``.

Serves ``--model`` (default: a tiny model trained here in a temporary directory on the test
suite's corpus, so the picture does not depend on what this checkout has trained), types a prefix, shades two sentences, draws a sample and
saves the whole page. Skips with a note, and exits 0, where Chromium or selenium is missing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tiny_model(root: Path) -> Path:
    from charlm.training.loop import train
    from tests.conftest import TINY_TEXT, tiny_config

    corpus = root / "corpus.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    settings = dict(hidden=64, embed=16, seq_len=32, batch_size=8, steps=150, eval_every=25, lr=1e-2, dropout=0.0)
    return Path(train(tiny_config(corpus, root, **settings)).run_dir)


def until(check: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("screenshot: the page did not settle")
        time.sleep(0.1)


def shoot(model: Path, out: Path) -> None:
    from tests import browser
    from tests.test_serve import Server

    server = Server(model)
    driver = browser.chromium(1000, 2400)
    try:
        driver.get(server.url + "/")
        until(lambda: driver.find_element("tag name", "body").get_attribute("data-ready") == "true")
        find = lambda hook: driver.find_element("css selector", f"[data-testid={hook}]")  # noqa: E731
        find("prefix").send_keys("the cat sat on the ")
        until(lambda: find("predictions").get_attribute("data-for-text") == "the cat sat on the ")
        time.sleep(1)  # the whole words follow the next characters
        driver.find_element("css selector", "#heatmap-form button[type=submit]").click()
        until(lambda: bool(driver.find_elements("css selector", "[data-testid=heatmap] span")))
        find("sample-prime").send_keys("the ")
        driver.find_element("id", "sample-length").clear()
        driver.find_element("id", "sample-length").send_keys("160")
        driver.find_element("id", "sample-seed").send_keys("1")
        find("sample-start").click()
        until(lambda: find("sample-output").get_attribute("data-state") == "done")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1000, height + 140)  # the whole page (the window's own frame included)
        driver.save_screenshot(str(out))
    finally:
        driver.quit()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory [default: a tiny one trained here]")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "playground.png")
    args = parser.parse_args()
    from tests import browser

    why = browser.missing()
    if why is not None:
        print(f"screenshot: skipped, {why}", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        shoot(args.model or tiny_model(Path(tmp)), args.out)
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
