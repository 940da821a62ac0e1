"""cm_lib's import graph (read with `ast`, nothing imported): no cycle among cm_lib modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cm_lib"


def module_name(path: Path) -> str:
    """cm_lib/corpus/build.py -> cm_lib.corpus.build; cm_lib/abc/__init__.py -> cm_lib.abc."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """cm_lib modules imported anywhere in a file (module level and inside functions), TYPE_CHECKING included."""
    current = module_name(path)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, current, path.name == "__init__.py")
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # `import cm_lib.abc.tune as t` -> cm_lib.abc.tune
                name = name.rpartition(".")[0]
            if name.startswith("cm_lib") and name != current:
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the cm_lib modules it imports. A package's __init__ is its own node."""
    files = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def _is_package_reexport(a: str, b: str) -> bool:
    """A package __init__ importing its own submodules (to re-export them) is not a design cycle."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def design_graph() -> dict[str, set[str]]:
    """The import graph without edges from a package's __init__ down into its own submodules.

    `import cm_lib.corpus.build` runs cm_lib/corpus/__init__.py first, which imports build again: that
    package-to-child edge is how Python packages re-export and closes no real loop, so it is left out.
    An import of the package from inside it (child -> its own __init__) stays an edge.
    """
    graph = import_graph()
    return {m: {d for d in deps if not (d.startswith(m + ".") and _is_package_reexport(m, d))}
            for m, deps in graph.items()}


def test_the_walker_sees_known_edges() -> None:
    graph = import_graph()
    assert "cm_lib.corpus.spec" in graph["cm_lib.corpus.build"]  # module level
    assert "cm_lib.corpus.card" in graph["cm_lib.corpus.build"]  # inside build_corpus
    assert "cm_lib.errors" in graph["cm_lib.cli"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_cm_lib() -> None:
    cycles = find_cycles(design_graph())
    assert cycles == [], "import cycles among cm_lib modules: " + "; ".join(" <-> ".join(c) for c in cycles)
