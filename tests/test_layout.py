"""The layout rules of DEVELOPERS.md, read from the source with ``ast`` (not by eye).

- no import cycle between any two files of signals/, streams/, alerts/;
- ``signals`` imports nothing of ours (only the standard library and third-party packages);
- ``alerts`` imports nothing from ``streams``;
- no source file in signals/, streams/, alerts/ over 400 lines.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:`` (a cycle
that only types see is still two files that cannot be understood apart), and
``importlib.import_module("...")`` with a literal name. ``from x import y`` is an edge to the
module ``x.y`` when that is a file, else to ``x``; importing ``a.b.c`` also runs the
``__init__`` of ``a`` and ``a.b``, so those count too (except the importer's own packages,
which Python has always run first).
"""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import REPO

PACKAGES = ("signals", "streams", "alerts")
# Top-level names that are this checkout's code, not a dependency.
OURS = frozenset({*PACKAGES, "tests", "scripts", "benchmarks"})
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a dotted name as written, resolved against relative levels
    names: tuple[str, ...]  # for ``from target import names``; empty for ``import target``
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file for every ``.py`` file of ``packages`` under ``root``."""
    return {module_name(root, path): path
            for package in packages for path in sorted((root / package).rglob("*.py"))}


def _absolute(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return ".".join([*base, *([module] if module else [])])


def _calls_import_module(func: ast.expr) -> bool:
    return ((isinstance(func, ast.Name) and func.id == "import_module")
            or (isinstance(func, ast.Attribute) and func.attr == "import_module"))


def imports_of(importer: str, path: Path) -> Iterator[Import]:
    """Every import in the file, wherever it is written."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(importer, is_package, node.level, node.module)
            yield Import(importer, target, tuple(a.name for a in node.names), node.lineno)
        elif (isinstance(node, ast.Call) and _calls_import_module(node.func) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield Import(importer, node.args[0].value, (), node.lineno)


def _packages_of(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def resolve(imp: Import, modules: Iterable[str]) -> set[str]:
    """The modules among ``modules`` that running this import executes."""
    known = set(modules)
    targets: set[str] = set()
    if imp.names:
        for name in imp.names:
            sub = f"{imp.target}.{name}"
            targets.add(sub if sub in known else imp.target)
    else:
        targets.add(imp.target)
    for target in list(targets):
        targets.update(_packages_of(target))
    own = {imp.importer, *_packages_of(imp.importer)}
    return {t for t in targets if t in known and t not in own}


@dataclass(frozen=True)
class Graph:
    edges: dict[str, dict[str, int]]  # importer -> imported module -> first line

    @classmethod
    def build(cls, files: dict[str, Path]) -> Graph:
        edges: dict[str, dict[str, int]] = {name: {} for name in files}
        for name, path in files.items():
            for imp in imports_of(name, path):
                for target in resolve(imp, files):
                    edges[name].setdefault(target, imp.line)
        return cls(edges)

    def cycles(self) -> list[list[str]]:
        """The strongly connected components with more than one module (Tarjan)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(node: str) -> None:
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            for nxt in self.edges[node]:
                if nxt not in index:
                    visit(nxt)
                    low[node] = min(low[node], low[nxt])
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

        for node in sorted(self.edges):
            if node not in index:
                visit(node)
        return sorted(found)

    def explain(self, component: list[str]) -> str:
        """One shortest loop through the component's first module, with the lines."""
        inside, start = set(component), component[0]
        came_from: dict[str, str] = {}
        queue = [start]
        while queue and start not in came_from:
            node = queue.pop(0)
            for nxt in sorted(self.edges[node]):
                if nxt in inside and nxt not in came_from:
                    came_from[nxt] = node
                    queue.append(nxt)
        loop = [start]
        while len(loop) == 1 or loop[-1] != start:
            loop.append(came_from[loop[-1]])
        loop.reverse()
        steps = " -> ".join(f"{a} (line {self.edges[a][b]})" for a, b in itertools.pairwise(loop))
        return f"{steps} -> {start}   [all {len(component)} in the cycle: {', '.join(component)}]"


FILES = source_files(REPO, PACKAGES)


def test_the_rules_see_the_whole_code() -> None:
    # A broken glob would make every rule below pass vacuously.
    assert {"signals.ingest", "streams.cli.main", "alerts.metrics"} <= FILES.keys()
    assert len(FILES) > 40


def test_no_import_cycle_between_any_two_files() -> None:
    graph = Graph.build(FILES)
    cycles = graph.cycles()
    assert not cycles, "import cycles:\n" + "\n".join(graph.explain(c) for c in cycles)


def _third_party() -> set[str]:
    names = set(importlib.metadata.packages_distributions())
    return names - OURS


def test_signals_imports_only_the_standard_library_and_third_party() -> None:
    allowed = set(sys.stdlib_module_names) | _third_party()
    bad = [f"{imp.importer} line {imp.line}: {imp.target}"
           for name, path in FILES.items() if name.split(".")[0] == "signals"
           for imp in imports_of(name, path)
           if imp.target.split(".")[0] != "signals" and imp.target.split(".")[0] not in allowed]
    assert not bad, "signals must not import our other code:\n" + "\n".join(bad)


def test_alerts_imports_nothing_from_streams() -> None:
    bad = [f"{imp.importer} line {imp.line}: {imp.target}"
           for name, path in FILES.items() if name.split(".")[0] == "alerts"
           for imp in imports_of(name, path) if imp.target.split(".")[0] == "streams"]
    assert not bad, "alerts must not import streams:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", sorted(FILES))
def test_no_source_file_over_400_lines(name: str) -> None:
    lines = len(FILES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{FILES[name].relative_to(REPO)}: {lines} lines > {MAX_LINES}"


# ---------------------------------------------------------------- the checker on planted code


def _package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return source_files(root, ["pkg"])


def test_a_planted_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    files = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def later():\n    from . import c\n    return c\n",
        "pkg/c.py": "import pkg.a as again\n",
        "pkg/d.py": "from pkg.a import something\n",  # outside the cycle: imports a only
    })
    graph = Graph.build(files)
    assert graph.edges["pkg.d"] == {"pkg.a": 1}
    assert graph.cycles() == [["pkg.a", "pkg.b", "pkg.c"]]
    assert graph.explain(["pkg.a", "pkg.b", "pkg.c"]).startswith(
        "pkg.a (line 1) -> pkg.b (line 2) -> pkg.c (line 1) -> pkg.a")


def test_a_cycle_through_a_package_init_and_type_checking_is_found(tmp_path: Path) -> None:
    files = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from pkg.top import VALUE\n",
        "pkg/sub/leaf.py": "",
        "pkg/top.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                       "    from pkg.sub.leaf import Thing\nVALUE = 1\n"),
    })
    # top imports pkg.sub.leaf, which first runs pkg/sub/__init__.py, which imports top.
    assert Graph.build(files).cycles() == [["pkg.sub", "pkg.top"]]


def test_an_acyclic_package_has_no_cycle(tmp_path: Path) -> None:
    files = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "import json\nfrom pkg import b\nfrom pkg.b import name\n",
        "pkg/b.py": "import importlib\nname = importlib.import_module('pkg.c')\n",
        "pkg/c.py": "from .. import elsewhere\n",  # resolves above pkg: not ours here
    })
    graph = Graph.build(files)
    assert graph.edges == {"pkg": {}, "pkg.a": {"pkg.b": 2}, "pkg.b": {"pkg.c": 2}, "pkg.c": {}}
    assert graph.cycles() == []
