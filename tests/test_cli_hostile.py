"""Every command meets hostile input as `load` and `generate` do: one `error:` line naming the file or option,
a hint, exit code 2, no traceback, and no user file changed. The real CLI runs (typer's runner, in process;
a subprocess where a library reads the environment at import), on a real run and export of the default KG.
`push`'s unreachable and offline Hub are in tests/test_hub.py, beside the loopback Hub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.export import export_run
from kgsynth.genconfig import GenerateConfig
from kgsynth.generate import generate
from kgsynth.model import Graph

BINARY = bytes(range(256)) * 8  # not UTF-8, not JSON, not parquet, not GGUF


@pytest.fixture(scope="module")
def run_and_export(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hostile")
    run = root / "run"
    generate(real_graph, GenerateConfig(n=40, hops=2, seed=11), run, compare_uniform=False)
    export_run(run, root / "export")
    return run, root / "export"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile files: binary ones under text names, pass-rate rows that lie, a model that is not one."""
    root = tmp_path_factory.mktemp("inputs")
    for name in ("binary.jsonl", "binary.csv", "binary.parquet", "binary.yaml", "binary.json"):
        (root / name).write_bytes(BINARY)
    rows = {
        "k_word.jsonl": {"k": "four", "successes": 1},
        "k_negative.jsonl": {"k": -4, "successes": 1},
        "k_zero.jsonl": {"k": 0, "successes": 0},
        "too_many.jsonl": {"k": 4, "successes": 5},
        "negative_successes.jsonl": {"k": 4, "successes": -1},
        "rarity.jsonl": {"k": 4, "successes": 1, "rarity": 7.5},
        "k_float.jsonl": {"k": 4.5, "successes": 1},
        "k_bool.jsonl": {"k": True, "successes": 0},
        "no_k.jsonl": {"successes": 1},
    }
    for name, row in rows.items():
        (root / name).write_text(json.dumps(row) + "\n")
    (root / "list.jsonl").write_text("[1, 2]\n")
    (root / "empty.jsonl").write_text("")
    (root / "blank.jsonl").write_text("\n\n")
    (root / "good.jsonl").write_text(json.dumps({"k": 4, "successes": 1, "type": "chain"}) + "\n")
    (root / "model.txt").write_text("not a model\n")
    (root / "empty-model").mkdir()
    (root / "a-folder").mkdir()
    (root / "a-file").write_text("notes\n")
    (root / "questions.jsonl").write_text(
        json.dumps({"question": "Which gene?", "options": {"A": "CFTR", "B": "BRCA1"}, "answer_idx": "A"}) + "\n"
    )
    return root


def snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file under ``roots`` (or the file itself), by path: what must not change."""
    files: dict[str, bytes] = {}
    for root in roots:
        if root.is_file():
            files[str(root)] = root.read_bytes()
        elif root.is_dir():
            files.update({str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()})
    return files


def refused(args: list[str], message: str, *watched: Path, env: dict[str, str] | None = None) -> str:
    """Run ``kgsynth ARGS``; assert exit 2, one `error:` line holding ``message``, a hint, no traceback, and
    ``watched`` unchanged; return stderr."""
    before = snapshot(*watched)
    result = CliRunner().invoke(app, args, env=env)
    said = f"{args}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexception: {result.exception!r}"
    assert result.exit_code == 2, said
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], said
    assert any(line.startswith("hint:") for line in result.stderr.splitlines()), said
    assert "Traceback" not in result.stdout + result.stderr, said
    assert snapshot(*watched) == before, f"a user file changed: {args}"
    return result.stderr


def test_export_hostile_inputs(run_and_export: tuple[Path, Path], inputs: Path, tmp_path: Path) -> None:
    run, export = run_and_export
    watched = (run, export, inputs)
    out = str(tmp_path / "new")
    cases = [
        (["--out", str(inputs / "a-file")], "not a folder"),
        (["--out", str(inputs / "a-file" / "under")], "a-file is a file"),
        (["--out", out, "--benchmark", str(inputs / "binary.jsonl")], "binary.jsonl: not UTF-8 text"),
        (["--out", out, "--benchmark", str(inputs / "binary.csv")], "binary.csv: not UTF-8 text"),
        (["--out", out, "--benchmark", str(inputs / "binary.json")], "binary.json: not UTF-8 text"),
        (["--out", out, "--benchmark", str(inputs / "binary.parquet")], "binary.parquet: not a readable parquet"),
        (["--out", out, "--benchmark", str(inputs / "a-folder")], "a-folder: a folder"),
        (["--out", out, "--benchmark", str(inputs / "nowhere.jsonl")], "not a file that exists"),
        (["--out", out, "--config", str(inputs / "binary.yaml")], "binary.yaml"),
        (["--out", out, "--validation-size", "2"], "validation_size"),
        (["--out", out, "--split-by", "nonsense"], "unknown split_by 'nonsense'"),
    ]
    for args, message in cases:
        refused(["export", str(run), *args], message, *watched)
    refused(["export", str(inputs / "a-file"), "--out", out], "is not a folder", *watched)
    assert not (tmp_path / "new").exists()


def test_eval_hostile_inputs(run_and_export: tuple[Path, Path], inputs: Path, tmp_path: Path) -> None:
    run, export = run_and_export
    watched = (run, export, inputs)
    good = ["--benchmark", str(inputs / "questions.jsonl"), "--out", str(tmp_path / "eval")]
    model = ["--model", str(inputs / "empty-model")]
    cases = [
        (["--model", str(inputs / "model.txt"), *good], "model.txt: a file that is not a GGUF model"),
        (["--model", str(inputs / "empty-model"), *good], "a folder without a transformers config.json"),
        (["--model", str(inputs / "nowhere"), *good], "nowhere: does not exist"),
        ([*model, *good, "--limit", "0"], "--limit: Input should be greater than or equal to 1, found 0"),
        ([*model, *good, "--max-new-tokens", "0"], "--max-new-tokens"),
        ([*model, *good, "--batch-size", "-2"], "--batch-size"),
        ([*model, *good, "--threads", "-1"], "--threads"),
        ([*model, *good, "--backend", "tpu"], "--backend"),
        ([*model, *good, "--field", "garbage"], "--field 'garbage'"),
        ([*model, "--benchmark", str(inputs / "binary.jsonl"), "--out", str(tmp_path / "e")], "not UTF-8 text"),
        ([*model, "--benchmark", str(inputs / "binary.csv"), "--out", str(tmp_path / "e")], "not UTF-8 text"),
        ([*model, "--benchmark", str(inputs / "binary.parquet"), "--out", str(tmp_path / "e")], "not a readable"),
        ([*model, "--benchmark", str(inputs / "a-folder"), "--out", str(tmp_path / "e")], "neither a kgsynth"),
        ([*model, "--benchmark", "nosuch", "--out", str(tmp_path / "e")], "neither a shared benchmark"),
        ([*model, "--benchmark", str(inputs / "questions.jsonl"), "--out", str(inputs / "a-file")], "not a folder"),
    ]
    for args, message in cases:
        stderr = refused(["eval", *args], message, *watched)
        assert "pydantic" not in stderr and "validation error" not in stderr  # no pydantic dump
    assert not (tmp_path / "eval").exists() and not (tmp_path / "e").exists()


def test_focus_hostile_inputs(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "focus.json"
    out.write_text('{"kept": "a focus file written before"}\n')
    cases = {
        "binary.jsonl": "expected UTF-8 text",
        "k_word.jsonl": "k: Input should be a valid integer, found 'four'",
        "k_negative.jsonl": "k: Input should be greater than 0, found -4",
        "k_zero.jsonl": "k: Input should be greater than 0, found 0",
        "too_many.jsonl": "successes (5) exceeds k (4)",
        "negative_successes.jsonl": "successes: Input should be greater than or equal to 0",
        "rarity.jsonl": "rarity: Input should be less than or equal to 1",
        "k_float.jsonl": "k: Input should be a valid integer",
        "k_bool.jsonl": "k: Input should be a valid integer",
        "no_k.jsonl": "k: Field required",
        "list.jsonl": "a JSON object with k and successes",
        "empty.jsonl": "found none (an empty file)",
        "blank.jsonl": "found none (an empty file)",
        "nowhere.jsonl": "expected a passrates.jsonl file",
        "a-folder": "expected a passrates.jsonl file",
    }
    for name, message in cases.items():
        refused(["focus", str(inputs / name), "--out", str(out)], message, inputs, out)
    good = str(inputs / "good.jsonl")
    refused(["focus", good, "--out", str(out), "--prior-items", "-1"], "--prior-items: Input should be greater", out)
    refused(["focus", good, "--out", str(inputs / "a-folder")], "is a folder", inputs, out)
    # the good file works, and the failure rate it reports is a rate
    result = CliRunner().invoke(app, ["focus", good, "--out", str(tmp_path / "ok.json")])
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "ok.json").read_text())["overall_failure_rate"] == 0.75


def test_train_and_audit_hostile_inputs(run_and_export: tuple[Path, Path], inputs: Path) -> None:
    run, export = run_and_export
    watched = (run, export, inputs)
    recipe = str(Path(__file__).resolve().parents[1] / "trainers/recipes/smollm2-135m/sft_lora.yaml")
    cases = [
        (["train", "sft", "--config", str(inputs / "binary.yaml")], "binary.yaml: not UTF-8 text"),
        (["train", "sft", "--config", str(inputs / "nowhere.yaml")], "nowhere.yaml does not exist"),
        (["train", "nosuch", "--config", recipe], "unknown trainer 'nosuch'"),
        (["train", "sft", "--config", recipe, "noequals"], "override 'noequals' is not key=value"),
        (["train", "sft", "--config", recipe, "learning_rate=abc"], "sft_lora.yaml: 1 problem"),
        (["train", "sft", "--config", str(inputs / "a-folder")], "a-folder is a folder, not a YAML file"),
        (
            ["train", "sft", "--config", recipe, f"dataset={inputs / 'a-file'}", f"output_dir={inputs / 'out'}"],
            "a-file is a file, not a folder",
        ),
        (["audit", str(inputs / "a-file")], "holds no generated run"),
        (["audit", str(inputs / "a-folder"), "--no-graph"], "holds no generated run"),
        (["audit", str(run), "--fail-on", "garbage"], "--fail-on 'garbage'"),
    ]
    for args, message in cases:
        refused(args, message, *watched)


def test_generate_refuses_a_local_teacher_without_a_model_before_any_work(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {"KGSYNTH_CACHE_DIR": str(tmp_path / "cache")}
    base = ["generate", "--n", "5", "--hops", "2", "--out", str(out), "--teacher", "local"]
    refused(base, "the local teacher needs a model", inputs, env=env)
    refused([*base, "--teacher-model-path", str(inputs / "model.txt")], "model.txt: a file that is not a GGUF",
            inputs, env=env)  # fmt: skip
    refused([*base, "--teacher-model-path", str(inputs / "empty-model")], "without a transformers config.json",
            inputs, env=env)  # fmt: skip
    assert not out.exists() and not (tmp_path / "cache").exists()  # refused before the graph was even opened


def test_sources_piped_is_not_cut_at_80_columns(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    piped = subprocess.run([sys.executable, "-m", "kgsynth.cli", "sources"], capture_output=True, text=True,
                           env=env, timeout=120)  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "HPO licence (free to use with attribution; see hpo.jax.org/license)" in piped.stdout
    assert "(opt-in: --include-non-commercial)" in piped.stdout


def test_eval_compare_and_push_hostile_inputs(run_and_export: tuple[Path, Path], inputs: Path, tmp_path: Path) -> None:
    _, export = run_and_export
    damaged = tmp_path / "eval"
    damaged.mkdir()
    (damaged / "summary.json").write_bytes(BINARY)
    cmp = str(tmp_path / "cmp")
    refused(["eval-compare", str(damaged), "--out", cmp], "summary.json: not the summary kgsynth eval writes",
            damaged, inputs)  # fmt: skip
    refused(["eval-compare", str(inputs / "a-folder"), "--out", cmp], "is not a kgsynth evaluation", inputs)
    refused(["eval-compare", str(damaged), "--out", str(inputs / "a-file")], "not a folder", damaged, inputs)
    assert not (tmp_path / "cmp").exists()
    # a link in the folder would upload what it points at, anywhere on the machine: refused before the Hub is asked
    linked = tmp_path / "export"
    shutil.copytree(export, linked)
    (linked / "notes.txt").symlink_to(inputs / "a-file")
    refused(["push", str(linked), "--repo", "org/x"], "notes.txt is a symbolic link", linked, inputs)
    refused(["push", str(inputs / "a-file"), "--repo", "org/x"], "no such folder", inputs)
    refused(["push", str(export), "--repo", "../../etc"], "expected ORG/NAME", export)
