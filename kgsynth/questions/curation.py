"""What a clinician would accept: the curation lists of ``graph_schemas/curation/`` and the masks and name
normalisation built from them.

The lists (incidental drug classes, Mendelian modes, generic words) live in YAML, validated here; this
module turns them into per-node masks of a graph, once per run.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgsynth.errors import KgsynthError, UnknownNameError
from kgsynth.graph.model import Graph
from kgsynth.resources import schemas_dir

logger = logging.getLogger(__name__)

SYMPTOMATIC = "symptomatic"
TREATS = "biolink:treats"
MEMBER_OF = "biolink:member_of"
SUBCLASS_OF = "biolink:subclass_of"


class Curation(BaseModel):
    """The curation lists of one schema (``graph_schemas/curation/NAME.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    incidental_class_patterns: list[str] = Field(default_factory=list)
    incidental_class_types: list[str] = Field(default_factory=list)
    mendelian_modes: list[str] = Field(default_factory=list)
    generic_words: list[str] = Field(default_factory=list)
    min_key_phenotype_depth: int = Field(default=3, ge=0)
    # a phenotype with more descendants than this is a grouping term ("Abnormality of mental function"), never a
    # key or an option: it fits too much to be the one right answer
    max_key_phenotype_descendants: int = Field(default=100, ge=0)
    # a gene that more drugs than this act on is never the key reached from a hidden drug (the drug class's hub
    # target answers it: the glucocorticoid receptor for an autoimmune disease; kgsynth.questions.draft.walk_problem)
    max_key_target_drugs: int = Field(default=30, ge=0)
    # phenotypes of one sex only (these roots and their descendants): a vignette never states findings of both
    male_phenotype_roots: list[str] = Field(default_factory=list)
    female_phenotype_roots: list[str] = Field(default_factory=list)
    # diseases (these roots and their descendants) whose many genes are somatic drivers a clinician names (ERBB2
    # in gastric cancer): exempt from ``GenerateConfig.max_disease_genes`` (kgsynth.questions.hidden)
    somatic_disease_roots: list[str] = Field(default_factory=list)
    # diseases below these roots whose name matches one of these patterns are made by a test, not by findings (a
    # chromosomal deletion named by its band): never a vignette's diagnosis (kgsynth.questions.vignette.statable)
    test_named_disease_roots: list[str] = Field(default_factory=list)
    test_named_disease_patterns: list[str] = Field(default_factory=list)
    # phenotypes (these roots and their descendants) a drug produces itself: never the key of a chain that starts
    # at a drug, which a reader would answer from the drug's own pharmacology (kgsynth.questions.draft.walk_problem)
    drug_effect_phenotype_roots: list[str] = Field(default_factory=list)
    # ... and, per drug class (CURIE; its subclasses' members too), phenotypes its members produce: never the key of
    # a chain that starts at one of them (kgsynth.questions.draft.class_effect)
    class_effect_phenotype_roots: dict[str, list[str]] = Field(default_factory=dict)
    # edges of the sources a clinician doubts (subject CURIE, object CURIE; any relation): never an edge of a question
    # (kgsynth.questions.draft.walk_problem), though proofs still count them
    doubtful_edges: list[tuple[str, str]] = Field(default_factory=list)
    # treatments of rare diagnoses the bundled indication source lacks (drug CURIE -> disease CURIEs): uses of the
    # drug wherever its uses decide (kgsynth.questions.draft.uses_of), never an edge of a question
    known_treatments: dict[str, list[str]] = Field(default_factory=dict)
    # Non-therapeutic vocabulary (never a key, option or path node): classes below these roots of a class
    # tree (``subclass_of``) unless also below ``therapeutic_class_root``; classes by id where the source has
    # no tree (ChEBI roles); classes by name pattern where it has neither (NDFRT "... Activity").
    non_therapeutic_class_roots: list[str] = Field(default_factory=list)
    therapeutic_class_root: str = ""  # also the root of the therapeutic areas (kgsynth.questions.areas)
    # branches below an HPO organ system that are clinical areas of their own (kgsynth.questions.areas)
    separate_area_roots: list[str] = Field(default_factory=list)
    therapeutic_class_ids: list[str] = Field(default_factory=list)  # kept with their subtrees
    non_therapeutic_class_ids: list[str] = Field(default_factory=list)
    non_therapeutic_class_patterns: list[str] = Field(default_factory=list)
    # Mechanism classes (below these roots, or of these DrugCentral class types) whose membership a drug's
    # targets can contradict (see :func:`contradicted_memberships`).
    mechanism_class_roots: list[str] = Field(default_factory=list)
    mechanism_class_types: list[str] = Field(default_factory=list)
    # Mechanism classes that say how a drug is handled, not how it acts (CYP and transporter inhibitors):
    # never the mechanism a reader recognises a key by (kgsynth.questions.shortcuts).
    pharmacokinetic_class_patterns: list[str] = Field(default_factory=list)

    @field_validator(
        "incidental_class_patterns",
        "non_therapeutic_class_patterns",
        "pharmacokinetic_class_patterns",
        "test_named_disease_patterns",
    )
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        return check_regexes(v)


def check_regexes(patterns: list[str]) -> list[str]:
    """``patterns`` unchanged if each compiles as a regular expression (a pydantic field validator's body)."""
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {p!r} ({exc})") from None
    return patterns


def curation_dir() -> Path:
    return schemas_dir() / "curation"


@cache
def load_curation(name: str) -> Curation:
    """The curation lists for schema ``name``; a schema without its own file uses ``med``'s."""
    path = curation_dir() / f"{name}.yaml"
    if not path.exists():
        if name != "med":
            return load_curation("med")
        raise UnknownNameError("curation list", name, sorted(p.stem for p in curation_dir().glob("*.yaml")))
    try:
        return Curation.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise KgsynthError(f"{path}{line}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        hint = "see graph_schemas/curation/med.yaml"
        raise KgsynthError(f"{path}: not a valid curation list:\n{exc}", hint=hint) from None


# --- names -----------------------------------------------------------------------------------------------
_NON_WORD = re.compile(r"[^0-9a-z]+")
_DROP_TOKENS = frozenset({"", "agent", "agents", "drug", "drugs", "the", "of", "and"})
NORM_RULES_VERSION = 1  # bump when norm_name's rules change (cached name tables are keyed by it)
_TOKENS: dict[str, str] = {}  # token -> its normalised form (words repeat across names: computed once)


def _singular(token: str) -> str:
    if len(token) > 3 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _token(token: str) -> str:
    got = _TOKENS.get(token)
    if got is None:
        got = _TOKENS[token] = "" if token in _DROP_TOKENS else _singular(token)
    return got


def name_rules() -> tuple[str, tuple[str, ...]]:
    """What :func:`norm_name` depends on besides the name (a cache of normalised names is keyed by it)."""
    return f"{NORM_RULES_VERSION}:{_NON_WORD.pattern}", tuple(sorted(_DROP_TOKENS))


def norm_name(name: str) -> str:
    """A name reduced for comparison across vocabularies: case, hyphens and punctuation, plurals, and the
    words 'agent', 'drug', 'the', 'of', 'and' dropped.

    >>> norm_name("Dermatologic Agents") == norm_name("dermatologic drug")
    True
    >>> norm_name("Cytochrome P450 3A Inducers") == norm_name("Cytochrome P450 3A4 Inducers")
    False
    """
    return " ".join(t for t in map(_token, _NON_WORD.split(name.lower())) if t)


def content_tokens(name: str, generic: frozenset[str]) -> frozenset[str]:
    """The identity-bearing words of a name (singular, lower case, generic words and short tokens dropped)."""
    return frozenset(
        _singular(t) for t in _NON_WORD.split(name.lower()) if len(t) > 2 and t not in generic and not t.isdigit()
    )


def is_raw_identifier(graph: Graph, node: int) -> bool:
    """The node has no readable name (its name is its CURIE, empty, or holds no letter or digit: NCBI gives some
    genes the symbol ``-``)."""
    name = graph.names[node]
    return not any(c.isalnum() for c in name) or name == graph.ids[node]


_LETTERS = re.compile(r"[A-Za-z]+")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{3,}\b")


def display_name(name: str, *, sentence: bool = False) -> str:
    """One casing style for options: sentence case, keeping acronyms and symbols.

    A Title Case name (MeSH, FDA: every word of four letters or more capitalised), or any name with
    ``sentence`` (drug classes, which hold no proper names), becomes sentence case; a lower-case name gets
    a capital first letter.

    >>> display_name("Dermatologic Agents"), display_name("dermatologic drug"), display_name("KCNQ1")
    ('Dermatologic agents', 'Dermatologic drug', 'KCNQ1')
    >>> display_name("Delayed-Action Preparations"), display_name("MTOR Inhibitor Immunosuppressant")
    ('Delayed-action preparations', 'MTOR inhibitor immunosuppressant')
    >>> display_name("Parkinson disease"), display_name("alpha-Glucosidase Inhibitor")
    ('Parkinson disease', 'Alpha-glucosidase inhibitor')
    >>> display_name("Platelet-reducing Agent", sentence=True)
    'Platelet-reducing agent'
    """
    long_words = [w for w in _LETTERS.findall(name) if len(w) >= 4]
    if sentence or (len(long_words) >= 2 and all(w[0].isupper() for w in long_words[1:])):
        first = _LETTERS.search(name)
        cut = first.end() if first else 0
        name = name[:cut] + _CAPITALISED.sub(lambda m: m.group(0).lower(), name[cut:])
    return name[:1].upper() + name[1:] if name[:1].islower() else name


# --- masks over a graph ------------------------------------------------------------------------------
def incidental_class_mask(graph: Graph, cur: Curation) -> np.ndarray:
    """Pharmacologic classes kept out of keys, options and walks (by name pattern or class type)."""
    mask = np.zeros(graph.num_nodes, dtype=bool)
    lo, hi = graph.category_range("biolink:OntologyClass")
    patterns = [re.compile(p, re.IGNORECASE) for p in cur.incidental_class_patterns]
    for i in range(lo, hi):
        if any(p.fullmatch(graph.names[i]) for p in patterns):
            mask[i] = True
    _mark_class_types(graph, cur.incidental_class_types, mask)
    return mask


def _mark_class_types(graph: Graph, class_types: list[str], mask: np.ndarray) -> None:
    """Set ``mask`` on every class a ``member_of`` edge whose class type is one of ``class_types`` points to."""
    if MEMBER_OF not in graph.relations or not class_types:
        return
    sl = graph.relation_slice(MEMBER_OF)
    types = set(class_types)
    for q, d in zip(graph.qual[sl], graph.dst[sl], strict=True):
        if q >= 0 and graph.qualifiers[int(q)].get("class_type") in types:
            mask[int(d)] = True


def _below(graph: Graph, roots: list[str]) -> np.ndarray:
    """A mask of ``roots`` (CURIEs; absent ones ignored) and every node below them along ``subclass_of``."""
    mask = np.zeros(graph.num_nodes, dtype=bool)
    frontier = [graph.index[r] for r in roots if r in graph.index]
    if not frontier or SUBCLASS_OF not in graph.relations:
        return mask
    sl = graph.relation_slice(SUBCLASS_OF)
    child, parent = graph.src[sl], graph.dst[sl]
    order = np.argsort(parent, kind="stable")
    child, parent = child[order], parent[order]
    mask[frontier] = True
    level = np.array(frontier, dtype=np.int64)
    while len(level):
        a, b = np.searchsorted(parent, level, side="left"), np.searchsorted(parent, level, side="right")
        kids = np.concatenate([child[x:y] for x, y in zip(a, b, strict=True)]) if len(level) else level
        kids = kids[~mask[kids]]
        mask[kids] = True
        level = np.unique(kids)
    return mask


def non_therapeutic_mask(graph: Graph, cur: Curation) -> np.ndarray:
    """Classes a clinician would not offer as a drug's use (see :class:`Curation`), and drugs whose every
    class is one of them (a contrast medium, a food colouring)."""
    mask = _below(graph, cur.non_therapeutic_class_roots)
    mask &= ~_below(graph, [r for r in (cur.therapeutic_class_root, *cur.therapeutic_class_ids) if r])
    for curie in cur.non_therapeutic_class_ids:
        if curie in graph.index:
            mask[graph.index[curie]] = True
    lo, hi = graph.category_range("biolink:OntologyClass")
    patterns = [re.compile(p, re.IGNORECASE) for p in cur.non_therapeutic_class_patterns]
    if patterns:
        for i in range(lo, hi):
            if any(p.fullmatch(graph.names[i]) for p in patterns):
                mask[i] = True
    outside = np.zeros(graph.num_nodes, dtype=bool)
    outside[:lo] = outside[hi:] = True
    mask[outside] = False  # only classes by these rules; drugs below
    if MEMBER_OF in graph.relations:
        sl = graph.relation_slice(MEMBER_OF)
        drugs, classes = graph.src[sl], graph.dst[sl]
        total = np.bincount(drugs, minlength=graph.num_nodes)
        flagged = np.bincount(drugs, weights=mask[classes], minlength=graph.num_nodes)
        mask |= (total > 0) & (flagged == total)
    return mask


INTERACTS_WITH = "biolink:interacts_with"
MIN_TARGETED_MEMBERS = 3  # a class's other members with known targets needed to judge a membership


def mechanism_classes(graph: Graph, cur: Curation) -> np.ndarray:
    """A mask of the mechanism classes: below ``mechanism_class_roots``, or the target of a ``member_of`` edge
    whose class type is one of ``mechanism_class_types``."""
    mechanism = _below(graph, cur.mechanism_class_roots)
    _mark_class_types(graph, cur.mechanism_class_types, mechanism)
    return mechanism


def pharmacodynamic_classes(graph: Graph, cur: Curation) -> np.ndarray:
    """:func:`mechanism_classes` without those named by ``pharmacokinetic_class_patterns``."""
    mask = mechanism_classes(graph, cur)
    patterns = [re.compile(p, re.IGNORECASE) for p in cur.pharmacokinetic_class_patterns]
    for i in np.flatnonzero(mask):
        if any(p.fullmatch(graph.names[i]) for p in patterns):
            mask[i] = False
    return mask


def family_classes(graph: Graph, cur: Curation) -> np.ndarray:
    """A mask of the classes a reader groups drugs by (their mechanism or their therapeutic use: "Hypoglycemic
    Agents", "Hormone Antagonists", "anticonvulsant"): every class but the incidental, non-therapeutic and
    pharmacokinetic ones."""
    mask = np.zeros(graph.num_nodes, dtype=bool)
    lo, hi = graph.category_range("biolink:OntologyClass")
    mask[lo:hi] = True
    mask &= ~incidental_class_mask(graph, cur) & ~non_therapeutic_mask(graph, cur)
    patterns = [re.compile(p, re.IGNORECASE) for p in cur.pharmacokinetic_class_patterns]
    for i in np.flatnonzero(mask):
        if any(p.fullmatch(graph.names[i]) for p in patterns):
            mask[i] = False
    return mask


def contradicted_memberships(graph: Graph, cur: Curation) -> np.ndarray:
    """A mask over edges: ``member_of`` edges of a drug to a mechanism class that its own targets
    contradict -- the drug has targets, at least :data:`MIN_TARGETED_MEMBERS` other members of the class
    have targets, and it shares none with them (DrugCentral files risedronate, a farnesyl-diphosphate
    synthase inhibitor, under MeSH "Calcium Channel Blockers")."""
    out = np.zeros(graph.num_edges, dtype=bool)
    if MEMBER_OF not in graph.relations or INTERACTS_WITH not in graph.relations:
        return out
    mechanism = mechanism_classes(graph, cur)
    sl = graph.relation_slice(MEMBER_OF)
    targets: dict[int, set[int]] = {}
    ts = graph.relation_slice(INTERACTS_WITH)
    for s, o in zip(graph.src[ts].tolist(), graph.dst[ts].tolist(), strict=True):
        targets.setdefault(s, set()).add(o)
    members: dict[int, list[int]] = {}
    for drug, klass in zip(graph.src[sl].tolist(), graph.dst[sl].tolist(), strict=True):
        if mechanism[klass] and drug in targets:
            members.setdefault(klass, []).append(drug)
    for e, (drug, klass) in enumerate(zip(graph.src[sl].tolist(), graph.dst[sl].tolist(), strict=True)):
        others = [m for m in members.get(klass, []) if m != drug]
        if drug not in targets or len(others) < MIN_TARGETED_MEMBERS:
            continue
        # only a coherent mechanism judges: one target shared by at least half of the other members
        # ("Enzyme Inhibitors" or "Anti-epileptic Agent" act on many targets; "Calcium Channel Blockers" do not)
        shared = Counter(t for m in others for t in targets[m]).most_common(1)
        if not shared or shared[0][1] * 2 < len(others):
            continue
        if not any(targets[drug] & targets[m] for m in others):
            out[sl.start + e] = True
    return out


def _symptomatic(graph: Graph, treats: slice) -> np.ndarray:
    """Which edges of the ``treats`` slice are symptomatic indications (a mask over the slice)."""
    codes = [i for i, q in enumerate(graph.qualifiers) if q.get("indication_category") == SYMPTOMATIC]
    return np.isin(graph.qual[treats], np.array(codes, dtype=graph.qual.dtype))


def symptomatic_uses(graph: Graph) -> dict[int, np.ndarray]:
    """Per drug, the diseases it has a symptomatic indication for (sorted node ids): what a run that leaves those
    edges out (:func:`without_symptomatic_indications`) still counts among a start drug's uses, which a reader
    sets aside as readily as its disease-modifying ones (methamphetamine for narcolepsy)."""
    if TREATS not in graph.relations:
        return {}
    sl = graph.relation_slice(TREATS)
    mark = _symptomatic(graph, sl)
    drugs, diseases = graph.src[sl][mark], graph.dst[sl][mark]
    out: dict[int, list[int]] = {}
    for drug, disease in zip(drugs.tolist(), diseases.tolist(), strict=True):
        out.setdefault(drug, []).append(disease)
    return {drug: np.unique(np.array(d, dtype=np.int32)) for drug, d in out.items()}


def without_symptomatic_indications(graph: Graph) -> Graph:
    """The graph without ``treats`` edges whose indication category is symptomatic (same nodes, same version)."""
    if TREATS not in graph.relations:
        return graph
    sl = graph.relation_slice(TREATS)
    mark = _symptomatic(graph, sl)
    if not mark.any():
        return graph
    keep = np.ones(graph.num_edges, dtype=bool)
    keep[sl] = ~mark
    logger.info("left out %d symptomatic indications", int((~keep).sum()))
    return _with_edges(graph, keep)


def _with_edges(graph: Graph, keep: np.ndarray) -> Graph:
    """``graph`` with only the edges ``keep`` marks (same nodes, same version)."""
    out = Graph(
        name=graph.name, version=graph.version, ids=graph.ids, categories=graph.categories,
        category=graph.category, names=graph.names, synonyms=graph.synonyms, layperson=graph.layperson,
        xrefs=graph.xrefs, node_source=graph.node_source, rare=graph.rare, relations=graph.relations,
        src=graph.src[keep], dst=graph.dst[keep], rel=graph.rel[keep], edge_source=graph.edge_source[keep],
        qual=graph.qual[keep], qualifiers=graph.qualifiers, sources=graph.sources, report=graph.report,
    )  # fmt: skip
    out._index = graph.index
    return out
