"""``kgsynth audit``: the defects of a generated run that code can find, counted.

`audit_items(items, graph=...)` reads nothing but the items (and the graph, where a check needs it)
and returns plain counts; `audit_run(out, ...)` audits a run folder and `write_audit` records the
result in the run's ``summary.json`` (key ``audit``) and an ``## Audit`` section of its card.

What is counted (``metrics``; `--fail-on KEY=THRESHOLD` compares against these):

- ``raw_id_options`` / ``raw_id_keys``: option texts (keys) that are an identifier (``NCBIGene:496``);
- ``leaking_findings``: vignette findings (onset terms aside) whose name, synonym or layperson form matches the hidden
  diagnosis or one of its aliases (equal after normalisation, or one contained in the other as whole
  words, a one-word finding only when it is the whole diagnosis name but for a subtype designator);
- ``stems_naming_diagnosis``: vignettes whose question text contains a name of the hidden diagnosis;
- ``synonym_distractors``: distractors equal to the answer (or one of its aliases) after normalising
  case, plurals, hyphens and "agent"/"drug" words;
- ``ancestor_distractors`` / ``descendant_distractors``: distractors above / below the answer in the
  graph's ``subclass_of`` (HPO is_a, the MeSH tree, DO/MONDO) -- needs the graph;
- ``bad_pattern_stems``: items whose question matches one of `BAD_PATTERNS`;
- ``mixed_option_casing``: multiple-choice items whose options mix casing styles (`casing_style`);
- ``nested_name_options``: multiple-choice items with an option whose name runs whole inside another's
  ("arthritis" beside "polyarticular arthritis", which HPO files apart: broader and narrower to a reader);
- ``top10_diagnosis_share``: share of vignettes whose hidden diagnosis is one of the ten most frequent;
  ``top10_key_share``: share of items whose key is one of the ten most frequent keys;
- ``letter_imbalance``: the largest deviation of a gold letter's count from the mean, over the mean;
- ``symptomatic_indications`` / ``disease_modifying_indications`` / ``unqualified_indications``: items
  whose evidence path passes a ``treats`` edge of that category (the edge's qualifiers) -- needs the graph;
- ``organ_system_keys``: phenotype keys at most two levels below "Phenotypic abnormality" -- needs the graph;
- ``circular_keys``: keys that restate another entity of their path (matched as findings are), their
  own subclass or superclass on the path aside;
- ``own_class_keys``: chains whose key is a class the start drug itself belongs to -- needs the graph;
- ``grouping_keys``: phenotype keys with more descendants than the curation's ``max_key_phenotype_descendants``
  ("Abnormality of mental function") -- needs the graph;
- ``odd_one_out_items``: multiple-choice items with a drug key whose distractors all share a class or a target
  the key lacks (three oestrogens beside vinorelbine: the key is the odd one out) -- needs the graph;
- ``odd_ancestor_items``: multiple-choice items with a phenotype or disease key whose distractors all sit under one
  ``subclass_of`` ancestor the key is not under (irritability, hyperactivity and polyphagia beside a tremor) --
  needs the graph;
- ``odd_start_items``: multiple-choice chains whose distractors all lie in what the start entity reaches in one step
  (any relation, either direction, and the phenotypes of the diseases among those) while the key does not (Graves
  disease, proptosis and a raised free T4 beside a lowered T4 for methimazole) -- needs the graph;
- ``sibling_rule_share``: share of distractors chosen by a rule that reads what siblings reach;
- ``association_shortcut_rate``: share of multiple-choice items whose option ranked first by personalized
  PageRank from what the stem states (a chain's start entity, a vignette's findings and mode of
  inheritance) over the whole graph, relation types and directions ignored, is the key (ties shared);
  computed here by power iteration (`personalized_pagerank`), independent of the generator's own score --
  needs the graph;
- ``popularity_shortcut_rate``: share of multiple-choice items whose option with the most neighbours is the
  key (ties shared) -- needs the graph;
- ``key_alone_in_area``: multiple-choice items whose key has an area (organ system, therapeutic area;
  `kgsynth.questions.areas`) that no distractor shares -- needs the graph;
- ``odd_area_items``: multiple-choice items whose distractors all share an area the key is not in (three eye
  findings beside a hand tremor) -- needs the graph;
- ``odd_cluster_items``: multiple-choice items with a phenotype key whose distractors form a cluster of
  co-annotated findings the key stands outside of (`kgsynth.questions.distractors.odd_cluster`, the generator's
  default limits: fever, raised ESR and raised CRP beside a raised creatine kinase) -- needs the graph;
- ``shortcut_alone``: multiple-choice items whose key has a shortcut anchor no other option shares (a drug key's
  mechanism class, a phenotype key under a feature of the stated drug's own indications, symptomatic ones left out
  as the generator leaves them out by default; `kgsynth.questions.shortcuts`) -- needs the graph;
- ``use_alone``: multiple-choice items whose key is a drug indicated for a disease other drugs are indicated for,
  and no other option is one of them (the only antiepileptic among the options;
  `kgsynth.questions.shortcuts.Shortcuts.use_peers`, symptomatic indications left out) -- needs the graph;
- ``non_therapeutic_options``: options and short-answer keys from the curation list's non-therapeutic
  vocabulary (`kgsynth.questions.curation.non_therapeutic_mask`) -- needs the graph;
- ``fact_shortcut_rate`` (runs with open-book multiple-choice items only): share of them whose key a reader
  finds who matches option names to the facts without following a chain -- the options sharing a fact with
  an entity the stem states, else the options named in the most facts (ties shared; `check_fact_matching`);
  chance is one over the options;
- ``fact_chain_association_rate`` (open-book multiple choice only): share of those items whose option ends the
  chain of facts (with its branch) whose entities, the stem's aside, the stem is most associated with by the
  same PageRank (ties shared): a reader who picks the chain on the stem's topic -- needs the graph;
- ``max_hidden_share``: the largest share of the items through one hidden intermediate (`check_hidden_share`);
- ``molecular_activity_findings`` / ``diagnosis_word_findings``: stated findings naming an enzyme's activity, or
  restating the diagnosis in its distinctive words (`check_finding_leaks`);
- ``vignettes_ranked_first`` / ``vignettes_not_ranked_first``: vignettes whose diagnosis ranks (not) first among
  every disease by an IC-weighted match of its findings -- needs the graph (`check_vignette_ranks`).

A check that needs what the run does not carry (the graph, a vignette) reports ``None`` and says why
in ``skipped``.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgsynth.errors import KgsynthError
from kgsynth.files import atomic_write
from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
from kgsynth.questions.item import Item
from kgsynth.run.journal import read_run_items
from kgsynth.run.layout import CARD, RUN_RECORD, SHARDS, SUMMARY

if TYPE_CHECKING:
    from kgsynth.graph.model import Graph
    from kgsynth.questions.shortcuts import Shortcuts
    from kgsynth.questions.verify import Prover

logger = logging.getLogger(__name__)

AUDIT_VERSION = 1
CARD_HEADING = "## Audit"
SUBCLASS_OF = "biolink:subclass_of"
TREATS = "biolink:treats"
MEMBER_OF = "biolink:member_of"
INTERACTS_WITH = "biolink:interacts_with"
HAS_PHENOTYPE = "biolink:has_phenotype"
# Distractor rules that draw on what the hidden entity's siblings reach (closed-world at best).
SIBLING_RULES = frozenset({"hard_negative_closed_world", "closed_world_same_relation"})

# Stems a physician would not sign: the one list of them (name -> pattern, case-insensitive).
BAD_PATTERNS: dict[str, str] = {
    "doubled article": r"\b(a|an|the) (a|an|the)\b",
    "article before a gene phrase": r"\bthe gene a gene\b",
    "onset as a noun phrase after 'in'": r"\bbegan in (the )?\w[\w ]*onset\b",
    "'suggests' before a participle": r"\bsuggests (typified|characterized|characterised|marked)\b",
    "'which X is a X'": r"\bwhich ([a-z]+(?: [a-z]+)?) (is|are) (a|an|the) \1\b",
    "talk of the knowledge graph": r"\bknowledge graph\b",
    "doubled word": r"\b(\w{3,}) \1\b",
    "raw identifier in the stem": r"\b(?:NCBIGene|HP|MONDO|DOID|OMIM|ORPHA|MESH|DRUGBANK|CHEBI|NDFRT):\w+",
    "empty slot": r"\{\{|\}\}|\bNone\b|  ",
}

_CURIE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*:\S+$")
_AGENT_WORDS = frozenset({"agent", "drug", "medication", "medicine", "compound", "product"})
_DESIGNATOR = re.compile(r"(?:\s+(?:type|form|group|subtype|class))?(?:\s+(?:[0-9]+[a-z]?|[ivx]+|[a-z]))+$")
_WORD = re.compile(r"[a-z0-9]+")


def is_raw_identifier(text: str) -> bool:
    """Whether an option text is an identifier (or nothing readable: ``-``) rather than a name.

    >>> is_raw_identifier("NCBIGene:496"), is_raw_identifier("ATP4B"), is_raw_identifier("Type 2: adult")
    (True, False, False)
    >>> is_raw_identifier("-")
    True
    """
    return bool(_CURIE.match(text.strip())) or not any(c.isalnum() for c in text)


def casing_style(text: str) -> str:
    """How an option is cased: "lower" (lower-case initial), "title" (every word of four or more letters
    capitalised, at least two of them) or "sentence".

    >>> [casing_style(x) for x in ("dermatologic drug", "Dermatologic Agents", "Central nervous system agents")]
    ['lower', 'title', 'sentence']
    """
    if text[:1].islower():
        return "lower"
    long_words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= 4]
    if len(long_words) >= 2 and all(w[0].isupper() for w in long_words):
        return "title"
    return "sentence"


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalize_name(text: str) -> str:
    """A name reduced to what two vocabularies agree on: case, possessives, hyphens, plurals, "agent"/"drug".

    >>> normalize_name("Dermatologic Agents") == normalize_name("dermatologic drug")
    True
    >>> normalize_name("Barrett's esophagus") == normalize_name("Barrett esophagus")
    True
    """
    text = text.lower().replace("'s ", " ").replace("\u2019s ", " ")
    words = [_singular(w) for w in _WORD.findall(text)]
    kept = [w for w in words if w not in _AGENT_WORDS]
    return " ".join(kept or words)


def _core(name: str) -> str:
    """A normalised disease name without a trailing subtype designator ("long QT syndrome 1" -> ...)."""
    return _DESIGNATOR.sub("", name).strip() or name


def _contains_words(haystack: str, needle: str) -> bool:
    return bool(needle) and f" {needle} " in f" {haystack} "


def finding_leaks(finding_forms: Iterable[str], diagnosis_forms: Iterable[str]) -> str | None:
    """The first finding form that names the diagnosis, or None.

    >>> finding_leaks(["Asthma"], ["Asthma, susceptibility to, 1", "asthma"])
    'Asthma'
    >>> finding_leaks(["Amyotrophic lateral sclerosis"], ["amyotrophic lateral sclerosis type 1"])
    'Amyotrophic lateral sclerosis'
    >>> finding_leaks(["Anemia"], ["Fanconi anemia"]) is None
    True
    >>> finding_leaks(["Lipid accumulation in hepatocytes"], ["LA"]) is None
    True
    """
    diagnoses = [(d, _core(d)) for d in {normalize_name(x) for x in diagnosis_forms} if d]
    for form in finding_forms:
        f = normalize_name(form)
        if not f:
            continue
        for full, core in diagnoses:
            if f in (full, core) or (len(core.replace(" ", "")) >= 4 and _contains_words(f, core)):
                return form
            if len(f.split()) >= 2 and _contains_words(full, f):
                return form
    return None


def stem_names(question: str, diagnosis_forms: Iterable[str]) -> str | None:
    """The first name of the diagnosis (four letters or more, subtype designator aside) that the question
    text contains as whole words, or None.

    >>> stem_names("A patient with wheezing and asthma attacks.", ["asthma", "Asthma, susceptibility to, 1"])
    'asthma'
    >>> stem_names("A patient with wheezing.", ["asthma", "CF"]) is None
    True
    """
    text = normalize_name(question)
    for form in diagnosis_forms:
        core = _core(normalize_name(form))
        if len(core.replace(" ", "")) >= 4 and _contains_words(text, core):
            return form
    return None


@dataclass
class GraphFacts:
    """What the audit reads from the graph: parents, node ids, treats-edge categories."""

    graph: Graph
    _parents: dict[int, list[int]] = field(default_factory=dict)
    _ancestors: dict[int, frozenset[int]] = field(default_factory=dict)
    _treats: dict[tuple[int, int], set[str]] | None = None
    _children: dict[int, list[int]] | None = None
    _reach: dict[int, frozenset[int]] = field(default_factory=dict)

    def node(self, curie: str) -> int | None:
        try:
            return self.graph.resolve(curie)
        except KeyError:
            return None

    def parents(self, node: int) -> list[int]:
        if not self._parents:
            g = self.graph
            part = g.relation_slice(SUBCLASS_OF)
            for s, o in zip(g.src[part].tolist(), g.dst[part].tolist(), strict=True):
                self._parents.setdefault(s, []).append(o)
            self._parents.setdefault(-1, [])  # built, even for a graph with no hierarchy
        return self._parents.get(node, [])

    def ancestors(self, node: int) -> frozenset[int]:
        """Every strict ancestor of ``node`` along ``subclass_of``."""
        if node not in self._ancestors:
            seen: set[int] = set()
            stack = list(self.parents(node))
            while stack:
                p = stack.pop()
                if p not in seen:
                    seen.add(p)
                    stack.extend(self.parents(p))
            seen.discard(node)
            self._ancestors[node] = frozenset(seen)
        return self._ancestors[node]

    def descendant_count(self, node: int) -> int:
        """How many nodes lie strictly below ``node`` along ``subclass_of``."""
        if self._children is None:
            self.parents(-1)  # (builds the parents)
            self._children = {}
            for child, ups in self._parents.items():
                for p in ups:
                    self._children.setdefault(p, []).append(child)
        seen: set[int] = set()
        stack = list(self._children.get(node, []))
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(self._children.get(c, []))
        return len(seen)

    def reach_at_once(self, node: int) -> frozenset[int]:
        """What ``node`` reaches in one step (any relation, either direction), and the phenotypes of the diseases
        among those."""
        if node not in self._reach:
            g = self.graph
            one = set(g.dst[g.src == node].tolist()) | set(g.src[g.dst == node].tolist())
            part = g.relation_slice(HAS_PHENOTYPE)
            src, dst = g.src[part], g.dst[part]
            out = set(one)
            for d in one:
                if g.categories[int(g.category[d])] == "biolink:Disease":
                    lo, hi = np.searchsorted(src, d, side="left"), np.searchsorted(src, d, side="right")
                    out.update(dst[lo:hi].tolist())
            self._reach[node] = frozenset(out)
        return self._reach[node]

    def targets_of(self, drug: str) -> set[str]:
        """The CURIEs of what ``drug`` ``interacts_with`` (the genes whose products it acts on)."""
        return self._objects(drug, INTERACTS_WITH)

    def depth_below(self, node: int, root: int) -> int | None:
        """The shortest number of ``subclass_of`` steps from ``node`` up to ``root`` (None if not below it)."""
        frontier, depth, seen = [node], 0, {node}
        while frontier:
            if root in frontier:
                return depth
            depth += 1
            frontier = [p for n in frontier for p in self.parents(n) if p not in seen]
            seen.update(frontier)
        return None

    def classes_of(self, drug: str) -> set[str]:
        """The CURIEs of the classes ``drug`` is a ``member_of``."""
        return self._objects(drug, MEMBER_OF)

    def _objects(self, curie: str, relation: str) -> set[str]:
        node = self.node(curie)
        if node is None:
            return set()
        g = self.graph
        part = g.relation_slice(relation)
        lo = part.start + int(np.searchsorted(g.src[part], node, side="left"))
        hi = part.start + int(np.searchsorted(g.src[part], node, side="right"))
        return {g.ids[int(o)] for o in g.dst[lo:hi]}

    def treats_categories(self, drug: str, disease: str) -> set[str]:
        """The ``indication_category`` qualifiers of the treats edges drug -> disease, lower case with spaces
        ("symptomatic", "disease modifying"; "" when unqualified)."""
        if self._treats is None:
            g = self.graph
            self._treats = {}
            part = g.relation_slice(TREATS)
            for e in range(part.start, part.stop):
                q = int(g.qual[e])
                category = str(g.qualifiers[q].get("indication_category", "")) if q >= 0 else ""
                category = category.replace("_", " ").replace("-", " ").lower()
                self._treats.setdefault((int(g.src[e]), int(g.dst[e])), set()).add(category)
        d, s = self.node(drug), self.node(disease)
        if d is None or s is None:
            return set()
        return self._treats.get((d, s), set())


def hidden_diagnosis(item: Item) -> str | None:
    """The vignette's hidden diagnosis: the disease its stated findings are edges of."""
    if item.type != "vignette":
        return None
    findings = {c.args.get("phenotype") for c in item.constraints if c.kind == "has_phenotype"}
    for t in item.path:
        if t.predicate == HAS_PHENOTYPE and t.object in findings:
            return t.subject
    return None


def _findings(item: Item) -> list[tuple[str, str]]:
    """(CURIE, name) of the findings a vignette states."""
    names = {t.object: t.object_name for t in item.path if t.predicate == HAS_PHENOTYPE}
    out = []
    for c in item.constraints:
        curie = c.args.get("phenotype")
        if c.kind == "has_phenotype" and curie:
            out.append((curie, names.get(curie, "")))
    return out


def _diagnosis_forms(item: Item, disease: str) -> list[str]:
    names = [t.subject_name for t in item.path if t.subject == disease]
    names += [t.object_name for t in item.path if t.object == disease]
    return list(dict.fromkeys([*names[:1], *item.entity_aliases.get(disease, [])]))


def _share_of_top(counts: Counter[str], total: int, k: int = 10) -> float | None:
    if total == 0:
        return None
    return round(sum(c for _, c in counts.most_common(k)) / total, 4)


def _example(bucket: list[str], text: str, limit: int = 5) -> None:
    if len(bucket) < limit:
        bucket.append(text)


@dataclass
class _Tally:
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        self.metrics[key] = int(self.metrics.get(key) or 0) + n

    def example(self, key: str, text: str) -> None:
        _example(self.examples.setdefault(key, []), text)


def _check_options(items: Sequence[Item], tally: _Tally) -> None:
    for key in ("raw_id_options", "raw_id_keys", "items_with_raw_id_options", "mixed_option_casing",
                "nested_name_options"):  # fmt: skip
        tally.metrics[key] = 0
    for it in items:
        names = [normalize_name(o.text) for o in it.options]
        nested = [(a, b) for a in names for b in names if a != b and _contains_words(b, a)]
        if nested:
            tally.add("nested_name_options")
            tally.example("nested_name_options", f"{it.id}: {nested[0][0]!r} inside {nested[0][1]!r}")
        raw = [o for o in it.options if is_raw_identifier(o.text)]
        if it.format == "short" and is_raw_identifier(it.answer.name):
            tally.add("raw_id_keys")
            tally.example("raw_id_keys", f"{it.id}: {it.answer.name}")
        if raw:
            tally.add("raw_id_options", len(raw))
            tally.add("items_with_raw_id_options")
            tally.add("raw_id_keys", sum(o.letter == it.answer.letter for o in raw))
            tally.example("raw_id_options", f"{it.id}: " + ", ".join(o.text for o in raw))
        styles = {casing_style(o.text) for o in it.options if not is_raw_identifier(o.text)}
        if len(styles) > 1:
            tally.add("mixed_option_casing")


def _check_leaks(items: Sequence[Item], tally: _Tally) -> None:
    tally.metrics["leaking_findings"] = 0
    tally.metrics["items_with_leaking_findings"] = 0
    tally.metrics["stems_naming_diagnosis"] = 0
    for it in items:
        disease = hidden_diagnosis(it)
        if disease is None:
            continue
        forms = _diagnosis_forms(it, disease)
        leaked = 0
        for curie, name in _findings(it):
            if normalize_name(name).endswith("onset"):
                continue  # an onset term is not a finding that could name the diagnosis
            form = finding_leaks([name, *it.entity_aliases.get(curie, [])], forms)
            if form is not None:
                leaked += 1
                tally.example("leaking_findings", f"{it.id}: finding {form!r} for {forms[0]!r}")
        if leaked:
            tally.add("leaking_findings", leaked)
            tally.add("items_with_leaking_findings")
        named = stem_names(it.question, forms)
        if named is not None:
            tally.add("stems_naming_diagnosis")
            tally.example("stems_naming_diagnosis", f"{it.id}: {named!r} in {it.question[:120]!r}")


def _check_distractors(items: Sequence[Item], facts: GraphFacts | None, tally: _Tally) -> None:
    tally.metrics["synonym_distractors"] = 0
    if facts is None:
        tally.metrics["ancestor_distractors"] = tally.metrics["descendant_distractors"] = None
        for key in ("ancestor_distractors", "descendant_distractors"):
            tally.skipped[key] = "needs the graph (subclass_of)"
    else:
        tally.metrics["ancestor_distractors"] = tally.metrics["descendant_distractors"] = 0
    for it in items:
        correct = {normalize_name(x) for x in (it.answer.name, *it.answer.aliases)}
        correct |= {normalize_name(x) for x in it.entity_aliases.get(it.answer.curie, [])}
        answer_node = facts.node(it.answer.curie) if facts is not None else None
        for d in it.distractors:
            if normalize_name(d.name) in correct:
                tally.add("synonym_distractors")
                tally.example("synonym_distractors", f"{it.id}: {d.name!r} ~ {it.answer.name!r}")
            if facts is None or answer_node is None:
                continue
            node = facts.node(d.curie)
            if node is None:
                continue
            if node in facts.ancestors(answer_node):
                tally.add("ancestor_distractors")
                tally.example("ancestor_distractors", f"{it.id}: {d.name!r} above {it.answer.name!r}")
            elif answer_node in facts.ancestors(node):
                tally.add("descendant_distractors")
                tally.example("descendant_distractors", f"{it.id}: {d.name!r} below {it.answer.name!r}")


def _check_circular(items: Sequence[Item], tally: _Tally) -> None:
    """Keys that restate another entity of their own path ("Neoplasm of the breast" after breast cancer)."""
    tally.metrics["circular_keys"] = 0
    for it in items:
        key_forms = [it.answer.name, *it.entity_aliases.get(it.answer.curie, [])]
        names = {t.subject: t.subject_name for t in it.path} | {t.object: t.object_name for t in it.path}
        # a broader class is named after what it includes by design ("Nausea and vomiting" above "Nausea")
        kin = {t.subject for t in it.path if t.object == it.answer.curie and t.predicate == SUBCLASS_OF}
        kin |= {t.object for t in it.path if t.subject == it.answer.curie and t.predicate == SUBCLASS_OF}
        kin |= {curie for curie, _ in _findings(it)} if it.type == "vignette" else set()  # leaks, counted apart
        for curie, name in names.items():
            if curie == it.answer.curie or curie in kin:
                continue
            form = finding_leaks(key_forms, [name, *it.entity_aliases.get(curie, [])])
            if form is not None:
                tally.add("circular_keys")
                tally.example("circular_keys", f"{it.id}: key {form!r} restates {name!r}")
                break


def _check_stems(items: Sequence[Item], tally: _Tally) -> None:
    compiled = {name: re.compile(p, re.IGNORECASE) for name, p in BAD_PATTERNS.items()}
    by_pattern: Counter[str] = Counter()
    tally.metrics["bad_pattern_stems"] = 0
    for it in items:
        hits = [name for name, p in compiled.items() if p.search(it.question)]
        by_pattern.update(hits)
        if hits:
            tally.add("bad_pattern_stems")
            tally.example("bad_pattern_stems", f"{it.id} [{hits[0]}]: {it.question[:160]}")
    tally.details["bad_patterns"] = {name: by_pattern[name] for name in BAD_PATTERNS}


def _check_spread(items: Sequence[Item], tally: _Tally) -> None:
    diagnoses = Counter(d for d in (hidden_diagnosis(it) for it in items) if d)
    vignettes = sum(it.type == "vignette" for it in items)
    keys = Counter(it.answer.curie for it in items)
    tally.metrics["top10_diagnosis_share"] = _share_of_top(diagnoses, vignettes)
    if vignettes == 0:
        tally.skipped["top10_diagnosis_share"] = "no vignettes in the run"
    tally.metrics["top10_key_share"] = _share_of_top(keys, len(items))
    tally.details["top_diagnoses"] = dict(diagnoses.most_common(10))
    tally.details["top_keys"] = dict(keys.most_common(10))
    letters = Counter(it.answer.letter for it in items if it.answer.letter)
    tally.details["gold_letters"] = dict(sorted(letters.items()))
    if letters:
        width = max(len(it.options) for it in items if it.answer.letter)
        counts = [letters.get(chr(ord("A") + i), 0) for i in range(width)]
        mean = sum(counts) / len(counts)
        tally.metrics["letter_imbalance"] = round(max(abs(c - mean) for c in counts) / mean, 4)
    else:
        tally.metrics["letter_imbalance"] = None
        tally.skipped["letter_imbalance"] = "no multiple-choice items"
    rules = Counter(d.rule for it in items for d in it.distractors)
    total = sum(rules.values())
    tally.details["distractor_rules"] = dict(sorted(rules.items()))
    tally.metrics["distractors_without_rule"] = rules.get("", 0)
    tally.metrics["sibling_rule_share"] = (
        round(sum(c for r, c in rules.items() if r in SIBLING_RULES) / total, 4) if total else None
    )


def _check_graph_facts(
    items: Sequence[Item], facts: GraphFacts | None, tally: _Tally, *, root: str | None, max_descendants: int
) -> None:
    """Indications by qualifier, own-class keys, odd-one-out drug options, grouping keys (more than
    ``max_descendants`` descendants) and keys within two levels of ``root`` (the phenotype root)."""
    keys = ("symptomatic_indications", "disease_modifying_indications", "unqualified_indications")
    if facts is None:
        for key in (*keys, "organ_system_keys", "own_class_keys", "grouping_keys", "odd_one_out_items",
                    "odd_ancestor_items", "odd_start_items"):  # fmt: skip
            tally.metrics[key] = None
            tally.skipped[key] = "needs the graph (edge qualifiers, subclass_of)"
        return
    for key in (*keys, "organ_system_keys"):
        tally.metrics[key] = 0
    seen_paths = 0
    for it in items:
        categories: set[str] = set()
        for t in it.path:
            if t.predicate == TREATS:
                categories |= facts.treats_categories(t.subject, t.object) or {""}
        if categories:
            seen_paths += 1
        for category, key in (("symptomatic", keys[0]), ("disease modifying", keys[1]), ("", keys[2])):
            if category in categories:
                tally.add(key)
                if category == "symptomatic":
                    said = [f"{t.subject_name} treats {t.object_name}" for t in it.path if t.predicate == TREATS]
                    tally.example(key, f"{it.id}: " + "; ".join(said))
    tally.details["items_through_treats"] = seen_paths
    tally.metrics["own_class_keys"] = 0
    for it in items:
        start = next((c.args.get("entity") for c in it.constraints if c.kind == "start"), None)
        if start is not None and it.answer.curie in facts.classes_of(start):
            tally.add("own_class_keys")
            names = {t.subject: t.subject_name for t in it.path} | {t.object: t.object_name for t in it.path}
            tally.example("own_class_keys", f"{it.id}: {names.get(start, start)} is in {it.answer.name}")
    _check_odd_one_out(items, facts, tally)
    _check_odd_ancestor(items, facts, tally)
    tally.metrics["grouping_keys"] = 0
    for it in items:
        node = facts.node(it.answer.curie) if it.answer.curie.startswith("HP:") else None
        if node is not None and facts.descendant_count(node) > max_descendants:
            tally.add("grouping_keys")
            tally.example("grouping_keys", f"{it.id}: {it.answer.name}")
    root_node = facts.node(root) if root is not None else None
    if root_node is None:
        tally.metrics["organ_system_keys"] = None
        tally.skipped["organ_system_keys"] = (
            f"{root} is not in the graph" if root is not None else "the run's schema names no phenotype root"
        )
        return
    for it in items:
        if not it.answer.curie.startswith("HP:"):
            continue
        node = facts.node(it.answer.curie)
        depth = facts.depth_below(node, root_node) if node is not None else None
        if depth is not None and depth <= 2:
            tally.add("organ_system_keys")
            tally.example("organ_system_keys", f"{it.id}: {it.answer.name}")


def _check_odd_one_out(items: Sequence[Item], facts: GraphFacts, tally: _Tally) -> None:
    """Drug keys whose distractors all share a class or a target the key lacks."""
    tally.metrics["odd_one_out_items"] = 0
    for it in items:
        node = facts.node(it.answer.curie)
        g = facts.graph
        if it.format == "short" or node is None or g.categories[int(g.category[node])] != "biolink:Drug":
            continue
        key = facts.classes_of(it.answer.curie) | facts.targets_of(it.answer.curie)
        seen: Counter[str] = Counter()
        wrong = [o for o in it.options if o.letter != it.answer.letter]
        for o in wrong:
            seen.update((facts.classes_of(o.curie) | facts.targets_of(o.curie)) - key)
        shared = sorted(c for c, n in seen.items() if n == len(wrong) > 1)
        if shared:
            tally.add("odd_one_out_items")
            tally.example("odd_one_out_items", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}"
                                               f" ({shared[0]} shared)")  # fmt: skip


def _check_odd_ancestor(items: Sequence[Item], facts: GraphFacts, tally: _Tally) -> None:
    """Phenotype and disease keys whose distractors all sit under an ancestor the key is not under; chains whose
    distractors all lie in the start entity's reach while the key does not."""
    tally.metrics["odd_ancestor_items"] = 0
    tally.metrics["odd_start_items"] = 0
    g = facts.graph
    for it in items:
        node = facts.node(it.answer.curie)
        wrong = [facts.node(o.curie) for o in it.options if o.letter != it.answer.letter]
        if it.format == "short" or node is None or len(wrong) < 2 or None in wrong:
            continue
        shown = f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}"
        if g.categories[int(g.category[node])] in ("biolink:PhenotypicFeature", "biolink:Disease"):
            shared = frozenset.intersection(*(facts.ancestors(w) | {w} for w in wrong if w is not None))
            if shared - facts.ancestors(node) - {node}:
                tally.add("odd_ancestor_items")
                tally.example("odd_ancestor_items", shown)
        stated = stated_entities(it) if it.type == "chain" else []
        start_node = facts.node(stated[0]) if len(stated) == 1 else None
        if start_node is not None:
            reach = facts.reach_at_once(start_node)
            if all(w in reach for w in wrong) and node not in reach:
                tally.add("odd_start_items")
                tally.example("odd_start_items", shown)


PPR_RESTART = 0.15  # the restart probability of personalized PageRank (the usual damping of 0.85)
PPR_ITERATIONS = 30  # at most; the mass still moving after them is below 0.85**30 (0.8%)
PPR_TOLERANCE = 1e-6  # L1 change per iteration at which the power iteration stops


@dataclass(frozen=True)
class Neighbours:
    """The graph as one undirected adjacency, relation types ignored, each pair of nodes once (CSR)."""

    indptr: np.ndarray
    cols: np.ndarray
    rows: np.ndarray  # the row of every entry of ``cols``
    degree: np.ndarray

    @classmethod
    def of(cls, graph: Graph) -> Neighbours:
        n = graph.num_nodes
        src = np.concatenate([graph.src, graph.dst]).astype(np.int64)
        dst = np.concatenate([graph.dst, graph.src]).astype(np.int64)
        keep = src != dst
        pairs = np.unique(src[keep] * n + dst[keep])
        rows, cols = pairs // n, pairs % n
        degree = np.bincount(rows, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(degree, out=indptr[1:])
        return cls(indptr=indptr, cols=cols, rows=rows, degree=degree)


def personalized_pagerank(nb: Neighbours, seeds: Sequence[int], *, restart: float = PPR_RESTART) -> np.ndarray:
    """Personalized PageRank of every node from ``seeds`` (restart spread evenly over them), by power
    iteration: ``x = restart * s + (1 - restart) * W x`` with ``W`` the random-walk matrix; mass at a node
    without neighbours returns to the seeds.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder(); b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> for i in range(4): b.add_node(f"D:{i}", "biolink:Disease", f"d{i}", source="s")
    >>> _ = b.stream("x", "s")
    >>> for s, o in (("D:0", "D:1"), ("D:1", "D:2"), ("D:2", "D:3")):
    ...     b.add_edge(s, "biolink:subclass_of", o, source="s", stream="x")
    >>> g = b.build(); x = personalized_pagerank(Neighbours.of(g), [g.index["D:0"]])
    >>> d = [float(x[g.index[f"D:{i}"]]) for i in range(4)]
    >>> d[1] > d[2] > d[3], round(sum(d), 6)
    (True, 1.0)
    """
    n = len(nb.degree)
    s = np.zeros(n, dtype=np.float64)
    s[np.asarray(seeds, dtype=np.int64)] = 1.0
    s /= s.sum()
    x = s.copy()
    inv = np.divide(1.0, nb.degree, out=np.zeros(n), where=nb.degree > 0)
    dangling = nb.degree == 0
    for _ in range(PPR_ITERATIONS):
        walk = np.bincount(nb.cols, weights=(x * inv)[nb.rows], minlength=n)
        nxt = restart * s + (1 - restart) * (walk + float(x[dangling].sum()) * s)
        change = float(np.abs(nxt - x).sum())
        x = nxt
        if change < PPR_TOLERANCE:
            break
    return x


def stated_entities(item: Item) -> list[str]:
    """What the stem states: a chain's start entity; a vignette's findings and mode of inheritance."""
    if item.type == "vignette":
        return [v for c in item.constraints if c.kind in ("has_phenotype", "has_mode_of_inheritance")
                for v in c.args.values()]  # fmt: skip
    return [c.args["entity"] for c in item.constraints if c.kind == "start" and "entity" in c.args]


def key_share_of_top(scores: Sequence[float], key: int) -> float:
    """1 when option ``key`` scores highest, ``1/t`` when it ties with ``t - 1`` others at the top, else 0.

    >>> key_share_of_top([0.3, 0.1, 0.2], 0), key_share_of_top([0.3, 0.3, 0.2], 1), key_share_of_top([1, 2], 0)
    (1.0, 0.5, 0.0)
    """
    top = max(scores)
    if scores[key] < top:
        return 0.0
    return 1.0 / sum(1 for v in scores if v == top)


_TABLES: dict[tuple[int, str], tuple[Graph, tuple[Neighbours, np.ndarray, np.ndarray, Shortcuts, Prover]]] = {}


def _difficulty_tables(
    graph: Graph, schema_name: str, phenotype_root: str | None
) -> tuple[Neighbours, np.ndarray, np.ndarray, Shortcuts, Prover]:
    """The undirected adjacency, the areas, the non-therapeutic mask, the shortcut anchors (the generator's
    default limits) and the phenotype hierarchy of ``graph`` by the run's schema (kept for the last graph and
    schema)."""
    got = _TABLES.get((id(graph), schema_name))
    if got is not None and got[0] is graph:
        return got[1]
    from kgsynth.graph.index import CSRIndex
    from kgsynth.questions.areas import build_areas
    from kgsynth.questions.curation import (
        contradicted_memberships,
        load_curation,
        non_therapeutic_mask,
        without_symptomatic_indications,
    )
    from kgsynth.questions.genconfig import GenerateConfig
    from kgsynth.questions.shortcuts import Shortcuts
    from kgsynth.questions.verify import Prover

    cur = load_curation(schema_name)
    index = CSRIndex(graph)
    areas = build_areas(
        graph, index, therapeutic_root=cur.therapeutic_class_root, phenotype_root=phenotype_root,
        separate_roots=cur.separate_area_roots,
    )  # fmt: skip
    cfg = GenerateConfig()
    # the indications the generator walks by default (symptomatic ones left out)
    walked = without_symptomatic_indications(graph)
    shortcuts = Shortcuts.build(
        walked, index if walked is graph else CSRIndex(walked), cur,
        use_terms=cfg.shortcut_use_terms, class_members=cfg.shortcut_class_members,
        contradicted=contradicted_memberships(walked, cur),
    )  # fmt: skip
    prover = Prover(graph, index, phenotype_root=phenotype_root)
    made = (Neighbours.of(graph), areas, non_therapeutic_mask(graph, cur), shortcuts, prover)
    _TABLES.clear()
    _TABLES[(id(graph), schema_name)] = (graph, made)
    return made


def fact_matching_pick(options: Sequence[str], stated: Iterable[str], facts: Iterable[tuple[str, str]]) -> list[int]:
    """The options (indices) a reader who matches option names to an open-book item's facts (subject, object),
    without following any chain, would choose among: those sharing a fact with an entity the stem states, else
    those named in the most facts.

    >>> facts = [("S", "m"), ("m", "A"), ("k", "B")]
    >>> fact_matching_pick("AB", {"S"}, facts), fact_matching_pick("AB", {"S"}, [*facts, ("B", "j")])
    ([0, 1], [1])
    >>> fact_matching_pick("AB", {"S"}, [("S", "B"), ("m", "A")])
    [1]
    """
    stated = set(stated)
    named: Counter[str] = Counter()
    beside: set[str] = set()
    for s, o in facts:
        named.update({s, o})
        if s in stated:
            beside.add(o)
        if o in stated:
            beside.add(s)
    near = [i for i, c in enumerate(options) if c in beside]
    if near:
        return near
    top = max(named[c] for c in options)
    return [i for i, c in enumerate(options) if named[c] == top]


def fact_chains(item: Item, node: Callable[[str], int | None]) -> list[list[int]]:
    """Per option of an open-book item, the entities (graph nodes, by ``node``) of the facts connected to it:
    its chain and that chain's branch (the key's: with the start)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for t in item.context:
        parent[root(t.subject)] = root(t.object)
    groups: dict[str, list[int]] = {}
    for x in list(parent):
        n = node(x)
        if n is not None:
            groups.setdefault(root(x), []).append(int(n))
    return [groups.get(root(o.curie), []) for o in item.options]


def check_fact_matching(items: Sequence[Item], tally: _Tally) -> None:
    """``fact_shortcut_rate`` (only for runs with open-book multiple-choice items): how often the reader of
    :func:`fact_matching_pick` finds the key (ties shared); chance is one over the options."""
    asked = [it for it in items if it.context and it.format == "mcq" and it.options]
    if not asked:
        return
    hit = 0.0
    for it in asked:
        picks = fact_matching_pick([o.curie for o in it.options], stated_entities(it),
                                   [(t.subject, t.object) for t in it.context])  # fmt: skip
        key = next(i for i, o in enumerate(it.options) if o.letter == it.answer.letter)
        hit += 1.0 / len(picks) if key in picks else 0.0
    tally.metrics["fact_shortcut_rate"] = round(hit / len(asked), 4)
    tally.details["fact_shortcut_items"] = len(asked)


def _check_difficulty(
    items: Sequence[Item], graph: Graph | None, tally: _Tally, schema_name: str, phenotype_root: str | None
) -> None:
    keys = ("association_shortcut_rate", "popularity_shortcut_rate", "key_alone_in_area", "shortcut_alone",
            "use_alone", "non_therapeutic_options", "odd_area_items", "odd_cluster_items")  # fmt: skip
    if graph is None:
        for name in keys:
            tally.metrics[name] = None
            tally.skipped[name] = "needs the graph"
        return
    from kgsynth.questions.distractors import odd_cluster
    from kgsynth.questions.genconfig import GenerateConfig

    nb, areas, unfit, shortcuts, prover = _difficulty_tables(graph, schema_name, phenotype_root)
    cfg = GenerateConfig()  # (the generator's default cluster limits)
    pheno = graph.category_range("biolink:PhenotypicFeature")
    node = graph.index.get
    for name in (
        "non_therapeutic_options",
        "key_alone_in_area",
        "shortcut_alone",
        "use_alone",
        "odd_area_items",
        "odd_cluster_items",
    ):
        tally.metrics[name] = 0
    association = popularity = 0.0
    asked: list[tuple[list[int], list[int], int]] = []
    chains: list[tuple[int, list[list[int]]]] = []  # per open-book item asked: each option's chain of facts
    for it in items:
        if it.format == "short":
            k = node(it.answer.curie)
            if k is not None and unfit[k]:
                tally.add("non_therapeutic_options")
                tally.example("non_therapeutic_options", f"{it.id}: key {it.answer.name!r}")
            continue
        opts = [node(o.curie) for o in it.options]
        seeds = [x for x in (node(c) for c in stated_entities(it)) if x is not None]
        key = next((i for i, o in enumerate(it.options) if o.letter == it.answer.letter), None)
        for o, n in zip(it.options, opts, strict=True):
            if n is not None and unfit[n]:
                tally.add("non_therapeutic_options")
                tally.example("non_therapeutic_options", f"{it.id}: {o.text!r}")
        if key is None or not seeds or any(n is None for n in opts):
            continue
        nodes = [int(n) for n in opts if n is not None]
        asked.append((seeds, nodes, key))
        if it.context:
            chains.append((len(asked) - 1, fact_chains(it, node)))
        mask = int(areas[nodes[key]])
        if mask and not any(int(areas[n]) & mask for i, n in enumerate(nodes) if i != key):
            tally.add("key_alone_in_area")
            tally.example("key_alone_in_area", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}")
        others = [n for i, n in enumerate(nodes) if i != key]
        if len(others) > 1 and functools.reduce(operator.and_, (int(areas[n]) for n in others)) & ~mask:
            tally.add("odd_area_items")
            tally.example("odd_area_items", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}")
        if pheno[0] <= nodes[key] < pheno[1] and odd_cluster(
            prover, nodes[key], others, share=cfg.cluster_min_share, ratio=cfg.cluster_key_ratio
        ):
            tally.add("odd_cluster_items")
            tally.example("odd_cluster_items", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}")
        if shortcuts.alone(nodes[key], np.array(seeds, dtype=np.int32), nodes):
            tally.add("shortcut_alone")
            tally.example("shortcut_alone", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}")
        if shortcuts.use_alone(nodes[key], nodes):
            tally.add("use_alone")
            tally.example("use_alone", f"{it.id}: {it.answer.name!r} among {[o.text for o in it.options]}")
    by_item = dict(chains)
    topic = 0.0
    for j, (seeds, nodes, at) in enumerate(asked):
        ppr = personalized_pagerank(nb, seeds)
        association += key_share_of_top([float(ppr[n]) for n in nodes], at)
        popularity += key_share_of_top([float(nb.degree[n]) for n in nodes], at)
        if j in by_item:  # the chain whose entities (the stem's aside) the stem is most associated with
            topic += key_share_of_top([max((float(ppr[n]) for n in c if n not in seeds), default=0.0)
                                       for c in by_item[j]], at)  # fmt: skip
    if chains:
        tally.metrics["fact_chain_association_rate"] = round(topic / len(chains), 4)
    mcq = len(asked)
    tally.details["difficulty_items"] = mcq
    tally.metrics["association_shortcut_rate"] = round(association / mcq, 4) if mcq else None
    tally.metrics["popularity_shortcut_rate"] = round(popularity / mcq, 4) if mcq else None
    if not mcq:
        for name in ("association_shortcut_rate", "popularity_shortcut_rate"):
            tally.skipped[name] = "no multiple-choice items"


def audit_items(
    items: Sequence[Item], *, graph: Graph | None = None, schema_name: str = DEFAULT_SCHEMA
) -> dict[str, Any]:
    """The audit of ``items``: ``metrics`` (counts and shares), ``details``, ``examples``, ``skipped``.

    Checks that need the graph report ``None`` (and a reason in ``skipped``) when ``graph`` is None.
    ``schema_name`` is the schema that wrote the items (its phenotype root, leak rules and curation).
    The result depends only on the items, the graph and the schema, so it is the same on every run.
    """
    schema = load_schema(schema_name)
    facts = GraphFacts(graph) if graph is not None else None
    tally = _Tally()
    tally.metrics["items"] = len(items)
    tally.metrics["vignettes"] = sum(it.type == "vignette" for it in items)
    _check_options(items, tally)
    _check_leaks(items, tally)
    _check_distractors(items, facts, tally)
    _check_circular(items, tally)
    _check_stems(items, tally)
    _check_spread(items, tally)
    from kgsynth.questions.curation import load_curation

    _check_graph_facts(items, facts, tally, root=schema.phenotype_root,
                       max_descendants=load_curation(schema_name).max_key_phenotype_descendants)  # fmt: skip
    check_hidden_share(items, tally)
    check_finding_leaks(items, tally, schema=schema_name)
    check_vignette_ranks(items, graph, tally)
    _check_difficulty(items, graph, tally, schema_name, schema.phenotype_root)
    check_fact_matching(items, tally)
    return {
        "version": AUDIT_VERSION,
        "metrics": tally.metrics,
        "details": tally.details,
        "examples": {k: tally.examples[k] for k in sorted(tally.examples)},
        "skipped": dict(sorted(tally.skipped.items())),
        "graph": {"name": graph.name, "version": graph.version} if graph is not None else None,
    }


# -- runs -----------------------------------------------------------------------------------------


def read_run_config(out: Path) -> dict[str, Any]:
    """The run's ``config.json`` (what KG and options made it)."""
    path = out / RUN_RECORD
    if not (out / SHARDS).is_dir():
        raise KgsynthError(f"{out} holds no generated run (no jsonl/ folder)", hint="give the --out folder of generate")
    if not path.exists():
        raise KgsynthError(f"{path} does not exist", hint="give the --out folder of a kgsynth generate run")
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KgsynthError(f"{path}: not valid JSON ({exc})", hint="the run folder was edited; regenerate it") from None
    return record


def audit_table(audit: dict[str, Any]) -> list[tuple[str, str]]:
    """The metrics as (name, value) rows: counts as integers, shares with three decimals, "n/a" when skipped."""
    rows = []
    for key, value in audit["metrics"].items():
        if value is None:
            shown = "n/a"
        elif isinstance(value, float):
            shown = f"{value:.3f}"
        else:
            shown = str(value)
        rows.append((key, shown))
    rows.append(("distractor rules", ", ".join(f"{k} {v}" for k, v in audit["details"]["distractor_rules"].items())))
    return rows


def card_section(audit: dict[str, Any]) -> str:
    """The card's audit section (markdown), derived from the audit alone."""
    lines = [CARD_HEADING, "", "Written by `kgsynth audit` (see docs/generate.md).", ""]
    lines += ["| check | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in audit_table(audit)]
    if audit["skipped"]:
        lines += ["", "Not checked: " + "; ".join(f"{k} ({why})" for k, why in audit["skipped"].items()) + "."]
    return "\n".join(lines) + "\n"


def write_audit(out: Path, audit: dict[str, Any]) -> None:
    """Record ``audit`` in ``out/summary.json`` (key ``audit``) and replace the card's audit section."""
    summary_path = out / SUMMARY
    summary: dict[str, Any] = {}
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except ValueError:
            raise KgsynthError(f"{summary_path}: not valid JSON", hint="re-run generate to rewrite it") from None
    summary["audit"] = audit
    atomic_write(summary_path, json.dumps(summary, ensure_ascii=False, sort_keys=True, indent=1) + "\n")
    card_path = out / CARD
    card = card_path.read_text(encoding="utf-8") if card_path.exists() else ""
    cut = card.find("\n" + CARD_HEADING + "\n")
    card = (card[:cut] if cut >= 0 else card).rstrip("\n")
    atomic_write(card_path, card + ("\n\n" if card else "") + card_section(audit))


def audit_run(out: Path, *, graph: Graph | None = None) -> dict[str, Any]:
    """The audit of the run in ``out`` (not written; see `write_audit`), under the schema the run records."""
    record = read_run_config(out)
    items = read_run_items(out)
    audit = audit_items(items, graph=graph, schema_name=record.get("config", {}).get("schema_name", DEFAULT_SCHEMA))
    kg = record.get("kg", {})
    if graph is not None and kg.get("version") and kg["version"] != graph.version:
        logger.warning("the run was made from KG version %s, audited against %s", kg["version"], graph.version)
        audit["graph"]["run_version"] = kg["version"]
    return audit


def parse_thresholds(values: Sequence[str]) -> dict[str, float]:
    """``["leaking_findings=0"]`` -> ``{"leaking_findings": 0.0}``; a malformed value is an error."""
    out: dict[str, float] = {}
    for v in values:
        key, sep, number = v.partition("=")
        try:
            out[key.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise KgsynthError(f"--fail-on {v!r}: expected KEY=NUMBER", hint="e.g. --fail-on leaking_findings=0")
    return out


def exceeded(audit: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """What exceeds its threshold (or could not be checked), one line each; empty when all pass."""
    metrics = audit["metrics"]
    failures = []
    for key, limit in thresholds.items():
        if key not in metrics:
            raise KgsynthError(f"--fail-on {key}: no such audit metric", hint="known: " + ", ".join(sorted(metrics)))
        value = metrics[key]
        if value is None:
            failures.append(f"{key}: not checked ({audit['skipped'].get(key, 'unknown reason')}), limit {limit:g}")
        elif value > limit:
            failures.append(f"{key} = {value:g} exceeds {limit:g}")
    return failures


def run_sources(record: dict[str, Any]) -> tuple[list[str] | None, bool]:
    """The source names that rebuild the run's graph (None for the default KG), and whether it had
    non-commercial sources."""
    from kgsynth.graph.assemble import DEFAULT_KG

    kg = record.get("kg", {})
    names = [s["name"] for s in kg.get("sources", [])]
    non_commercial = bool(kg.get("non_commercial_sources"))
    if kg.get("name") == DEFAULT_KG:
        return None, non_commercial
    return names or None, non_commercial


# -- difficulty: hidden intermediates, vignette ranks, finding leaks (issue 16, item 8) -------------------------


def check_hidden_share(items: Sequence[Item], tally: _Tally) -> None:
    """``max_hidden_share``: the largest share of the items whose path passes one hidden intermediate (an entity
    the question neither names nor asks, :func:`kgsynth.questions.hidden.hidden_intermediates`); the top ones in
    details."""
    from kgsynth.questions.hidden import hidden_intermediates

    counts: Counter[str] = Counter()
    for it in items:
        counts.update(hidden_intermediates(it))
    top = counts.most_common(10)
    tally.metrics["max_hidden_share"] = round(top[0][1] / len(items), 4) if top and items else 0.0
    tally.details["top_hidden_intermediates"] = dict(top)


def check_finding_leaks(items: Sequence[Item], tally: _Tally, *, schema: str = DEFAULT_SCHEMA) -> None:
    """``molecular_activity_findings``: stated findings naming an enzyme's or protein's activity (a vignette's,
    or a chain's start phenotype when a gene is on its path); ``diagnosis_word_findings``: a vignette's findings
    sharing their distinctive words with a name of the diagnosis (:mod:`kgsynth.questions.leaks`)."""
    from kgsynth.questions.curation import load_curation
    from kgsynth.questions.leaks import load_leak_rules

    rules, generic = load_leak_rules(schema), frozenset(load_curation(schema).generic_words)
    tally.metrics["molecular_activity_findings"] = 0
    tally.metrics["diagnosis_word_findings"] = 0
    for it in items:
        names = {t.subject: t.subject_name for t in it.path} | {t.object: t.object_name for t in it.path}
        stated: list[str] = []
        disease = hidden_diagnosis(it)
        if disease is not None:
            stated = [curie for curie, _ in _findings(it)]
        elif any(c.startswith("NCBIGene:") for c in names):
            stated = [
                c.args["entity"] for c in it.constraints if c.kind == "start" and c.args["entity"].startswith("HP:")
            ]
        diagnosis = _diagnosis_forms(it, disease) if disease is not None else []
        for curie in stated:
            forms = [names.get(curie, ""), *it.entity_aliases.get(curie, [])]
            hit = rules.molecular(forms)
            if hit is not None:
                tally.add("molecular_activity_findings")
                tally.example("molecular_activity_findings", f"{it.id}: {hit!r}")
            if diagnosis and rules.restates(forms, diagnosis, generic):
                tally.add("diagnosis_word_findings")
                tally.example("diagnosis_word_findings", f"{it.id}: {forms[0]!r} for {diagnosis[0]!r}")


def check_vignette_ranks(items: Sequence[Item], graph: Graph | None, tally: _Tally) -> None:
    """``vignettes_ranked_first`` / ``vignettes_not_ranked_first``: vignettes whose diagnosis ranks first among
    every disease of the graph by an information-content weighted match of the stated findings
    (:class:`kgsynth.questions.phenomatch.PhenotypeMatcher`); the ranks in details."""
    vignettes = [it for it in items if it.type == "vignette"]
    keys = ("vignettes_ranked_first", "vignettes_not_ranked_first")
    if graph is None or not vignettes:
        for key in keys:
            tally.metrics[key] = None
            tally.skipped[key] = "needs the graph" if graph is None else "no vignettes in the run"
        return
    from kgsynth.graph.index import CSRIndex
    from kgsynth.questions.phenomatch import PhenotypeMatcher
    from kgsynth.questions.verify import Prover

    index = CSRIndex(graph)
    matcher = PhenotypeMatcher(graph, index, Prover(graph, index))
    ranks: Counter[int] = Counter()
    for it in vignettes:
        disease = hidden_diagnosis(it)
        if disease is None or disease not in graph.index:
            continue
        findings = [graph.index[c] for c, _ in _findings(it) if c in graph.index]
        rank, _, _ = matcher.rank(findings, graph.index[disease])
        ranks[rank] += 1
        if rank > 1:
            tally.example("vignettes_not_ranked_first", f"{it.id}: {disease} ranks {rank}")
    tally.metrics["vignettes_ranked_first"] = ranks.get(1, 0)
    tally.metrics["vignettes_not_ranked_first"] = sum(n for r, n in ranks.items() if r > 1)
    tally.details["vignette_diagnosis_ranks"] = {str(r): n for r, n in sorted(ranks.items())}
