"""The student edition (`make book-student`) leaves out every exercise solution; the normal edition keeps them.

The student edition is a second Sphinx build of the same executed notebooks (about as long as the
Jupyter Book step of `make book`), so CI does not build it; these checks run when both editions exist.
"""

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from book import toc_files

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "_build" / "html"
STUDENT = ROOT / "_build" / "student" / "html"
pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(
        not ((FULL / "index.html").exists() and (STUDENT / "index.html").exists()),
        reason="needs both editions: run `make book` and `make book-student`",
    ),
]

CHAPTERS = [page for page in toc_files() if page.startswith("book/") and page.split("/")[-1][:2].isdigit()]


def blocks(edition: Path, page: str, kind: str) -> list:
    """The exercise or solution blocks of sphinx-exercise on a built page."""
    soup = BeautifulSoup((edition / f"{page}.html").read_text(), "html.parser")
    return soup.select(f"article div.{kind}")


@pytest.mark.parametrize("page", CHAPTERS)
def test_student_edition_has_the_exercises_but_no_solutions(page):
    exercises = blocks(FULL, page, "exercise")
    assert exercises, f"{page}: the normal edition shows no exercise"
    assert blocks(FULL, page, "solution"), f"{page}: the normal edition shows no solution"
    assert len(blocks(STUDENT, page, "exercise")) == len(exercises), f"{page}: the student edition lost exercises"
    assert not blocks(STUDENT, page, "solution"), f"{page}: the student edition shows a solution"
