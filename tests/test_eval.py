"""`kgsynth eval`: sets from benchmarks, user files, runs and exports; backends; the cache; the metrics.

The model is a tiny randomly initialised Llama (2 layers, hidden 64) built here, with the real
SmolLM2 tokenizer read from the GGUF file in `.models/`: real transformers generation, batched and
greedy, in well under a second per batch. Only vLLM is driven by a fake engine (it needs a GPU).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.errors import KgsynthError
from kgsynth.eval.benchmarks import EVAL_LETTERS, EvalItem, EvalSet, FieldMap, read_question_file, resolve_set
from kgsynth.eval.evaluate import (
    CACHE_FILE,
    EvalConfig,
    GenerationParams,
    compare,
    evaluate,
    letter_prior,
    metrics,
    score_item,
    select_items,
    unique_labels,
    wilson_interval,
)

pytest.importorskip("transformers", reason="evaluating with transformers needs the `local` extra")

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / ".models"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
QUESTIONS = [
    ("Which gene is mutated in Marfan syndrome?", ["FBN1", "CFTR", "HBB", "LMNA"], "A"),
    ("Which disease is caused by CFTR variants?", ["Marfan syndrome", "Cystic fibrosis", "Progeria", "Anemia"], "B"),
    ("Which organ does hepatitis affect?", ["Heart", "Lung", "Liver", "Kidney"], "C"),
    ("Which vitamin deficiency causes scurvy?", ["Vitamin A", "Vitamin B12", "Vitamin D", "Vitamin C"], "D"),
]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama (hidden 64) with SmolLM2's tokenizer, saved once per session."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from kgsynth.models.transformers import ensure_smollm2

    ensure_smollm2(MODELS)
    tokenizer = AutoTokenizer.from_pretrained(MODELS, gguf_file=GGUF)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    directory = tmp_path_factory.mktemp("models") / "tiny-llama"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["eval", *args], catch_exceptions=False)


def eval_args(model: Path, out: Path, *benchmarks: str, tokens: int = 6) -> list[str]:
    args = ["--model", str(model), "--out", str(out), "--max-new-tokens", str(tokens), "--threads", "1"]
    for benchmark in benchmarks:
        args += ["--benchmark", benchmark]
    return args


class Scripted:
    """A backend answering each prompt with a fixed completion (for exact metric checks)."""

    label = "scripted"
    model_id = "scripted@1"
    batch_size = 3

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.prompts_generated = 0

    def load(self) -> None:
        pass

    def generate(self, prompts: Any, params: GenerationParams) -> list[str]:
        self.prompts_generated += len(prompts)
        return [self.answer(p) for p in prompts]


# -- the metrics, by hand -------------------------------------------------------------------------


def test_wilson_interval_matches_hand_computed_values() -> None:
    # 0 of 10: the upper bound is (z^2/n) / (1 + z^2/n) = 0.38415 / 1.38415.
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.277533, abs=1e-6)
    # 50 of 200: centre (0.25 + 0.0096040) / 1.0192073 = 0.254713, half-width 0.059632.
    low, high = wilson_interval(50, 200)
    assert (low, high) == (pytest.approx(0.195082, abs=1e-6), pytest.approx(0.314341, abs=1e-6))
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_letter_prior_matches_hand_computed_values() -> None:
    # P(says A) P(gold A) + P(says B) P(gold B) = 3/4 * 1/4 + 1/4 * 3/4.
    assert letter_prior({"A": 3, "B": 1}, {"A": 1, "B": 3}) == pytest.approx(0.375)
    # Items with no answer never score: half the items say A, gold A is half of them.
    assert letter_prior({"A": 2, "none": 2}, {"A": 2, "B": 2}) == pytest.approx(0.25)
    # Balanced gold letters: any letter distribution gives chance times the answered share.
    assert letter_prior({"C": 180, "D": 20}, {"A": 50, "B": 50, "C": 50, "D": 50}) == pytest.approx(0.25)
    assert letter_prior({}, {"A": 1}) is None


def test_metrics_of_a_model_that_always_says_a() -> None:
    items = [EvalItem(str(k), ({"role": "user", "content": q},), "mcq", gold, letters="ABCD")
             for k, (q, _, gold) in enumerate(QUESTIONS + QUESTIONS[:1])]  # fmt: skip
    results = [score_item(item, "<think>A looks right.</think>\nAnswer: A") for item in items]
    m = metrics(results)
    assert m["correct"] == 2 and m["accuracy"] == pytest.approx(0.4)
    assert m["predicted"] == {"A": 5, "B": 0, "C": 0, "D": 0, "none": 0}
    assert m["gold"] == {"A": 2, "B": 1, "C": 1, "D": 1}
    assert m["letter_prior"] == pytest.approx(0.4) and m["strict_format"] == 1.0
    loose = metrics([score_item(item, "Answer: B") for item in items])
    assert loose["strict_format"] == 0.0 and loose["answered"] == 1.0 and loose["accuracy"] == pytest.approx(0.2)


def test_select_items_balances_gold_letters_and_follows_the_seed() -> None:
    items = [EvalItem(f"{letter}{k}", (), "mcq", letter, letters="ABC")
             for letter, count in (("A", 10), ("B", 10), ("C", 2)) for k in range(count)]  # fmt: skip
    chosen = select_items(items, limit=9, seed=1)
    letters = [item.letter for item in chosen]
    assert (letters.count("A"), letters.count("B"), letters.count("C")) == (4, 3, 2)
    assert chosen == sorted(chosen, key=items.index)  # the set's order is kept
    assert select_items(items, limit=9, seed=1) == chosen
    assert select_items(items, limit=9, seed=2) != chosen
    assert select_items(items, limit=100, seed=0) == items


# -- user files -----------------------------------------------------------------------------------


def write_files(directory: Path) -> dict[str, Path]:
    """The same four questions in every format and options layout a user file may have."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    as_list = [{"question": q, "options": o, "answer": g} for q, o, g in QUESTIONS]
    as_dict = [{"Question": q, "choices": dict(zip("ABCD", o, strict=True)), "label": o["ABCD".index(g)]}
               for q, o, g in QUESTIONS]  # fmt: skip
    lettered = [{"stem": q, **dict(zip("ABCD", o, strict=True)), "answer": g} for q, o, g in QUESTIONS]
    opx = [{"question": q, **{f"op{c}": t for c, t in zip("abcd", o, strict=True)}, "gold": f"({g.lower()})"}
           for q, o, g in QUESTIONS]  # fmt: skip
    paths = {
        "list.json": as_list,
        "dict.jsonl": as_dict,
        "wrapped.json": {"data": lettered},
        "opx.parquet": opx,
        "list.parquet": as_list,
    }
    out = {}
    for name, rows in paths.items():
        path = directory / name
        if name.endswith(".jsonl"):
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")  # type: ignore[union-attr]
        elif name.endswith(".json"):
            path.write_text(json.dumps(rows), encoding="utf-8")
        else:
            pq.write_table(pa.Table.from_pylist(rows), path)  # type: ignore[arg-type]
        out[name] = path
    csv_path = directory / "lettered.csv"
    lines = ["question,option_a,option_b,option_c,option_d,answer"]
    lines += [",".join([f'"{q}"', *o, o["ABCD".index(g)]]) for q, o, g in QUESTIONS]  # answer as the option text
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out["lettered.csv"] = csv_path
    list_csv = directory / "listcell.csv"
    rows = ["question,options,answer"] + [f'"{q}","{json.dumps(o).replace(chr(34), chr(34) * 2)}",{g}'
                                          for q, o, g in QUESTIONS]  # fmt: skip
    list_csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out["listcell.csv"] = list_csv
    return out


def test_every_file_format_and_options_layout_reads_the_same_questions(tmp_path: Path) -> None:
    for name, path in write_files(tmp_path).items():
        evalset = resolve_set(str(path))
        assert evalset.kind == "file" and evalset.name == path.stem, name
        assert [item.letter for item in evalset.items] == ["A", "B", "C", "D"], name
        assert [item.letters for item in evalset.items] == ["ABCD"] * 4, name
        prompt = evalset.items[2].messages[0]["content"]
        assert prompt.startswith("Which organ does hepatitis affect?") and "C. Liver" in prompt, name
        assert '"Answer: <letter>"' in prompt, name


def test_field_overrides_and_ten_options(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    options = [f"choice {k}" for k in range(10)]
    path.write_text(json.dumps({"body": "Pick the last one.", "alts": options, "key": "J"}) + "\n", encoding="utf-8")
    fields = FieldMap(question="body", options=("alts",), answer="key")
    (item,) = read_question_file(path, fields=fields).items
    assert item.letter == "J" and item.letters == EVAL_LETTERS
    result = run_cli(*eval_args(Path("missing-model"), tmp_path / "o", str(path)), "--field", "question=body")
    assert result.exit_code == 2  # options and answer still not found by name: one clear error
    path.write_text(json.dumps({"question": "q", "options": [*options, "eleven"], "answer": "A"}) + "\n")
    with pytest.raises(KgsynthError, match="11 options, more than 10"):
        resolve_set(str(path))
    path.write_text(json.dumps({"question": "q", "options": ["x", "y", "z"], "answer": 2}) + "\n")
    with pytest.raises(KgsynthError, match="--answer-index-base"):
        resolve_set(str(path))
    assert read_question_file(path, fields=FieldMap(answer_index_base=0)).items[0].letter == "C"
    assert read_question_file(path, fields=FieldMap(answer_index_base=1)).items[0].letter == "B"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('{"question": "q?", "options": ["x", "y", "z", "w"], "answer": "E"}', "'answer'"),
        ('{"prompt_text": "q?", "options": ["x", "y"], "answer": "A"}', "question"),
        ('{"question": "q?", "options": "x or y", "answer": "A"}', "'options'"),
        ('{"question": "q?", "options": ["x", "y"], "answer": "A"}\n{"question": "", "options": ["x"], "answer": "A"}',
         "'question'"),
        ('{"question": "q?", "options": ["x", "y"]}', "answer"),
    ],
)  # fmt: skip
def test_a_malformed_user_file_is_one_clear_message_naming_the_field(
    tmp_path: Path, tiny_model: Path, content: str, field: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", *eval_args(tiny_model, tmp_path / "out", str(path))])
    assert result.exit_code == 2
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    message = result.output
    assert "error:" in message and str(path) in message and field in message
    assert message.count("error:") == 1
    assert not (tmp_path / "out").exists()  # nothing was written


def test_user_files_and_short_answers_end_to_end_with_a_tiny_model(tmp_path: Path, tiny_model: Path) -> None:
    files = write_files(tmp_path / "files")
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"question": "Which gene is mutated in Marfan syndrome?", "answer": "FBN1",
                                 "aliases": ["fibrillin 1"]}) + "\n", encoding="utf-8")  # fmt: skip
    out = tmp_path / "out"
    result = run_cli(*eval_args(tiny_model, out, *map(str, files.values()), str(short)), "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "tiny-llama on short: 1 items, 1 generated, 0 from the cache" in result.output
    summary = json.loads((out / "summary.json").read_text())
    names = [r["set"] for r in summary["results"]]
    assert names == unique_labels([p.stem for p in files.values()] + ["short"]) and "list-2" in names
    for r in summary["results"][:-1]:
        assert r["n"] == 4 and r["gold"] == {"A": 1, "B": 1, "C": 1, "D": 1}
        assert sum(r["predicted"].values()) == 4 and r["letter_prior"] is not None
    short_result = summary["results"][-1]
    assert short_result["mcq_items"] == 0 and short_result["letter_prior"] is None
    (record,) = [json.loads(line) for line in (out / "items" / "tiny-llama" / "short.jsonl").open()]
    assert record["gold"] == "FBN1" and record["format"] == "short" and len(record["prompt_hash"]) == 64
    assert isinstance(record["completion"], str) and record["correct"] is (record["answer"] is not None)
    assert (out / "results.png").read_bytes().startswith(b"\x89PNG")
    assert "| tiny-llama | short | 1 |" in (out / "results.md").read_text()


def test_short_answers_are_judged_against_aliases() -> None:
    item = EvalItem("s", (), "short", None, aliases=("Marfan syndrome", "MFS"))
    assert score_item(item, "<think>FBN1.</think>\nAnswer: the marfan syndrome").correct
    assert score_item(item, "Answer: MFS").correct
    assert not score_item(item, "Answer: Loeys-Dietz syndrome").correct


# -- shared benchmarks, kgsynth runs and exports --------------------------------------------------


def test_shared_benchmarks_by_name() -> None:
    sizes = {"medqa": 1273, "medmcqa": 4183, "mmlu_medical": 1089, "pubmedqa": 500}
    for name, size in sizes.items():
        evalset = resolve_set(name)
        assert evalset.kind == "benchmark" and len(evalset.items) == size
        assert all(item.letter in item.letters for item in evalset.items)
    pubmed = resolve_set("pubmedqa").items
    assert {item.letter for item in pubmed} == {"A", "B", "C"} and "A. yes" in pubmed[0].messages[0]["content"]
    medmcqa = resolve_set("medmcqa").items[0]
    assert medmcqa.letter == "A"  # cop 1 counts from 1
    subjects = {dict(item.groups)["subject"] for item in resolve_set("mmlu_medical").items}
    assert "anatomy" in subjects and len(subjects) == 6
    anatomy = resolve_set("mmlu_medical:anatomy")
    assert anatomy.name == "mmlu_medical:anatomy" and len(anatomy.items) == 135
    with pytest.raises(KgsynthError, match="no subject 'astrology'"):
        resolve_set("mmlu_medical:astrology")


@pytest.fixture(scope="module")
def kgsynth_sets(real_graph: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from kgsynth.dataset.decontam import DecontamConfig
    from kgsynth.dataset.export import ExportConfig, export_run
    from kgsynth.dataset.split import SplitConfig
    from kgsynth.questions.question import GenerateConfig
    from kgsynth.run.generate import generate

    root = tmp_path_factory.mktemp("kgsynth-sets")
    cfg = GenerateConfig(n=60, hops=2, seed=5, types=["chain", "vignette"], formats=["mcq", "short"])
    generate(real_graph, cfg, root / "run", compare_uniform=False)
    split = SplitConfig(test_size=0.3, validation_size=0.1)
    export_run(root / "run", root / "ds", config=ExportConfig(split=split, decontam=DecontamConfig(shared=False)))
    return root / "run", root / "ds"


def test_a_kgsynth_run_and_an_export_split(tmp_path: Path, tiny_model: Path, kgsynth_sets: tuple[Path, Path]) -> None:
    import pyarrow.parquet as pq

    run, ds = kgsynth_sets
    out = tmp_path / "out"
    result = run_cli(*eval_args(tiny_model, out, str(run), f"{ds}:test", f"{ds}:validation"))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    by_set = {r["set"]: r for r in summary["results"]}
    test_rows = pq.read_table(ds / "data/items/test-00000-of-00001.parquet").num_rows
    assert by_set["run"]["n"] == 60 and by_set["ds:test"]["n"] == test_rows > 0
    for r in by_set.values():
        assert set(r["breakdown"]) == {"type", "format", "hops", "rarity", "direction"}  # direction: chain items
        assert sum(m["n"] for m in r["breakdown"]["type"].values()) == r["n"]
    records = [json.loads(line) for line in (out / "items" / "tiny-llama" / "ds-test.jsonl").open()]
    formats = {r["format"] for r in records}
    assert formats <= {"mcq", "short"} and all(r["groups"]["hops"] == "2" for r in records)
    # The export's eval rows are the run's items: same prompt hash for the same item.
    by_id = {json.loads(line)["id"]: json.loads(line) for line in (out / "items" / "tiny-llama" / "run.jsonl").open()}
    assert all(by_id[r["id"]]["prompt_hash"] == r["prompt_hash"] for r in records)
    assert run_cli(*eval_args(tiny_model, tmp_path / "o2", f"{run}:test")).exit_code == 2  # a run has no splits
    assert [i.id for i in resolve_set(str(ds)).items] == [i.id for i in resolve_set(f"{ds}:test").items]


# -- the cache and resuming -----------------------------------------------------------------------


def test_a_killed_evaluation_resumes_without_regenerating(tmp_path: Path, tiny_model: Path) -> None:
    path = tmp_path / "many.jsonl"
    rows = [{"question": f"Question number {k}: which is it?", "options": ["w", "x", "y", "z"], "answer": "ABCD"[k % 4]}
            for k in range(40)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "kgsynth.cli", "eval", *eval_args(tiny_model, out, str(path), tokens=24),
               "--batch-size", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache = out / CACHE_FILE
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and child.poll() is None:
        if cache.is_file() and cache.read_bytes().count(b"\n") >= 3:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the evaluation finished before it could be killed"
    before = {json.loads(line)["key"]: json.loads(line)["completion"] for line in cache.open()}
    assert 3 <= len(before) < 40

    from kgsynth.eval.backends import TransformersBackend

    backend = TransformersBackend(tiny_model, batch_size=4, threads=1)
    config = EvalConfig(max_new_tokens=24)
    evaluate([backend], [resolve_set(str(path))], out, config=config)
    assert backend.prompts_generated == 40 - len(before)  # the finished items were not generated again
    after = {json.loads(line)["key"]: json.loads(line)["completion"] for line in cache.open()}
    assert len(after) == 40 and all(after[key] == text for key, text in before.items())
    timings = json.loads((out / "timings.json").read_text())
    assert timings[0]["from_cache"] == len(before) and timings[0]["generated"] == 40 - len(before)
    # A third run is answered from the cache alone: the model is never loaded.
    again = TransformersBackend(tiny_model, batch_size=4, threads=1)
    evaluate([again], [resolve_set(str(path))], out, config=config)
    assert again.prompts_generated == 0 and again._loaded is None


def test_a_cache_line_cut_short_is_dropped_and_regenerated(tmp_path: Path) -> None:
    evalset = EvalSet("s", "s", "file", [EvalItem(str(k), ({"role": "user", "content": f"q{k}"},), "mcq", "A",
                                                   letters="AB") for k in range(4)])  # fmt: skip
    first = Scripted(lambda p: "Answer: A")
    evaluate([first], [evalset], tmp_path)
    cache = tmp_path / CACHE_FILE
    cache.write_bytes(cache.read_bytes()[:-10])  # killed while writing the last line
    second = Scripted(lambda p: "Answer: A")
    summary = evaluate([second], [evalset], tmp_path)
    assert second.prompts_generated == 1 and summary["results"][0]["accuracy"] == 1.0
    assert all(json.loads(line) for line in cache.open())


# -- backends, several models, determinism --------------------------------------------------------


class FakeOutput:
    def __init__(self, text: str) -> None:
        self.outputs = [type("Completion", (), {"text": text})()]


class FakeEngine:
    """What `vllm.LLM` offers `VLLMBackend`: `chat(messages, sampling_params=..., use_tqdm=...)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Any], Any]] = []

    def chat(self, conversations: list[Any], *, sampling_params: Any, use_tqdm: bool) -> list[FakeOutput]:
        self.calls.append((conversations, sampling_params))
        return [FakeOutput(f"<think>...</think>\nAnswer: {'B' if 'caused by CFTR' in c[0]['content'] else 'A'}")
                for c in conversations]  # fmt: skip


def test_the_vllm_backend_with_a_fake_engine(tmp_path: Path) -> None:
    from kgsynth.eval.backends import VLLMBackend

    files = write_files(tmp_path / "files")
    engine = FakeEngine()
    backend = VLLMBackend("org/some-model", engine=engine, sampling_params=lambda p: {"max_tokens": p.max_new_tokens})
    summary = evaluate([backend], [resolve_set(str(files["list.json"]))], tmp_path / "out",
                       config=EvalConfig(backend="vllm", max_new_tokens=32))  # fmt: skip
    ((conversations, params),) = engine.calls  # one batch, one call
    assert params == {"max_tokens": 32} and len(conversations) == 4 and conversations[0][0]["role"] == "user"
    (result,) = summary["results"]
    assert result["model"] == "some-model" and result["correct"] == 2 and result["strict_format"] == 1.0
    assert result["predicted"] == {"A": 3, "B": 1, "C": 0, "D": 0, "none": 0}


def test_several_models_one_table_deterministic_and_compared(tmp_path: Path, tiny_model: Path) -> None:
    files = write_files(tmp_path / "files")
    sets = [str(files["list.json"]), str(files["lettered.csv"])]
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        args = [*eval_args(tiny_model, out, *sets), "--model", str(tiny_model)]
        assert run_cli(*args).exit_code == 0
    names = ("summary.json", "results.md", "results.png", "items/tiny-llama/list.jsonl")
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summary = json.loads((a / "summary.json").read_text())
    assert [(r["model"], r["set"]) for r in summary["results"]] == [
        ("tiny-llama", "list"), ("tiny-llama", "lettered"), ("tiny-llama-2", "list"), ("tiny-llama-2", "lettered")
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["eval-compare", str(a), str(b), "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    merged = compare([a, b], tmp_path / "c")
    assert len(merged["results"]) == 8 and {r["model"] for r in merged["results"]} >= {"a/tiny-llama", "b/tiny-llama"}
    assert "| a/tiny-llama | list | 4 |" in (tmp_path / "c" / "results.md").read_text()


def test_compare_merges_one_model_evaluated_on_different_sets_in_different_folders(tmp_path: Path) -> None:
    files = write_files(tmp_path / "files")
    for name in ("list.json", "lettered.csv"):
        evaluate([Scripted(lambda p: "Answer: C")], [resolve_set(str(files[name]))], tmp_path / name)
    merged = compare([tmp_path / "list.json", tmp_path / "lettered.csv"], tmp_path / "both")
    assert [(r["model"], r["set"], r["correct"]) for r in merged["results"]] == [
        ("scripted", "list", 1), ("scripted", "lettered", 1)
    ]  # fmt: skip
    assert [m["label"] for m in merged["models"]] == ["scripted"]


def test_the_evaluation_core_imports_no_torch() -> None:
    code = ("import sys, kgsynth.eval.evaluate, kgsynth.eval.benchmarks, kgsynth.eval.backends; "
            "print(sorted(m for m in ('torch', 'transformers', 'vllm') if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "[]"
