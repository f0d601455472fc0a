"""The layout's rules, checked: import contracts (import-linter), thin pages, and docs that name
the tree as it is."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = sorted(p.parent.name for p in (ROOT / "lib").glob("*/__init__.py"))
TOP_MODULES = sorted(p.stem for p in (ROOT / "lib").glob("*.py") if p.stem != "__init__")
# What a page may import: Streamlit, the UI package, and what it shows (display, analytics),
# plus the client's error types to catch. Never the store, the client itself, or HTTP/JSON.
PAGE_IMPORTS = re.compile(r"^(streamlit(\.|$)|lib\.(ui|display|analytics)(\.|$)"
                          r"|lib\.outreach(\.errors)?$|__future__$|datetime$)")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_catch_a_layer_breach(tmp_path):
    # The same contracts over a copy of lib/ with three breaches planted: each must be reported.
    shutil.copytree(ROOT / "lib", tmp_path / "lib",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    breaches = {
        "lib/analytics/figures.py": "import streamlit\n",
        "lib/outreach/errors.py": "from lib.store import datasource\n",
        "lib/sandbox/clock.py": "import pandas\n",
    }
    for path, line in breaches.items():
        target = tmp_path / path
        target.write_text(target.read_text() + "\n" + line)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "lib.analytics.figures -> streamlit" in result.stdout
    assert "lib.outreach.errors -> lib.store" in result.stdout
    assert "lib.sandbox.clock -> pandas" in result.stdout


@pytest.mark.parametrize("page", sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"],
                         ids=lambda path: path.name)
def test_pages_only_arrange_widgets_and_call_the_layers_below(page):
    tree = ast.parse(page.read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported, f"{page.name} imports nothing"
    strays = [name for name in imported if not PAGE_IMPORTS.match(name)]
    assert not strays, f"{page.name} imports {strays}: pages never build URLs or parse JSON"


@pytest.mark.parametrize("path", sorted((ROOT / "lib").rglob("*.py")),
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_every_module_says_its_job_on_its_first_line(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()), clean=False)
    if path.name == "__init__.py" and path.parent.name == "lib":
        return  # the root package is only a namespace
    assert docstring, f"{path.relative_to(ROOT)} has no docstring"
    first = path.read_text().lstrip().splitlines()[0]
    assert first.startswith('"""') and len(first) > 10


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_may_import(package):
    docstring = ast.get_docstring(ast.parse((ROOT / "lib" / package / "__init__.py").read_text()))
    assert docstring and "import" in docstring.lower(), package


@pytest.mark.parametrize("doc", ["README.md", "docs/ARCHITECTURE.md"])
def test_the_docs_map_the_tree_as_it_is(doc):
    text = (ROOT / doc).read_text()
    named = set(re.findall(r"`((?:lib|pages|tests|benchmarks|docs|scripts)/[\w./-]*)`", text))
    missing_paths = sorted(path for path in named if not (ROOT / path.rstrip("/")).exists())
    assert not missing_paths, f"{doc} names paths that do not exist: {missing_paths}"
    unnamed = [f"lib/{package}/" for package in PACKAGES if f"lib/{package}/" not in named]
    unnamed += [f"lib/{module}.py" for module in TOP_MODULES if f"lib/{module}.py" not in named]
    assert not unnamed, f"{doc} does not map {unnamed}"
