"""The import graph of `laptop_agents`, read from the source: no cycles in the checked parts.

Every ``import`` statement counts wherever it stands: at module level, inside a function, or
under ``if TYPE_CHECKING:`` (a cycle that only the type checker sees is still two modules that
cannot be understood one without the other). Only the statements themselves are edges: the
implicit import of a module's parent packages is left out, since a package whose ``__init__``
imports its own submodules would otherwise always read as a cycle.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

import laptop_agents

# Packages (and their subpackages) that must take part in no import cycle. Extend this list as
# more of the package is untangled; "laptop_agents" alone would check everything.
ACYCLIC_PREFIXES = ["laptop_agents"]

Graph = Mapping[str, frozenset[str]]


def module_files(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    modules: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((package, *parts))] = path
    return modules


def imported_modules(tree: ast.AST, module: str, is_package: bool,
                     known: Collection[str]) -> set[str]:
    """The ``known`` modules that ``tree`` (the source of ``module``) imports.

    ``from m import name`` imports the module m.name when there is one, else m itself.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # `from . import x` in a package's __init__ is relative to the package itself.
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known and name != module}


def import_graph(package_dir: Path, package: str) -> dict[str, frozenset[str]]:
    """Module -> the modules of the same package it imports."""
    files = module_files(package_dir, package)
    graph: dict[str, frozenset[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = frozenset(
            imported_modules(tree, module, path.name == "__init__.py", files))
    return graph


def shortest_cycle(graph: Graph, start: str) -> list[str] | None:
    """The shortest path start -> ... -> start (breadth first), or None."""
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph.get(node, ())):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return [*reversed(path), start]
            if target not in parents:
                parents[target] = node
                queue.append(target)
    return None


def cycles_through(graph: Graph, prefixes: Iterable[str]) -> list[list[str]]:
    """One shortest cycle for each checked module that lies on a cycle."""
    wanted = tuple(prefixes)
    found: list[list[str]] = []
    for module in sorted(graph):
        if any(module == p or module.startswith(p + ".") for p in wanted):
            cycle = shortest_cycle(graph, module)
            if cycle is not None:
                found.append(cycle)
    return found


PACKAGE_DIR = Path(laptop_agents.__file__).parent


def test_checked_packages_have_no_import_cycle() -> None:
    graph = import_graph(PACKAGE_DIR, "laptop_agents")
    cycles = cycles_through(graph, ACYCLIC_PREFIXES)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_graph_sees_every_kind_of_import() -> None:
    graph = import_graph(PACKAGE_DIR, "laptop_agents")
    assert set(ACYCLIC_PREFIXES) <= set(graph)
    # A module-level `from laptop_agents.sim import frames` is an edge to the module frames.
    assert "laptop_agents.sim.frames" in graph["laptop_agents.sim.rest"]
    assert "laptop_agents.sim" not in graph["laptop_agents.sim.rest"]
    # An import inside a function body (the CLI imports its subcommands lazily).
    assert "laptop_agents.sim.standalone" in graph["laptop_agents.cli"]


def test_cycle_finder_on_a_known_graph(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import a\n")
    (package / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.b import B\n")
    (package / "sub" / "b.py").write_text("def f():\n    from ..sub import a\n")
    (package / "c.py").write_text("import pkg.sub.b\nfrom pkg import sub\n")
    graph = import_graph(package, "pkg")
    assert graph["pkg.sub.a"] == {"pkg.sub.b"}  # under TYPE_CHECKING
    assert graph["pkg.sub.b"] == {"pkg.sub.a"}  # relative, inside a function
    assert graph["pkg.sub"] == {"pkg.sub.a"}
    assert graph["pkg.c"] == {"pkg.sub.b", "pkg.sub"}
    assert cycles_through(graph, ["pkg.sub"]) == [["pkg.sub.a", "pkg.sub.b", "pkg.sub.a"],
                                                  ["pkg.sub.b", "pkg.sub.a", "pkg.sub.b"]]
    assert cycles_through(graph, ["pkg.c"]) == []
