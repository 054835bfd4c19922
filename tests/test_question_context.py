"""The question context: frozen inputs, a memo whose loss changes nothing, the generator's tally, and the
phenotype root read from the run's schema (not a constant)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kgsynth.graph.index import CSRIndex
from kgsynth.graph.model import Graph
from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
from kgsynth.questions.draft import Memo, Tally, build_context, phenotypes_ok
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.audit import audit_items
from kgsynth.run.generate import Generator


def _descendants(g: Graph, root: str) -> set[int]:
    """``root`` and every term below it, by plain Python over the graph's subclass_of edges."""
    part = g.relation_slice("biolink:subclass_of")
    children: dict[int, list[int]] = {}
    for child, parent in zip(g.src[part].tolist(), g.dst[part].tolist(), strict=True):
        children.setdefault(parent, []).append(child)
    seen, todo = {g.index[root]}, [g.index[root]]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


def _own_schema(tmp_path: Path, root: str) -> str:
    path = tmp_path / "own.yaml"
    path.write_text(f"name: own\ntitle: t\ninclude: [{DEFAULT_SCHEMA}]\nroots: {{phenotypic_abnormality: '{root}'}}\n")
    return str(path)


def test_context_is_frozen_with_an_empty_memo_and_the_tally_it_was_given(mini_graph: Graph) -> None:
    g = mini_graph
    tally = Tally()
    ctx = build_context(g, CSRIndex(g), load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=2), tally=tally)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.abnormal = np.zeros(g.num_nodes, dtype=bool)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.memo = Memo()  # type: ignore[misc]
    assert ctx.tally is tally
    assert all(not getattr(ctx.memo, f.name) for f in dataclasses.fields(Memo))


def test_the_schemas_phenotype_root_decides_which_terms_are_phenotypes(mini_graph: Graph, tmp_path: Path) -> None:
    """The default schema's root (HP:0000118) gives every term under it; a user schema naming the nervous-system
    branch instead makes the other branches' terms fail the phenotype check and moves the organ systems down."""
    g = mini_graph
    index = CSRIndex(g)
    default_root = load_schema(DEFAULT_SCHEMA).phenotype_root
    assert default_root == "HP:0000118"
    default = build_context(g, index, load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=2))
    assert set(np.flatnonzero(default.abnormal).tolist()) == _descendants(g, default_root)

    own_name = _own_schema(tmp_path, "HP:0000707")
    own = build_context(g, index, load_schema(own_name), GenerateConfig(n=5, hops=2, schema_name=own_name))
    under = _descendants(g, "HP:0000707")
    assert set(np.flatnonzero(own.abnormal).tolist()) == under
    eye = g.index["HP:0000478"]  # under Phenotypic abnormality, not under the nervous system
    assert phenotypes_ok(default, np.array([eye])) and not phenotypes_ok(own, np.array([eye]))
    nervous = sorted(under - {g.index["HP:0000707"]})[0]
    assert phenotypes_ok(own, np.array([nervous]))
    # the organ systems are the root's children in both (the prover reads the schema's root)
    part = g.relation_slice("biolink:subclass_of")
    for ctx, root in ((default, default_root), (own, "HP:0000707")):
        kids = {int(s) for s, d in zip(g.src[part], g.dst[part], strict=True) if int(d) == g.index[root]}
        assert ctx.prover.organ_system_roots == kids
    assert default.prover.organ_system_roots != own.prover.organ_system_roots


def test_the_audit_reads_the_root_of_the_schema_it_is_given(mini_graph: Graph, tmp_path: Path) -> None:
    missing = audit_items([], graph=mini_graph, schema_name=_own_schema(tmp_path, "HP:9999999"))
    assert missing["skipped"]["organ_system_keys"] == "HP:9999999 is not in the graph"
    assert "organ_system_keys" not in audit_items([], graph=mini_graph)["skipped"]


@pytest.mark.slow
def test_dropping_the_memo_after_every_attempt_changes_no_item(real_graph: Graph) -> None:
    """The memo is a cache: emptied after each attempt, the run accepts the same items, byte for byte."""
    cfg = GenerateConfig(n=16, hops=2, types=["chain", "vignette"], formats=["mcq", "short"], seed=5)
    runs = []
    for drop in (False, True):
        gen = Generator(real_graph, cfg)
        items, vignettes = [], 0
        while gen.accepted < cfg.n and gen.attempt < 40 * cfg.n:
            item = gen.next_item()
            if item is not None:
                items.append(item.model_dump_json())
                vignettes += item.type == "vignette"
            if drop:
                gen.ctx.memo.clear()
        assert gen.tally.vignettes_accepted == vignettes > 0
        runs.append(items)
    assert len(runs[0]) == cfg.n
    assert runs[0] == runs[1]


def test_association_scores_read_back_from_the_cache_equal_fresh_ones(
    real_graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scores read back from the sparse cache (or recomputed after eviction) equal a fresh walk, read-only."""
    from kgsynth.questions import draft
    from kgsynth.questions.association import association_scores

    monkeypatch.setattr(draft, "ASSOCIATION_CACHE", 2)
    g = real_graph
    ctx = build_context(g, CSRIndex(g), load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=3))
    lo, _ = g.category_range("biolink:Drug")
    sets = [np.array([lo + i], dtype=np.int32) for i in range(3)]

    def fresh(s: np.ndarray) -> np.ndarray:
        return association_scores(draft.ow(ctx).walks, s, steps=4, keep=ctx.config.association_keep)

    first = [draft.association(ctx, s).copy() for s in sets]  # the third evicts the first
    assert len(ctx.memo.association_cache) == 2
    for s, got in zip([sets[1], sets[0], sets[2], sets[1]], [first[1], first[0], first[2], first[1]], strict=True):
        again = draft.association(ctx, s)
        assert np.array_equal(again, got) and np.array_equal(again, fresh(s)) and again.any()
        with pytest.raises(ValueError):
            again[0] = 1.0


@pytest.mark.slow
def test_the_uniform_baseline_counts_the_same_with_the_runs_caches(real_graph: Graph) -> None:
    """The uniform-start pass of ``kgsynth generate`` reusing the run's caches of the graph counts what it counts
    with caches of its own (the caches it shares depend on nothing the rarity weights change)."""
    from kgsynth.run.generate import uniform_coverage

    cfg = GenerateConfig(n=12, hops=3, seed=23)
    gen = Generator(real_graph, cfg)
    while gen.accepted < cfg.n and gen.attempt < 200 * cfg.n:
        gen.next_item()
    assert gen.ctx.memo.association_cache and gen.ctx.memo.unsafe_cache
    shared = uniform_coverage(real_graph, cfg, gen.index, like=gen)
    assert shared == uniform_coverage(real_graph, cfg, gen.index) > 0
