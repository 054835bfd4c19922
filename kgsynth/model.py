"""The canonical graph model: pydantic at the boundaries, compact arrays inside.

A loader speaks to a :class:`GraphBuilder` (``add_node``, ``add_edge``, ``add_equivalence``); the builder
joins identities across sources and freezes everything into a :class:`Graph`, whose nodes and edges are
numpy arrays and interned string tables. :class:`Node` and :class:`Edge` are what a caller gets back.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from kgsynth.errors import KgsynthError

logger = logging.getLogger(__name__)

# Node categories in the order their id ranges are laid out: every category is one contiguous range
# of node indices, so a per-predicate index needs an offset array over its source category only.
CATEGORIES: tuple[str, ...] = (
    "biolink:Disease",
    "biolink:PhenotypicFeature",
    "biolink:Gene",
    "biolink:Drug",
    "biolink:ChemicalEntity",
    "biolink:OntologyClass",
    "biolink:AnatomicalEntity",
    "biolink:BiologicalProcess",
    "biolink:Pathway",
    "biolink:NamedThing",
)

# Prefix normalisation: every source's spelling of a namespace -> the CURIE prefix kgsynth uses.
PREFIX_ALIASES: dict[str, str] = {
    "MIM": "OMIM",
    "OMIM": "OMIM",
    "ORDO": "ORPHA",
    "Orphanet": "ORPHA",
    "ORPHANET": "ORPHA",
    "ORPHA": "ORPHA",
    "MESH": "MESH",
    "MeSH": "MESH",
    "DOID": "DOID",
    "MONDO": "MONDO",
    "HP": "HP",
    "NCBIGene": "NCBIGene",
    "DRUGBANK": "DRUGBANK",
    "UMLS": "UMLS",
    "UMLS_CUI": "UMLS",
}


def normalize_curie(curie: str) -> str:
    """Return ``curie`` with its prefix spelled the kgsynth way (``MIM:1`` -> ``OMIM:1``).

    >>> normalize_curie("ORDO:558")
    'ORPHA:558'
    """
    prefix, sep, local = curie.partition(":")
    if not sep:
        return curie
    return f"{PREFIX_ALIASES.get(prefix, prefix)}:{local}"


def curie_prefix(curie: str) -> str:
    return curie.partition(":")[0]


class SourceInfo(BaseModel):
    """Where edges come from, and under which licence."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    licence: str
    commercial_use: bool = True
    url: str = ""
    version: str = ""


class Node(BaseModel):
    """A node as callers see it."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*:\S+$")
    category: str
    name: str
    synonyms: list[str] = Field(default_factory=list)
    layperson: list[str] = Field(default_factory=list)
    xrefs: list[str] = Field(default_factory=list)
    source: str
    rare: bool = False


class Edge(BaseModel):
    """An edge as callers see it: a Biolink predicate with its source, licence and qualifiers."""

    subject: str
    predicate: str
    object: str
    negated: bool = False
    source: str
    licence: str
    qualifiers: dict[str, Any] = Field(default_factory=dict)


# The drop reason of an edge whose subject or object is no node (kgsynth.damage checks its share).
DANGLING = "endpoint not a node (unknown or obsolete id)"
# Longer node names, synonyms and xrefs are cut (with a load warning): a name is spoken in questions and written
# into every item that names the node, so a 10 MB one would make 10 MB lines; the longest real one (default KG) is 145.
MAX_TEXT_CHARS = 1_000
MAX_CODES = 256  # categories, relations and sources are stored as one-byte codes


def relation_key(predicate: str, negated: bool) -> str:
    """The index key of a predicate: negated edges live in their own relation (``NOT biolink:treats``).

    Negative evidence (HPO ``NOT`` annotations, PharmacotherapyDB non-indications) is kept, not dropped,
    because it is what lets a distractor be proven wrong rather than merely unannotated.
    """
    return f"NOT {predicate}" if negated else predicate


@dataclass
class _NodeDraft:
    category: str
    name: str
    source: str
    synonyms: list[str] = field(default_factory=list)
    layperson: list[str] = field(default_factory=list)
    xrefs: list[str] = field(default_factory=list)
    rare: bool = False


@dataclass
class StreamReport:
    """Accounting for one input stream (one file's records): every record read is kept or has a reason."""

    stream: str
    source: str
    read: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "source": self.source,
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
        }


class _UnionFind:
    def __init__(self, categories: dict[str, str]) -> None:
        self.parent: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.categories = categories  # the category of every id that is a node

    def find(self, x: str) -> str:
        parent = self.parent.setdefault(x, x)
        if parent != x:
            root = self.find(parent)
            self.parent[x] = root
            return root
        self.members.setdefault(x, {x})
        return x

    def prefixes(self, root: str) -> set[str]:
        return {curie_prefix(m) for m in self.members[root]}

    def union(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        # One identifier per namespace per entity: two OMIM ids in one clique would conflate diseases.
        if self.prefixes(ra) & self.prefixes(rb):
            return False
        # A disease is never the same node as a phenotype, even when a mapping chain says so.
        cats = {self.categories[m] for m in self.members[ra] | self.members[rb] if m in self.categories}
        if len(cats) > 1:
            return False
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        return True


# Which id of a joined clique becomes the node id, and whose label becomes the name.
CANONICAL_PRIORITY: tuple[str, ...] = ("MONDO", "ORPHA", "OMIM", "DOID", "HP", "MESH", "UMLS")


class GraphBuilder:
    """Collects nodes, edges and identity mappings from loaders, then freezes them into a :class:`Graph`."""

    def __init__(self) -> None:
        self._nodes: dict[str, _NodeDraft] = {}
        self._labels: dict[str, str] = {}  # labels of ids known only through mappings (e.g. MONDO)
        self._src: list[str] = []
        self._dst: list[str] = []
        self._rel: list[int] = []
        self._source: list[int] = []
        self._qual: list[int] = []
        self._stream: list[int] = []
        self._relations: dict[str, int] = {}
        self._sources: dict[str, SourceInfo] = {}
        self._source_ids: dict[str, int] = {}
        self._quals: dict[tuple[tuple[str, Any], ...], int] = {}
        self._streams: dict[str, StreamReport] = {}
        self._stream_ids: dict[str, int] = {}
        self._equivalences: list[tuple[str, str, str]] = []
        self.join_report: dict[str, Any] = {}
        # (first source, its category, later source, its category) -> [count, an example id]
        self._category_conflicts: dict[tuple[str, str, str, str], list[Any]] = {}
        # what (name, synonym, ...) -> [texts cut to MAX_TEXT_CHARS, an example id]
        self._clipped: dict[str, list[Any]] = {}

    def _clip(self, text: str, curie: str, what: str) -> str:
        """``text`` cut to :data:`MAX_TEXT_CHARS` (an ellipsis at the end), counted for the load's warnings."""
        if len(text) <= MAX_TEXT_CHARS:
            return text
        self._clipped.setdefault(what, [0, curie])[0] += 1
        return text[: MAX_TEXT_CHARS - 1] + "…"

    # --- sources and accounting -------------------------------------------------------------------
    def register_source(self, info: SourceInfo) -> None:
        if info.name not in self._source_ids:
            if len(self._source_ids) >= MAX_CODES:  # source codes are one byte in the stored graph
                raise KgsynthError(
                    f"more than {MAX_CODES} distinct sources (the next is {info.name[:80]!r})",
                    hint="a graph holds at most 256 sources: check the primary_knowledge_source column",
                )
            self._source_ids[info.name] = len(self._source_ids)
            self._sources[info.name] = info

    def set_source_version(self, name: str, version: str) -> None:
        """Record the release a registered source was read from (an OBO file's ``data-version``, say); the
        dataset card shows it, as the HPO licence asks."""
        self._sources[name] = self._sources[name].model_copy(update={"version": version})

    def stream(self, name: str, source: str) -> StreamReport:
        """The accounting record of one input stream (created on first use)."""
        if name not in self._streams:
            self._streams[name] = StreamReport(name, source)
            self._stream_ids[name] = len(self._stream_ids)
        return self._streams[name]

    # --- nodes ---------------------------------------------------------------------------------
    def has_node(self, curie: str) -> bool:
        return curie in self._nodes

    def add_node(
        self,
        curie: str,
        category: str,
        name: str,
        *,
        source: str,
        synonyms: Iterable[str] = (),
        layperson: Iterable[str] = (),
        xrefs: Iterable[str] = (),
        rare: bool = False,
    ) -> None:
        """Add a node, or merge into an existing one (the first name and category given win; lists are
        unioned). A second, different category is recorded in the report's ``category_conflicts``; a name,
        synonym or xref longer than :data:`MAX_TEXT_CHARS` is cut to it and counted in ``clipped_text`` (a load
        warning); an id that long is refused."""
        if len(curie) > MAX_TEXT_CHARS:
            raise KgsynthError(
                f"source {source}: a node id of {len(curie):,} characters ({curie[:40]!r}...); ids are at most "
                f"{MAX_TEXT_CHARS:,}",
                hint="check the file's columns (a name or a whole record read as an id?)",
            )
        name = self._clip(name, curie, "names")
        synonyms = [self._clip(s, curie, "synonyms") for s in synonyms]
        layperson = [self._clip(s, curie, "layperson synonyms") for s in layperson]
        xrefs = [self._clip(x, curie, "xrefs") for x in xrefs]
        draft = self._nodes.get(curie)
        if draft is not None and draft.category != category:
            key = (draft.source, draft.category, source, category)
            self._category_conflicts.setdefault(key, [0, curie])[0] += 1
        if draft is None:
            draft = self._nodes[curie] = _NodeDraft(category=category, name=name or curie, source=source)
        elif draft.name == curie and name:
            draft.name = name
        elif name and name != draft.name and name not in draft.synonyms:
            draft.synonyms.append(name)
        for s in synonyms:
            if s and s != draft.name and s not in draft.synonyms:
                draft.synonyms.append(s)
        for s in layperson:
            if s and s not in draft.layperson:
                draft.layperson.append(s)
        for x in xrefs:
            if x and x != curie and x not in draft.xrefs:
                draft.xrefs.append(x)
        draft.rare = draft.rare or rare

    def set_rare(self, curie: str) -> None:
        if curie in self._nodes:
            self._nodes[curie].rare = True

    def add_label(self, curie: str, label: str) -> None:
        """A label for an id that may only ever appear in mappings (used to name joined cliques)."""
        self._labels.setdefault(curie, label)

    # --- edges ---------------------------------------------------------------------------------
    def add_edge(
        self,
        subject: str,
        predicate: str,
        obj: str,
        *,
        source: str,
        stream: str,
        qualifiers: dict[str, Any] | None = None,
        negated: bool = False,
    ) -> None:
        rel = relation_key(predicate, negated)
        rel_id = self._relations.get(rel)
        if rel_id is None:
            if len(self._relations) >= MAX_CODES:  # relation codes are one byte in the stored graph
                raise KgsynthError(
                    f"source {source} ({stream}): more than {MAX_CODES} distinct predicates (the next is {rel[:80]!r})",
                    hint="a graph holds at most 256 relations (negated ones count apart): check the predicate "
                    "column, or map the predicates to fewer Biolink ones",
                )
            rel_id = self._relations[rel] = len(self._relations)
        if qualifiers:
            key = tuple(sorted((k, v) for k, v in qualifiers.items() if v not in (None, "")))
            qual_id = self._quals.setdefault(key, len(self._quals)) if key else -1
        else:
            qual_id = -1
        self._src.append(subject)
        self._dst.append(obj)
        self._rel.append(rel_id)
        self._source.append(self._source_ids[source])
        self._qual.append(qual_id)
        self._stream.append(self._stream_ids[stream])

    # --- identity ----------------------------------------------------------------------------------
    def add_equivalence(self, a: str, b: str, *, source: str) -> None:
        """Declare that ``a`` and ``b`` name the same entity (joined at :meth:`build`, if unambiguous)."""
        self._equivalences.append((normalize_curie(a), normalize_curie(b), source))

    def _join_identities(self) -> dict[str, str]:
        """Map every id to its clique's canonical id, joining only one-to-one mappings.

        A mapping is used only if, within its source, neither side maps to a second id of the other's
        namespace (DOID's many-to-one xrefs to OMIM phenotypic series would otherwise merge distinct
        diseases), and only if the joined clique still holds at most one id per namespace.
        """
        by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for a, b, src in self._equivalences:
            if a != b:
                by_source[src].append((a, b))
        uf = _UnionFind({c: d.category for c, d in self._nodes.items()})
        used = ambiguous = conflicting = 0
        for src in sorted(by_source):
            pairs = sorted(set(by_source[src]))
            fan: Counter[tuple[str, str]] = Counter()
            for a, b in pairs:
                fan[(a, curie_prefix(b))] += 1
                fan[(b, curie_prefix(a))] += 1
            for a, b in pairs:
                if fan[(a, curie_prefix(b))] > 1 or fan[(b, curie_prefix(a))] > 1:
                    ambiguous += 1
                    continue
                if uf.union(a, b):
                    used += 1
                else:
                    conflicting += 1
        canonical: dict[str, str] = {}
        self._cliques: dict[str, list[str]] = {}
        joined_cliques = 0
        multi_source = 0
        rank = {p: i for i, p in enumerate(CANONICAL_PRIORITY)}
        for members in uf.members.values():
            present = [m for m in members if m in self._nodes]
            if not present:
                continue
            best = min(members, key=lambda m: (rank.get(curie_prefix(m), len(rank)), m))
            for m in members:
                canonical[m] = best
            self._cliques[best] = sorted(members)
            if len(present) > 1:
                joined_cliques += 1
                if len({self._nodes[m].source for m in present}) > 1:
                    multi_source += 1
        self.join_report = {
            "mappings_used": used,
            "mappings_ambiguous_skipped": ambiguous,
            "mappings_conflicting_skipped": conflicting,
            "nodes_joined_into_one": joined_cliques,
            "joined_across_sources": multi_source,
        }
        return canonical

    # --- freezing ----------------------------------------------------------------------------------
    def build(self, *, name: str = "graph", version: str = "") -> Graph:
        canonical = self._join_identities()
        rank = {p: i for i, p in enumerate(CANONICAL_PRIORITY)}
        merged: dict[str, _NodeDraft] = {}
        # Merge drafts into their canonical id, in a deterministic order (label priority first).
        for curie in sorted(self._nodes, key=lambda c: (rank.get(curie_prefix(c), len(rank)), c)):
            draft = self._nodes[curie]
            target = canonical.get(curie, curie)
            into = merged.get(target)
            if into is None:
                label = self._labels.get(target) if target != curie else None
                into = merged[target] = _NodeDraft(
                    category=draft.category, name=label or draft.name, source=draft.source
                )
                if label and draft.name != label:
                    into.synonyms.append(draft.name)
            elif draft.name not in (into.name, *into.synonyms):
                into.synonyms.append(draft.name)
            into.synonyms.extend(s for s in draft.synonyms if s != into.name and s not in into.synonyms)
            into.layperson.extend(s for s in draft.layperson if s not in into.layperson)
            into.rare = into.rare or draft.rare
            for x in [curie, *draft.xrefs]:
                x = normalize_curie(x)
                if x != target and x not in into.xrefs:
                    into.xrefs.append(x)
        for target, members in self._cliques.items():
            if target in merged:
                node = merged[target]
                node.xrefs.extend(m for m in members if m != target and m not in node.xrefs)

        cat_rank = {c: i for i, c in enumerate(CATEGORIES)}
        for draft in merged.values():
            if draft.category not in cat_rank:
                cat_rank[draft.category] = len(cat_rank)
        if len(cat_rank) > MAX_CODES:  # category codes are one byte in the stored graph
            raise KgsynthError(f"more than {MAX_CODES} distinct node categories ({len(cat_rank):,})",
                               hint="check the category column: Biolink categories, one per node")  # fmt: skip
        categories = tuple(sorted(cat_rank, key=cat_rank.__getitem__))
        order = sorted(merged, key=lambda c: (cat_rank[merged[c].category], c))
        index = {c: i for i, c in enumerate(order)}
        sources = list(self._sources.values())
        source_ix = {s.name: i for i, s in enumerate(sources)}

        # Resolve edge endpoints through the identity map; drop (and account for) what cannot be placed.
        streams = list(self._streams.values())
        n = len(self._src)
        src = np.empty(n, dtype=np.int64)
        dst = np.empty(n, dtype=np.int64)
        raw_ids: dict[str, int] = {}
        raw = np.empty(n, dtype=np.int64)  # the (subject, object) pair as the source spelled it
        for i, (s, o) in enumerate(zip(self._src, self._dst, strict=True)):
            src[i] = index.get(canonical.get(s, s), -1)
            dst[i] = index.get(canonical.get(o, o), -1)
            raw[i] = raw_ids.setdefault(f"{s}\t{o}", len(raw_ids))
        rel_names = sorted(self._relations)
        rel_remap = np.empty(len(self._relations), dtype=np.int64)
        for r, i in self._relations.items():
            rel_remap[i] = rel_names.index(r)
        rel = rel_remap[np.asarray(self._rel, dtype=np.int64)] if n else np.empty(0, np.int64)
        srcid = np.asarray(self._source, dtype=np.int64)
        qual = np.asarray(self._qual, dtype=np.int64)
        stream = np.asarray(self._stream, dtype=np.int64)
        edge_streams = set(np.unique(stream).tolist())

        dangling = (src < 0) | (dst < 0)
        self_loop = (src == dst) & ~dangling
        dangling_examples: dict[str, list[str]] = {}
        for sid in np.unique(stream[dangling]):
            in_stream = np.flatnonzero(dangling & (stream == sid))
            streams[sid].dropped[DANGLING] += len(in_stream)
            dangling_examples[streams[sid].stream] = [
                self._src[i] if src[i] < 0 else self._dst[i] for i in in_stream[:3].tolist()
            ]
        for sid in np.unique(stream[self_loop]):
            streams[sid].dropped["self-loop after identity join"] += int(np.sum(self_loop & (stream == sid)))
        keep = ~(dangling | self_loop)
        src, dst, rel, srcid, qual, stream, raw = (a[keep] for a in (src, dst, rel, srcid, qual, stream, raw))

        # Sort by (relation, subject, object, source, first-seen) and keep one edge per
        # (relation, subject, object, source): repeated records (another reference for the same
        # annotation, or two ids joined into one) are merged and accounted for.
        seen_order = np.arange(len(src))
        perm = np.lexsort((seen_order, srcid, dst, src, rel))
        src, dst, rel, srcid, qual, stream, raw = (a[perm] for a in (src, dst, rel, srcid, qual, stream, raw))
        if len(src):
            dup = np.zeros(len(src), dtype=bool)
            dup[1:] = (rel[1:] == rel[:-1]) & (src[1:] == src[:-1]) & (dst[1:] == dst[:-1]) & (srcid[1:] == srcid[:-1])
            joined = np.zeros(len(src), dtype=bool)
            joined[1:] = raw[1:] != raw[:-1]
            for sid in np.unique(stream[dup]):
                in_stream = dup & (stream == sid)
                streams[sid].dropped["repeated record of an edge already kept (merged)"] += int(
                    np.sum(in_stream & ~joined)
                )
                streams[sid].dropped["same edge once its ids were joined (merged)"] += int(np.sum(in_stream & joined))
            keepd = ~dup
            src, dst, rel, srcid, qual, stream = (a[keepd] for a in (src, dst, rel, srcid, qual, stream))
        kept_per_stream = np.bincount(stream, minlength=len(streams))
        for i, rep in enumerate(streams):
            if i in edge_streams:  # node-only streams keep the count their loader set
                rep.kept = int(kept_per_stream[i])

        quals: list[dict[str, Any]] = [dict(k) for k in sorted(self._quals, key=self._quals.__getitem__)]
        source_remap = np.array(
            [source_ix[name] for name in self._source_ids], dtype=np.int64
        )  # builder source id -> position in `sources`
        graph = Graph(
            name=name,
            version=version,
            ids=order,
            categories=categories,
            category=np.array([cat_rank[merged[c].category] for c in order], dtype=np.uint8),
            names=[merged[c].name for c in order],
            synonyms=[merged[c].synonyms for c in order],
            layperson=[merged[c].layperson for c in order],
            xrefs=[sorted(merged[c].xrefs) for c in order],
            node_source=np.array([source_ix[merged[c].source] for c in order], dtype=np.uint8),
            rare=np.array([merged[c].rare for c in order], dtype=bool),
            relations=tuple(rel_names),
            src=src.astype(np.int32),
            dst=dst.astype(np.int32),
            rel=rel.astype(np.uint8),
            edge_source=source_remap[srcid].astype(np.uint8) if len(srcid) else np.empty(0, np.uint8),
            qual=qual.astype(np.int32),
            qualifiers=quals,
            sources=sources,
            report={
                "streams": [r.to_dict() for r in streams],
                "identity_join": self.join_report,
                "dangling_examples": dangling_examples,
                "clipped_text": {what: {"count": n, "example": ex} for what, (n, ex) in sorted(self._clipped.items())},
                "category_conflicts": [
                    {"sources": [a, b], "categories": [ac, bc], "nodes": n, "example": ex}
                    for (a, ac, b, bc), (n, ex) in sorted(self._category_conflicts.items())
                ],
            },
        )
        logger.info("built graph %s: %d nodes, %d edges", name, graph.num_nodes, graph.num_edges)
        return graph


GraphFieldKind = Literal["text", "names", "node_text", "node_lists", "node_array", "edge_array", "table", "sources"]


def _kind(kind: GraphFieldKind, dtype: str = "") -> dict[str, str]:
    """The metadata of a :class:`Graph` field: its kind (and numpy dtype), from which every store derives its
    layout."""
    return {"kind": kind, "dtype": dtype}


@dataclass(eq=False, kw_only=True)
class Graph:
    """A frozen graph: nodes sorted by (category, id), edges sorted by (relation, subject, object).

    Nodes of one category form one contiguous index range; edges of one relation form one contiguous
    slice. The per-predicate CSR index (:mod:`kgsynth.index`) is built on this layout.

    Its fields are declared once, here: the stores (:mod:`kgsynth.store.embedded`, the Neo4j store), the
    fingerprint and the benchmarks iterate :data:`GRAPH_FIELDS` and :func:`graph_fields` rather than
    naming them again.
    """

    name: str = field(metadata=_kind("text"))
    version: str = field(metadata=_kind("text"))
    ids: list[str] = field(metadata=_kind("node_text"))
    names: list[str] = field(metadata=_kind("node_text"))
    synonyms: list[list[str]] = field(metadata=_kind("node_lists"))
    layperson: list[list[str]] = field(metadata=_kind("node_lists"))
    xrefs: list[list[str]] = field(metadata=_kind("node_lists"))
    categories: tuple[str, ...] = field(metadata=_kind("names"))  # category codes -> Biolink category
    relations: tuple[str, ...] = field(metadata=_kind("names"))  # relation codes -> relation key
    category: np.ndarray = field(metadata=_kind("node_array", "uint8"))
    node_source: np.ndarray = field(metadata=_kind("node_array", "uint8"))
    rare: np.ndarray = field(metadata=_kind("node_array", "bool"))
    src: np.ndarray = field(metadata=_kind("edge_array", "int32"))
    dst: np.ndarray = field(metadata=_kind("edge_array", "int32"))
    rel: np.ndarray = field(metadata=_kind("edge_array", "uint8"))
    edge_source: np.ndarray = field(metadata=_kind("edge_array", "uint8"))
    qual: np.ndarray = field(metadata=_kind("edge_array", "int32"))  # index into qualifiers, -1 for none
    qualifiers: list[dict[str, Any]] = field(metadata=_kind("table"))
    sources: list[SourceInfo] = field(metadata=_kind("sources"))
    report: dict[str, Any] = field(metadata=_kind("table"))
    _index: dict[str, int] | None = field(default=None, init=False, repr=False)
    _xref_index: dict[str, int] | None = field(default=None, init=False, repr=False)

    # --- sizes and lookups -----------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        return len(self.ids)

    @property
    def num_edges(self) -> int:
        return len(self.src)

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {c: i for i, c in enumerate(self.ids)}
        return self._index

    def resolve(self, curie: str) -> int:
        """The node index of ``curie``, also when it was joined into another id (an xref)."""
        curie = normalize_curie(curie)
        i = self.index.get(curie)
        if i is not None:
            return i
        if self._xref_index is None:
            self._xref_index = {}
            for j, xs in enumerate(self.xrefs):
                for x in xs:
                    self._xref_index.setdefault(x, j)
        i = self._xref_index.get(curie)
        if i is None:
            raise KeyError(curie)
        return i

    def category_range(self, category: str) -> tuple[int, int]:
        """The ``[start, stop)`` node index range of a category (empty if absent; cached, the graph is frozen)."""
        ranges: dict[str, tuple[int, int]] = self.__dict__.setdefault("_category_ranges", {})
        got = ranges.get(category)
        if got is None:
            if category not in self.categories:
                return (0, 0)
            code = self.categories.index(category)
            lo = int(np.searchsorted(self.category, code, side="left"))
            hi = int(np.searchsorted(self.category, code, side="right"))
            got = ranges[category] = (lo, hi)
        return got

    def relation_slice(self, relation: str) -> slice:
        if relation not in self.relations:
            return slice(0, 0)
        code = self.relations.index(relation)
        lo = int(np.searchsorted(self.rel, code, side="left"))
        hi = int(np.searchsorted(self.rel, code, side="right"))
        return slice(lo, hi)

    def node(self, i: int | str) -> Node:
        if isinstance(i, str):
            i = self.resolve(i)
        return Node(
            id=self.ids[i],
            category=self.categories[int(self.category[i])],
            name=self.names[i],
            synonyms=list(self.synonyms[i]),
            layperson=list(self.layperson[i]),
            xrefs=list(self.xrefs[i]),
            source=self.sources[int(self.node_source[i])].name,
            rare=bool(self.rare[i]),
        )

    def edge(self, e: int) -> Edge:
        rel = self.relations[int(self.rel[e])]
        negated = rel.startswith("NOT ")
        src = self.sources[int(self.edge_source[e])]
        q = int(self.qual[e])
        return Edge(
            subject=self.ids[int(self.src[e])],
            predicate=rel[4:] if negated else rel,
            object=self.ids[int(self.dst[e])],
            negated=negated,
            source=src.name,
            licence=src.licence,
            qualifiers=dict(self.qualifiers[q]) if q >= 0 else {},
        )

    def iter_edges(self) -> Iterator[Edge]:
        for e in range(self.num_edges):
            yield self.edge(e)

    def non_commercial_sources(self) -> list[str]:
        used = set(np.unique(self.edge_source).tolist()) | set(np.unique(self.node_source).tolist())
        return sorted(s.name for i, s in enumerate(self.sources) if i in used and not s.commercial_use)


GRAPH_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Graph) if f.init)
"""The name of every field of a :class:`Graph`, in declaration order."""


def graph_fields(*kinds: GraphFieldKind) -> tuple[str, ...]:
    """The names of the :class:`Graph` fields of the given kinds, in declaration order.

    >>> graph_fields("edge_array")
    ('src', 'dst', 'rel', 'edge_source', 'qual')
    """
    return tuple(f.name for f in fields(Graph) if f.init and f.metadata["kind"] in kinds)


def field_dtype(name: str) -> np.dtype[Any]:
    """The numpy dtype of an array field of :class:`Graph`.

    >>> field_dtype("rel")
    dtype('uint8')
    """
    for f in fields(Graph):
        if f.name == name and f.metadata.get("dtype"):
            return np.dtype(f.metadata["dtype"])
    raise KeyError(name)


def graph_to_json(graph: Graph) -> dict[str, Any]:
    """Every field of ``graph`` that is not a numpy array, as JSON-ready values (:func:`graph_from_parts` inverts
    this)."""
    out: dict[str, Any] = {}
    for f in fields(Graph):
        if not f.init or f.metadata["kind"] in ("node_array", "edge_array"):
            continue
        value = getattr(graph, f.name)
        if f.metadata["kind"] == "names":
            value = list(value)
        elif f.metadata["kind"] == "sources":
            value = [s.model_dump() for s in value]
        out[f.name] = value
    return out


def graph_arrays(graph: Graph) -> dict[str, np.ndarray]:
    """Every numpy array field of ``graph``, by name."""
    return {name: getattr(graph, name) for name in graph_fields("node_array", "edge_array")}


def graph_from_parts(values: dict[str, Any], arrays: dict[str, np.ndarray]) -> Graph:
    """A :class:`Graph` from :func:`graph_to_json`'s values and :func:`graph_arrays`' arrays."""
    kwargs: dict[str, Any] = {}
    for f in fields(Graph):
        if not f.init:
            continue
        kind = f.metadata["kind"]
        if kind in ("node_array", "edge_array"):
            kwargs[f.name] = np.asarray(arrays[f.name], dtype=f.metadata["dtype"])
        elif kind == "names":
            kwargs[f.name] = tuple(values[f.name])
        elif kind == "sources":
            kwargs[f.name] = [s if isinstance(s, SourceInfo) else SourceInfo(**s) for s in values[f.name]]
        else:
            kwargs[f.name] = values[f.name]
    return Graph(**kwargs)
