"""The package's modules import one another in one direction: no import circle, even a deferred one.

Every import counts, wherever it is written: at the top of a module, inside a function (imported
late, to load the engine only when needed) or under ``TYPE_CHECKING`` (for annotations only). A
circle is a circle even when deferred: it means two modules cannot be understood, or changed,
one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import scslab

PACKAGE = Path(scslab.__file__).parent


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root`` by dotted name (a package by its own name)."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """For each module of the package at ``root``, the package's modules it imports anywhere in
    its text: module level, in functions, under ``TYPE_CHECKING``."""
    modules = module_names(root)

    def known(name: str) -> str | None:
        """The module ``name`` is, or is inside (``pkg.mod.Class``: ``pkg.mod``)."""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else known(base)
                    for a in node.names
                ]
            graph[name].update(t for t in targets if t is not None and t != name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: groups of two or more modules each reachable from every other
    (strongly connected components, Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_a_circle_hidden_in_a_function_or_under_type_checking_is_found(tmp_path: Path) -> None:
    """The check sees deferred imports: ``a`` imports ``b`` inside a function, ``b`` imports
    ``a`` for annotations only, and ``c`` (relatively) imports ``b`` without a way back."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("def f():\n    from pkg.sub import b\n    return b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.a import f\n"
    )
    (pkg / "c.py").write_text("from .sub.b import TYPE_CHECKING\n")
    graph = import_graph(pkg)
    assert graph["pkg.c"] == {"pkg.sub.b"}
    assert circles(graph) == [["pkg.sub.a", "pkg.sub.b"]]


def test_the_engine_and_the_store_are_in_no_import_circle() -> None:
    """No circle passes through a module of ``scslab.engine`` or ``scslab.store`` (the engine's
    checkpoints and shards, its simulation and the store's writer once made two)."""
    for group in circles(import_graph(PACKAGE)):
        inside = [m for m in group if m.startswith(("scslab.engine", "scslab.store"))]
        assert not inside, f"an import circle: {' -> '.join(group)}"


def test_the_engine_never_imports_the_store_or_the_runs_that_drive_it() -> None:
    """Data moves from the engine to the store: the engine hands back a record and
    :mod:`scslab.runs` gives it to the store's writer; nothing in the engine imports either."""
    graph = import_graph(PACKAGE)
    for name, imports in graph.items():
        if name.startswith("scslab.engine"):
            up = sorted(m for m in imports if m.startswith(("scslab.store", "scslab.runs")))
            assert not up, f"{name} imports {up}"
        if name.startswith("scslab.store"):
            assert "scslab.runs" not in imports, f"{name} imports scslab.runs"
