"""The built book in a real browser: Debian's Chromium, driven by Playwright (`make book` runs these).

Every page of _toc.yml is served from _build/html on localhost and opened in headless Chromium. No
request may leave localhost (CI and the build machine have no network): requests to other hosts are
aborted and recorded, the hosts must be ones listed in EXTERNAL below with the reason the book uses them,
and the only console errors tolerated are the "failed to load" messages of exactly those aborted
requests. Screenshots of every chapter page, light and dark, go to _build/screenshots/.

Chromium: `apt-get install chromium` (Debian). Playwright never downloads a browser here.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

from book import toc_files, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("GROKKIT_BOOK_HTML", ROOT / "_build" / "html"))  # override: test another build
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--no-first-run"]
EXTERNAL = {
    "cdn.jsdelivr.net": "MathJax 3, loaded by Sphinx for $...$ math; math shows as TeX source without it",
    "unpkg.com": "thebe, loaded only when a reader starts a live kernel (launch button)",
}
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
CHAPTER = re.compile(r"^\d\d-")  # chapter pages: book/NN-*.md and notebooks/NN-*.ipynb

pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(not (HTML / "index.html").exists(), reason=f"no built book in {HTML}; run `make book`"),
]


def chapter_pages() -> list[str]:
    return [page for page in toc_files() if CHAPTER.match(Path(page).name)]


@pytest.fixture(scope="session")
def server():
    """_build/html over http on a free localhost port, in a thread."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def browser():
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found; install Debian's Chromium with `apt-get install chromium` (as root)"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            missing = "the playwright package is missing; `pip install -c constraints.txt -e '.[test]'`"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser checks cannot run in CI: {missing}", pytrace=False)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Visit:
    """One page opened in a fresh browser context, with what went wrong while it loaded."""

    def __init__(self, browser, server: str, color_scheme: str = "light"):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.aborted: list[str] = []
        self.console_errors: list = []
        self.page_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        if urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort("blockedbyclient")

    def open(self, path: str):
        response = self.page.goto(f"{self.server}/{path}", wait_until="load")
        self.page.wait_for_load_state("networkidle")
        return response

    def unexpected_errors(self) -> list[str]:
        """Console errors other than the failed loads of aborted external requests, and every page error."""
        unexpected = [f"pageerror: {e}" for e in self.page_errors]
        for message in self.console_errors:
            source = message.location.get("url", "")
            if source in self.aborted and "Failed to load resource" in message.text:
                continue  # the request we aborted, and nothing else
            unexpected.append(f"console error: {message.text} (at {source})")
        return unexpected

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    visits = []

    def open_visit(color_scheme: str = "light") -> Visit:
        visits.append(Visit(browser, server, color_scheme))
        return visits[-1]

    yield open_visit
    for v in visits:
        v.close()


@pytest.mark.parametrize("page", toc_files())
def test_page_loads_without_errors(visit, page):
    v = visit()
    response = v.open(f"{page}.html")
    assert response is not None and response.status == 200, f"{page}.html: HTTP {response and response.status}"
    hosts = {urlparse(url).hostname for url in v.aborted}
    assert hosts <= set(EXTERNAL), f"{page}: requests to hosts not in EXTERNAL: {sorted(hosts - set(EXTERNAL))}"
    assert not v.unexpected_errors(), f"{page}: {v.unexpected_errors()}"


def local_file(server: str, url: str) -> Path:
    assert url.startswith(server + "/"), f"image not served by the book: {url}"
    return HTML / unquote(urlparse(url).path).lstrip("/")


@pytest.mark.parametrize("page", toc_files())
def test_images_load_and_figures_are_accessible(visit, server, page):
    v = visit()
    v.open(f"{page}.html")
    images = v.page.eval_on_selector_all(
        "article.bd-article img",
        """images => images.map(img => {
        const figure = img.closest('figure');
        const caption = figure && figure.querySelector('figcaption');
        return {src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
                alt: (img.getAttribute('alt') || '').trim(), caption: caption ? caption.innerText.trim() : null};
    })""",
    )
    if page in toc_notebooks():
        assert images, f"{page}: a notebook page without a figure"
    for image in images:
        name = image["src"].rsplit("/", 1)[-1]
        file = local_file(server, image["src"])
        assert file.is_file() and file.stat().st_size > 0, f"{page}: {name} is missing or empty on disk"
        assert image["complete"] and image["width"] > 0, f"{page}: {name} did not load in the browser"
        assert image["alt"], f"{page}: {name} has no alt text"
        assert image["caption"], f"{page}: {name} is not in a figure with a caption"


def test_search_finds_a_chapter(visit):
    v = visit()
    v.open("search.html?q=ungrokking")
    results = v.page.locator("#search-results ul.search li a")
    results.first.wait_for(timeout=15_000)
    hrefs = [href.split("#")[0].split("?")[0] for href in results.evaluate_all("links => links.map(a => a.href)")]
    assert any(href.endswith("/book/03-grokking-dynamics.html") for href in hrefs), hrefs
    assert not v.unexpected_errors(), v.unexpected_errors()


@pytest.mark.parametrize("page", toc_notebooks())
def test_notebook_page_launches_in_colab_and_offers_the_ipynb(visit, server, page):
    owner_repo = urlparse(REPOSITORY).path.strip("/").removesuffix(".git")
    name = Path(page).name
    v = visit()
    v.open(f"{page}.html")
    colab = v.page.locator("a.dropdown-item[href*='colab.research.google.com']")
    assert colab.count() == 1, f"{page}: {colab.count()} Colab links"
    assert colab.get_attribute("href") == f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{name}.ipynb"

    v.page.locator("button[aria-label='Download this page']").click()
    download = v.page.locator("a.btn-download-source-button")
    download.wait_for(state="visible")
    href = download.evaluate("a => a.href")
    assert href.endswith(f"/_sources/notebooks/{name}.ipynb"), href
    response = v.page.request.get(href)
    assert response.status == 200, f"{href}: HTTP {response.status}"
    assert json.loads(response.body())["nbformat"] == 4


def luminance(css_color: str) -> float:
    r, g, b = (int(x) for x in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_dark_mode_switch_changes_the_page_and_keeps_figures_on_white(visit):
    page = toc_notebooks()[0]
    v = visit()
    v.open(f"{page}.html")
    background = "getComputedStyle(document.body).backgroundColor"
    light = v.page.evaluate(background)
    for _ in range(3):  # the switch cycles light -> dark -> auto
        if v.page.evaluate("document.documentElement.dataset.theme") == "dark":
            break
        v.page.locator("button.theme-switch-button").click()
    assert v.page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark = v.page.evaluate(background)
    assert dark != light and luminance(dark) < 0.3 < luminance(light), (light, dark)
    figures = v.page.eval_on_selector_all("article.bd-article figure img", "imgs => imgs.map(i => getComputedStyle(i).backgroundColor)")
    assert figures and set(figures) == {"rgb(255, 255, 255)"}, f"figure backgrounds in dark mode: {set(figures)}"
    # what the reader sees: the first figure, as rendered on the dark page, is mostly light
    from PIL import Image, ImageStat

    shot = SCREENSHOTS / "dark-mode-first-figure.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    v.page.locator("article.bd-article figure img").first.screenshot(path=str(shot))
    with Image.open(shot) as image:
        assert ImageStat.Stat(image.convert("L")).mean[0] > 150, "the figure is dark on the dark page"
    assert not v.unexpected_errors(), v.unexpected_errors()


@pytest.mark.parametrize("page", chapter_pages())
def test_screenshots_light_and_dark(visit, page):
    from PIL import Image, ImageStat

    means = {}
    for scheme in ("light", "dark"):
        v = visit(color_scheme=scheme)
        v.open(f"{page}.html")
        assert v.page.evaluate("document.documentElement.dataset.theme") == scheme
        path = SCREENSHOTS / f"{page.replace('/', '--')}-{scheme}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=str(path), full_page=True)
        with Image.open(path) as image:
            assert image.width >= 1280 and image.height >= 900, f"{path.name}: {image.size}"
            means[scheme] = ImageStat.Stat(image.convert("L")).mean[0]
    assert means["dark"] < means["light"] - 50, f"{page}: dark screenshot not darker than light: {means}"
