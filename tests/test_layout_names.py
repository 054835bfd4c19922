"""The run and export folders' file names have one home, `kgsynth.run.layout`: no other module spells them.

A string constant in code (docstrings aside) that equals one of the layout's file names is a second spelling
of it, which a rename would miss. The exceptions are files of another folder that happen to share a name.
"""

from __future__ import annotations

import ast
from pathlib import Path

from kgsynth.run import layout

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "kgsynth", ROOT / "trainers" / "kgsynth_trainers"]
LAYOUT = ROOT / "kgsynth" / "run" / "layout.py"
# (file, name): the same name, another folder's file
OTHER_FOLDERS = {
    ("kgsynth/models/transformers.py", layout.RUN_RECORD),  # a Hugging Face model folder's config.json
    ("trainers/kgsynth_trainers/model.py", layout.RUN_RECORD),
    ("trainers/kgsynth_trainers/grpo.py", layout.RUN_RECORD),
    ("kgsynth/eval/common.py", layout.SUMMARY),  # an evaluation folder's summary
    ("trainers/kgsynth_trainers/model.py", layout.RUN_CONFIG),  # a training run's resolved recipe
    ("kgsynth/graph/licences.py", layout.LICENCE),  # the licences' own link name, which the layout takes up
}


def layout_file_names() -> set[str]:
    names = {value for name, value in vars(layout).items() if name.isupper() and isinstance(value, str)}
    return {name for name in names if "." in name.lstrip(".")}


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def spellings() -> list[tuple[str, int, str]]:
    names = layout_file_names()
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            if path == LAYOUT:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = docstrings(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and node.value in names and id(node) not in skip:
                    found.append((str(path.relative_to(ROOT)), node.lineno, node.value))
    return found


def test_the_layout_names_real_files() -> None:
    assert {"config.json", "progress.json", "summary.json", "README.md", "results.jsonl"} <= layout_file_names()


def test_no_module_but_the_layout_spells_a_run_or_export_file_name() -> None:
    found = [(path, line, name) for path, line, name in spellings() if (path, name) not in OTHER_FOLDERS]
    assert found == [], "spell these through kgsynth.run.layout"
