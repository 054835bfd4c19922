"""Open-book items (`generate --context facts`) on the real default KG: the facts are real edges, and in them the
question's start reaches the key and nothing else, checked by plain Python over each item's own facts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from kgsynth.dataset.rows import item_features, item_row
from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.questions.item import Item, Triple, without_context
from kgsynth.questions.prompt import evidence_lines, student_messages
from kgsynth.questions.question import GenerateConfig
from kgsynth.questions.walk import facts_against
from kgsynth.run.generate import generate
from kgsynth.run.journal import read_run_items

pytestmark = pytest.mark.slow

Edges = dict[tuple[str, bool], dict[str, set[str]]]


def _steps(item: Item) -> list[Step]:
    return [Step.parse(c.args["step"]) for c in item.constraints if c.kind == "chain_step"]


def _start(item: Item) -> str:
    return next(c.args["entity"] for c in item.constraints if c.kind == "start")


def _adjacency(facts: list[Triple], *, by_name: bool) -> Edges:
    """The facts as a directed graph per (predicate, inverse): forward subject -> object, inverse back."""
    adj: Edges = defaultdict(lambda: defaultdict(set))
    for t in facts:
        s, o = (t.subject_name, t.object_name) if by_name else (t.subject, t.object)
        adj[(t.predicate, False)][s].add(o)
        adj[(t.predicate, True)][o].add(s)
    return adj


def _follow(adj: Edges, start: str, steps: list[Step]) -> set[str]:
    layer = {start}
    for step in steps:
        layer = {n for x in layer for n in adj[(step.relation, step.inverse)].get(x, set())}
    return layer


def _chains_back(adj: Edges, end: str, steps: list[Step]) -> list[set[str]]:
    """The layers reached walking the metapath backwards from ``end`` (last layer first)."""
    layers = [{end}]
    for step in reversed(steps):
        layers.append({n for x in layers[-1] for n in adj[(step.relation, not step.inverse)].get(x, set())})
    return layers


def check_open_book(graph: Graph, index: CSRIndex, item: Item, endpoints: list[str]) -> None:
    """The promise of an open-book item, with ``endpoints`` its key and its decoys' ends."""
    steps, start = _steps(item), _start(item)
    hops = len(steps)
    assert item.type == "chain" and len(item.context) >= len(endpoints) * hops
    for t in item.context:  # real edges of the graph
        s, o = graph.index[t.subject], graph.index[t.object]
        assert o in index.neighbors(s, Step(t.predicate)), t
        assert (t.subject_name, t.object_name) == (graph.names[s], graph.names[o])
    for by_name in (False, True):  # by identifier, and as the student reads it: by name
        adj = _adjacency(item.context, by_name=by_name)
        start_key = graph.names[graph.index[start]] if by_name else start
        answer = item.answer.name if by_name else item.answer.curie
        assert _follow(adj, start_key, steps) == {answer}
    adj = _adjacency(item.context, by_name=False)
    entities: set[str] = set()
    start_category = graph.category[graph.index[start]]
    for end in endpoints:  # every endpoint ends exactly one chain, along the same metapath, all chains disjoint
        layers = _chains_back(adj, end, steps)
        assert all(len(layer) == 1 for layer in layers), (item.id, end, layers)
        chain = [next(iter(layer)) for layer in layers]
        assert graph.category[graph.index[chain[-1]]] == start_category
        assert (chain[-1] == start) == (end == item.answer.curie)
        assert not entities & set(chain), (item.id, end)
        entities |= set(chain)
    # beyond these chains only branches: at most one per chain (and none at one hop), a fact along the first step
    # from a chain's start to an entity in no chain and in no other fact, so that it leads nowhere further
    heads = {t.subject for t in item.context} | {t.object for t in item.context}
    named = Counter(e for t in item.context for e in {t.subject, t.object})
    first = steps[0]
    branches = [t for t in item.context if (t.object if not first.inverse else t.subject) not in entities]
    assert len(item.context) == len(endpoints) * hops + len(branches)
    assert len(branches) <= (len(endpoints) if hops > 1 else 0)
    chain_heads = set()
    for t in branches:
        frm, to = (t.object, t.subject) if first.inverse else (t.subject, t.object)
        assert t.predicate == first.relation and frm in entities and named[to] == 1, (item.id, t)
        assert graph.category[graph.index[frm]] == start_category and frm not in chain_heads
        chain_heads.add(frm)
    assert heads == entities | {t.object if not first.inverse else t.subject for t in branches}
    assert all(named[end] == 1 for end in endpoints)  # no option is named in more facts than another


@pytest.fixture(scope="module")
def index(real_graph: Graph) -> CSRIndex:
    return CSRIndex(real_graph)


@pytest.fixture(scope="module")
def mcq_run(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("open-book") / "a"
    generate(real_graph, GenerateConfig(n=60, hops=2, seed=5, context="facts"), out, compare_uniform=False)
    return out


def test_open_book_mcq_items_chain_only_to_the_key(real_graph: Graph, index: CSRIndex, mcq_run: Path) -> None:
    items = read_run_items(mcq_run)
    assert len(items) == 60 and {it.hops for it in items} == {2}
    for it in items:
        assert len(it.options) == 4 and len(it.distractors) == 3
        check_open_book(real_graph, index, it, [o.curie for o in it.options])
    # shuffled: the true chain is not always listed first
    assert any(it.context[0].subject != _start(it) and it.context[0].object != _start(it) for it in items)


def test_open_book_facts_do_not_name_the_key_apart(mcq_run: Path) -> None:
    """A reader who matches option names to the facts without following a chain finds the key at chance: no option
    is named in more facts than another, none shares a fact with the start; and the start has a branch (a second
    fact of the first step) wherever the graph has one (rare starts often have a single neighbour), so the first fact
    from it is not always the chain."""
    from kgsynth.run.audit import audit_items

    items = read_run_items(mcq_run)
    assert audit_items(items)["metrics"]["fact_shortcut_rate"] == 0.25
    from_start = [sum(_start(it) in (t.subject, t.object) for t in it.context) for it in items]
    assert max(from_start) == 2 and sum(n == 2 for n in from_start) >= 0.3 * len(items), from_start
    assert "fact_shortcut_rate" not in audit_items([without_context(it) for it in items])["metrics"]


def test_open_book_short_answers_hide_three_decoy_endpoints(real_graph: Graph, index: CSRIndex, tmp_path: Path) -> None:
    cfg = GenerateConfig(n=15, hops=2, seed=2, context="facts", formats=["short"])
    generate(real_graph, cfg, tmp_path / "s", compare_uniform=False)
    items = read_run_items(tmp_path / "s")
    assert len(items) == 15
    for it in items:
        assert it.format == "short" and not it.options
        steps = _steps(it)
        adj = _adjacency(it.context, by_name=False)
        last = steps[-1]
        ends = sorted({t.object if not last.inverse else t.subject for t in it.context if t.predicate == last.relation})
        assert len(ends) == 4 and it.answer.curie in ends
        check_open_book(real_graph, index, it, ends)
        assert _follow(adj, _start(it), steps) == {it.answer.curie}


def test_open_book_facts_hold_no_membership_the_drug_targets_contradict(real_graph: Graph, tmp_path: Path) -> None:
    """Where DrugCentral's targets contradict a drug's mechanism class (risedronate in "Calcium Channel Blockers"),
    that membership is no fact: not on a path, a decoy chain or a branch."""
    from kgsynth.questions.curation import contradicted_memberships, load_curation

    cfg = GenerateConfig(n=40, hops=2, seed=21, context="facts", formats=["short"])
    generate(real_graph, cfg, tmp_path / "m", compare_uniform=False)
    bad_edges = np.flatnonzero(contradicted_memberships(real_graph, load_curation("med")))
    assert len(bad_edges)
    bad = {(real_graph.ids[int(real_graph.src[e])], real_graph.ids[int(real_graph.dst[e])]) for e in bad_edges}
    member = [(t.subject, t.object) for it in read_run_items(tmp_path / "m") for t in it.context
              if t.predicate == "biolink:member_of"]  # fmt: skip
    assert member and not set(member) & bad


def test_open_book_runs_are_byte_identical(real_graph: Graph, mcq_run: Path, tmp_path: Path) -> None:
    generate(real_graph, GenerateConfig(n=60, hops=2, seed=5, context="facts"), tmp_path / "b", compare_uniform=False)
    files = sorted(p.relative_to(mcq_run) for p in mcq_run.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for f in files:
        assert (mcq_run / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_student_prompt_shows_facts_before_options_and_closed_book_shows_none(mcq_run: Path) -> None:
    it = read_run_items(mcq_run)[0]
    text = student_messages(it)[0]["content"]
    lines = text.splitlines()
    facts = lines.index("Facts:")
    assert text.startswith(it.question + "\n\nFacts:\n")
    shown = lines[facts + 1 : facts + 1 + len(it.context)]
    assert shown == [f"- {s}" for s in evidence_lines(it.context, against=facts_against(it))]  # in walk order
    assert lines[facts + 1 + len(it.context)] == "" and lines[facts + 2 + len(it.context)].startswith("A. ")
    closed = without_context(it)
    assert closed.context == [] and closed.id == it.id and closed.options == it.options
    closed_text = student_messages(closed)[0]["content"]
    assert "Facts:" not in closed_text and closed_text.startswith(it.question + "\n\nA. ")
    assert '"context"' not in closed.model_dump_json() and '"context"' in it.model_dump_json()
    import datasets

    rows = [item_row(it), item_row(closed)]  # one schema for open- and closed-book rows
    ds = datasets.Dataset.from_list(rows, features=item_features())
    assert len(ds[0]["context"]) == len(it.context) and ds[1]["context"] == []


def test_context_facts_defaults_to_chains_and_refuses_vignettes(cache_dir: Path, tmp_path: Path) -> None:
    assert GenerateConfig(context="facts").types == ["chain"]
    assert GenerateConfig().types == ["chain", "vignette"] and GenerateConfig().context == "none"
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache_dir), "COLUMNS": "200"}
    args = ["generate", "--context", "facts", "--type", "chain,vignette", "--n", "5", "--out", str(tmp_path / "v")]
    r = subprocess.run([sys.executable, "-m", "kgsynth.cli", *args], capture_output=True, text=True, env=env)
    assert r.returncode == 2, r.stderr
    assert "--context facts applies to chain items only" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr + r.stdout and not (tmp_path / "v").exists()


def test_export_with_path_chains_and_closed_book_evaluation_sets(mcq_run: Path, tmp_path: Path) -> None:
    """`export --sft-chain path` answers through the chain of names the facts spell out, and
    `EXPORT:split:closed` / `RUN:closed` ask the same items without their facts."""
    import pyarrow.parquet as pq

    from kgsynth.dataset.decontam import DecontamConfig
    from kgsynth.dataset.export import ExportConfig, export_run
    from kgsynth.dataset.rewards import accuracy_reward, format_reward
    from kgsynth.dataset.rows import PATH_ARROW, path_chain
    from kgsynth.dataset.split import SplitConfig
    from kgsynth.errors import KgsynthError
    from kgsynth.eval.benchmarks import resolve_set
    from kgsynth.questions.wording import mid_sentence

    config = ExportConfig(split=SplitConfig(test_size=0.3, validation_size=0.1), sft_chain="path",
                          decontam=DecontamConfig(shared=False))  # fmt: skip
    summary = export_run(mcq_run, tmp_path / "ds", config=config)
    assert summary["sft_chain_source"] == {"path": sum(summary["rows"]["sft"].values())}
    items = {it.id: it for it in read_run_items(mcq_run)}
    rows = pq.read_table(tmp_path / "ds" / "data/sft/train-00000-of-00001.parquet").to_pylist()
    assert rows
    for row in rows:
        item = items[row["item_id"]]
        names = path_chain(item).split(PATH_ARROW)
        start = next(t for t in item.context if _start(item) in (t.subject, t.object))
        start_name = start.subject_name if start.subject == _start(item) else start.object_name
        assert names[0] == mid_sentence(_start(item), start_name) and names[0] in item.question
        assert names[-1] == mid_sentence(item.answer.curie, item.answer.name) and len(names) == item.hops + 1
        facts = "\n".join(evidence_lines(item.context))
        assert all(name in facts for name in names)  # every name of the scratchpad is written so in the facts
        assert row["messages"][-1]["content"] == f"<think>\n{path_chain(item)}\n</think>\nAnswer: {item.answer.letter}"
    completions = [row["messages"][-1]["content"] for row in rows]
    assert accuracy_reward(completions, answer_letter=[r["answer_letter"] for r in rows],
                           answer_aliases=[r["answer_aliases"] for r in rows]) == [1.0] * len(rows)  # fmt: skip
    assert format_reward(completions) == [1.0] * len(rows)

    open_set, closed_set = resolve_set(f"{tmp_path / 'ds'}:test"), resolve_set(f"{tmp_path / 'ds'}:test:closed")
    assert closed_set.name == "ds:test:closed" and open_set.items
    assert [i.id for i in closed_set.items] == [i.id for i in open_set.items]
    assert [i.letter for i in closed_set.items] == [i.letter for i in open_set.items]
    assert all("Facts:" in i.messages[0]["content"] for i in open_set.items)
    assert all("Facts:" not in i.messages[0]["content"] for i in closed_set.items)
    run_closed = resolve_set(f"{mcq_run}:closed")
    assert len(run_closed.items) == len(items)
    assert all("Facts:" not in i.messages[0]["content"] for i in run_closed.items)
    with pytest.raises(KgsynthError, match="closed-book"):
        resolve_set("medqa:closed")
