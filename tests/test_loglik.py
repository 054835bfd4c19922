"""`kgsynth eval --scoring loglik` and the walk of a chain item (`kgsynth.eval.loglik`, `kgsynth.questions.walk`).

Every log-probability the scorer reports is recomputed here with plain torch -- one full forward pass per
candidate, no cache, no batching -- on the tiny Llama of `test_eval` (the real SmolLM2 tokenizer), and acc
and acc_norm recomputed from those numbers by lm-evaluation-harness's definitions (numpy argmax; the
candidate's length in characters). The open-book items are generated from the real default graph.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kgsynth.dataset.rows import PATH_ARROW, path_chain
from kgsynth.eval.benchmarks import resolve_set
from kgsynth.eval.evaluate import EvalConfig, evaluate
from kgsynth.eval.loglik import TARGET_DELIMITER, queries
from kgsynth.questions.walk import candidate_chains, direction_pattern, fact_walks, facts_against, gold_walk, names_of
from kgsynth.run.journal import read_run_items
from tests.test_eval import run_cli, write_files
from tests.test_eval import tiny_model as tiny_model  # a fixture, shared

pytest.importorskip("transformers", reason="scoring with transformers needs the `local` extra")


@pytest.fixture(autouse=True)
def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def open_book_run(real_graph: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kgsynth.questions.question import GenerateConfig
    from kgsynth.run.generate import generate

    out = tmp_path_factory.mktemp("loglik") / "ob"
    cfg = GenerateConfig(n=8, hops=2, seed=7, context="facts", types=["chain"], formats=["mcq", "short"])
    generate(real_graph, cfg, out, compare_uniform=False)
    return out


# -- the walk ---------------------------------------------------------------------------------------


def test_the_facts_hold_the_gold_chain_and_one_decoy_chain_per_distractor(open_book_run: Path) -> None:
    items = read_run_items(open_book_run)
    assert len(items) == 8
    for item in items:
        chains = candidate_chains(item)
        assert len(chains) == 4, item.id  # the gold chain and three decoys
        assert PATH_ARROW.join(chains[0]) == path_chain(item)  # gold first, named as the SFT chain names it
        flat = [name for chain in chains for name in chain]
        assert len(flat) == len(set(flat)) == 12  # the chains share no entity
        if item.format == "mcq":  # each option ends exactly one chain
            assert sorted(c[-1].casefold() for c in chains) == sorted(o.text.casefold() for o in item.options)
        # every fact is walked by at most one chain, in the gold path's directions; the others are branches (at most
        # one per chain): a first hop from a chain's start, read as that hop
        walks = fact_walks(item)
        walked = [k for _, edges in walks for k in edges]
        assert len(walked) == len(set(walked)) == 4 * 2
        _, hops = gold_walk(item) or ([], [])
        against = facts_against(item)
        for _, edges in walks:
            assert [against[k] for k in edges] == [hop.against for hop in hops]
        branches = set(range(len(item.context))) - set(walked)
        heads = [entities[0] for entities, _ in walks]
        froms = [item.context[k].object if hops[0].against else item.context[k].subject for k in branches]
        assert len(set(froms)) == len(froms) and set(froms) <= set(heads)
        assert all(item.context[k].predicate == hops[0].predicate and against[k] == hops[0].against for k in branches)
        pattern = direction_pattern(item)
        assert pattern is not None and len(pattern) == 2 and set(pattern) <= {"F", "I"}


def test_facts_worded_in_walk_order_name_each_chain_s_entities_in_walk_order(open_book_run: Path) -> None:
    from kgsynth.questions.prompt import evidence_lines, student_messages
    from kgsynth.teacher.prompts import teacher_messages

    saw_against = False
    for item in read_run_items(open_book_run):
        names = names_of(item)
        walked = evidence_lines(item.context, against=facts_against(item))
        stored = evidence_lines(item.context)
        for entities, edges in fact_walks(item):
            for here, there, k in zip(entities, entities[1:], edges, strict=False):
                line = walked[k]
                assert line.index(names[here]) < line.index(names[there]), line  # reads as the question walks
                if facts_against(item)[k]:
                    saw_against = True
                    assert line != stored[k]
                else:
                    assert line == stored[k]
        prompt = student_messages(item)[0]["content"]
        assert all(f"- {line}" in prompt for line in walked)  # the student sees the walk-order wording
        teacher = teacher_messages(item)[-1]["content"]
        path_lines = evidence_lines(item.path, against=[hop.against for hop in (gold_walk(item) or ([], []))[1]])
        assert all(line in teacher for line in path_lines)
    assert saw_against  # the run has hops against the stored direction, so the wording is tested


# -- the scores against plain torch -----------------------------------------------------------------


def plain_loglik(model: Any, tokenizer: Any, messages: Any, prefix: str, candidate: str) -> float:
    """Summed log-probability of `" " + candidate` after the chat prompt and `prefix`: one full forward pass."""
    import torch

    context = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False) + prefix
    whole = tokenizer(context + TARGET_DELIMITER + candidate, add_special_tokens=False)["input_ids"]
    own = len(tokenizer(context, add_special_tokens=False)["input_ids"])
    with torch.no_grad():
        logprobs = model(input_ids=torch.tensor([whole])).logits[0].float().log_softmax(-1)
    return sum(float(logprobs[j - 1, whole[j]]) for j in range(own, len(whole)))


def test_loglik_scores_match_plain_torch_and_lm_eval_definitions(
    tmp_path: Path,
    tiny_model: Path,
    open_book_run: Path,
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = write_files(tmp_path / "files")
    specs = [str(files["list.json"]), str(open_book_run), f"{open_book_run}:closed"]
    out = tmp_path / "out"
    args = ["--model", str(tiny_model), "--out", str(out), "--threads", "1", "--scoring", "loglik"]
    result = run_cli(*args, *[a for s in specs for a in ("--benchmark", s)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    files_of = dict(zip(specs, ["list", "ob", "ob-closed"], strict=True))
    seen: set[str] = set()
    for spec in specs:
        evalset = resolve_set(spec)
        lines = (out / "items" / "tiny-llama" / f"{files_of[spec]}.jsonl").read_text().splitlines()
        records = {r["id"]: r for r in map(json.loads, lines)}
        assert len(records) == len(evalset.items)
        acc: dict[str, list[float]] = {}
        picks: dict[str, list[tuple[int, int]]] = {}
        norm: dict[str, list[float]] = {}
        for item in evalset.items:
            record = records[item.id]
            for query in queries(item):
                got = record["queries"][query.name]
                lls = [plain_loglik(model, tokenizer, item.messages, query.prefix, c) for c in query.candidates]
                assert got["lls"] == pytest.approx(lls, abs=1e-4), (item.id, query.name)
                lengths = np.array([float(len(c)) for c in query.candidates])
                assert got["correct"] == (int(np.argmax(lls)) == query.gold)
                assert got["correct_norm"] == (int(np.argmax(np.array(lls) / lengths)) == query.gold)
                assert got["margin"] == pytest.approx(lls[query.gold] - max(np.delete(lls, query.gold)), abs=1e-4)
                picks.setdefault(query.name, []).append((int(np.argmax(lls)), query.gold))
                acc.setdefault(query.name, []).append(float(np.argmax(lls) == query.gold))
                norm.setdefault(query.name, []).append(float(np.argmax(np.array(lls) / lengths) == query.gold))
                seen.add(query.name)
        (row,) = [r for r in summary["results"] if r["set"] == evalset.name]
        for name, values in acc.items():
            assert row["queries"][name]["acc"] == pytest.approx(float(np.mean(values)), abs=1e-6)
            assert row["queries"][name]["acc_norm"] == pytest.approx(float(np.mean(norm[name])), abs=1e-6)
            assert row["queries"][name]["n"] == len(values)
            n = len(values)  # the position prior: sum over positions k of P(pred = k) x P(gold = k)
            prior = sum(sum(p == k for p, _ in picks[name]) / n * sum(g == k for _, g in picks[name]) / n
                        for k in range(10))  # fmt: skip
            assert row["queries"][name]["prior"] == pytest.approx(prior, abs=1e-6)
    assert seen == {"letter", "option", "hop1", "hop2", "chain"}
    # The closed-book copies are asked without the facts but scored on the same chains.
    open_items = {i.id: i for i in resolve_set(str(open_book_run)).items}
    for item in resolve_set(f"{open_book_run}:closed").items:
        assert item.chains == open_items[item.id].chains and item.messages != open_items[item.id].messages
    # Same inputs, same bytes; a rerun scores nothing again.
    again = tmp_path / "again"
    benchmarks = [a for s in specs for a in ("--benchmark", s)]
    assert run_cli(*[str(again) if a == str(out) else a for a in args], *benchmarks).exit_code == 0
    for name in ("summary.json", "results.md", "items/tiny-llama/ob.jsonl"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    rerun = run_cli(*args, *benchmarks)
    assert rerun.exit_code == 0 and rerun.output.count("0 generated") == 3


def test_hop_queries_prefill_the_sft_answer_s_own_start(open_book_run: Path) -> None:
    from kgsynth.dataset.rows import sft_row

    for evalset_item, item in zip(resolve_set(str(open_book_run)).items, read_run_items(open_book_run), strict=True):
        by_name = {q.name: q for q in queries(evalset_item)}
        answer = sft_row(item, fallback="path")["messages"][-1]["content"]
        chain = path_chain(item).split(PATH_ARROW)
        for hop in (1, 2):
            query = by_name[f"hop{hop}"]
            gold = query.prefix + TARGET_DELIMITER + query.candidates[query.gold]
            assert answer.startswith(gold) and query.candidates[query.gold] == chain[hop]
        whole = by_name["chain"]
        assert answer.startswith(whole.prefix + TARGET_DELIMITER + whole.candidates[whole.gold])


def test_the_vllm_backend_scores_from_prompt_logprobs(tmp_path: Path, tiny_model: Path) -> None:
    """vLLM cannot run here: a fake engine answers `LLM.generate` with each prompt token's log-probability
    from the tiny model, as vLLM's `prompt_logprobs=0` does; the scores equal the transformers backend's."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kgsynth.eval.backends import TransformersBackend, VLLMBackend

    class Logprob:
        def __init__(self, value: float) -> None:
            self.logprob = value

    class Engine:
        def __init__(self) -> None:
            self.model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(tiny_model)
            self.calls: list[tuple[int, Any]] = []

        def get_tokenizer(self) -> Any:
            return self.tokenizer

        def generate(self, prompts: list[dict[str, list[int]]], *, sampling_params: Any, use_tqdm: bool) -> list[Any]:
            self.calls.append((len(prompts), sampling_params))
            outputs = []
            for prompt in prompts:
                ids = prompt["prompt_token_ids"]
                with torch.no_grad():
                    lp = self.model(input_ids=torch.tensor([ids])).logits[0].float().log_softmax(-1)
                positions = [None] + [{ids[j]: Logprob(float(lp[j - 1, ids[j]]))} for j in range(1, len(ids))]
                outputs.append(type("Output", (), {"prompt_logprobs": positions})())
            return outputs

    files = write_files(tmp_path / "files")
    sets = [resolve_set(str(files["list.json"]))]
    engine = Engine()
    vllm = VLLMBackend("org/tiny", engine=engine, prompt_logprob_params=lambda: {"prompt_logprobs": 0, "max_tokens": 1})
    config = EvalConfig(backend="vllm", scoring="loglik")
    a = evaluate([vllm], sets, tmp_path / "a", config=config)
    b = evaluate([TransformersBackend(tiny_model, threads=1)], sets, tmp_path / "b", config=config)
    assert engine.calls == [(4 * 8, {"prompt_logprobs": 0, "max_tokens": 1})]  # 4 items x (4 letters + 4 options)
    lines_a = [json.loads(x) for x in (tmp_path / "a" / "items" / "tiny" / "list.jsonl").open()]
    lines_b = [json.loads(x) for x in (tmp_path / "b" / "items" / "tiny-llama" / "list.jsonl").open()]
    for ra, rb in zip(lines_a, lines_b, strict=True):
        for name in ("letter", "option"):
            assert ra["queries"][name]["lls"] == pytest.approx(rb["queries"][name]["lls"], abs=1e-4)
    assert a["results"][0]["queries"]["option"]["n"] == b["results"][0]["queries"]["option"]["n"] == 4


def test_an_unknown_scoring_is_one_error_line(tmp_path: Path, tiny_model: Path) -> None:
    files = write_files(tmp_path / "files")
    result = run_cli("--model", str(tiny_model), "--out", str(tmp_path / "o"), "--scoring", "perplexity",
                     "--benchmark", str(files["list.json"]))  # fmt: skip
    assert result.exit_code == 2
    assert "scoring" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


# -- the splits' direction patterns -----------------------------------------------------------------


def test_the_export_reports_direction_patterns_and_can_balance_them(real_graph: Any, tmp_path: Path) -> None:
    from kgsynth.dataset.decontam import DecontamConfig
    from kgsynth.dataset.export import ExportConfig, export_run
    from kgsynth.dataset.split import SplitConfig, split_items
    from kgsynth.questions.question import GenerateConfig
    from kgsynth.questions.walk import direction_counts
    from kgsynth.run.generate import generate

    generate(
        real_graph, GenerateConfig(n=120, hops=2, seed=3, types=["chain"]), tmp_path / "run", compare_uniform=False
    )
    items = read_run_items(tmp_path / "run")
    patterns = direction_counts(items)
    assert sum(patterns.values()) == 120 and len(patterns) >= 3  # the run mixes hops along and against edges
    balanced = split_items(items, config=SplitConfig(split_by="path", test_size=0.25, validation_size=0.0,
                                                     by_direction=True))  # fmt: skip
    test = direction_counts(balanced.splits["test"])
    for pattern, count in patterns.items():  # each pattern held out in its share, where the stratum is big enough
        assert test.get(pattern, 0) <= round(0.25 * count), (pattern, test, patterns)
    assert sum(test.values()) >= 0.9 * sum(round(0.25 * c) for c in patterns.values())
    split = SplitConfig(split_by="path", test_size=0.25, validation_size=0.0, by_direction=True)
    summary = export_run(tmp_path / "run", tmp_path / "ds",
                         config=ExportConfig(split=split, decontam=DecontamConfig(shared=False)))  # fmt: skip
    assert summary["directions"]["test"] == test
    for name, counts in summary["directions"].items():
        assert sum(counts.values()) == summary["split"][name]
