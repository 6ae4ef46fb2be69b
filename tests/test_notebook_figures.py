"""Accessible figures, read from the notebook sources (nothing is executed; every notebooks/*.ipynb).

- Every cell that draws a figure carries the myst-nb metadata that gives it a caption and alt text.
- Colors come from the house style (grokkit.plots): categorical colors from ``PALETTE`` (seaborn's
  color-blind-safe palette), color maps (and palettes for an ordered hue such as the modulus) from the
  perceptually uniform, color-blind-safe viridis family,
  and otherwise only neutral greys, black or white for reference lines. A hard-coded color name, hex
  code, "tab:"/"C0" color, matplotlib format color ("r-") or another palette or color map fails.

tests/test_notebooks.py checks the other notebook conventions; tests/test_browser.py checks the built pages.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

FIGURE_CALLS = {"plt.subplots", "plt.figure", "plt.subplot_mosaic", "plot_accuracy_curves", "grokkit.plots.plot_accuracy_curves"}
COLOR_KEYWORDS = {"color", "colors", "c", "facecolor", "edgecolor", "fc", "ec", "markerfacecolor", "markeredgecolor", "mfc", "mec", "palette"}
NEUTRAL = {"gray", "black", "white", "k", "w", "lightgrey", "lightgray", "darkgrey", "darkgray", "dimgrey", "dimgray", "silver", "none"}
GREY_LEVEL = re.compile(r"^(0(\.\d+)?|1(\.0*)?|\.\d+)$")  # matplotlib's gray level strings, "0.4"
CMAPS = {"viridis", "viridis_r", "cividis", "cividis_r"}
MAGIC = re.compile(r"^(\s*)[%!].*$")
FORMAT_COLOR = re.compile(r"^[-.:,ov^<>1-48sp*hHxXDd|_+]*[bgrcmykw][-.:,ov^<>1-48sp*hHxXDd|_+]*$")  # "ro-", "k--"


def code_cells(path: Path):
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type == "code":
            source = "\n".join(MAGIC.sub(r"\1pass", line) for line in cell.source.splitlines())  # %pip, !cmd
            yield index, cell, ast.parse(source)


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def calls(tree: ast.AST):
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def makes_figure(tree: ast.AST) -> bool:
    if any(dotted(call.func) in FIGURE_CALLS for call in calls(tree)):
        return True
    for node in ast.walk(tree):  # fig = sns.relplot(...).figure and the like
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "fig" for t in node.targets):
            if any(dotted(call.func).startswith("sns.") for call in calls(node.value)):
                return True
    return False


def figure_cells(path: Path) -> list[tuple[int, dict]]:
    return [(index, cell.metadata) for index, cell, tree in code_cells(path) if makes_figure(tree)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(path):
    cells = figure_cells(path)
    assert cells, f"{path.name}: no cell draws a figure (has the figure detection gone stale?)"
    missing = []
    for index, metadata in cells:
        mystnb = metadata.get("mystnb", {})
        caption = str(mystnb.get("figure", {}).get("caption", "")).strip()
        alt = str(mystnb.get("image", {}).get("alt", "")).strip()
        if not caption or not alt:
            missing.append(f"cell {index}: " + " and ".join(n for n, v in (("mystnb.figure.caption", caption), ("mystnb.image.alt", alt)) if not v))
    assert not missing, f"{path.name}: figure cells without {missing}"


def color_problems(value: ast.AST, keyword: str, seen: set[int]) -> list[str]:
    """Hard-coded colors among the string literals of a color argument (lists, tuples, dicts included;
    not the keys inside an expression such as ``PALETTE[: t["modulus"].nunique()]``)."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        text = value.value.strip().lower()
        allowed = text in CMAPS if keyword == "palette" else text in NEUTRAL or GREY_LEVEL.match(text)
        if not allowed:
            seen.add(id(value))
            return [f"{keyword}={value.value!r}"]
        return []
    parts = {
        ast.List: lambda v: v.elts,
        ast.Tuple: lambda v: v.elts,
        ast.Set: lambda v: v.elts,
        ast.Dict: lambda v: v.values,
        ast.IfExp: lambda v: [v.body, v.orelse],
        ast.ListComp: lambda v: [v.elt],
    }.get(type(value), lambda v: [])(value)
    return [problem for part in parts for problem in color_problems(part, keyword, seen)]


def hard_coded_colors(tree: ast.AST) -> list[str]:
    problems, seen = [], set()
    for call in calls(tree):
        for keyword in call.keywords:
            if keyword.arg in COLOR_KEYWORDS:
                problems += color_problems(keyword.value, keyword.arg, seen)
            elif keyword.arg == "cmap" and not (isinstance(keyword.value, ast.Constant) and keyword.value.value in CMAPS):
                problems.append(f"cmap={ast.unparse(keyword.value)}")
        if dotted(call.func).endswith((".plot", ".semilogy", ".semilogx", ".loglog", ".errorbar")):
            problems += [
                f"format string {a.value!r}"
                for a in call.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str) and FORMAT_COLOR.match(a.value)
            ]
        if dotted(call.func) in {"sns.set_palette", "sns.color_palette", "plt.rc", "mpl.rc"} or dotted(call.func).endswith("rcParams.update"):
            problems.append(f"{dotted(call.func)}(...) restyles colors outside grokkit.plots.use_house_style")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in seen
            and re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", node.value)
        ):
            problems.append(f"hex color in {node.value!r}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colors_come_from_the_house_style(path):
    found = [f"cell {index}: {problem}" for index, _, tree in code_cells(path) for problem in hard_coded_colors(tree)]
    assert not found, (
        f"{path.name} hard-codes colors; use grokkit.plots.PALETTE[i] for categories, "
        f"cmap='viridis' for color maps, a gray for reference lines: {found}"
    )


def test_the_rules_catch_hard_coded_colors():
    bad = ast.parse(
        "ax.plot(x, y, 'r--')\nax.plot(x, y, color='red')\nax.axhline(1, c='#ff0000')\n"
        "sns.heatmap(t, cmap='RdBu')\nsns.lineplot(data=d, palette='deep')\nax.bar(x, y, color=['tab:blue', 'gray'])\n"
        "ax.bar(x, y, color=[PALETTE[0] if k in keys else 'C1' for k in x])\n"
    )
    assert len(hard_coded_colors(bad)) == 7, hard_coded_colors(bad)
    good = ast.parse(
        "ax.plot(x, y, 'o-', color=PALETTE[0])\nax.axvline(1, color='0.4', ls='--')\n"
        "sns.heatmap(t, cmap='viridis')\nsns.lineplot(data=d, palette=PALETTE[:2])\nax.axhline(9, color='gray')\n"
    )
    assert hard_coded_colors(good) == []
    assert makes_figure(ast.parse("fig, ax = plt.subplots()")) and makes_figure(ast.parse("fig = sns.relplot(data=d).figure"))
    assert not makes_figure(ast.parse("from grokkit.plots import plot_accuracy_curves"))
