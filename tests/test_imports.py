"""The import structure of src/elmokit: no import cycles, and the core never imports upward.

Read from the source (``ast``), without importing anything: every ``import`` / ``from`` of an
elmokit module counts, also inside functions and ``try`` blocks; ``if TYPE_CHECKING:`` blocks
do not (they never run). Importing ``elmokit.a.b`` also runs the package ``__init__`` files
above it; those implicit edges are left out, as Python itself resolves them first.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "elmokit"
#: The library core: may import only itself (and third-party packages).
CORE = ("config", "characters", "modules", "weights", "hub", "embedder", "output", "layers",
        "inference", "tokenize", "errors", "fileio", "runtime")  # fmt: skip
#: What sits on top of the core: the core imports none of it.
UPPER = ("downstream", "server", "training", "cli", "commands")

Graph = dict[str, set[str]]


def module_files(package_dir: Path) -> dict[str, Path]:
    """``src/elmokit`` -> {"elmokit": .../__init__.py, "elmokit.layers": .../layers.py, ...}."""
    out = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that module ``name`` (source ``path``) imports."""
    root = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from . / .. / .x import y
                    parts = package.split(".")
                    parts = parts[: len(parts) - (child.level - 1)]
                    base = ".".join(parts + ([child.module] if child.module else []))
                for alias in child.names:  # `from a import b`: module a.b if it is one, else a
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules
                              else base)  # fmt: skip
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return {m for m in found if m.split(".")[0] == root and m in modules and m != name}


def import_graph(package_dir: Path) -> Graph:
    """Module -> the package's modules it imports."""
    files = module_files(package_dir)
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def find_cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with a cycle (Tarjan), each sorted: every module of
    one imports, directly or not, every other (a module importing itself is one too)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(cycles)


def _under(module: str, packages: tuple[str, ...], root: str = "elmokit") -> bool:
    return any(module == f"{root}.{p}" or module.startswith(f"{root}.{p}.") for p in packages)


def upward_imports(graph: Graph) -> list[list[str]]:
    """Import chains from a core module to a module of :data:`UPPER` (direct or through other
    modules), one per (core module, upper module) pair, shortest first."""
    chains = []
    for start in sorted(m for m in graph if _under(m, CORE)):
        parent: dict[str, str | None] = {start: None}
        queue = [start]
        for node in queue:  # breadth first: the shortest chain to each module
            for target in sorted(graph.get(node, ())):
                if target not in parent:
                    parent[target] = node
                    queue.append(target)
        for target in sorted(t for t in parent if _under(t, UPPER)):
            chain = [target]
            while parent[chain[-1]] is not None:
                chain.append(parent[chain[-1]])
            chains.append(chain[::-1])
    return chains


# ---------------------------------------------------------------------- the checks can fail
def test_cycle_finder_on_small_graphs() -> None:
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": set()}
    assert find_cycles(planted) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    assert find_cycles({"a": {"a"}, "b": {"c"}, "c": {"b"}}) == [["a"], ["b", "c"]]


def test_upward_finder_on_a_small_graph() -> None:
    graph = {
        "elmokit.embedder": {"elmokit.layers", "elmokit.helper"},
        "elmokit.helper": {"elmokit.downstream.pooling"},
        "elmokit.layers": set(),
        "elmokit.downstream.pooling": {"elmokit.embedder"},
        "elmokit.server.app": {"elmokit.embedder"},
    }
    assert upward_imports(graph) == [
        ["elmokit.embedder", "elmokit.helper", "elmokit.downstream.pooling"]
    ]
    assert find_cycles(graph) == [
        ["elmokit.downstream.pooling", "elmokit.embedder", "elmokit.helper"]
    ]


def test_graph_reads_every_kind_of_import(tmp_path: Path) -> None:
    pkg = tmp_path / "elmokit"
    (pkg / "sub").mkdir(parents=True)
    for name in ("__init__", "b", "c", "d", "e", "sub/__init__", "sub/f"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import os, elmokit.b\n"
        "from elmokit import c, VERSION\n"
        "if TYPE_CHECKING:\n    from elmokit.e import E\n"
        "def later():\n    from .sub import f\n    from .d import thing\n"
    )
    (pkg / "sub" / "f.py").write_text("from .. import a\nfrom . import missing\n")
    graph = import_graph(pkg)
    assert graph["elmokit.a"] == {"elmokit", "elmokit.b", "elmokit.c", "elmokit.d", "elmokit.sub.f"}
    assert graph["elmokit.sub.f"] == {"elmokit.a", "elmokit.sub"}
    assert find_cycles(graph) == [["elmokit.a", "elmokit.sub.f"]]


# ---------------------------------------------------------------------- the package itself
def test_the_graph_covers_the_package() -> None:
    graph = import_graph(SRC)
    assert {
        "elmokit.embedder",
        "elmokit.layers",
        "elmokit.output",
        "elmokit.downstream.pooling",
        "elmokit.server.app",
    } <= set(graph)
    assert "elmokit.layers" in graph["elmokit.embedder"]  # imports are read at all


def test_no_import_cycles() -> None:
    cycles = find_cycles(import_graph(SRC))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_core_imports_nothing_above_it() -> None:
    chains = upward_imports(import_graph(SRC))
    assert not chains, "core modules importing upward:\n" + "\n".join(
        " -> ".join(chain) for chain in chains
    )
