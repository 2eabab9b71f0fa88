"""The playground's files as the service serves them (no browser: tests/test_browser.py drives the page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomllib

from charlm.serve.playground import STATIC, static_file

HOOKS = ("prefix", "predictions", "heatmap-input", "heatmap", "sample-prime", "sample-start", "sample-output")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def client(tiny_model: Path) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from charlm.api import load
    from charlm.serve.app import create_app

    with TestClient(create_app(load(tiny_model, device="cpu"))) as running:
        yield running


def test_the_page_and_its_files_are_served_with_a_same_origin_policy(client: Any) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for name in STATIC:
        served = client.get("/" if name == "index.html" else f"/static/{name}")
        assert served.status_code == 200 and served.content == static_file(name)
    missing = client.get("/static/../app.py")
    assert missing.status_code == 404 and "error" in missing.json()


def test_the_page_loads_nothing_from_elsewhere_and_has_the_hooks() -> None:
    page = static_file("index.html").decode()
    for hook in HOOKS:
        assert f'data-testid="{hook}"' in page, hook
    every = page + static_file("playground.js").decode() + static_file("playground.css").decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", every), "a file from another origin"
    assert "@import" not in every and "url(" not in every


def test_model_text_never_becomes_markup() -> None:
    script = static_file("playground.js").decode()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)


def test_the_package_ships_the_files() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    shipped = data["charlm.serve"]
    assert "static/*" in shipped
    assert {p.name for p in (ROOT / "charlm" / "serve" / "static").iterdir()} == set(STATIC)


def test_open_points_the_browser_at_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from charlm.serve import server

    opened: list[str] = []

    class Now:
        def __init__(self, delay: float, fn: Any, args: tuple[str]) -> None:
            self.fn, self.args = fn, args

        def start(self) -> None:
            opened.append(self.args[0])

    monkeypatch.setattr(threading, "Timer", Now)
    server.open_page("0.0.0.0", 8123)
    server.open_page("::", 8124)
    assert opened == ["http://127.0.0.1:8123/", "http://[::1]:8124/"]
