"""cm_lib's import graph (read with `ast`, nothing imported): no cycle among cm_lib modules, and every import
runs down the layer matrix (LAYERS; docs/ARCHITECTURE.md explains it): module level, inside functions and under
TYPE_CHECKING alike."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cm_lib"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """cm_lib/corpus/build.py -> cm_lib.corpus.build; cm_lib/abc/__init__.py -> cm_lib.abc."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(path: Path, modules: set[str], package: Path = PACKAGE) -> set[str]:
    """cm_lib modules imported anywhere in a file (module level and inside functions), TYPE_CHECKING included."""
    current = module_name(path, package)
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


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the cm_lib modules it imports. A package's __init__ is its own node."""
    files = sorted(package.rglob("*.py"))
    modules = {module_name(p, package) for p in files}
    return {module_name(p, package): imports_of(p, modules, package) for p in files}


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


def design_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """The import graph without edges from a package's __init__ down into its own submodules.

    `import cm_lib.corpus.build` runs cm_lib/corpus/__init__.py first, which imports build again: that
    package-to-child edge is how Python packages re-export and closes no real loop, so it is left out.
    An import of the package from inside it (child -> its own __init__) stays an edge.
    """
    graph = import_graph(package)
    return {m: {d for d in deps if not (d.startswith(m + ".") and _is_package_reexport(m, d))}
            for m, deps in graph.items()}


# The layer matrix: a unit (a top-level module such as cm_lib.errors, or a package such as cm_lib.abc with all its
# submodules) may import its own unit and units of lower layers only. docs/ARCHITECTURE.md gives the reasons.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cm_lib", "errors"),  # 0: the package root (its version) and the error types everything raises
    ("config", "paths", "stats", "hub", "device", "measured"),  # 1: environment, where files live, statistics, hub
    #   access, hardware, measured figures (cm_lib/data/measured/*.json)
    ("abc", "theory_questions", "chat", "headlines"),  # 2: ABC notation, music-theory facts, the chat format, each
    #   stage's headline numbers (from runs/summary/*.json, for runs/summary.md)
    ("render", "corpus", "models"),  # 3: what reads ABC: engraving/audio, the corpus, model presets and loading
    ("plan", "tokenstats", "planner"),  # 4: a request's plan (and the reader's answers), token counts, memory estimates
    ("metrics", "train"),  # 5: measuring tunes (and how a tune obeys its plan: metrics.request), training
    ("generate", "bench", "mmlu"),  # 6: sampling (a plan's grammar), MusicTheoryBench, MMLU
    ("evaluate",),  # 7: numbers for the notebooks from sampling, metrics and training
    ("course", "widgets", "exercises"),  # 8: the course's plan and runs, notebook widgets, exercise checks
    ("grading",),  # 9: grading students' notebooks (reads the exercises' verdict log)
    ("grade",),  # 10: `cm_lib.grade`, the grading entry point
    ("cli",),  # 11: the command line over every stage
    ("__main__",),  # 12: `python -m cm_lib`
)

# Imports between two units of one layer that the design needs.
SAME_LAYER: dict[tuple[str, str], str] = {}

# Imports that break the matrix in files another change owns; each is removed when that change lands.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def unit_of(module: str) -> str:
    """cm_lib.corpus.build -> cm_lib.corpus; cm_lib.errors -> cm_lib.errors; cm_lib -> cm_lib."""
    return ".".join(module.split(".")[:2])


def layer_of() -> dict[str, int]:
    """Unit (cm_lib.abc, cm_lib.errors, ...) -> its layer in LAYERS."""
    return {("cm_lib" if name == "cm_lib" else f"cm_lib.{name}"): i for i, names in enumerate(LAYERS) for name in names}


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that is not down the matrix (nor in SAME_LAYER or KNOWN_VIOLATIONS), and every unit without a layer."""
    layers = layer_of()
    out = []
    for module in sorted(graph):
        unit = unit_of(module)
        if unit not in layers:
            out.append(f"{module}: its unit {unit} has no layer in LAYERS")
            continue
        for dep in sorted(graph[module]):
            target = unit_of(dep)
            if target == unit or (module, target) in KNOWN_VIOLATIONS or (unit, target) in SAME_LAYER:
                continue
            if target not in layers:
                out.append(f"{module} imports {dep}: its unit {target} has no layer in LAYERS")
            elif layers[target] >= layers[unit]:
                way = "sideways" if layers[target] == layers[unit] else "upwards"
                out.append(f"{module} (layer {layers[unit]}) imports {dep} (layer {layers[target]}): {way}")
    return out


def test_the_walker_sees_known_edges() -> None:
    graph = import_graph()
    assert "cm_lib.corpus.spec" in graph["cm_lib.corpus.build"]  # module level
    assert "cm_lib.corpus.card" in graph["cm_lib.corpus.build"]  # inside build_corpus
    assert "cm_lib.errors" in graph["cm_lib.cli"]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_cm_lib() -> None:
    cycles = find_cycles(design_graph())
    assert cycles == [], "import cycles among cm_lib modules: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_every_import_runs_down_the_layer_matrix() -> None:
    bad = layer_violations(import_graph())
    assert bad == [], "imports against the layer matrix:\n" + "\n".join(bad)


def test_known_violations_are_still_real() -> None:
    """An entry of KNOWN_VIOLATIONS whose import is gone must be deleted, so the list cannot go stale."""
    graph = import_graph()
    gone = [edge for edge in KNOWN_VIOLATIONS if not any(unit_of(d) == edge[1] for d in graph.get(edge[0], ()))]
    assert gone == [], f"KNOWN_VIOLATIONS lists imports that no longer exist: {gone}"


def test_the_matrix_fails_on_a_planted_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "cm_lib"
    files = {
        "__init__.py": "",
        "errors.py": "class CourseError(Exception):\n    pass\n",
        "abc/__init__.py": "from cm_lib.abc.walk import walk\n",
        "abc/walk.py": "from cm_lib.errors import CourseError\n\ndef walk():\n    return CourseError\n",
        "corpus/__init__.py": "from cm_lib import abc\n",
        "cli/__init__.py": "import cm_lib.corpus\n",
    }
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    assert layer_violations(import_graph(pkg)) == []  # down the matrix, own package, and `from cm_lib import abc`
    # a function-local import from abc (layer 2) up to corpus (layer 3)
    (pkg / "abc" / "walk.py").write_text(files["abc/walk.py"] + "\ndef up():\n    from cm_lib.corpus import abc\n")
    assert layer_violations(import_graph(pkg)) == [
        "cm_lib.abc.walk (layer 2) imports cm_lib.corpus (layer 3): upwards"]
    # a TYPE_CHECKING import from errors (layer 0) up to the CLI, and a unit with no layer
    (pkg / "errors.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cm_lib.cli import x\n")
    (pkg / "newstage.py").write_text("")
    assert layer_violations(import_graph(pkg)) == [
        "cm_lib.abc.walk (layer 2) imports cm_lib.corpus (layer 3): upwards",
        "cm_lib.errors (layer 0) imports cm_lib.cli (layer 11): upwards",
        "cm_lib.newstage: its unit cm_lib.newstage has no layer in LAYERS"]
    # a sideways import between two units of one layer
    (pkg / "corpus" / "__init__.py").write_text("from cm_lib import abc\nfrom cm_lib import render\n")
    (pkg / "render.py").write_text("")
    assert "cm_lib.corpus (layer 3) imports cm_lib.render (layer 3): sideways" in layer_violations(import_graph(pkg))


# One concern per module, at most MAX_MODULE_LINES lines (docs/CONVENTIONS.md), unless it is one state machine: these
# are kept whole, each with the reason. A module that shrinks under the limit must leave the list.
MAX_MODULE_LINES = 400
STATE_MACHINES: dict[str, str] = {
    "abc/check.py": "the checker: one pass over the walker's events, a handler per event kind sharing the pass's state",
    "abc/walk.py": "the walker: one dispatch over the lexer's tokens with each voice's meter, unit, key and accidentals,"
                   " and the event types it yields",
}


def module_lines(package: Path = PACKAGE) -> dict[str, int]:
    """Lines of every cm_lib module, by its path inside the package (abc/check.py)."""
    return {p.relative_to(package).as_posix(): len(p.read_text().splitlines()) for p in sorted(package.rglob("*.py"))}


def test_no_module_over_the_limit_unless_one_state_machine() -> None:
    lines = module_lines()
    long = {name: n for name, n in lines.items() if n > MAX_MODULE_LINES and name not in STATE_MACHINES}
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: split them by concern: {long}"
    stale = [name for name in STATE_MACHINES if lines.get(name, 0) <= MAX_MODULE_LINES]
    assert stale == [], f"STATE_MACHINES lists modules that are gone or within {MAX_MODULE_LINES} lines: {stale}"


def test_the_size_check_fails_on_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "check.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "long.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    (tmp_path / "short.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    lines = module_lines(tmp_path)
    assert {n for n, k in lines.items() if k > MAX_MODULE_LINES and n not in STATE_MACHINES} == {"long.py"}


# Modules that load nothing heavy: imported at module level, never inside a function (docs/CONVENTIONS.md).
LIGHT_MODULES = ("cm_lib.errors", "cm_lib.paths", "cm_lib.config", "cm_lib.stats")


def local_light_imports(package: Path = PACKAGE) -> list[str]:
    """'file:line module' for every import of a LIGHT_MODULES module inside a function."""
    out = []
    for path in sorted(package.rglob("*.py")):
        for func in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                out += [f"{path.relative_to(package)}:{node.lineno} {n}" for n in names if n in LIGHT_MODULES]
    return sorted(set(out))


def test_light_modules_are_imported_at_module_level(tmp_path: Path) -> None:
    assert local_light_imports() == []
    (tmp_path / "m.py").write_text("from cm_lib.paths import runs_dir\n\ndef f():\n    from cm_lib.errors import UsageError\n")
    assert local_light_imports(tmp_path) == ["m.py:4 cm_lib.errors"]
