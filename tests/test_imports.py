"""The import graph of os_numa: one direction through the layers, no cycles, nothing hidden.

Every module of the package is read with :mod:`ast` (nothing is imported), and
every import is an edge of the module graph: module-level ones, those inside
functions, and ``importlib.import_module("...")`` with a constant name.
``from package import name`` is an edge to ``package.name`` when that is a
module, else to the package (whose ``__init__`` then runs). The tests fail on

- a cycle: modules that import each other, directly or through others
  (imports under ``if TYPE_CHECKING:`` never run, so they take no part);
- an upward import: a module importing one of a higher layer (:data:`LAYERS`,
  which doc/source/overview.rst shows; a test checks the two agree);
- an import inside a function, except of an optional dependency listed in
  :data:`OPTIONAL` with the reason, and a comment at the import saying which.

Each failure names the offending edges as ``file:line: importer -> imported``.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import os_numa

PACKAGE = Path(os_numa.__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[1]
OVERVIEW = ROOT / "doc" / "source" / "overview.rst"

#: The layers, lowest first: (name, the modules and packages in it). A module may
#: import its own layer and the layers below, never one above. A package entry
#: holds all its modules; the root ``os_numa`` entry holds only the root package.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "foundations",
        (
            "os_numa",
            "os_numa.exception",
            "os_numa.cpuset",
            "os_numa.jsonutil",
            "os_numa.xmlutil",
            "os_numa.conf",
            "os_numa.objects",
            "os_numa.smt",
        ),
    ),
    ("constraints", ("os_numa.constraints",)),
    ("device model", ("os_numa.pci",)),
    ("fit", ("os_numa.fit",)),
    ("claim and explanation", ("os_numa.usage", "os_numa.explain", "os_numa.verdict")),
    ("compute", ("os_numa.compute",)),
    ("drivers and scheduler", ("os_numa.virt", "os_numa.scheduler")),
    ("placement", ("os_numa.placement",)),
    ("facade", ("os_numa.hardware",)),
    ("integrations", ("os_numa.nova", "os_numa.testing")),
    ("command", ("os_numa.cmd", "os_numa.__main__")),
)

#: Imports allowed inside a function: optional dependencies (a module name and the
#: modules below it), each with the reason it cannot be imported at module level.
OPTIONAL = {
    "libvirt": "libvirt-python is absent where os-numa runs inside Nova (its test environment "
    "fakes libvirt): modules Nova uses import it only where a libvirt connection is used",
    "placement.wsgi": "openstack-placement is no dependency of os-numa: the test service "
    "runs it in a child process of another Python (OS_NUMA_OPENSTACK_PYTHON)",
    "nova": "the extra os-numa[nova]: the launcher picks the Nova service to run by name",
    "os_numa.nova.patch": "imports Nova (the extra os-numa[nova]); os_numa.nova itself must "
    "import without it, for os_numa.nova.primitives",
}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    path: Path
    line: int
    kind: str  # "module", "local" (inside a function) or "typing" (TYPE_CHECKING only)

    def __str__(self) -> str:
        path = self.path
        where = (
            f"{path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE.parent) else path}"
        )
        where += f":{self.line}"
        local = " (inside a function)" if self.kind == "local" else ""
        return f"{where}: {self.importer} -> {self.imported}{local}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


class _Imports(ast.NodeVisitor):
    """The imports of one module, with the line and whether a function holds them."""

    def __init__(self, module: str, path: Path) -> None:
        self.module, self.path = module, path
        self.package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        self.functions = 0
        self.type_checking = 0
        self.edges: list[Edge] = []

    def _add(self, imported: str, node: ast.AST) -> None:
        if self.functions:
            kind = "local"
        elif self.type_checking:
            kind = "typing"
        else:
            kind = "module"
        edge = Edge(self.module, imported, self.path, node.lineno, kind)
        if edge not in self.edges:  # ``from m import (a, b)``: one edge when both are in m
            self.edges.append(edge)

    def _function(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        ):
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            package = ".".join([*base, node.module] if node.module else base)
        else:
            package = node.module or ""
        for alias in node.names:
            submodule = f"{package}.{alias.name}"
            self._add(submodule if submodule in MODULES else package, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in ("import_module", "__import__") and node.args:
            target = _literal_prefix(node.args[0])
            if target is not None:
                self._add(target, node)
        self.generic_visit(node)


def _literal_prefix(node: ast.expr) -> str | None:
    """The module a constant or f-string name starts with (``nova.cmd.{x}`` -> ``nova.cmd``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value.rstrip(".") or None
    return None


def all_edges() -> list[Edge]:
    edges = []
    for module, path in MODULES.items():
        visitor = _Imports(module, path)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        edges.extend(visitor.edges)
    return edges


EDGES = all_edges()
#: Edges between modules of the package (a module importing itself is no edge).
INTERNAL = [e for e in EDGES if e.imported in MODULES and e.imported != e.importer]


def _in(module: str, entry: str) -> bool:
    if entry == "os_numa":
        return module == entry
    return module == entry or module.startswith(entry + ".")


def layer_of(module: str) -> int | None:
    """The index in :data:`LAYERS` of the longest entry holding ``module``."""
    best: tuple[int, int] | None = None
    for index, (_name, entries) in enumerate(LAYERS):
        for entry in entries:
            if _in(module, entry) and (best is None or len(entry) > best[0]):
                best = (len(entry), index)
    return None if best is None else best[1]


def _optional(imported: str) -> str | None:
    for name, reason in OPTIONAL.items():
        if imported == name or imported.startswith(name + "."):
            return reason
    return None


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """Each group of modules that import each other, as the edges inside the group."""
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in edges:
        graph[edge.importer]
        graph[edge.imported]
        if edge.kind != "typing":
            graph[edge.importer].add(edge.imported)
    groups = []
    for component in strongly_connected(graph):
        members = set(component)
        groups.append(
            [
                e
                for e in edges
                if e.kind != "typing" and e.importer in members and e.imported in members
            ]
        )
    return groups


def upward(edges: list[Edge]) -> list[str]:
    found = []
    for edge in edges:
        low, high = layer_of(edge.importer), layer_of(edge.imported)
        if low is not None and high is not None and high > low:
            found.append(
                f"{edge}: layer {low} ({LAYERS[low][0]}) imports layer {high} ({LAYERS[high][0]})"
            )
    return found


def hidden(edges: list[Edge]) -> list[str]:
    found = []
    for edge in edges:
        if edge.kind != "local":
            continue
        if _optional(edge.imported) is None:
            found.append(f"{edge}: not an optional dependency (see OPTIONAL)")
            continue
        lines = edge.path.read_text(encoding="utf-8").splitlines()
        if not any("#" in line for line in lines[max(edge.line - 2, 0) : edge.line]):
            found.append(f"{edge}: no comment at the import saying which optional dependency")
    return found


def _report(title: str, lines: list[str]) -> str:
    return f"{title} ({len(lines)}):\n  " + "\n  ".join(lines)


# --- the package obeys the rules ----------------------------------------------------------


def test_every_module_has_a_layer_and_every_entry_a_module():
    unplaced = sorted(m for m in MODULES if layer_of(m) is None)
    assert not unplaced, _report("modules in no layer of LAYERS", unplaced)
    stale = [
        entry
        for _name, entries in LAYERS
        for entry in entries
        if not any(_in(m, entry) for m in MODULES)
    ]
    assert not stale, _report("LAYERS entries that name no module", stale)


def test_no_import_cycles():
    groups = cycles(INTERNAL)
    assert not groups, "\n".join(
        _report(
            f"modules importing each other: {sorted({e.importer for e in g})}", sorted(map(str, g))
        )
        for g in groups
    )


def test_no_upward_imports():
    found = upward(INTERNAL)
    assert not found, _report("imports from a lower layer to a higher one", found)


def test_no_imports_inside_functions_except_optional_dependencies():
    found = hidden(EDGES)
    assert not found, _report("imports inside functions", found)


def test_every_optional_dependency_is_still_imported_inside_a_function():
    local = [e.imported for e in EDGES if e.kind == "local"]
    stale = sorted(
        name
        for name in OPTIONAL
        if not any(imported == name or imported.startswith(name + ".") for imported in local)
    )
    assert not stale, _report("OPTIONAL entries that no function imports", stale)


# --- overview.rst shows the same layers -----------------------------------------------------


def documented_layers() -> dict[int, tuple[str, set[str]]]:
    """The layer table of overview.rst's "Layers" section: number -> (name, modules)."""
    text = OVERVIEW.read_text(encoding="utf-8")
    section = text.split("\nLayers\n======\n", 1)[1]
    section = re.split(r"\n\S[^\n]*\n=+\n", section, maxsplit=1)[0]
    rows: dict[int, tuple[str, set[str]]] = {}
    current = None
    for line in section.splitlines():
        row = re.match(r"^(\d+)\s+(.+?)\s{2,}(``.*)$", line)
        if row:
            current = int(row.group(1))
            rows[current] = (row.group(2).strip(), set())
            line = row.group(3)
        elif current is None or not line.startswith(" ") or "``" not in line:
            continue
        rows[current][1].update(re.findall(r"``(os_numa[\w.]*)``", line))
    return rows


def test_overview_shows_the_layers_of_this_test():
    expected = {index: (name, set(entries)) for index, (name, entries) in enumerate(LAYERS)}
    assert documented_layers() == expected


# --- the checks find what they look for -----------------------------------------------------


def _edge(
    importer: str, imported: str, kind: str = "module", line: int = 1, path: Path | None = None
) -> Edge:
    return Edge(importer, imported, path or PACKAGE / "x.py", line, kind)


def test_a_cycle_through_three_modules_is_reported_with_its_edges():
    edges = [
        _edge("os_numa.fit.a", "os_numa.fit.b"),
        _edge("os_numa.fit.b", "os_numa.fit.c"),
        _edge("os_numa.fit.c", "os_numa.fit.a", "local"),
        _edge("os_numa.fit.c", "os_numa.cpuset"),
        _edge("os_numa.fit.x", "os_numa.fit.y", "typing"),
        _edge("os_numa.fit.y", "os_numa.fit.x"),
    ]
    (group,) = cycles(edges)
    assert [(e.importer, e.imported) for e in group] == [
        ("os_numa.fit.a", "os_numa.fit.b"),
        ("os_numa.fit.b", "os_numa.fit.c"),
        ("os_numa.fit.c", "os_numa.fit.a"),
    ]


def test_an_upward_import_is_reported_with_both_layers():
    (found,) = upward(
        [_edge("os_numa.virt.libvirt.driver", "os_numa.hardware", line=51)]
        + [_edge("os_numa.virt.libvirt.driver", "os_numa.constraints.cpu")]
    )
    assert found == (
        "os_numa/x.py:51: os_numa.virt.libvirt.driver -> os_numa.hardware: "
        "layer 6 (drivers and scheduler) imports layer 8 (facade)"
    )


def test_an_import_inside_a_function_is_reported_unless_optional_and_commented(tmp_path):
    source = tmp_path / "launch.py"
    source.write_text(
        "def a():\n"
        "    import os_numa.cmd.commands\n"
        "def b():\n"
        "    # Nova, the optional extra\n"
        "    import nova.cmd.api\n"
        "def c():\n"
        "    import nova.cmd.api\n"
    )
    visitor = _Imports("os_numa.nova.launch", source)
    visitor.visit(ast.parse(source.read_text()))
    assert hidden(visitor.edges) == [
        f"{source}:2: os_numa.nova.launch -> os_numa.cmd.commands (inside a function): "
        "not an optional dependency (see OPTIONAL)",
        f"{source}:7: os_numa.nova.launch -> nova.cmd.api (inside a function): "
        "no comment at the import saying which optional dependency",
    ]


def test_from_package_import_submodule_is_an_edge_to_the_submodule():
    source = (
        "from os_numa.objects import fields, Flavor\n"
        "from . import base\n"
        "import importlib\n"
        "def f():\n"
        "    return importlib.import_module('os_numa.nova.patch')\n"
    )
    visitor = _Imports("os_numa.objects.numa", PACKAGE / "objects" / "numa.py")
    visitor.visit(ast.parse(source))
    assert [(e.imported, e.kind) for e in visitor.edges] == [
        ("os_numa.objects.fields", "module"),
        ("os_numa.objects", "module"),
        ("os_numa.objects.base", "module"),
        ("importlib", "module"),
        ("os_numa.nova.patch", "local"),
    ]
