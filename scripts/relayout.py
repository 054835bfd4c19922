"""Move kgsynth's flat modules into the subpackages that read as the pipeline, and fix every reference.

    python scripts/relayout.py            # move and rewrite (run from anywhere inside the checkout)
    python scripts/relayout.py --check    # exit 1 if anything is still at an old path or spelled the old way

``MOVES`` is the one table of the layout: old dotted module -> new dotted module. The script is idempotent:
it ``git mv``s each file (or package folder) that still sits at its old path, skips the ones already moved
or absent, creates each new
package's ``__init__.py``, then rewrites, in every tracked text file, the old names: dotted module paths
(imports, ``mock.patch`` targets, logger names, entry points, ``kgsynth.x.y`` in prose), ``from kgsynth
import x`` lines, and file paths (``kgsynth/x.py``). A name already in the new layout is left alone, so a
second run, or a run over a tree that merged branches written against the old layout, only fixes what is
still old. Last it sorts the imports it touched (``ruff check --select I --fix`` and ``ruff format``).

New code should not name the ``kgsynth.dataset`` package bare: on the old layout that name was the row
module (now ``kgsynth.dataset.rows``), and the script reads it so.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

# old module -> new module; a package (store) moves with everything under it.
MOVES: dict[str, str] = {
    # graph/: the graph's model, index, schema, stores, and how sources are assembled into one
    "kgsynth.model": "kgsynth.graph.model",
    "kgsynth.index": "kgsynth.graph.index",
    "kgsynth.schema": "kgsynth.graph.schema",
    "kgsynth.assemble": "kgsynth.graph.assemble",
    "kgsynth.damage": "kgsynth.graph.damage",
    "kgsynth.graphs": "kgsynth.graph.open",
    "kgsynth.stats": "kgsynth.graph.stats",
    "kgsynth.licences": "kgsynth.graph.licences",
    "kgsynth.store": "kgsynth.graph.store",
    # questions/: from a sampled path to a proven item
    "kgsynth.item": "kgsynth.questions.item",
    "kgsynth.genconfig": "kgsynth.questions.genconfig",
    "kgsynth.sample": "kgsynth.questions.sample",
    "kgsynth.verify": "kgsynth.questions.verify",
    "kgsynth.frequency": "kgsynth.questions.frequency",
    "kgsynth.phenomatch": "kgsynth.questions.phenomatch",
    "kgsynth.curation": "kgsynth.questions.curation",
    "kgsynth.leaks": "kgsynth.questions.leaks",
    "kgsynth.hidden": "kgsynth.questions.hidden",
    "kgsynth.openworld": "kgsynth.questions.openworld",
    "kgsynth.wording": "kgsynth.questions.wording",
    "kgsynth.draft": "kgsynth.questions.draft",
    "kgsynth.starts": "kgsynth.questions.starts",
    "kgsynth.chain": "kgsynth.questions.chain",
    "kgsynth.vignette": "kgsynth.questions.vignette",
    "kgsynth.distractors": "kgsynth.questions.distractors",
    "kgsynth.association": "kgsynth.questions.association",
    "kgsynth.areas": "kgsynth.questions.areas",
    "kgsynth.openbook": "kgsynth.questions.openbook",
    "kgsynth.walk": "kgsynth.questions.walk",
    "kgsynth.itemize": "kgsynth.questions.itemize",
    "kgsynth.question": "kgsynth.questions.question",
    "kgsynth.answers": "kgsynth.questions.answers",
    "kgsynth.faithfulness": "kgsynth.questions.faithfulness",
    # run/: a generate run's folder (the journal), the generator, its audit, its card, the focus file
    "kgsynth.rundir": "kgsynth.run.journal",
    "kgsynth.generate": "kgsynth.run.generate",
    "kgsynth.audit": "kgsynth.run.audit",
    "kgsynth.card": "kgsynth.run.card",
    "kgsynth.focus": "kgsynth.run.focus",
    # models/: one way of asking a model (teacher, judge, evaluation and the trainers' mining use it)
    "kgsynth.teacher.base": "kgsynth.models.base",
    "kgsynth.teacher.cache": "kgsynth.models.cache",
    "kgsynth.teacher.client": "kgsynth.models.openai",
    "kgsynth.teacher.local": "kgsynth.models.transformers",
    "kgsynth.teacher.vllm_backend": "kgsynth.models.vllm",
    # teacher/: model-backed steps over a run's items
    "kgsynth.judge": "kgsynth.teacher.judge",
    # dataset/: the rows, and the export that writes them (dedup, decontamination, split), the Hub
    "kgsynth.dataset": "kgsynth.dataset.rows",
    "kgsynth.rewards": "kgsynth.dataset.rewards",
    "kgsynth.text": "kgsynth.dataset.text",
    "kgsynth.dedup": "kgsynth.dataset.dedup",
    "kgsynth.benchmark_files": "kgsynth.dataset.benchmark_files",
    "kgsynth.decontam": "kgsynth.dataset.decontam",
    "kgsynth.split": "kgsynth.dataset.split",
    "kgsynth.export": "kgsynth.dataset.export",
    "kgsynth.hub": "kgsynth.dataset.hub",
    # eval/: question sets, the models asked, scoring
    "kgsynth.benchmarks": "kgsynth.eval.benchmarks",
    "kgsynth.evaluate": "kgsynth.eval.evaluate",
    "kgsynth.eval_backends": "kgsynth.eval.backends",
    "kgsynth.loglik": "kgsynth.eval.loglik",
    "kgsynth.paired": "kgsynth.eval.paired",
}

# Names that changed with the layout (a private name outside modules used, the models layer's): old -> new.
RENAMED = {
    r"\._adj\(": ".adjacency(",
    # the models layer's names: a request and its errors belong to every model, not to the teacher
    r"\bTeacherRequest\b": "ChatRequest",
    r"\bTeacherSetupError\b": "ModelSetupError",
    r"\bTeacherError\b": "ModelError",
    r"\bOpenAITeacher\b": "OpenAIChat",
    r"\bLocalTeacher\b": "TransformersChat",
    r"\bVLLMTeacher\b": "VLLMChat",
    r"\bmake_teacher\b": "make_model",
    r"\bcheck_teacher\b": "check_model",
    r"(?m)^from kgsynth\.teacher\.run import (make_model|check_model)$": r"from kgsynth.models.config import \1",
    # the run policy the judge borrowed from the teacher is the models layer's
    r"(?m)^from kgsynth\.teacher\.run import (request_seed|RunBudget|for_each_concurrently|TRANSIENT_REASONS)$": (
        r"from kgsynth.models.budget import \1"
    ),
}

# Names that left a module for another (a split, not a move): module -> (new module, the names it took).
MOVED_NAMES: dict[str, tuple[str, frozenset[str]]] = {
    # the student's prompt sits beside the item, where the dataset rows, evaluation and the teacher read it
    "kgsynth.teacher.prompts": (
        "kgsynth.questions.prompt",
        frozenset({"student_messages", "prompt_hash", "evidence_lines", "evidence_line", "speak_predicate",
                   "environment", "FactsWording", "STUDENT_TEMPLATE"}),
    ),
}  # fmt: skip

PACKAGE_DOCS = {
    "kgsynth.models": "One way of asking a model: messages, requests, the backends, the request cache, the budget.",
    "kgsynth.graph": "The graph: its canonical model, the per-predicate index, schemas, stores, and assembly.",
    "kgsynth.questions": "Question making: starts, walks, drafts, distractors, the open world, wording, items.",
    "kgsynth.run": "A generate run: its folder (the journal), the generator, the audit, the card, the focus file.",
    "kgsynth.dataset": "Datasets: the row views of an item, and the export (dedup, decontamination, split, Hub).",
    "kgsynth.eval": "Evaluation: question sets, the models asked, scoring as the rewards do, paired comparisons.",
}

TEXT_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".txt", ".j2", ".sh", ".json"}
TEXT_NAMES = {"Makefile"}
# Written in the new layout by definition (and naming the kgsynth.dataset package bare): never rewritten.
SKIP = {Path("scripts/relayout.py"), Path("tests/test_layers.py")}

DOTTED = re.compile(r"(?<![\w.])kgsynth(?:\.[A-Za-z_]\w*)+")
FILE_PATH = re.compile(r"(?<![\w.])kgsynth/[\w/]*\w(?:\.py)?/?")
FROM_KGSYNTH = re.compile(r"^(?P<indent>[ \t]*)from kgsynth import (?P<names>[\w ,]+?)[ \t]*$", re.MULTILINE)
NEW_NAMES = set(MOVES.values())


def is_new(dotted: str) -> bool:
    return any(dotted == new or dotted.startswith(new + ".") for new in NEW_NAMES)


def remap(dotted: str) -> str:
    """``dotted`` in the new layout (unchanged if it is new already or never moved)."""
    if is_new(dotted):
        return dotted
    old = max((k for k in MOVES if dotted == k or dotted.startswith(k + ".")), key=len, default=None)
    return dotted if old is None else MOVES[old] + dotted[len(old) :]


def remap_path(match: re.Match[str]) -> str:
    text = match.group(0)
    trailing = "/" if text.endswith("/") else ""
    body = text.rstrip("/")
    if body.endswith(".py"):
        return remap(body[:-3].replace("/", ".")).replace(".", "/") + ".py" + trailing
    dotted = body.replace("/", ".")
    # a folder: only an old package (store) moves; kgsynth/dataset/ is the new package, not the old module
    old = max(
        (k for k in MOVES if (dotted == k or dotted.startswith(k + ".")) and is_package(k)), key=len, default=None
    )
    if old is None or is_new(dotted):
        return text
    return (MOVES[old] + dotted[len(old) :]).replace(".", "/") + trailing


def is_package(module: str) -> bool:
    return module == "kgsynth.store"


def remap_from_import(match: re.Match[str]) -> str:
    indent, names = match.group("indent"), match.group("names")
    by_parent: dict[str, list[str]] = {}
    for part in (p.strip() for p in names.split(",")):
        if not part:
            continue
        name = part.split()[0]
        new = remap(f"kgsynth.{name}")
        parent, _, leaf = new.rpartition(".")
        by_parent.setdefault(parent, []).append(leaf + part[len(name) :])
    return "\n".join(f"{indent}from {parent} import {', '.join(leaves)}" for parent, leaves in by_parent.items())


def split_moved_names(text: str) -> str:
    """``from M import a, b`` where `MOVED_NAMES` says some of the names left M: one import per module."""
    for module, (new_module, names) in MOVED_NAMES.items():
        pattern = re.compile(
            rf"^(?P<indent>[ \t]*)from {re.escape(module)} import (?:\((?P<many>[^)]*)\)|(?P<one>[^\n(]+))$",
            re.MULTILINE,
        )

        def split(match: re.Match[str], module: str = module, new_module: str = new_module,
                  names: frozenset[str] = names) -> str:  # fmt: skip
            listed = [n.strip() for n in (match.group("many") or match.group("one")).replace("\n", " ").split(",")]
            listed = [n for n in listed if n and not n.startswith("#")]
            moved = [n for n in listed if n.split()[0] in names]
            if not moved:
                return match.group(0)
            kept = [n for n in listed if n not in moved]
            indent = match.group("indent")
            lines = [f"{indent}from {module} import {', '.join(kept)}"] if kept else []
            return "\n".join([*lines, f"{indent}from {new_module} import {', '.join(moved)}"])

        text = pattern.sub(split, text)
    return text


def rewrite(text: str) -> str:
    text = FROM_KGSYNTH.sub(remap_from_import, text)
    text = split_moved_names(text)
    text = DOTTED.sub(lambda m: remap(m.group(0)), text)
    text = FILE_PATH.sub(remap_path, text)
    for pattern, new in RENAMED.items():
        text = re.sub(pattern, new, text)
    return text


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def move_files(root: Path, *, dry_run: bool) -> list[str]:
    moved = []
    for old, new in MOVES.items():
        src = root / Path(*old.split("."))
        src = src if is_package(old) else src.with_suffix(".py")
        dst = root / Path(*new.split("."))
        dst = dst if is_package(old) else dst.with_suffix(".py")
        if not src.exists():
            continue
        if dst.exists():
            sys.exit(f"relayout: both {src.relative_to(root)} and {dst.relative_to(root)} exist; merge them by hand")
        moved.append(f"{src.relative_to(root)} -> {dst.relative_to(root)}")
        if dry_run:
            continue
        ensure_package(root, new.rpartition(".")[0])
        git(root, "mv", str(src.relative_to(root)), str(dst.relative_to(root)))
    return moved


def ensure_package(root: Path, package: str) -> None:
    folder = root / Path(*package.split("."))
    folder.mkdir(parents=True, exist_ok=True)
    init = folder / "__init__.py"
    if not init.exists():
        init.write_text(f'"""{PACKAGE_DOCS.get(package, package)}"""\n')
        git(root, "add", str(init.relative_to(root)))


def text_files(root: Path) -> list[Path]:
    files = []
    for name in git(root, "ls-files", "-co", "--exclude-standard").splitlines():
        path = Path(name)
        if path in SKIP or not (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            continue
        if (root / path).is_file():
            files.append(root / path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is still old")
    args = parser.parse_args()
    root = Path(git(Path.cwd(), "rev-parse", "--show-toplevel").strip())
    moved = move_files(root, dry_run=args.check)
    changed = []
    for path in text_files(root):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite(text)
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for line in moved:
        print(("would move " if args.check else "moved ") + line)
    for path in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(path.relative_to(root)))
    if args.check:
        sys.exit(1 if moved or changed else 0)
    python_files = [str(p) for p in changed if p.suffix == ".py"]
    candidates = [shutil.which("ruff"), root / ".venv" / "bin" / "ruff", Path(sys.executable).parent / "ruff"]
    ruff = next((str(c) for c in candidates if c is not None and Path(c).exists()), "")
    if python_files and ruff:
        subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *python_files], cwd=root, check=False)
        subprocess.run([ruff, "format", "--quiet", *python_files], cwd=root, check=False)
    elif python_files:
        print("relayout: ruff not found; sort the imports of the rewritten files with `ruff check --select I --fix`")
    print(f"relayout: {len(moved)} moved, {len(changed)} files rewritten")


if __name__ == "__main__":
    main()
