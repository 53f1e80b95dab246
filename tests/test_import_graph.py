"""The package's import graph has no cycles: every `import` / `from ... import` anywhere in a module (inside
functions too) counts as an edge, and Tarjan's algorithm finds the strongly connected components."""

from __future__ import annotations

import ast
from pathlib import Path

import eegviz

PKG = Path(eegviz.__file__).parent
KNOWN: tuple[str, ...] = ()  # no cycle is tolerated anywhere (app/session <-> app/window ended with SourceChoice)


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the eegviz modules it imports (a `from pkg import name` edge goes to pkg.name when that is a
    module, else to pkg)."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, f in mods.items():
        here = mod.split(".") if f.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            else:
                continue
            graph[mod].update(r for r in map(resolve, names) if r and r != mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_cycle_finder_finds_a_planted_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(g) == [["a", "b", "c"]]


def test_no_import_cycles():
    graph = import_graph()
    assert graph["eegviz.data.loaders"] >= {"eegviz.data.dataset", "eegviz.data.eeg_imagenet"}
    left = [c for c in cycles(graph) if not (KNOWN and all(m.startswith(KNOWN) for m in c))]
    assert not left, "import cycles: " + "; ".join(" <-> ".join(c) for c in left)


def test_no_two_folders_import_each_other():
    """One level up too: a folder of the package (data, eval, train, sources, stream, record, world, ...) that
    imports another which imports it back has no order a newcomer can read them in (eval <-> train,
    sources <-> stream and record <-> world were, until targets, sweep, JUMP_SAMPLES and the run report's
    synthetic ids found their places)."""
    def folder(mod: str) -> str:
        parts = mod.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    graph = {}
    for mod, deps in import_graph().items():
        graph.setdefault(folder(mod), set()).update(folder(d) for d in deps if folder(d) != folder(mod))
    both = sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in graph.get(b, ())})
    assert not both, "folders importing each other: " + "; ".join(" <-> ".join(p) for p in both)
