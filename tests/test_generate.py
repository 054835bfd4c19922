"""`kgsynth generate` on the real default KG: every proof re-checked by code independent of the generator."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from kgsynth.graph.model import Graph
from kgsynth.questions.item import Item
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.generate import generate
from kgsynth.run.journal import read_run_items

pytestmark = pytest.mark.slow


class Oracle:
    """Plain-Python adjacency built straight from the graph's edge arrays (no CSR index, no Prover).

    Symptomatic indications (PharmacotherapyDB SYM) are left out, as generation leaves them out by default:
    a path through one is then not an edge of the oracle, and a proof counting one fails.
    """

    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.out: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.inn: dict[str, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.edge_keys: set[tuple[str, str, str, str]] = set()
        for s, d, r, src, q in zip(graph.src.tolist(), graph.dst.tolist(), graph.rel.tolist(),
                                   graph.edge_source.tolist(), graph.qual.tolist(), strict=True):  # fmt: skip
            rel = graph.relations[r]
            if rel == "biolink:treats" and q >= 0 and graph.qualifiers[q].get("indication_category") == "symptomatic":
                continue
            self.out[rel][s].add(d)
            self.inn[rel][d].add(s)
            self.edge_keys.add((graph.ids[s], rel, graph.ids[d], graph.sources[src].name))
        self._closure: dict[tuple[int, bool], set[int]] = {}

    def step(self, nodes: set[int], step: str) -> set[int]:
        inverse = step.startswith("^")
        table = self.inn if inverse else self.out
        rel = step.lstrip("^")
        return {m for n in nodes for m in table[rel].get(n, ())}

    def closure(self, term: int, down: bool) -> set[int]:
        key = (term, down)
        if key not in self._closure:
            seen, stack = {term}, [term]
            table = self.inn if down else self.out
            while stack:
                for m in table["biolink:subclass_of"].get(stack.pop(), ()):
                    if m not in seen and self.g.ids[m].startswith("HP:"):
                        seen.add(m)
                        stack.append(m)
            self._closure[key] = seen
        return self._closure[key]

    def any_closure(self, node: int, down: bool) -> set[int]:
        """``node`` and all its ancestors (or descendants) over ``subclass_of``, in any ontology."""
        seen, stack = {node}, [node]
        table = self.inn if down else self.out
        while stack:
            for m in table["biolink:subclass_of"].get(stack.pop(), ()):
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        return seen

    def diseases_with(self, term: int, rel: str = "biolink:has_phenotype") -> set[int]:
        return {d for t in self.closure(term, down=True) for d in self.inn[rel].get(t, ())}

    def candidates(self, item: Item) -> list[set[int]]:
        """The candidate set after each constraint, recomputed from the constraints' arguments."""
        ix = self.g.index
        layers: list[set[int]] = []
        current: set[int] | None = None
        for c in item.constraints:
            if c.kind == "start":
                current = {ix[c.args["entity"]]}
            elif c.kind == "has_phenotype":
                s = self.diseases_with(ix[c.args["phenotype"]])
                current = s if current is None else current & s
            elif c.kind == "has_mode_of_inheritance":
                s = self.diseases_with(ix[c.args["mode"]], "biolink:has_mode_of_inheritance")
                current = s if current is None else current & s
            elif c.kind == "chain_step":
                assert current is not None
                current = self.step(current, c.args["step"])
            else:
                raise AssertionError(f"unknown constraint kind {c.kind}")
            layers.append(set(current))
        return layers


def check_item(item: Item, oracle: Oracle) -> None:
    g, ix = oracle.g, oracle.g.index
    layers = oracle.candidates(item)
    for c, layer in zip(item.constraints, layers, strict=True):
        assert c.candidates_after == len(layer), (item.id, c)
    final = layers[-1]
    answer = ix[item.answer.curie]
    assert answer in final
    if item.format == "short":  # every proven answer is accepted (a short item is graded on the whole set)
        assert final == {ix[c] for c in item.answer.accepted}
        assert item.options == [] and item.answer.letter is None
        return
    in_set = [o for o in item.options if ix[o.curie] in final]
    assert [o.letter for o in in_set] == [item.answer.letter]
    assert len({o.text.lower() for o in item.options}) == len(item.options)
    answer_cat = g.category[answer]
    upward = set(final)
    if g.categories[answer_cat] == "biolink:PhenotypicFeature":
        upward = {a for t in final for a in oracle.closure(t, down=False)}
    for d in item.distractors:
        node = ix[d.curie]
        assert g.category[node] == answer_cat
        assert node not in upward
        failed = item.constraints[d.failed_constraint]
        if failed.kind == "has_phenotype":
            assert node not in oracle.diseases_with(ix[failed.args["phenotype"]])
        elif failed.kind == "has_mode_of_inheritance":
            assert node not in oracle.diseases_with(ix[failed.args["mode"]], "biolink:has_mode_of_inheritance")
        else:
            assert failed.kind == "chain_step" and d.failed_constraint == len(item.constraints) - 1
        if d.rule == "negative_evidence":
            if failed.kind == "has_phenotype":
                term = ix[failed.args["phenotype"]]
                negated = oracle.out["NOT biolink:has_phenotype"].get(node, set())
                assert negated & oracle.closure(term, down=False)
            else:
                prev = layers[-2]  # every entity the hidden step could stand for
                if item.constraints[-1].args["step"] == "^biolink:treats":
                    assert prev <= oracle.out["NOT biolink:treats"].get(node, set()), d
                else:
                    up = oracle.closure(node, down=False)
                    assert all(oracle.out["NOT biolink:has_phenotype"].get(p, set()) & up for p in prev), d
        if d.rule == "unannotated_organ_system":
            term = ix[failed.args["phenotype"]]
            root = ix["HP:0000118"]
            systems = {s for s in oracle.closure(term, down=False) if root in oracle.out["biolink:subclass_of"][s]}
            annotated = {
                s
                for p in oracle.out["biolink:has_phenotype"].get(node, ())
                for s in oracle.closure(p, down=False)
                if root in oracle.out["biolink:subclass_of"].get(s, ())
            }
            assert systems and not systems & annotated
    # the evidence path: real edges, with their source, chained from start to answer
    for t in item.path:
        assert (t.subject, t.predicate, t.object, t.source) in oracle.edge_keys
        assert t.licence == next(s.licence for s in g.sources if s.name == t.source)
    assert item.answer.curie in {t.subject for t in item.path} | {t.object for t in item.path}


CURIE = re.compile(r"^[A-Za-z][\w.]*:[\w.:-]+$")


def plain(name: str) -> str:
    """A name compared across vocabularies: lower case, words only, singular, no 'agent'/'drug'."""
    words = [w for w in re.split(r"[^0-9a-z]+", name.lower()) if w and w not in {"agent", "agents", "drug", "drugs"}]
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")) else w
                    for w in words)  # fmt: skip


def all_names(g: Graph, node: int) -> set[str]:
    return {plain(x) for x in [g.names[node], *g.synonyms[node], *g.layperson[node]]} - {""}


def check_open_world(item: Item, oracle: Oracle) -> None:
    """The open-world rules, re-checked from the graph's arrays without the generator's code."""
    g, ix = oracle.g, oracle.g.index
    for o in item.options:  # a readable name, never a raw identifier
        assert o.text and o.text != o.curie and not CURIE.match(o.text), o
        assert re.search(r"[A-Za-z0-9]", o.text), o  # not a placeholder like "-"
    if item.format == "short":
        assert re.search(r"[A-Za-z0-9]", item.answer.name) and not CURIE.match(item.answer.name), item.answer
    if item.type == "vignette":  # no finding (or onset) names the diagnosis
        diagnosis = all_names(g, ix[item.path[0].subject])
        for c in item.constraints:
            if c.kind == "has_phenotype":
                finding = all_names(g, ix[c.args["phenotype"]])
                assert not finding & diagnosis, (item.id, c)
                assert not any(f" {a} " in f" {b} " or f" {b} " in f" {a} " for a in finding for b in diagnosis), c
    if item.format != "mcq":
        return
    layers = oracle.candidates(item)
    final = layers[-1]
    answer = ix[item.answer.curie]
    correct_names = {n for t in final for n in all_names(g, t)}
    related = {r for t in final for r in oracle.any_closure(t, down=False) | oracle.any_closure(t, down=True)}
    hidden: set[int] = set()
    last = item.constraints[-1]
    if last.kind == "chain_step" and len(layers) > 1 and 0 < len(layers[-2]) <= 200:
        hidden = set(layers[-2])
        parents = oracle.step(hidden, "biolink:subclass_of")
        near = hidden | parents | oracle.step(parents, "^biolink:subclass_of")
        reached = oracle.step(near, last.args["step"])
    for d in item.distractors:
        node = ix[d.curie]
        assert d.rule in {"negative_evidence", "unannotated_organ_system", "far_negative", "near_diagnosis",
                          "shortcut_peer", "use_peer", "near_association", "near_association_wide", "same_area_nearest",
                          "near_association_other_area"}, d  # fmt: skip
        # not a correct entity under another name, nor above or below one (HPO, MONDO/DOID, MeSH trees)
        assert plain(g.names[node]) not in correct_names, (item.id, d)
        assert node not in related, (item.id, d)
        if hidden and d.rule != "negative_evidence":
            # not reachable by the asked relation from the hidden entities, their parents or siblings
            assert node not in reached, (item.id, d)
            if last.args["step"] == "biolink:has_phenotype":
                phenos = oracle.step(hidden, "biolink:has_phenotype")
                near_terms = {r for p in phenos for r in oracle.closure(p, False) | oracle.closure(p, True)}
                assert node not in near_terms, (item.id, d)
    if item.type == "vignette" and item.hops == 1:
        diagnosis = ix[item.path[0].subject]
        kin = oracle.any_closure(diagnosis, down=False) | oracle.any_closure(diagnosis, down=True)
        kin |= oracle.step(oracle.step({diagnosis}, "biolink:subclass_of"), "^biolink:subclass_of")
        assert not {ix[d.curie] for d in item.distractors} & kin, item.id
        for d in item.distractors:  # a wrong diagnosis misses two findings, or is explicitly negated
            if d.rule != "negative_evidence":
                node = ix[d.curie]
                missed = [c for c in item.constraints if c.kind == "has_phenotype"
                          and node not in oracle.diseases_with(ix[c.args["phenotype"]])]  # fmt: skip
                assert len(missed) >= 2, (item.id, d)
    assert answer in final


@pytest.fixture(scope="module")
def oracle(real_graph: Graph) -> Oracle:
    return Oracle(real_graph)


@pytest.fixture(scope="module")
def thousand(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("gen") / "out"
    summary = generate(real_graph, GenerateConfig(n=1000, hops=3, seed=7), out)
    return out, summary


def test_thousand_items_at_three_hops_each_proof_rechecked(thousand, oracle: Oracle) -> None:
    out, summary = thousand
    items = read_run_items(out)
    assert len(items) == 1000 == summary["items"]
    assert {it.hops for it in items} == {3}
    assert {it.type for it in items} == {"chain", "vignette"}
    for item in items:
        check_item(item, oracle)
        check_open_world(item, oracle)
    # no symptomatic indication on any path (the oracle has none), no 10 diagnoses over 15% of vignettes
    diagnoses = Counter(it.path[0].subject for it in items if it.type == "vignette")
    assert sum(c for _, c in diagnoses.most_common(10)) <= 0.15 * sum(diagnoses.values())
    # no two items share question text, or answer and constraints
    stems = [it.question for it in items]
    assert len(set(stems)) == len(stems)
    keys = {(it.answer.curie, tuple(json.dumps(c.args, sort_keys=True) for c in it.constraints)) for it in items}
    assert len(keys) == len(items)
    # every letter is gold equally often
    letters = Counter(it.answer.letter for it in items)
    assert set(letters.values()) == {250}
    # several phrasings: stems do not all share one template
    assert len({it.template_id.split("/")[1] for it in items}) >= 3
    assert all(it.rationale.startswith(("Step 1", "The findings")) for it in items)


def test_distractors_are_near_the_key_and_therapeutic(thousand, real_graph: Graph) -> None:
    """Every distractor records its association with what the stem states and its rank beside the key's; a
    near one lies within its rule's band of the key's association and popularity, in the key's area when it
    has one (but for the other-area rule); a chain key with an area never stands alone in it; no option comes
    from the non-therapeutic vocabulary or is an HPO grouping term; no key is left alone with its shortcut anchor;
    no distractor lies below another; the distractors never all share an area the key lacks, nor form a cluster of
    co-annotated findings the key stands outside of, nor (drug keys) all act on a target the key lacks."""
    import numpy as np

    from kgsynth.graph.index import CSRIndex, Step
    from kgsynth.questions.areas import build_areas
    from kgsynth.questions.association import Walks
    from kgsynth.questions.curation import (
        contradicted_memberships,
        load_curation,
        non_therapeutic_mask,
        without_symptomatic_indications,
    )
    from kgsynth.questions.distractors import ODD_ANCESTOR_KINDS, odd_cluster
    from kgsynth.questions.openworld import closure, descendant_counts
    from kgsynth.questions.shortcuts import Shortcuts
    from kgsynth.questions.verify import SUBCLASS, Prover
    from kgsynth.run.audit import GraphFacts, _contains_words, normalize_name

    out, _ = thousand
    g, cfg = without_symptomatic_indications(real_graph), GenerateConfig()  # the graph the run walks
    cur = load_curation("med")
    unfit = non_therapeutic_mask(g, cur)
    index = CSRIndex(g)
    areas = build_areas(g, index, therapeutic_root=cur.therapeutic_class_root,
                        separate_roots=cur.separate_area_roots)  # fmt: skip
    degree = Walks.of(g).degree
    shortcuts = Shortcuts.build(
        g,
        index,
        cur,
        use_terms=cfg.shortcut_use_terms,
        class_members=cfg.shortcut_class_members,
        contradicted=contradicted_memberships(g, cur),
    )
    targets = Step("biolink:interacts_with")
    prover = Prover(g, index)
    descendants = descendant_counts(prover)
    pheno = g.category_range("biolink:PhenotypicFeature")
    facts = GraphFacts(g)  # the audit's own ancestors
    # and its start reach, over every indication as the audit reads the run's graph: a start drug's symptomatic uses
    # are its uses too, though the run does not walk them (kgsynth.questions.curation.symptomatic_uses)
    all_uses = GraphFacts(real_graph)
    near = peers = drug_keys = 0
    for item in read_run_items(out):
        opts = [g.index[o.curie] for o in item.options]
        key = g.index[item.answer.curie]
        # no grouping term ("Abnormality of mental function") as a key or an option
        assert all(descendants[o] <= cur.max_key_phenotype_descendants for o in opts), item.id
        # the distractors share no area the key lacks, nor (phenotypes) form a cluster the key stands outside of
        wrong_areas = [int(areas[g.index[d.curie]]) for d in item.distractors]
        assert len(wrong_areas) < 2 or not np.bitwise_and.reduce(wrong_areas) & ~int(areas[key]), item.id
        assert not (pheno[0] <= key < pheno[1]) or not odd_cluster(
            prover, key, [g.index[d.curie] for d in item.distractors], share=cfg.cluster_min_share,
            ratio=cfg.cluster_key_ratio,
        ), item.id  # fmt: skip
        # no ontology term above every distractor and not above the key; not every distractor of a chain in what its
        # start reaches at once while the key is not
        wrong = [g.index[d.curie] for d in item.distractors]
        start = np.array([g.index[c.args["entity"]] for c in item.constraints if c.kind == "start"], dtype=np.int32)
        if len(wrong) > 1 and g.categories[int(g.category[key])] in ODD_ANCESTOR_KINDS:
            above = frozenset.intersection(*(facts.ancestors(w) | {w} for w in wrong))
            assert not above - facts.ancestors(key) - {key}, item.id
        if len(wrong) > 1 and item.type == "chain" and len(start) == 1:
            reach = all_uses.reach_at_once(int(start[0]))
            assert key in reach or not all(w in reach for w in wrong), item.id
        # no option's name runs whole inside another's (arthritis, polyarticular arthritis: the audit's own matcher)
        shown = [normalize_name(o.text) for o in item.options]
        assert not any(a != b and _contains_words(b, a) for a in shown for b in shown), item.id
        # not every distractor of a drug key on a target the key lacks
        if item.distractors and g.categories[int(g.category[key])] == "biolink:Drug":
            drug_keys += 1
            shared = set.intersection(*(set(index.neighbors(g.index[d.curie], targets).tolist())
                                        for d in item.distractors))  # fmt: skip
            assert not shared - set(index.neighbors(key, targets).tolist()), item.id
        # a chain key's shortcut anchor (the drug's use, the key's mechanism class) is shared by an option (unless
        # explicit negative evidence chose the distractors; a vignette continuation's anchor is soft)
        assert (
            item.type == "vignette"
            or any(d.rule == "negative_evidence" for d in item.distractors)
            or not shortcuts.alone(g.index[item.answer.curie], start if len(start) else None, opts)
        ), item.id
        # no option is an ontology ancestor of another distractor
        for a in wrong:
            assert not any(
                b != a and a in closure(index, np.array([b], np.int32), SUBCLASS, g.num_nodes) for b in wrong
            )
        peers += sum(d.rule == "shortcut_peer" for d in item.distractors)
        assert not any(unfit[g.index[o.curie]] for o in item.options), item.id
        for d in item.distractors:
            assert d.association is not None and d.key_association is not None, (item.id, d)
            assert 1 <= d.association_rank <= len(item.options) and 1 <= d.key_association_rank <= len(item.options)
            assert (d.association > d.key_association) == (d.association_rank < d.key_association_rank)
        rules = {d.rule for d in item.distractors}
        if item.type == "chain" and areas[key] and "negative_evidence" not in rules:  # never alone in its area
            same = [d for d in item.distractors if areas[g.index[d.curie]] & areas[key]]
            assert len(same) >= cfg.min_same_area_options, item.id
        for d in item.distractors:
            if d.rule not in ("near_association", "near_association_wide", "same_area_nearest",
                              "near_association_other_area"):  # fmt: skip
                continue
            near += 1
            w = 1.0 if d.rule == "near_association" else 2.0  # the wider rules: both bands twice as wide
            floor = 0.0 if d.rule == "same_area_nearest" else cfg.near_floor / w  # nearest in the area: no floor
            ratio = d.association / d.key_association  # (recorded to six significant digits)
            assert floor * 0.9999 <= ratio <= cfg.near_band * w * 1.0001, (item.id, d)
            node = g.index[d.curie]
            pop = degree[node] / degree[key]
            assert 1 / (cfg.popularity_band * w) <= pop <= cfg.popularity_band * w, (item.id, d)
            if d.rule != "near_association_other_area":
                assert areas[key] == 0 or areas[node] & areas[key], (item.id, d)
    assert near > 500 and peers > 20 and drug_keys > 100


def test_summary_and_rare_coverage(thousand) -> None:
    out, summary = thousand
    rc = summary["rare_coverage"]
    assert rc["orpha_diseases_covered"] > rc["uniform_start_sampling"] > 0
    assert sum(summary["by_type_format_hops"].values()) == 1000
    assert summary["attempts"] == 1000 + sum(summary["drop_reasons"].values())
    card = (out / "README.md").read_text()
    assert "NON-COMMERCIAL" not in card and '"seed": 7' in card


def test_the_run_holds_no_dataset_and_its_export_opens_with_trl_columns(thousand, tmp_path: Path) -> None:
    import datasets

    from kgsynth.dataset.export import export_run

    out, _ = thousand
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["jsonl"]  # no hf/: export is the one door
    summary = export_run(out, tmp_path / "ds")  # what `kgsynth export` (or `generate --export`) writes
    cache = str(tmp_path / "hf-cache")
    grpo = datasets.load_dataset(str(tmp_path / "ds"), "grpo", cache_dir=cache)
    assert summary["items_in_run"] == 1000  # then dedup and decontamination drop some
    assert {name: split.num_rows for name, split in grpo.items()} == summary["rows"]["grpo"]
    row = grpo["train"][0]
    assert row["prompt"][0]["role"] == "user" and "Answer:" in row["prompt"][0]["content"]
    assert "A. " in row["prompt"][0]["content"]
    assert row["answer_letter"] in "ABCD" and row["answer_aliases"]
    items = datasets.load_dataset(str(tmp_path / "ds"), "items", split="train", cache_dir=cache)
    item = next(it for it in items if it["id"] == row["item_id"])
    assert item["question"] in row["prompt"][0]["content"]
    assert json.loads(item["entity_aliases"])


@pytest.mark.parametrize(
    ("hops", "types", "formats"),
    [(1, ["vignette"], ["mcq"]), (1, ["chain"], ["short"]), (2, ["chain", "vignette"], ["mcq", "short"]),
     (4, ["chain"], ["mcq"])],
)  # fmt: skip
def test_other_hops_types_and_formats(real_graph: Graph, oracle: Oracle, tmp_path: Path, hops, types, formats) -> None:
    # 4-hop chains pass three hidden entities, and the KG holds almost none that avoid hub middles (obesity, PPARG,
    # ESR1): under the 2% cap a 4-hop chain-only run stops at 9 items (docs/generate.md); this test is about proofs
    spread = {"max_hidden_share": 1.0} if hops == 4 and types == ["chain"] else {}
    cfg = GenerateConfig(n=60, hops=hops, types=types, formats=formats, options=5, seed=1, **spread)
    summary = generate(real_graph, cfg, tmp_path / "o", compare_uniform=False)
    items = read_run_items(tmp_path / "o")
    assert len(items) == 60 and {it.hops for it in items} == {hops}
    for item in items:
        check_item(item, oracle)
        check_open_world(item, oracle)
        if item.format == "mcq":
            assert len(item.options) == 5
    assert {it.format for it in items} == set(formats)
    if types == ["vignette"]:
        rules = summary["distractor_rules"]
        assert rules.get("negative_evidence", 0) + rules.get("unannotated_organ_system", 0) > 0


def test_short_answers_at_three_hops_fill_their_run(real_graph: Graph, oracle: Oracle, tmp_path: Path) -> None:
    """300 short items at --hops 3 (55 before the short-answer starts and the short caps), each accepting its
    whole proven answer set by the oracle, within the short caps, open-world clean."""
    cfg = GenerateConfig(n=300, hops=3, formats=["short"], seed=0)
    summary = generate(real_graph, cfg, tmp_path / "o", compare_uniform=False)
    items = read_run_items(tmp_path / "o")
    assert len(items) == 300 and summary["attempts"] < 200 * 300
    for item in items:
        check_item(item, oracle)
        check_open_world(item, oracle)
    keys = Counter(it.answer.curie for it in items)
    assert max(keys.values()) <= max(1, int(cfg.max_short_key_share * cfg.n))
    diagnoses = Counter(it.path[0].subject for it in items if it.type == "vignette")
    assert max(diagnoses.values()) <= max(1, int(cfg.max_diagnosis_share * cfg.n))
    assert sum(n for _, n in diagnoses.most_common(10)) <= 0.15 * sum(diagnoses.values())


def test_same_seed_gives_byte_identical_output(real_graph: Graph, tmp_path: Path) -> None:
    cfg = GenerateConfig(n=150, hops=3, seed=3)
    for name in ("a", "b"):
        generate(real_graph, cfg, tmp_path / name, compare_uniform=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    other = GenerateConfig(n=150, hops=3, seed=4)
    generate(real_graph, other, tmp_path / "c", compare_uniform=False)
    assert (tmp_path / "c" / "jsonl" / "items-00000.jsonl").read_bytes() != (
        tmp_path / "a" / "jsonl" / "items-00000.jsonl"
    ).read_bytes()


def _cli(args: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "kgsynth.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_killed_run_resumes_to_the_same_dataset(real_graph: Graph, cache_dir: Path, tmp_path: Path) -> None:
    # 600 items: with the near-distractor rules a --hops 3 item costs about 100 attempts (docs/generate.md)
    args = ["generate", "--n", "600", "--hops", "3", "--seed", "11", "--no-compare-uniform"]
    whole = _cli([*args, "--out", str(tmp_path / "whole")], cache_dir)
    assert whole.wait(timeout=1200) == 0, whole.stderr.read() if whole.stderr else ""
    killed = tmp_path / "killed"
    proc = _cli([*args, "--out", str(killed)], cache_dir)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        p = killed / "progress.json"
        if p.exists() and json.loads(p.read_text())["accepted"] >= 200:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it could be killed"
    # a torn write after the last commit: the restart must cut it away
    with next((killed / "jsonl").glob("*.jsonl")).open("a") as fh:
        fh.write('{"partial": ')
    again = _cli([*args, "--out", str(killed)], cache_dir)
    assert again.wait(timeout=1200) == 0, again.stderr.read() if again.stderr else ""
    files = sorted(p.relative_to(tmp_path / "whole") for p in (tmp_path / "whole").rglob("*") if p.is_file())
    for f in files:
        assert (killed / f).read_bytes() == (tmp_path / "whole" / f).read_bytes(), f


def test_bad_generate_input_is_a_clear_error(real_graph: Graph, cache_dir: Path, tmp_path: Path) -> None:
    proc = _cli(["generate", "--type", "riddle", "--out", str(tmp_path / "x")], cache_dir)
    assert proc.wait(timeout=300) == 2
    err = proc.stderr.read() if proc.stderr else ""
    assert "invalid option generate.types" in err and "Traceback" not in err
    generate(real_graph, GenerateConfig(n=20, hops=2, seed=1), tmp_path / "y", compare_uniform=False)
    proc = _cli(["generate", "--n", "20", "--hops", "3", "--out", str(tmp_path / "y")], cache_dir)
    assert proc.wait(timeout=300) == 2
    assert "holds a run with another configuration" in (proc.stderr.read() if proc.stderr else "")


def test_a_run_that_runs_out_of_attempts_keeps_its_items_and_says_what_to_change(
    real_graph: Graph, tmp_path: Path
) -> None:
    from kgsynth.errors import KgsynthError

    out = tmp_path / "short_run"
    with pytest.raises(KgsynthError) as err:
        generate(real_graph, GenerateConfig(n=4, hops=3, seed=2), out, compare_uniform=False, max_attempts_per_item=2)
    made = len(read_run_items(out))
    assert err.value.message == f"only {made} of 4 items after 8 attempts"
    hint = err.value.hint or ""
    assert f"the {made} items are kept in {out}" in hint and "max_diagnosis_share" in hint and "Drop reasons: " in hint


def test_non_commercial_sources_are_flagged(cache_dir: Path, tmp_path: Path) -> None:
    from kgsynth.graph.assemble import load_graph

    g = load_graph(include_non_commercial=True, cache_dir=cache_dir)
    generate(g, GenerateConfig(n=20, hops=2, seed=2), tmp_path / "nc", compare_uniform=False)
    assert "NON-COMMERCIAL" in (tmp_path / "nc" / "README.md").read_text()
    record = json.loads((tmp_path / "nc" / "config.json").read_text())
    assert record["kg"]["non_commercial_sources"] == ["sider"]


def test_generate_with_a_teacher_behind_a_loopback_server(cache_dir: Path, tmp_path: Path) -> None:
    from tests.chat_server import ChatServer

    out = tmp_path / "t"
    args = ["generate", "--n", "20", "--hops", "2", "--seed", "5", "--no-compare-uniform", "--out", str(out),
            "--teacher", "openai", "--teacher-model", "test-teacher", "--concurrency", "4"]  # fmt: skip
    with ChatServer() as server:
        env_args = [*args, "--teacher-base-url", server.base_url]
        proc = subprocess.run([sys.executable, "-m", "kgsynth.cli", *env_args], capture_output=True, text=True,
                              env={**os.environ, "KGSYNTH_CACHE_DIR": str(cache_dir), "OPENAI_API_KEY": "sk-test"},
                              timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        first = sum(server.served_ok().values())
        again = subprocess.run([sys.executable, "-m", "kgsynth.cli", *env_args], capture_output=True, text=True,
                               env={**os.environ, "KGSYNTH_CACHE_DIR": str(cache_dir), "OPENAI_API_KEY": "sk-test"},
                               timeout=600)  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert sum(server.served_ok().values()) == first == 20  # nothing sent twice
    items = read_run_items(out)
    results = [json.loads(line) for line in (out / "teacher" / "results.jsonl").open()]
    assert sorted(r["item_id"] for r in results) == sorted(it.id for it in items)
    gold_a = {it.id for it in items if it.answer.letter == "A"}
    # the server always answers "A": exactly the items whose proven answer is A verify
    assert {r["item_id"] for r in results if r["verified"]} == gold_a and len(gold_a) == 5
    assert "5 verified, 15 rejected" in " ".join(proc.stdout.split())
