"""Sphinx extension: two fixes of the generated HTML that axe-core reports (tests/test_browser.py).

- Citation lists: docutils writes each reference of a bibliography as ``<div role="doc-biblioentry">``
  inside ``<div role="list">``. DPUB-ARIA 1.1 deprecates ``doc-biblioentry``, and a list whose
  children are not list items is invalid for assistive technology (axe: aria-required-children,
  critical). Each entry is written with ``role="listitem"`` instead.
- Sidebar toggles: the theme's table of contents opens and closes a chapter's sections with a
  ``<summary>`` that holds only a chevron icon, so a screen reader announces a nameless control
  (axe: summary-name, serious). Each such ``<summary>`` gets an ``aria-label`` naming its chapter.
"""

from docutils import nodes


def visit_citation(self, node):
    """docutils' HTML5 ``visit_citation`` (0.21) with ``role="listitem"`` for ``doc-biblioentry``."""
    if not isinstance(node.previous_sibling(), type(node)):
        self.body.append('<div role="list" class="citation-list">\n')
    self.body.append(self.starttag(node, "div", classes=[node.tagname], role="listitem"))


def depart_citation(self, node):
    self.body.append("</div>\n")
    if not isinstance(node.next_node(descend=False, siblings=True), type(node)):
        self.body.append("</div>\n")


def label_toggles(toctree):
    """Give every nameless ``<summary>`` of a theme toctree (a BeautifulSoup tree) an ``aria-label``."""
    if not hasattr(toctree, "select"):
        return toctree
    for summary in toctree.select("li.has-children > details > summary"):
        if summary.get("aria-label") or summary.get_text(strip=True):
            continue  # already named, or a section heading with its own text
        item = summary.parent.parent
        link = item.find("a", recursive=False)
        title = link.get_text(" ", strip=True) if link else ""
        summary["aria-label"] = f"Sections of {title}" if title else "Sections"
    return toctree


def _label_sidebar(app, pagename, templatename, context, doctree):
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "labels_toggles", False):
        return

    def generate_labelled(*args, **kwargs):
        return label_toggles(generate(*args, **kwargs))

    generate_labelled.labels_toggles = True
    context["generate_toctree_html"] = generate_labelled


def setup(app):
    app.add_node(nodes.citation, override=True, html=(visit_citation, depart_citation))
    app.connect("html-page-context", _label_sidebar, priority=900)  # after the theme adds generate_toctree_html
    return {"parallel_read_safe": True, "parallel_write_safe": True}
