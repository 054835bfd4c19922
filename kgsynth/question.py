"""Questions from sampled paths: chains and clinical vignettes, each with its proof and distractors.

One attempt turns one random draw into an :class:`~kgsynth.item.Item` or a drop reason. Wording comes
from the Jinja templates in ``prompts/questions``; which relations and categories exist, and how they
are spoken in rationales, from the graph schema.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kgsynth.index import CSRIndex, Step
from kgsynth.item import LETTERS, Answer, Constraint, Distractor, Item, Option, Triple
from kgsynth.model import Graph
from kgsynth.resources import prompts_dir
from kgsynth.sample import RarityConfig, rarity_scores, sample_walks
from kgsynth.schema import DEFAULT_SCHEMA, GraphSchema, MetapathSpec
from kgsynth.verify import HAS_PHENOTYPE, INHERITANCE, SUBCLASS, Prover

logger = logging.getLogger(__name__)

QuestionType = Literal["chain", "vignette"]
AnswerFormat = Literal["mcq", "short"]

# HPO frequency terms -> the share of patients they stand for.
FREQUENCY = {
    "HP:0040280": 1.0,  # obligate
    "HP:0040281": 0.9,  # very frequent
    "HP:0040282": 0.55,  # frequent
    "HP:0040283": 0.17,  # occasional
    "HP:0040284": 0.025,  # very rare
    "HP:0040285": 0.0,  # excluded
}
ONSET_ROOT = "HP:0003674"
_RATIO = re.compile(r"^(\d+)/(\d+)$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")


def frequency_share(value: str | None) -> float:
    """An HPO frequency qualifier as a share in [0, 1] (0.5 when the source gives none).

    >>> frequency_share("3/4"), frequency_share("HP:0040281"), frequency_share("20%"), frequency_share(None)
    (0.75, 0.9, 0.2, 0.5)
    """
    if not value:
        return 0.5
    if value in FREQUENCY:
        return FREQUENCY[value]
    m = _RATIO.match(value)
    if m and int(m.group(2)) > 0:
        return int(m.group(1)) / int(m.group(2))
    m = _PERCENT.match(value)
    if m:
        return float(m.group(1)) / 100
    return 0.5


def as_phrase(name: str) -> str:
    """A name as it reads inside a sentence: ``Seizure`` -> ``seizure``, ``EEG abnormality`` unchanged."""
    if len(name) > 1 and name[0].isupper() and not name[1].isupper() and not name[1].isdigit():
        return name[0].lower() + name[1:]
    return name


DEFAULT_TYPES: tuple[QuestionType, ...] = ("chain", "vignette")
DEFAULT_FORMATS: tuple[AnswerFormat, ...] = ("mcq",)


def _default_rarity() -> RarityConfig:
    return RarityConfig()


class GenerateConfig(BaseModel):
    """Everything that determines a generated dataset (with the KG version)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=1000, ge=1)
    hops: int = Field(default=3, ge=1, le=4)
    types: list[QuestionType] = Field(default_factory=lambda: list(DEFAULT_TYPES))
    formats: list[AnswerFormat] = Field(default_factory=lambda: list(DEFAULT_FORMATS))
    options: int = Field(default=4, ge=3, le=len(LETTERS))
    seed: int = Field(default=0, ge=0, lt=2**63, description="same seed, same KG -> byte-identical output")
    hub_cap: int = Field(default=200, ge=1)
    min_findings: int = Field(default=3, ge=1)
    max_findings: int = Field(default=6, ge=1)
    layperson: float = Field(default=0.25, ge=0, le=1)
    rarity: RarityConfig = Field(default_factory=_default_rarity)
    schema_name: str = DEFAULT_SCHEMA

    @field_validator("types", "formats")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one")
        return list(dict.fromkeys(v))


@dataclass
class Drop:
    reason: str


class QuestionBuilder:
    """Turns attempts into items; holds the graph, its index, the prover and the templates."""

    def __init__(self, graph: Graph, index: CSRIndex, schema: GraphSchema, config: GenerateConfig) -> None:
        self.graph = graph
        self.index = index
        self.schema = schema
        self.config = config
        self.prover = Prover(graph, index)
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(prompts_dir() / "questions")),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self.phrases: dict[str, list[str]] = env.get_template("phrases.j2").module.PHRASES  # type: ignore[attr-defined]
        self.t_chain = env.get_template("chain.j2")
        self.t_vignette = env.get_template("vignette.j2")
        self.t_rationale = env.get_template("rationale.j2")
        self.scores = rarity_scores(graph, index, config.rarity)
        self.chain_paths = self._metapaths(None, config.hops)
        self.continuations = self._metapaths("biolink:Disease", config.hops - 1) if config.hops > 1 else []
        self._starts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._systems_cache: dict[int, frozenset[int]] = {}
        self._reached: dict[str, np.ndarray] = {}
        self.pheno_degree = index.degree(Step("biolink:has_phenotype", inverse=True))
        self.onset_terms: frozenset[int] = frozenset()
        if ONSET_ROOT in graph.index:
            self.onset_terms = frozenset(int(x) for x in self.prover.descendants(graph.index[ONSET_ROOT]))
        self.abnormal = np.zeros(graph.num_nodes, dtype=bool)
        if "HP:0000118" in graph.index:
            self.abnormal[self.prover.descendants(graph.index["HP:0000118"])] = True
        self.licence_of = [s.licence for s in graph.sources]
        self.commercial = [s.commercial_use for s in graph.sources]

    # --- set-up -----------------------------------------------------------------------------------
    def _metapaths(self, start: str | None, hops: int) -> list[tuple[MetapathSpec, list[Step]]]:
        out = []
        for mp in self.schema.metapaths:
            if len(mp.steps) != hops or (start is not None and mp.start != start):
                continue
            steps = [Step.parse(s) for s in mp.steps]
            if all(str(s) in self.phrases and self.index._adj(s) is not None for s in steps):
                out.append((mp, steps))
        return out

    def _start_dist(self, key: str, candidates: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        got = self._starts.get(key)
        if got is None:
            w = np.power(self.scores[candidates], alpha) if alpha > 0 else np.ones(len(candidates))
            cdf = np.cumsum(w)
            got = (candidates, cdf / cdf[-1] if len(cdf) and cdf[-1] > 0 else cdf)
            self._starts[key] = got
        return got

    def _draw(self, key: str, candidates: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` starts drawn by rarity from ``candidates`` (the distribution is cached under ``key``)."""
        cands, cdf = self._start_dist(key, candidates, self.config.rarity.alpha)
        if len(cands) == 0:
            return np.empty(0, dtype=np.int32)
        return cands[np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cands) - 1)]

    def vignette_starts(self) -> np.ndarray:
        got = self._starts.get("vignette-starts")
        if got is None:
            lo, hi = self.graph.category_range("biolink:Disease")
            deg = self.index.degree(HAS_PHENOTYPE)[lo:hi]
            got = (np.arange(lo, hi, dtype=np.int32)[deg >= self.config.min_findings], np.empty(0))
            self._starts["vignette-starts"] = got
        return got[0]

    def completable(self, steps: list[Step], candidates: np.ndarray) -> np.ndarray:
        """The ``candidates`` from which at least one walk along ``steps`` exists (walked backwards)."""
        reachable = np.arange(self.graph.num_nodes, dtype=np.int32)
        for step in reversed(steps):
            reachable = self.index.reach(reachable, Step(step.relation, not step.inverse))
        return np.intersect1d(candidates, reachable)

    def is_abnormality(self, node: int) -> bool:
        """A phenotype under 'Phenotypic abnormality' (not a clinical-course or modifier term)."""
        return bool(self.abnormal[node])

    def _phenotypes_ok(self, nodes: np.ndarray) -> bool:
        lo, hi = self.prover.pheno_lo, self.prover.pheno_hi
        return all(self.is_abnormality(int(n)) for n in nodes if lo <= n < hi)

    # --- shared pieces ------------------------------------------------------------------------------
    def noun(self, node: int) -> str:
        cat = self.graph.categories[int(self.graph.category[node])]
        spec = self.schema.categories.get(cat)
        return spec.noun if spec else "entity"

    def triple(self, e: int) -> Triple:
        g = self.graph
        s, o = int(g.src[e]), int(g.dst[e])
        rel = g.relations[int(g.rel[e])]
        return Triple(
            subject=g.ids[s],
            subject_name=g.names[s],
            predicate=rel,
            object=g.ids[o],
            object_name=g.names[o],
            source=g.sources[int(g.edge_source[e])].name,
            licence=self.licence_of[int(g.edge_source[e])],
        )

    def step_sentence(self, step: Step, frm: int, to: int) -> str:
        spec = self.schema.predicates[step.relation]
        g = self.graph
        if step.inverse:
            return spec.inverse.format(subject=g.names[to], object=g.names[frm])
        return spec.forward.format(subject=g.names[frm], object=g.names[to])

    def aliases(self, node: int) -> list[str]:
        g = self.graph
        return list(dict.fromkeys([g.names[node], *g.synonyms[node], *g.layperson[node]]))

    def chain_phrase(self, start_text: str, steps: list[Step], rng: np.random.Generator) -> tuple[str, list[int]]:
        phrase, variants = start_text, []
        for step in steps:
            options = self.phrases[str(step)]
            v = int(rng.integers(len(options)))
            variants.append(v)
            phrase = options[v].replace("X", phrase)
        return phrase, variants

    def _end_distractors(
        self, steps: list[Step], layers: list[np.ndarray], answer: int, rng: np.random.Generator, k: int
    ) -> list[tuple[int, str]]:
        """Distractors for the end of a chain, each with the rule that chose it.

        Pools are tried in order of preference (explicit negative evidence, then hard negatives near the
        hidden entities, then any entity the last relation reaches) and built only when needed.
        """
        g, idx = self.graph, self.index
        final, last = layers[-1], steps[-1]
        prev = layers[-2] if len(layers) > 1 else None
        cat = int(g.category[answer])
        lo, hi = g.category_range(g.categories[cat])
        is_pheno = g.categories[cat] == "biolink:PhenotypicFeature"
        excluded = np.zeros(g.num_nodes, dtype=bool)
        excluded[final] = True
        if is_pheno:
            # a broader term of a true answer is true too (HPO is_a): never offer one as wrong
            frontier = final
            while len(frontier):
                up = idx.reach(frontier, SUBCLASS)
                frontier = up[~excluded[up]]
                excluded[frontier] = True

        def negative() -> np.ndarray:
            # Negative evidence must hold for every entity the hidden step could stand for.
            if prev is None:
                return np.empty(0, dtype=np.int32)
            if last.relation == "biolink:treats" and last.inverse and len(prev) <= 20:
                per = [idx.neighbors(int(d), Step("NOT biolink:treats", True)) for d in prev]
                return functools.reduce(np.intersect1d, per)
            if last == HAS_PHENOTYPE and len(prev) <= 5:
                per = []
                for d in prev:
                    negated = idx.neighbors(int(d), Step("NOT biolink:has_phenotype"))
                    per.append(
                        np.unique(np.concatenate([negated, *(self.prover.descendants(int(x)) for x in negated)]))
                    )
                return functools.reduce(np.intersect1d, per)
            return np.empty(0, dtype=np.int32)

        def hard() -> np.ndarray:
            if prev is None:
                return np.empty(0, np.int32)
            near = prev if len(prev) <= 32 else prev[rng.choice(len(prev), 32, replace=False)]
            return idx.reach(self.prover.siblings(near), last)

        def any_reached() -> np.ndarray:
            key = str(last)
            if key not in self._reached:
                adj = idx._adj(last)
                self._reached[key] = np.unique(adj.cols) if adj is not None else np.empty(0, np.int32)
            return self._reached[key]

        chosen: list[tuple[int, str]] = []
        names = {g.names[answer].lower(), *(a.lower() for a in self.aliases(answer))}
        excluded[answer] = True
        for rule, make in (
            ("negative_evidence", negative),
            ("hard_negative_closed_world", hard),
            ("closed_world_same_relation", any_reached),
        ):
            pool = make()
            pool = pool[(pool >= lo) & (pool < hi)]
            pool = pool[~excluded[pool]]
            if is_pheno:
                pool = pool[self.abnormal[pool]]
            if len(pool) == 0:
                continue
            take = pool if len(pool) <= 50 * k else pool[rng.choice(len(pool), 50 * k, replace=False)]
            for d in rng.permutation(take):
                d = int(d)
                if excluded[d] or g.names[d].lower() in names:
                    continue
                chosen.append((d, rule))
                excluded[d] = True
                names.add(g.names[d].lower())
                if len(chosen) == k:
                    return chosen
        return chosen

    def _item(
        self,
        *,
        qtype: QuestionType,
        fmt: AnswerFormat,
        stem: str,
        template_id: str,
        answer: int,
        distractors: list[tuple[int, str, int]],
        gold: int,
        path_edges: list[int],
        constraints: list[Constraint],
        rarity: float,
        hops: int,
        rationale_ctx: dict[str, Any],
    ) -> Item:
        """The item: the question is the rendered stem; options (for mcq) are a field of their own."""
        g = self.graph
        options: list[Option] = []
        dist_models: list[Distractor] = []
        if fmt == "mcq":
            order = [d for d, _, _ in distractors]
            slots: list[int] = [*order[:gold], answer, *order[gold:]]
            for i, node in enumerate(slots):
                options.append(Option(letter=LETTERS[i], curie=g.ids[node], text=g.names[node]))
            for d, rule, failed in distractors:
                letter = LETTERS[slots.index(d)]
                dist_models.append(
                    Distractor(curie=g.ids[d], name=g.names[d], letter=letter, failed_constraint=failed, rule=rule)
                )
        triples = [self.triple(e) for e in path_edges]
        sources = {int(g.edge_source[e]) for e in path_edges}
        entities = list(dict.fromkeys([t.subject for t in triples] + [t.object for t in triples]))
        answer_model = Answer(
            letter=LETTERS[gold] if fmt == "mcq" else None,
            curie=g.ids[answer],
            name=g.names[answer],
            aliases=self.aliases(answer),
        )
        rationale = self.t_rationale.render(**rationale_ctx, answer=g.names[answer]).strip()
        ident = hashlib.blake2b(f"{stem}\x00{g.ids[answer]}\x00{g.version}".encode(), digest_size=12).hexdigest()
        return Item(
            id=ident,
            question=stem,
            options=options,
            answer=answer_model,
            type=qtype,
            format=fmt,
            hops=hops,
            path=triples,
            constraints=constraints,
            distractors=dist_models,
            rarity=round(rarity, 6),
            template_id=template_id,
            kg_version=g.version,
            seed=self.config.seed,
            rationale=rationale,
            licences=sorted({self.licence_of[s] for s in sources}),
            non_commercial=any(not self.commercial[s] for s in sources),
            entity_aliases={c: self.aliases(g.index[c]) for c in entities},
        )

    # --- chains -------------------------------------------------------------------------------------
    def chain(self, rng: np.random.Generator, fmt: AnswerFormat, gold: int) -> Item | Drop:
        if not self.chain_paths:
            return Drop(f"no askable metapath of {self.config.hops} hops in the schema")
        mp, steps = self.chain_paths[int(rng.integers(len(self.chain_paths)))]
        lo, hi = self.graph.category_range(mp.start)
        if hi <= lo:
            return Drop("metapath start category absent from the graph")
        key = f"chain:{mp.name}"
        if key not in self._starts:
            self._start_dist(key, self.completable(steps, np.arange(lo, hi, dtype=np.int32)), self.config.rarity.alpha)
        starts = self._draw(key, np.empty(0, dtype=np.int32), rng, 8)
        walks = sample_walks(self.index, steps, starts, seed=rng, hub_cap=self.config.hub_cap)
        if len(walks.nodes) == 0:
            return Drop("walk died (dead end, repeated node or hub)")
        nodes, edges = walks.nodes[0], walks.edges[0]
        start, answer = int(nodes[0]), int(nodes[-1])
        if not self._phenotypes_ok(nodes):
            return Drop("path has a clinical-course or modifier term, not a phenotypic abnormality")
        layers = [np.array([start], dtype=np.int32), *self.prover.follow(np.array([start]), steps)]
        g = self.graph
        constraints = [
            Constraint(
                description=f"start: {g.names[start]}", kind="start", candidates_after=1, args={"entity": g.ids[start]}
            )
        ]
        for step, layer in zip(steps, layers[1:], strict=True):
            constraints.append(
                Constraint(
                    description=f"then {step}", kind="chain_step", candidates_after=len(layer), args={"step": str(step)}
                )
            )
        return self._finish(
            qtype="chain", fmt=fmt, gold=gold, rng=rng, steps=steps, layers=layers, answer=answer,
            constraints=constraints, path_edges=[int(e) for e in edges], start_text=g.names[start],
            start=start, nodes=[int(x) for x in nodes], mp_name=mp.name, vignette_ctx=None,
        )  # fmt: skip

    def _finish(
        self,
        *,
        qtype: QuestionType,
        fmt: AnswerFormat,
        gold: int,
        rng: np.random.Generator,
        steps: list[Step],
        layers: list[np.ndarray],
        answer: int,
        constraints: list[Constraint],
        path_edges: list[int],
        start_text: str,
        start: int,
        nodes: list[int],
        mp_name: str,
        vignette_ctx: dict[str, Any] | None,
        vignette_distractors: list[tuple[int, str, int]] | None = None,
        findings_rationale: dict[str, Any] | None = None,
    ) -> Item | Drop:
        final = layers[-1]
        if fmt == "short" and len(final) != 1:
            return Drop("short answer: more than one entity satisfies the question")
        k = self.config.options - 1
        if fmt == "mcq":
            if vignette_distractors is not None:
                distractors = vignette_distractors
            else:
                last = len(constraints) - 1
                distractors = [(d, rule, last) for d, rule in self._end_distractors(steps, layers, answer, rng, k)]
            if len(distractors) < k:
                return Drop("too few provably wrong distractors")
        else:
            distractors = []
        phrase, variants = self.chain_phrase(start_text, steps, rng) if steps else ("", [])
        sentences = [self.step_sentence(s, nodes[i], nodes[i + 1]) for i, s in enumerate(steps)]
        if vignette_ctx is None:
            variant = int(rng.integers(4))
            ctx: dict[str, Any] = {
                "variant": variant, "phrase": phrase, "answer_noun": self.noun(answer), "start_name": start_text,
                "mcq": fmt == "mcq",
            }  # fmt: skip
            render, tid = self.t_chain, f"chain/v{variant}/{mp_name}/" + ".".join(map(str, variants))
            rctx: dict[str, Any] = {"findings": [], "diagnosis": "", "inheritance": "", "steps": sentences}
        else:
            variant = int(rng.integers(3))
            ctx = {**vignette_ctx, "variant": variant, "continuation": phrase, "answer_noun": self.noun(answer),
                   "mcq": fmt == "mcq"}  # fmt: skip
            render = self.t_vignette
            tid = f"vignette/v{variant}/{mp_name or 'diagnosis'}/" + ".".join(map(str, variants))
            rctx = {**(findings_rationale or {}), "steps": sentences}
        stem = render.render(**ctx).strip()
        item = self._item(
            qtype=qtype, fmt=fmt, stem=stem, template_id=tid, answer=answer, distractors=distractors[:k],
            gold=gold, path_edges=path_edges, constraints=constraints, rarity=float(self.scores[start]),
            hops=len(steps) + (1 if vignette_ctx is not None else 0), rationale_ctx=rctx,
        )  # fmt: skip
        return item

    # --- vignettes ----------------------------------------------------------------------------------
    def _annotations(self, disease: int) -> list[tuple[int, int, float, dict[str, Any]]]:
        """Positive phenotype annotations (aspect P): (phenotype, edge id, frequency share, qualifiers)."""
        g = self.graph
        out = []
        for e, p in zip(self.index.edge_ids(disease, HAS_PHENOTYPE), self.index.neighbors(disease, HAS_PHENOTYPE),
                        strict=True):  # fmt: skip
            q = int(g.qual[e])
            quals = g.qualifiers[q] if q >= 0 else {}
            out.append((int(p), int(e), frequency_share(quals.get("frequency")), quals))
        return out

    def annotated_systems(self, disease: int) -> frozenset[int]:
        got = self._systems_cache.get(disease)
        if got is None:
            got = self.prover.annotated_systems(disease)
            self._systems_cache[disease] = got
        return got

    def vignette(self, rng: np.random.Generator, fmt: AnswerFormat, gold: int) -> Item | Drop:
        cfg, g, prover = self.config, self.graph, self.prover
        if cfg.hops > 1 and not self.continuations:
            return Drop(f"no metapath of {cfg.hops - 1} hops from a disease in the schema")
        cont: tuple[MetapathSpec, list[Step]] | None = None
        key = "vignette"
        if cfg.hops > 1:
            cont = self.continuations[int(rng.integers(len(self.continuations)))]
            key = f"vignette:{cont[0].name}"
            if key not in self._starts:
                self._start_dist(key, self.completable(cont[1], self.vignette_starts()), cfg.rarity.alpha)
        elif key not in self._starts:
            self._start_dist(key, self.vignette_starts(), cfg.rarity.alpha)
        drawn = self._draw(key, np.empty(0, dtype=np.int32), rng, 1)
        if len(drawn) == 0:
            return Drop("no disease can start this vignette")
        disease = int(drawn[0])
        annotations = self._annotations(disease)
        onsets = [a for a in annotations if a[0] in self.onset_terms]
        usable = [
            a for a in annotations if a[3].get("aspect", "P") == "P" and a[2] >= 0.3 and a[0] not in self.onset_terms
        ]
        if len(usable) < cfg.min_findings:
            return Drop("vignette: too few frequent phenotype annotations")
        # Frequent and specific findings first (weighted random order: Efraimidis-Spirakis keys).
        # specificity by direct annotation count (a cheap proxy; the proof uses the exact closure)
        weights = np.array([a[2] / np.log2(2.0 + self.pheno_degree[a[0]]) for a in usable])
        keys = np.log(rng.random(len(usable))) / np.maximum(weights, 1e-9)
        order = np.argsort(-keys, kind="stable")
        chosen: list[tuple[int, int, float, dict[str, Any]]] = []
        cand: np.ndarray | None = None
        constraints: list[Constraint] = []
        related: set[int] = set()
        for i in order:
            p, e, share, quals = usable[int(i)]
            if len(chosen) >= cfg.max_findings or (
                len(chosen) >= cfg.min_findings and cand is not None and len(cand) == 1
            ):
                break
            if p in related:
                continue  # a broader or narrower term of a finding already stated adds nothing
            with_p = prover.diseases_with(p)
            new = with_p if cand is None else np.intersect1d(cand, with_p, assume_unique=True)
            if cand is not None and len(new) == len(cand) and len(chosen) >= cfg.min_findings:
                continue
            chosen.append((p, e, share, quals))
            related |= {int(x) for x in prover.ancestors(p)} | {int(x) for x in prover.descendants(p)}
            cand = new
            constraints.append(
                Constraint(description=f"has phenotype {g.names[p]} (or a more specific one)", kind="has_phenotype",
                           candidates_after=len(cand), args={"phenotype": g.ids[p]})
            )  # fmt: skip
        assert cand is not None
        path_edges = [e for _, e, _, _ in chosen]
        inheritance = ""
        modes = self.index.neighbors(disease, INHERITANCE)
        if len(modes) == 1 and (len(cand) > 1 or rng.random() < 0.5):
            mode = int(modes[0])
            cand = np.intersect1d(cand, prover.diseases_with_inheritance(mode), assume_unique=True)
            constraints.append(
                Constraint(description=f"inherited in {g.names[mode]}", kind="has_mode_of_inheritance",
                           candidates_after=len(cand), args={"mode": g.ids[mode]})
            )  # fmt: skip
            inheritance = as_phrase(g.names[mode])
            path_edges.append(int(self.index.edge_ids(disease, INHERITANCE)[0]))
        onset = ""
        if len(onsets) == 1:
            term = onsets[0][0]
            cand = np.intersect1d(cand, prover.diseases_with(term), assume_unique=True)
            constraints.append(
                Constraint(description=f"onset {g.names[term]}", kind="has_phenotype", candidates_after=len(cand),
                           args={"phenotype": g.ids[term]})
            )  # fmt: skip
            onset = as_phrase(g.names[term])
            path_edges.append(onsets[0][1])
        if len(cand) != 1 and cfg.hops == 1 and fmt == "short":
            return Drop("vignette: findings do not single out the diagnosis")
        sexes = {str(q.get("sex")) for _, _, _, q in chosen if q.get("sex")}
        findings_text = []
        for p, _, _, _ in chosen:
            lay = g.layperson[p]
            use_lay = bool(lay) and rng.random() < cfg.layperson
            findings_text.append(as_phrase(lay[0] if use_lay else g.names[p]))
        vctx = {
            "sex": sexes.pop() if len(sexes) == 1 else "",
            "onset": onset,
            "findings": findings_text,
            "inheritance": inheritance,
        }
        frat = {"findings": [g.names[p] for p, _, _, _ in chosen], "diagnosis": g.names[disease],
                "inheritance": inheritance}  # fmt: skip
        if cfg.hops == 1:
            dist = self._diagnosis_distractors(disease, cand, chosen, constraints, rng) if fmt == "mcq" else []
            return self._finish(
                qtype="vignette", fmt=fmt, gold=gold, rng=rng, steps=[], layers=[cand], answer=disease,
                constraints=constraints, path_edges=path_edges, start_text="", start=disease, nodes=[disease],
                mp_name="", vignette_ctx=vctx, vignette_distractors=dist, findings_rationale=frat,
            )  # fmt: skip
        assert cont is not None
        mp, steps = cont
        walks = sample_walks(self.index, steps, np.array([disease] * 4, dtype=np.int32), seed=rng,
                             hub_cap=cfg.hub_cap)  # fmt: skip
        if len(walks.nodes) == 0:
            return Drop("walk died (dead end, repeated node or hub)")
        nodes, edges = walks.nodes[0], walks.edges[0]
        if not self._phenotypes_ok(nodes):
            return Drop("path has a clinical-course or modifier term, not a phenotypic abnormality")
        layers = [cand, *prover.follow(cand, steps)]
        for step, layer in zip(steps, layers[1:], strict=True):
            constraints.append(
                Constraint(description=f"then {step}", kind="chain_step", candidates_after=len(layer),
                           args={"step": str(step)})
            )  # fmt: skip
        # The continuation is spoken about "this patient's condition", never naming the diagnosis.
        return self._finish(
            qtype="vignette", fmt=fmt, gold=gold, rng=rng, steps=steps, layers=layers, answer=int(nodes[-1]),
            constraints=constraints, path_edges=path_edges + [int(x) for x in edges],
            start_text="this patient's condition", start=disease, nodes=[int(x) for x in nodes], mp_name=mp.name,
            vignette_ctx=vctx, findings_rationale=frat,
        )  # fmt: skip

    def _diagnosis_distractors(
        self,
        disease: int,
        cand: np.ndarray,
        chosen: list[tuple[int, int, float, dict[str, Any]]],
        constraints: list[Constraint],
        rng: np.random.Generator,
    ) -> list[tuple[int, str, int]]:
        """Wrong diagnoses: explicit negative evidence first, then a whole unannotated organ system,
        then (closed world) the diseases sharing the most findings; each with the constraint it fails."""
        g, prover = self.graph, self.prover
        k = self.config.options - 1
        findings = [p for p, _, _, _ in chosen]
        sets = [prover.diseases_with(p) for p in findings]
        union = np.concatenate(sets)
        uniq, counts = np.unique(union, return_counts=True)
        keep = ~np.isin(uniq, cand)
        uniq, counts = uniq[keep], counts[keep]
        # hardest first (most findings shared), ties in random order
        order = np.lexsort((rng.random(len(uniq)), -counts))
        pool = [int(x) for x in uniq[order][:300]]
        lo, hi = g.category_range("biolink:Disease")
        starts = self.vignette_starts()
        pool += [int(x) for x in rng.choice(starts, size=min(200, len(starts)), replace=False) if int(x) not in cand]
        pool = [d for d in dict.fromkeys(pool) if lo <= d < hi and d != disease]
        by_rule: dict[str, list[tuple[int, str, int]]] = {
            "negative_evidence": [], "unannotated_organ_system": [], "hard_negative_closed_world": [],
        }  # fmt: skip
        names = {a.lower() for a in self.aliases(disease)}
        for d in pool:
            if g.names[d].lower() in names:
                continue
            failed = [i for i, s in enumerate(sets) if not np.isin(d, s)]
            if not failed:
                # has every finding: fails only a later constraint (inheritance or onset)
                later = [i for i, c in enumerate(constraints) if i >= len(sets)]
                if not later:
                    continue
                by_rule["hard_negative_closed_world"].append((d, "hard_negative_closed_world", later[0]))
                continue
            neg = [i for i in failed if prover.lacks(d, findings[i])]
            if neg:
                by_rule["negative_evidence"].append((d, "negative_evidence", neg[0]))
                continue
            systems = self.annotated_systems(d)
            empty = [
                i for i in failed if prover.systems_of(findings[i]) and not (prover.systems_of(findings[i]) & systems)
            ]
            if empty:
                by_rule["unannotated_organ_system"].append((d, "unannotated_organ_system", empty[0]))
            else:
                by_rule["hard_negative_closed_world"].append((d, "hard_negative_closed_world", failed[0]))
        out: list[tuple[int, str, int]] = []
        seen_names = set(names)
        for rule in ("negative_evidence", "unannotated_organ_system", "hard_negative_closed_world"):
            for d, r, f in by_rule[rule]:
                if len(out) == k:
                    return out
                if g.names[d].lower() in seen_names:
                    continue
                seen_names.add(g.names[d].lower())
                out.append((d, r, f))
        return out
