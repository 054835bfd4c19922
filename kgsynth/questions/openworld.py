"""Open-world safety: what may never be offered as wrong, and what may never be a key.

The graph lists what is known, not everything that is true: an entity the graph does not link is not
proven unrelated. These per-run tables (built once from the graph and the curation lists) let the
distractor rules keep away from anything a clinician could count as correct: relatives in the ontology
hierarchies, members of the same name family (``long QT syndrome 1``/``2``), genes of one symbol family,
cross-vocabulary synonyms, and unreadable or incidental entities.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field

import numpy as np

from kgsynth.graph.index import CSRIndex, Step, gather_ranges, sorted_unique
from kgsynth.graph.model import Graph
from kgsynth.graph.store.embedded import default_cache_dir
from kgsynth.questions.areas import build_areas
from kgsynth.questions.association import Walks
from kgsynth.questions.curation import (
    MEMBER_OF,
    Curation,
    content_tokens,
    contradicted_memberships,
    incidental_class_mask,
    is_raw_identifier,
    name_rules,
    non_therapeutic_mask,
    norm_name,
)
from kgsynth.questions.verify import SUBCLASS, SUPERCLASS, Prover

logger = logging.getLogger(__name__)

_FAMILY_TAIL = re.compile(r"^(\d+[a-z]?\d*|[ivx]+|type|[a-z])$")
_SYMBOL_STEM = re.compile(r"^[A-Z]{3}")


@dataclass(frozen=True)
class _Grouping:
    """Members grouped by a key, CSR style: the members of key ``k`` are ``members[indptr[k]:indptr[k + 1]]``."""

    indptr: np.ndarray
    members: np.ndarray


@dataclass(frozen=True)
class _NameGroups:
    """A category's name tables inverted once per run, so a lookup costs what it returns."""

    aliases_of: _Grouping  # node -> the ids of its normalised names, synonyms and layperson forms
    by_name: _Grouping  # normalised-name id -> the nodes so named
    by_alias: _Grouping  # normalised-name id -> the nodes with a name, synonym or layperson form so normalised
    by_family: _Grouping  # name family id -> its nodes


def _group(keys: np.ndarray, members: np.ndarray, size: int) -> _Grouping:
    order = np.argsort(keys, kind="stable")
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=size), out=indptr[1:])
    return _Grouping(indptr=indptr, members=members[order])


def _gather(grouping: _Grouping, keys: np.ndarray) -> np.ndarray:
    """The members of every key in ``keys`` (concatenated, possibly repeated)."""
    if len(keys) == 0:
        return np.empty(0, dtype=np.int32)
    return gather_ranges(grouping.indptr, keys, grouping.members)


def _name_groups(name_id: np.ndarray, alias_node: np.ndarray, alias_id: np.ndarray, fam: np.ndarray) -> _NameGroups:
    n = len(name_id)
    ids = int(alias_id.max()) + 1 if len(alias_id) else 0
    nodes = np.arange(n, dtype=np.int32)
    has_fam = fam >= 0
    return _NameGroups(
        aliases_of=_group(alias_node, alias_id, n),
        by_name=_group(name_id, nodes, ids),
        by_alias=_group(alias_id, alias_node, ids),
        by_family=_group(fam[has_fam], nodes[has_fam], int(fam.max()) + 1 if has_fam.any() else 0),
    )


@dataclass
class OpenWorld:
    """Per-run masks and name tables for the open-world rules."""

    graph: Graph
    index: CSRIndex
    curation: Curation
    bad: np.ndarray  # raw identifier or incidental class: never a key, option or path node
    generic_key: np.ndarray  # HPO terms too general to be a key (organ-system depth)
    # HPO grouping terms (more descendants than the curation's limit): never a key or an option; unlike
    # ``generic_key`` they still bar their descendants when unsafe
    vague_key: np.ndarray
    system_bits: np.ndarray  # per phenotype, a bit per HPO organ system it belongs to
    mendelian: frozenset[int]
    generic: frozenset[str]
    kind: np.ndarray  # per node, an id of its broad kind (a class's vocabulary and class type; else 0)
    areas: np.ndarray  # per node, its organ systems or therapeutic areas as bits (kgsynth.questions.areas)
    walks: Walks  # the undirected adjacency the association score walks on
    # per edge: a drug-class membership the drug's own targets contradict (never on a path or among the facts;
    # still in every proof and unsafe set, so such a class is never offered as a wrong option either)
    contradicted: np.ndarray
    _norm: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    _family: dict[str, np.ndarray] = field(default_factory=dict)
    _alias_norms: dict[int, frozenset[str]] = field(default_factory=dict)
    _content: dict[int, frozenset[str]] = field(default_factory=dict)
    _id_count: dict[str, int] = field(default_factory=dict)
    _family_count: dict[str, int] = field(default_factory=dict)
    _groups: dict[str, _NameGroups] = field(default_factory=dict)

    def category_of(self, node: int) -> str:
        return self.graph.categories[int(self.graph.category[node])]

    def name_table(self, category: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For ``category``: per node the id of its normalised name, and every (node, normalised alias id)
        pair over names, synonyms and layperson forms (ids shared, so equal ids are equal names; nodes
        numbered from the category's first node)."""
        got = self._norm.get(category)
        if got is None:
            name_id, alias_node, alias_id, fam = _cached_name_table(self.graph, category)
            got = (name_id, alias_node, alias_id)
            self._norm[category] = got
            self._family[category] = fam
            self._id_count[category] = int(alias_id.max()) + 1 if len(alias_id) else 0
            self._family_count[category] = int(fam.max()) + 1 if len(fam) else 0
        return got

    def family_ids(self, category: str) -> np.ndarray:
        """Per node of ``category``, an id of its name family (-1 for none): diseases by their name without
        a trailing subtype number, genes by the first three letters of the symbol."""
        self.name_table(category)
        return self._family[category]

    def same_name_or_family(self, nodes: np.ndarray, category: str) -> np.ndarray:
        """Every node of ``category`` whose name equals a name, synonym or layperson form of one of ``nodes``
        (or the reverse) after normalisation, or that shares a name family with one of them."""
        g = self.graph
        lo, hi = g.category_range(category)
        nodes = nodes[(nodes >= lo) & (nodes < hi)]
        if len(nodes) == 0:
            return np.empty(0, dtype=np.int32)
        groups = self._groups.get(category)
        if groups is None:
            groups = self._groups[category] = _name_groups(*self.name_table(category), self.family_ids(category))
        local = sorted_unique(nodes - lo)
        name_id = self._norm[category][0]
        fams = self._family[category][local]
        parts = [
            _gather(groups.by_name, sorted_unique(_gather(groups.aliases_of, local))),  # named like their aliases
            _gather(groups.by_alias, sorted_unique(name_id[local])),  # an alias equal to one of their names
            _gather(groups.by_family, sorted_unique(fams[fams >= 0])),  # one name family
        ]
        return (sorted_unique(np.concatenate(parts)) + lo).astype(np.int32)

    def norms(self, node: int) -> frozenset[str]:
        """The normalised name, synonyms and layperson forms of ``node`` (cached for the run)."""
        got = self._alias_norms.get(node)
        if got is None:
            g = self.graph
            got = self._alias_norms[node] = frozenset(norm_name(x) for x in (g.names[node], *g.synonyms[node],
                                                                                *g.layperson[node]))  # fmt: skip
        return got

    def content_words(self, node: int) -> frozenset[str]:
        """:func:`content_tokens` of ``node``'s name (cached for the run)."""
        got = self._content.get(node)
        if got is None:
            got = self._content[node] = content_tokens(self.graph.names[node], self.generic)
        return got

    def leaks(self, finding: int, diagnosis: int) -> bool:
        """A name of ``finding`` names ``diagnosis`` (see :func:`names_overlap`)."""
        return norms_overlap(self.norms(finding), self.norms(diagnosis))

    def key_restates(self, key: int, hidden: list[int]) -> bool:
        """The key shares an identity-bearing word with a hidden entity, or one of its names is (part of) one of
        the hidden entity's names (a circular answer)."""
        words = self.content_words(key)
        if words and any(words & self.content_words(h) for h in hidden):
            return True
        # or a name of the key is (part of) a name of a hidden entity: "Abdominal obesity", "metabolic syndrome X"
        return any(norms_overlap(self.norms(key), self.norms(h)) for h in hidden)


NAME_TABLE_FORMAT = 1  # bump when the tables' layout changes (the normalisation rules are in the cache key)


def _cached_name_table(graph: Graph, category: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`build_name_table`, kept on disk under a digest of the category's names and of the normalisation
    rules (a graph's tables are built once, not once per run; a changed name or rule is a new digest)."""
    lo, hi = graph.category_range(category)
    h = hashlib.blake2b(digest_size=16)
    rules = (NAME_TABLE_FORMAT, category, _FAMILY_TAIL.pattern, _SYMBOL_STEM.pattern, name_rules())
    h.update(repr(rules).encode())
    for i in range(lo, hi):
        h.update("\x1f".join((graph.names[i], *graph.synonyms[i], "\x1e", *graph.layperson[i], "\x1d")).encode())
    path = default_cache_dir() / "name-tables" / f"{h.hexdigest()}.npz"
    try:
        with np.load(path) as z:
            return z["name_id"], z["alias_node"], z["alias_id"], z["family"]
    except (OSError, KeyError, ValueError):
        pass
    made = build_name_table(graph, category)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, name_id=made[0], alias_node=made[1], alias_id=made[2], family=made[3])
        os.replace(tmp, path)
    except OSError as e:  # a read-only cache only costs the rebuild next time
        logger.debug("name table not cached at %s: %s", path, e)
    return made


def build_name_table(graph: Graph, category: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For ``category`` (nodes numbered from its first node): per node the id of its normalised name; every
    (node, alias id) pair over names, synonyms and layperson forms (equal ids: equal normalised names); and
    per node the id of its name family (-1 for none)."""
    g = graph
    lo, hi = g.category_range(category)
    seen: dict[str, int] = {}
    norms = [norm_name(g.names[i]) for i in range(lo, hi)]
    name_id = np.array([seen.setdefault(n, len(seen)) for n in norms], dtype=np.int32)
    pairs = [(i, seen.setdefault(norm_name(a), len(seen)))
             for i in range(lo, hi) for a in (*g.synonyms[i], *g.layperson[i])]  # fmt: skip
    alias_node = np.concatenate([np.arange(0, hi - lo, dtype=np.int32),  # category-local node ids
                                 np.array([i - lo for i, _ in pairs], dtype=np.int32)])  # fmt: skip
    alias_id = np.concatenate([name_id, np.array([a for _, a in pairs], dtype=np.int32)])
    family: dict[str, int] = {}
    fam = np.full(hi - lo, -1, dtype=np.int32)
    for k, n in enumerate(norms):
        key = _family_key(g.names[lo + k], n, category)
        if key:
            fam[k] = family.setdefault(key, len(family))
    return name_id, alias_node, alias_id, fam


def names_overlap(a: list[str], b: list[str]) -> bool:
    """Some name in ``a`` equals, or appears as whole words inside, some name in ``b`` (or the reverse),
    after normalisation: "Asthma" and "asthma", "Seizure" and "Benign familial neonatal seizures"."""
    return norms_overlap({norm_name(x) for x in a}, {norm_name(x) for x in b})


def norms_overlap(na: set[str] | frozenset[str], nb: set[str] | frozenset[str]) -> bool:
    """:func:`names_overlap` on names already normalised."""
    na = {n for n in na if n}
    nb = {n for n in nb if n}
    nb |= {c for c in (_core(n) for n in nb) if c}  # "dystonia 12" is also "dystonia"
    if na & nb:
        return True
    return any(f" {x} " in f" {y} " or f" {y} " in f" {x} " for x in na for y in nb)


@functools.lru_cache(maxsize=65536)
def _core(norm: str) -> str:
    """A normalised name without its trailing subtype designator ("long qt syndrome 1" -> "long qt syndrome")."""
    tokens = norm.split()
    cut = len(tokens)
    while cut > 1 and _FAMILY_TAIL.match(tokens[cut - 1]):
        cut -= 1
    return " ".join(tokens[:cut]) if cut < len(tokens) else ""


def _family_key(name: str, norm: str, category: str) -> str:
    if category == "biolink:Gene":
        m = _SYMBOL_STEM.match(name)
        return m.group(0) if m and name.isupper() else ""
    if category != "biolink:Disease":
        return ""
    return _core(norm)


def closure(index: CSRIndex, nodes: np.ndarray, step: Step, num_nodes: int) -> np.ndarray:
    """``nodes`` and everything reached from them by repeating ``step`` (e.g. all ancestors)."""
    seen = np.zeros(num_nodes, dtype=bool)
    frontier = np.unique(np.asarray(nodes, dtype=np.int32))
    seen[frontier] = True
    while len(frontier):
        nxt = index.reach(frontier, step)
        frontier = nxt[~seen[nxt]]
        seen[frontier] = True
    return np.flatnonzero(seen).astype(np.int32)


def relatives(index: CSRIndex, nodes: np.ndarray, num_nodes: int) -> np.ndarray:
    """Ancestors and descendants (``subclass_of``) of ``nodes``, with ``nodes``."""
    up = closure(index, nodes, SUBCLASS, num_nodes)
    down = closure(index, nodes, SUPERCLASS, num_nodes)
    return np.union1d(up, down)


OBSOLETE_PREFIX = "obsolete "


def descendant_counts(prover: Prover) -> np.ndarray:
    """Per node, how many strictly more specific phenotypes it has (0 outside the phenotypes): each phenotype
    counted once under every one of its ancestors."""
    counts = np.zeros(prover.graph.num_nodes, dtype=np.int64)
    for term in range(prover.pheno_lo, prover.pheno_hi):
        counts[prover.ancestors(term)] += 1  # (sorted unique ids)
    counts[prover.pheno_lo : prover.pheno_hi] -= 1  # (each term is among its own ancestors)
    return counts


def build_open_world(graph: Graph, index: CSRIndex, prover: Prover, cur: Curation) -> OpenWorld:
    """The masks and tables of one run."""
    bad = incidental_class_mask(graph, cur) | non_therapeutic_mask(graph, cur)
    for i in range(graph.num_nodes):
        # an obsolete term ("obsolete Dravet syndrome") is a raw record, not a clinical entity
        if is_raw_identifier(graph, i) or graph.names[i].lower().startswith(OBSOLETE_PREFIX):
            bad[i] = True
    generic_key = np.zeros(graph.num_nodes, dtype=bool)
    system_bits = np.zeros(graph.num_nodes, dtype=np.int64)
    root = prover.phenotype_root_node  # the run's schema's (GraphSchema.phenotype_root)
    if root is not None:
        level = np.array([root], dtype=np.int32)
        for _ in range(max(cur.min_key_phenotype_depth, 1)):
            generic_key[level] = True
            level = index.reach(level, SUPERCLASS)
        for bit, system in enumerate(sorted(prover.organ_system_roots)[:63]):
            system_bits[prover.descendants(system)] |= np.int64(1) << np.int64(bit)
    vague_key = descendant_counts(prover) > cur.max_key_phenotype_descendants
    mendelian = frozenset(graph.index[c] for c in cur.mendelian_modes if c in graph.index)
    areas = build_areas(
        graph,
        index,
        therapeutic_root=cur.therapeutic_class_root,
        phenotype_root=prover.phenotype_root,
        separate_roots=cur.separate_area_roots,
    )
    return OpenWorld(graph=graph, index=index, curation=cur, bad=bad, generic_key=generic_key, vague_key=vague_key,
                     system_bits=system_bits, mendelian=mendelian, generic=frozenset(cur.generic_words),
                     kind=class_kinds(graph), areas=areas, walks=Walks.of(graph),
                     contradicted=contradicted_memberships(graph, cur))  # fmt: skip


def class_kinds(graph: Graph) -> np.ndarray:
    """Per node, an id of its kind: for a drug class its vocabulary (CURIE prefix) and DrugCentral class type
    (so an item never mixes MeSH, NDFRT and ChEBI classes); 0 for every other node."""
    kind = np.zeros(graph.num_nodes, dtype=np.int32)
    if MEMBER_OF not in graph.relations:
        return kind
    seen: dict[tuple[str, str], int] = {}
    sl = graph.relation_slice(MEMBER_OF)
    for q, d in zip(graph.qual[sl], graph.dst[sl], strict=True):
        d = int(d)
        if kind[d]:
            continue
        ctype = graph.qualifiers[int(q)].get("class_type", "") if q >= 0 else ""
        kind[d] = seen.setdefault((graph.ids[d].split(":")[0], str(ctype)), len(seen) + 1)
    return kind
