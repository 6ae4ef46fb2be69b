"""Sphinx extension: write each inline <script> once per page.

sphinx-thebe (always loaded by Jupyter Book) registers an inline script declaring ``const THEBE_JS_URL``
after the HTML builder has started; Sphinx 7.4 then adds it to every page twice, and the second copy
throws "Identifier 'THEBE_JS_URL' has already been declared" in the browser console
(tests/test_browser.py checks that every page loads without console errors).
"""


def _unique(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _unique, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
