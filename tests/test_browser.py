"""The playground page (``GET /``) driven in headless Chromium against a real ``charlm serve``.

Skipped with the reason shown where Chromium, chromedriver or selenium is missing, except under CI
(``CI=true``), where a missing browser fails. What the page shows is checked against the CLI:
the heatmap's ``data-bits`` are ``charlm score --per-token --json`` in bits.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import browser
from tests.test_serve import Server

pytestmark = pytest.mark.slow
WAIT = 60


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    why = browser.missing()
    if why is not None:
        if browser.required():
            pytest.fail(f"CI needs the browser tests: {why}")
        pytest.skip(f"browser tests skipped: {why}")
    chrome = browser.chromium()
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def page(tiny_model: Path, driver: Any) -> Iterator[tuple[Any, Server]]:
    server = Server(tiny_model, "--max-sample-length", "1000000")
    driver.get(server.url + "/")
    wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
    yield driver, server
    assert server.stop() == 0


def wait(driver: Any, condition: Any, seconds: float = WAIT) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds).until(condition)


def by_testid(driver: Any, name: str) -> Any:
    return driver.find_element("css selector", f"[data-testid={name}]")


def items(driver: Any, name: str, css: str) -> list[Any]:
    return driver.find_elements("css selector", f"[data-testid={name}] {css}")


def test_typing_shows_predictions_and_tab_takes_one(page: tuple[Any, Server]) -> None:
    driver, _ = page
    box = by_testid(driver, "prefix")
    box.clear()
    box.send_keys("the ca")
    wait(driver, lambda d: by_testid(d, "predictions").get_attribute("data-for-text") == "the ca")
    probs = [float(li.get_attribute("data-prob")) for li in items(driver, "predictions", "li")]
    assert probs and all(0 < p <= 1 for p in probs)
    assert probs == sorted(probs, reverse=True) or any(
        li.get_attribute("data-kind") == "word" for li in items(driver, "predictions", "li")
    )
    from selenium.webdriver.common.keys import Keys

    box.send_keys(Keys.TAB)
    wait(driver, lambda d: box.get_attribute("value") != "the ca")
    assert box.get_attribute("value").startswith("the ca")
    assert driver.switch_to.active_element == box  # Tab took a proposal; the focus stayed in the text box


def test_heatmap_bits_are_the_command_lines(page: tuple[Any, Server], tiny_model: Path, cli: Any) -> None:
    from charlm.cli.app import app

    driver, _ = page
    text = "the cat sat on the mat"
    field = by_testid(driver, "heatmap-input")
    field.clear()
    field.send_keys(text)
    by_testid(driver, "heatmap-other").clear()
    driver.find_element("css selector", "#heatmap-form button[type=submit]").click()
    wait(driver, lambda d: len(items(d, "heatmap", "span")) == len(text) + 1)  # each char and <eos>
    shown = [float(s.get_attribute("data-bits")) for s in items(driver, "heatmap", "span")]
    result = cli.invoke(app, ["score", text, "--per-token", "--json", "-m", str(tiny_model), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    expected = [-t["logprob"] / math.log(2) for t in json.loads(result.stdout)["per_token"]]
    assert len(shown) == len(expected)
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(shown, expected, strict=True))
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).move_to_element(items(driver, "heatmap", "span")[4]).perform()
    tip = driver.find_element("id", "tooltip")
    wait(driver, lambda d: tip.is_displayed())
    assert "bits" in tip.text and len(tip.text.splitlines()) == 6  # the token, then its top 5 alternatives


def test_sample_streams_and_stops(page: tuple[Any, Server]) -> None:
    driver, _ = page
    prime = by_testid(driver, "sample-prime")
    prime.clear()
    prime.send_keys("the")
    driver.find_element("id", "sample-length").clear()
    driver.find_element("id", "sample-length").send_keys("1000000")
    by_testid(driver, "sample-start").click()
    out = by_testid(driver, "sample-output")
    wait(driver, lambda d: len(out.text) > 50)  # pieces arrive while the sample is being drawn
    assert out.get_attribute("data-state") == "running"
    by_testid(driver, "sample-stop").click()
    wait(driver, lambda d: out.get_attribute("data-state") == "stopped")
    stopped = out.text
    time.sleep(0.5)
    assert out.text == stopped
    assert stopped.startswith("the")


def test_no_request_leaves_loopback(page: tuple[Any, Server]) -> None:
    driver, server = page
    urls = driver.execute_script("return performance.getEntries().map((e) => e.name)")
    loaded = [u for u in urls if u.startswith(("http:", "https:", "ws:", "wss:", "//"))]
    assert any(u.endswith("/static/playground.js") for u in loaded)
    assert all(u.startswith(server.url + "/") for u in loaded), loaded


HTML = "<script>alert(1)</script>\n<b onmouseover=alert(2)>bold</b>\n" * 60


@pytest.mark.trains
def test_a_model_of_html_is_shown_as_text(tmp_path: Path, driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    from charlm.training.loop import train
    from tests.conftest import tiny_config

    corpus = tmp_path / "html.txt"
    corpus.write_text(HTML, encoding="utf-8")
    settings = dict(hidden=64, embed=16, seq_len=32, batch_size=8, steps=150, eval_every=50, lr=1e-2, dropout=0.0)
    model = train(tiny_config(corpus, tmp_path, **settings)).run_dir
    server = Server(model)
    try:
        driver.get(server.url + "/")
        wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
        prime = by_testid(driver, "sample-prime")
        prime.send_keys("<scr")
        driver.find_element("id", "sample-temp").clear()
        driver.find_element("id", "sample-temp").send_keys("0")
        driver.find_element("id", "sample-length").clear()
        driver.find_element("id", "sample-length").send_keys("120")
        by_testid(driver, "sample-start").click()
        out = by_testid(driver, "sample-output")
        wait(driver, lambda d: out.get_attribute("data-state") == "done")
        assert "<script>alert(1)</script>" in out.text  # the model wrote markup; the page shows its characters
        assert not driver.find_elements("css selector", "[data-testid=sample-output] *")
        field = by_testid(driver, "heatmap-input")
        field.clear()
        field.send_keys("<b onmouseover=alert(2)>bold</b>")
        driver.find_element("css selector", "#heatmap-form button[type=submit]").click()
        wait(driver, lambda d: len(items(d, "heatmap", "span")) > 10)
        assert "".join(s.text for s in items(driver, "heatmap", "span")).startswith("<b onmouseover=alert(2)>")
        assert not driver.find_elements("css selector", "[data-testid=heatmap] b, script:not([src])")
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert.text  # noqa: B018
    finally:
        assert server.stop() == 0


def test_a_word_model_proposes_next_words(tiny_word_model: Path, driver: Any) -> None:
    server = Server(tiny_word_model)
    try:
        driver.get(server.url + "/")
        wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-ready") == "true")
        by_testid(driver, "prefix").send_keys("the cat sat on the m")
        wait(driver, lambda d: by_testid(d, "predictions").get_attribute("data-for-text") == "the cat sat on the m")
        proposals = items(driver, "predictions", "li")
        assert proposals and all(li.get_attribute("data-kind") == "word" for li in proposals)
        assert all(li.text.startswith("m") for li in proposals)  # words that complete the one being typed
        from selenium.webdriver.common.keys import Keys

        by_testid(driver, "prefix").send_keys(Keys.TAB)
        wait(driver, lambda d: by_testid(d, "prefix").get_attribute("value").endswith(" "))
    finally:
        assert server.stop() == 0
