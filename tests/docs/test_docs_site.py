"""The documentation site builds with no warning and renders in a real browser.

``make docs`` and this test run the same ``mkdocs build --strict``: a warning, a broken internal
link or a tutorial that raises fails it. Then headless Chromium (the Debian package, driven by
selenium through chromedriver) opens the home page and an API page from a local web server and
checks what a reader sees: the title, the navigation and a figure that loaded. Its screenshots
are kept under test-artifacts/docs/.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from docs_gate import require

import medidenoise as md

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "docs"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built here by ``mkdocs build --strict`` into a scratch folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "napari_plugin/src"), env.get("PYTHONPATH", "")]
    )
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    assert "WARNING" not in run.stderr, run.stderr[-4000:]
    return out


def test_every_public_name_has_an_api_page(site: Path) -> None:
    index = (site / "reference/api/index.html").read_text()
    for name in md.__all__:
        assert f"<code>{name}</code>" in index, f"{name} missing from the API index"
    pages = list((site / "reference/api").glob("*/index.html"))
    assert len(pages) == len(md.__all__)
    denoise = (site / "reference/api/denoise/index.html").read_text()
    assert "Parameters" in denoise and "noise_level" in denoise  # rendered from the docstring
    # the docstrings' Sphinx roles become names linked to their pages, not literal ":class:"
    assert ":class:" not in denoise and ":func:" not in denoise
    assert '<a href="../../../reference/api/volume/"><code>Volume</code></a>' in denoise


def test_the_cli_reference_has_every_command(site: Path) -> None:
    from medidenoise.cli import build_parser

    page = (site / "reference/cli/index.html").read_text()
    usage = build_parser().format_usage()
    commands = usage[usage.index("{") + 1 : usage.index("}")].split(",")
    assert {"denoise", "train", "adapt", "export", "serve"} <= set(commands)
    for command in commands:
        assert f'id="{command}"' in page, f"no section for medidenoise {command}"
        assert f"usage: medidenoise {command}" in page


def test_the_tutorials_ran_and_show_their_figures(site: Path) -> None:
    for stem, figures in [("denoise_ct_mr", 2), ("train", 1), ("adapt", 1), ("convert_folder", 1)]:
        page = (site / f"tutorials/{stem}/index.html").read_text()
        assert "This page ran at build time" in page
        for k in range(1, figures + 1):
            png = site / f"tutorials/{stem}_{k}.png"
            assert png.stat().st_size > 5_000, f"{png.name} is missing or empty"
            assert f"{stem}_{k}.png" in page
    ct = (site / "tutorials/denoise_ct_mr/index.html").read_text()
    assert "auto: correlated" in ct  # the output of the run, not a copy of it


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _browser():
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    missing = None
    try:
        from selenium import webdriver
    except ImportError:
        missing = "selenium is not installed (pip install 'medidenoise[docs]')"
    if missing is None and not (chromium and driver):
        missing = "Chromium is not installed (apt-get install chromium chromium-driver)"
    require(missing, "MEDIDENOISE_REQUIRE_TOOLS")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=driver)
    return webdriver.Chrome(options=options, service=service)


@pytest.mark.parametrize(
    ("path", "title", "figure"),
    [
        ("", "medidenoise", "images/napari_denoise.png"),
        ("reference/api/denoise/", "denoise - medidenoise", None),
        ("tutorials/denoise_ct_mr/", "Denoise a CT and an MR - medidenoise", "denoise_ct_mr_1.png"),
    ],
)
def test_chromium_renders_the_page(server: str, path: str, title: str, figure: str | None) -> None:
    from selenium.webdriver.common.by import By

    browser = _browser()
    try:
        browser.get(f"{server}/{path}")
        assert browser.title == title
        nav = browser.find_elements(By.CSS_SELECTOR, "nav.md-nav--primary a.md-nav__link")
        labels = {link.get_attribute("textContent").strip() for link in nav}
        assert {"Getting started", "Python API", "Command line"} <= labels, labels
        if figure is None:
            heading = browser.find_element(By.CSS_SELECTOR, "article h1")
            assert heading.text.startswith("denoise")
            assert "Parameters" in browser.find_element(By.CSS_SELECTOR, "article").text
        else:
            image = browser.find_element(By.CSS_SELECTOR, f'article img[src$="{figure}"]')
            width = browser.execute_script(
                "return arguments[0].complete ? arguments[0].naturalWidth : 0", image
            )
            assert width > 100, f"{figure} did not load in the browser"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{path.strip('/').replace('/', '_') or 'home'}.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        browser.quit()
