"""The built book in a real browser: Debian's Chromium, driven by Playwright (`make book` runs these).

Every page of _toc.yml is served from _build/html on localhost and opened in headless Chromium. No
request may leave localhost (CI and the build machine have no network): requests to other hosts are
aborted and recorded, the hosts must be ones listed in EXTERNAL below with the reason the book uses them,
and the only console errors tolerated are the "failed to load" messages of exactly those aborted
requests. MathJax is served by the book itself (sphinx-mathjax-offline), so every formula must render.
axe-core (bundled with axe-playwright-python) checks every page for accessibility, and the chapter pages
must fit a phone's screen. Screenshots of every chapter page, light and dark, go to _build/screenshots/.

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


def every_page() -> list[str]:
    """The toc pages and the pages Sphinx adds (index of terms, module index, search)."""
    return toc_files() + [page for page in ("genindex", "py-modindex", "search") if (HTML / f"{page}.html").exists()]


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


PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}  # iPhone-sized


class Visit:
    """One page opened in a fresh browser context, with what went wrong while it loaded."""

    def __init__(self, browser, server: str, color_scheme: str = "light", phone: bool = False):
        self.server = server
        screen = PHONE if phone else {"viewport": {"width": 1280, "height": 900}}
        self.context = browser.new_context(color_scheme=color_scheme, **screen)
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
        # MathJax typesets after the load event and changes the page's text and widths: wait for it
        self.page.evaluate("() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise")
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

    def open_visit(color_scheme: str = "light", phone: bool = False) -> Visit:
        visits.append(Visit(browser, server, color_scheme, phone))
        return visits[-1]

    yield open_visit
    for v in visits:
        v.close()


@pytest.fixture(scope="module", params=every_page())
def opened(request, browser, server):
    """(page, Visit, response): a page opened once, light and desktop-sized, for the checks that only read
    it (loading, math, figures, axe-core). pytest runs every test that uses it on one page, then opens the
    next page: each page loads and typesets its math once instead of once per check."""
    v = Visit(browser, server)
    response = v.open(f"{request.param}.html")
    yield request.param, v, response
    v.close()


# What a reader sees of a page, as text: `innerText` with code hidden (code blocks, notebook code cells,
# inline code), where `$` and backslashes are legitimate. MathJax's output is glyphs drawn by CSS plus a
# MathML copy for screen readers, neither of which holds TeX; TeX left in this text was not typeset.
VISIBLE_PROSE = """() => {
    const hide = document.createElement('style');
    hide.textContent = 'pre, code, kbd, samp, .highlight, div.cell_input { display: none !important; }';
    document.head.appendChild(hide);
    const text = document.body.innerText;
    hide.remove();
    return text;
}"""
RAW_TEX = re.compile(
    r"\$\$"  # display math delimiters
    r"|\\[()\[\]]"  # \( \) \[ \], the delimiters Sphinx writes around math for MathJax
    r"|\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$"  # $...$ around a TeX command
    r"|\$\\[a-zA-Z]"  # $ followed by a TeX command
    r"|\\(?:begin|end)\{"  # an amsmath environment
)
MATH = """() => ({
    math: document.querySelectorAll('.math').length,
    unrendered: [...document.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container'))
        .map(m => m.textContent.trim().slice(0, 60)),
    errors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
    version: window.MathJax && window.MathJax.version,
    scripts: [...document.scripts].map(s => s.src).filter(src => /mathjax/i.test(src)),
})"""


def raw_tex(text: str) -> list[str]:
    """TeX source in a page's visible text: what a reader sees where MathJax did not typeset."""
    return sorted({match.group(0)[:60] for match in RAW_TEX.finditer(text)})


def math_problems(v: Visit) -> list[str]:
    """What is wrong with the math of an opened page: formulas MathJax did not typeset, TeX errors, TeX
    left in the visible text, MathJax not served by the book."""
    math = v.page.evaluate(MATH)
    problems = [f"{len(math['unrendered'])} of {math['math']} formulas not typeset, such as {math['unrendered'][:3]}"] if math["unrendered"] else []
    problems += [f"TeX errors: {math['errors'][:3]}"] if math["errors"] else []
    found = raw_tex(v.page.evaluate(VISIBLE_PROSE))
    problems += [f"raw TeX in the visible text: {found[:8]}"] if found else []
    if math["math"] and not str(math["version"] or "").startswith("3."):
        problems.append(f"MathJax 3 not loaded (window.MathJax.version = {math['version']!r})")
    problems += [f"MathJax loaded from outside the book: {src}" for src in math["scripts"] if not src.startswith(v.server + "/")]
    return problems


def test_page_loads_without_errors_and_typesets_its_math(opened):
    page, v, response = opened
    assert response is not None and response.status == 200, f"{page}.html: HTTP {response and response.status}"
    hosts = {urlparse(url).hostname for url in v.aborted}
    assert hosts <= set(EXTERNAL), f"{page}: requests to hosts not in EXTERNAL: {sorted(hosts - set(EXTERNAL))}"
    assert not v.unexpected_errors(), f"{page}: {v.unexpected_errors()}"
    problems = math_problems(v)
    assert not problems, f"{page}: {problems}"


def test_inline_math_fits_without_scrolling_on_a_desktop_screen(opened):
    """Inline formulas may scroll sideways where they do not fit (a phone; book/_static/accessibility.css),
    so one that scrolls on a 1280 px screen gets a scrollbar under it in browsers with classic scrollbars."""
    page, v, _ = opened
    scrolling = v.page.evaluate(
        """[...document.querySelectorAll('article span.math')]
        .filter(m => m.scrollWidth > m.clientWidth + 1 && /auto|scroll/.test(getComputedStyle(m).overflowX))
        .map(m => `${m.textContent.trim().slice(0, 40)} (${m.scrollWidth} px in ${m.clientWidth} px)`)"""
    )
    assert not scrolling, f"{page}: inline formulas that scroll at 1280 px: {scrolling[:5]}"


def test_raw_tex_is_found_and_prose_with_dollars_is_not():
    for tex in ("$$", r"\(x\)", r"\[ a + b \]", r"where $\eta$ is", r"$x = \frac{1}{2}$", r"$\alpha", r"\begin{align}"):
        assert raw_tex(f"some prose {tex} more prose"), tex
    for prose in ("it costs $5 and $10 a month", "US$ 3, or $4.50 each", "a \\ b", "(a) [b] $ alone", "M = 97 (a prime)"):
        assert not raw_tex(prose), prose


def test_math_check_fails_where_mathjax_does_not_load(visit):
    """The math check is not vacuous: with the book's MathJax blocked, a chapter shows its TeX and fails it."""
    page = next(page for page in chapter_pages() if (HTML / f"{page}.html").read_text().count('class="math') > 5)
    v = visit()
    v.page.route("**/_static/mathjax/**", lambda route: route.abort("blockedbyclient"))
    v.open(f"{page}.html")
    problems = " | ".join(math_problems(v))
    for expected in ("formulas not typeset", "raw TeX in the visible text", "MathJax 3 not loaded"):
        assert expected in problems, f"{page} with MathJax blocked: {expected!r} not reported in {problems!r}"


def local_file(server: str, url: str) -> Path:
    assert url.startswith(server + "/"), f"image not served by the book: {url}"
    return HTML / unquote(urlparse(url).path).lstrip("/")


def test_images_load_and_figures_are_accessible(opened, server):
    page, v, _ = opened
    if page not in toc_files():
        return  # Sphinx's own pages have no figures (the module index's images are its +/- toggles)
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


AXE_FAILS = ("serious", "critical")  # moderate and minor findings are reported by axe but do not fail the build


def axe_report(violations: list[dict], page: str) -> str:
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        lines.append(
            f"{violation['id']} ({violation['impact']}, {len(targets)} elements) on {page}: {violation['help']}\n"
            f"    {'; '.join(targets[:4])}{' ...' if len(targets) > 4 else ''}\n    {violation['helpUrl']}"
        )
    return "\n".join(lines)


@pytest.fixture(scope="session")
def axe():
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        pytest.fail("the axe-playwright-python package is missing; `pip install -c constraints.txt -e '.[test]'`", pytrace=False)
    return Axe()  # axe-core's script ships inside the package: nothing is downloaded


def test_page_has_no_serious_accessibility_violations(opened, axe):
    """axe-core's rules (WCAG 2.x A and AA and best practices), as the reader first sees the page."""
    page, v, _ = opened
    violations = [x for x in axe.run(v.page).response["violations"] if x["impact"] in AXE_FAILS]
    if violations:
        rules = ", ".join(violation["id"] for violation in violations)
        pytest.fail(f"{page}: serious or critical accessibility violations: {rules}\n{axe_report(violations, page)}", pytrace=False)


# Everything in the article must lie within the screen's width, except what sits in a box of its own that
# scrolls sideways (a wide table, a code block, a long formula); such a box must itself fit. Content cut
# off by a box with `overflow: hidden` is an error too: the reader cannot reach it at all.
OVERFLOW = """() => {
    const width = window.innerWidth, article = document.querySelector('article.bd-article');
    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + [...el.classList].slice(0, 2).map(c => '.' + c).join('');
    const where = el => { const s = el.closest('section[id]'); return s ? ` in #${s.id}` : ''; };
    const clip = el => {  // the nearest ancestor that does not let its content overflow
        for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
            const overflow = getComputedStyle(a).overflowX;
            if (overflow !== 'visible') return [a, overflow];
        }
        return [null, null];
    };
    const problems = [];
    for (const el of article.querySelectorAll('*')) {
        if (el.closest('mjx-assistive-mml')) continue;  // MathJax's copy for screen readers, clipped on purpose
        const box = el.getBoundingClientRect();
        if (box.width === 0 || (box.left >= -1 && box.right <= width + 1)) continue;
        const [scroller, overflow] = clip(el);
        if (scroller && article.contains(scroller) && (overflow === 'auto' || overflow === 'scroll')) continue;
        problems.push(`${name(el)}${where(el)} spans ${Math.round(box.left)}..${Math.round(box.right)} px`
                      + (scroller ? `, cut off by ${name(scroller)} (overflow ${overflow})` : ''));
    }
    for (const el of article.querySelectorAll('p, li, dt, dd, h1, h2, h3, h4, figcaption, blockquote')) {
        if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
            problems.push(`${name(el)}${where(el)}: its text is ${el.scrollWidth} px wide in a ${el.clientWidth} px box`);
    }
    return {width, pageWidth: document.documentElement.scrollWidth, problems: problems.slice(0, 12), count: problems.length};
}"""


@pytest.mark.parametrize("page", chapter_pages())
def test_chapter_fits_a_phone_screen(visit, page):
    """On an iPhone-sized screen (390 x 844 CSS px) the page does not scroll sideways, and the prose
    stays within the screen; wide figures, tables, formulas and code scroll inside their own box."""
    v = visit(phone=True)
    v.open(f"{page}.html")
    fit = v.page.evaluate(OVERFLOW)
    assert fit["pageWidth"] <= fit["width"] + 1, f"{page}: the page is {fit['pageWidth']} px wide on a {fit['width']} px screen"
    assert not fit["problems"], f"{page}: {fit['count']} elements do not fit a {fit['width']} px screen:\n  " + "\n  ".join(fit["problems"])
    assert not v.unexpected_errors(), v.unexpected_errors()
