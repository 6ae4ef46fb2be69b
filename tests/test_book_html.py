"""Checks on the built HTML (`make book` runs them after building; skipped when no build exists)."""

import functools
import os
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from book import toc_files, toc_notebooks

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("GROKKIT_BOOK_HTML", ROOT / "_build" / "html"))  # override: test another build
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(not (HTML / "index.html").exists(), reason=f"no built book in {HTML}; run `make book`"),
]


def soup(page: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / f"{page}.html").read_text(), "html.parser")


@pytest.mark.parametrize("page", toc_files())
def test_every_toc_page_is_built(page):
    assert (HTML / f"{page}.html").exists(), f"{page}.html missing from the build"
    assert soup(page).find("h1"), f"{page}.html has no title"


@pytest.mark.parametrize("page", toc_notebooks())
def test_notebook_pages_have_their_figures(page):
    images = soup(page).select("article img")
    assert images, f"{page}.html shows no figure"
    for image in images:
        src = image["src"]
        assert not src.startswith("http"), src
        file = (HTML / page).parent / src
        assert file.exists() and file.stat().st_size > 1000, f"{page}: figure {src} missing or empty"
        assert image.get("alt"), f"{page}: figure {src} has no alt text"


@pytest.mark.parametrize("page", toc_files())
def test_math_is_typeset_by_mathjax_from_the_book_itself(page):
    """A page with math loads MathJax from the book's _static/mathjax (sphinx-mathjax-offline), not a CDN:
    the book reads the same offline. tests/test_browser.py checks that the math is typeset."""
    html = soup(page)
    scripts = [script["src"] for script in html.select("script[src]") if "mathjax" in script["src"].lower()]
    if html.select(".math"):
        assert scripts, f"{page}: math but no MathJax script"
    for src in scripts:
        assert "//" not in src, f"{page}: MathJax from outside the book: {src}"
        assert ((HTML / page).parent / src.split("?")[0]).is_file(), f"{page}: {src} is not in the build"


@pytest.mark.parametrize("page", toc_files())
def test_no_unresolved_glue_or_references(page):
    body = soup(page).select_one("article").get_text()
    assert body.strip(), f"{page}: empty page"
    for marker in ("::", "RUNTIME_", "{glue", "{cite"):
        assert marker not in body, f"{page}: unresolved {marker!r} in the rendered text"


def built_pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


@pytest.mark.parametrize("page", built_pages() if HTML.exists() else [], ids=lambda p: p.relative_to(HTML).as_posix())
def test_every_internal_link_resolves(page):
    """Links, cross-references and citations point at a built file and, with a #fragment, at an id there."""
    broken = []
    for link in BeautifulSoup(page.read_text(), "html.parser").select("a[href]"):
        href = link["href"]
        if href.startswith(("http:", "https:", "mailto:", "javascript:")):
            continue
        target, _, fragment = href.partition("#")
        file = (page.parent / target).resolve() if target else page
        if file.is_dir():
            file = file / "index.html"
        if not file.exists():
            broken.append(f"{href} (no file)")
        elif fragment and file.suffix == ".html":
            ids = ids_in(file)
            if fragment not in ids:
                broken.append(f"{href} (no id {fragment!r})")
    assert not broken, f"{page.relative_to(HTML)}: broken links {broken}"


@functools.cache
def ids_in(file: Path) -> frozenset[str]:
    return frozenset(tag["id"] for tag in BeautifulSoup(file.read_text(), "html.parser").select("[id]"))


def test_execution_report_lists_every_notebook():
    text = soup("book/execution-report").get_text()
    for entry in toc_notebooks():
        assert Path(entry).name in text


@pytest.mark.parametrize("page", toc_notebooks())
def test_the_downloadable_notebook_starts_from_the_defaults_and_names_no_build_path(page):
    """The .ipynb a reader downloads (the page's download button) is what a learner runs: no papermill cell with the
    build's settings, no path of the build machine, and the parameters of the book's run as its defaults."""
    path = HTML / "_sources" / f"{page}.ipynb"
    text = path.read_text()
    assert "injected-parameters" not in text, f"{path.name} keeps papermill's injected cell"
    for build_path in {str(ROOT), str(ROOT.resolve()), "/_build/"}:
        assert build_path not in text, f"{path.name} names the build machine's path {build_path}"
    cells = nbformat.reads(text, as_version=4).cells
    parameters = next(cell for cell in cells if "parameters" in cell.metadata.get("tags", []))
    assert "check_claims = False" in parameters.source and "quick = False" in parameters.source
