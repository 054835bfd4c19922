"""The import layers: kgsynth's folders read as the pipeline, and no module imports one that sits above it.

Every ``import`` in the package counts, those inside functions too (a lazy import is still a dependency).
A module belongs to the layer of the longest prefix in ``LAYERS`` that names it. It may import its own
layer and the ones below; and across all modules there is no import circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kgsynth"

# Bottom to top: the line load -> graph -> questions -> run -> teacher -> dataset -> eval, on the shared
# foundations and the models layer (which knows no graph or item), under the command line and configuration.
LAYERS: list[tuple[str, ...]] = [
    ("kgsynth.errors", "kgsynth.resources", "kgsynth.files"),
    ("kgsynth.loaders", "kgsynth.graph"),
    ("kgsynth.models",),
    ("kgsynth.questions",),
    ("kgsynth.run",),
    ("kgsynth.teacher",),
    ("kgsynth.dataset",),
    ("kgsynth.eval",),
    ("kgsynth.train", "kgsynth.pipeline", "kgsynth.config", "kgsynth.docs", "kgsynth.cli", "kgsynth.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(package.rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The kgsynth modules ``name`` imports (``from a import b`` counts as ``a.b`` when that is a module)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return {m for m in found if m.split(".")[0] == "kgsynth" and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: {m for m in imports(name, path, known) if m in known} for name, path in mods.items()}


def layer_of(module: str, layers: list[tuple[str, ...]] = LAYERS) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for i, prefixes in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), i)
    return None if best is None else best[1]


def upward_imports(deps: dict[str, set[str]], layers: list[tuple[str, ...]] = LAYERS) -> list[str]:
    found = []
    for module, targets in sorted(deps.items()):
        here = layer_of(module, layers)
        for target in sorted(targets):
            there = layer_of(target, layers)
            if here is not None and there is not None and there > here:
                found.append(f"{module} (layer {here}) imports {target} (layer {there})")
    return found


def circles(deps: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(deps):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    assert [m for m in modules() if m != "kgsynth" and layer_of(m) is None] == []


def test_no_import_runs_back_up_a_layer() -> None:
    assert upward_imports(graph()) == []


def test_no_import_circle() -> None:
    assert circles(graph()) == []


def test_the_core_never_imports_the_trainers() -> None:
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "kgsynth_trainers" for n in names), path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # a circle across two modules of one layer
        ({"kgsynth/questions/a.py": "from kgsynth.questions import b",
          "kgsynth/questions/b.py": "import kgsynth.questions.a"}, "circle"),
        # a lazy import from the run layer up into the dataset layer
        ({"kgsynth/run/x.py": "def f():\n    from kgsynth.dataset.y import z",
          "kgsynth/dataset/y.py": "z = 1"}, "upward"),
        # downward imports only: clean
        ({"kgsynth/dataset/y.py": "from kgsynth.run.x import f", "kgsynth/run/x.py": "def f(): pass"}, None),
    ],
)  # fmt: skip
def test_the_check_finds_what_it_forbids(tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    """The checks above run over a made-up package: a circle or an upward import makes them fail."""
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(text + "\n")
    (tmp_path / "kgsynth" / "__init__.py").touch()
    mods = {".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
            for p in (tmp_path / "kgsynth").rglob("*.py")}  # fmt: skip
    deps = {name: {m for m in imports(name, path, set(mods)) if m in mods} for name, path in mods.items()}
    found_circles, found_upward = circles(deps), upward_imports(deps)
    assert bool(found_circles) == (expected == "circle")
    assert bool(found_upward) == (expected == "upward")
