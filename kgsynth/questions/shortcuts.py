"""Shortcuts a reader takes without following the chain, and the anchor one distractor must share to close them.

Two, found in the physician read of a `make demo` run (issue 16; docs/physician-read.md):

- *the stated drug's own use*: "a finding of a disease linked to a gene whose product clonazepam targets", with one
  seizure among three non-neurological options: a benzodiazepine suggests seizures without the chain. The key is a
  phenotype under a feature of a disease the stated drug, or a drug of its mechanism classes, is indicated for (an
  HPO annotation of the indication, or the HPO term named like it: epilepsy -> Seizure), counting only features
  with at most
  ``shortcut_use_terms`` terms below them (not "Abnormality of the nervous system"), and no option is;
- *the key's mechanism*: "a drug acting on a gene associated with gastric cancer", with lapatinib beside a
  quinolone, octreotide and cyproterone: the only kinase inhibitor. The key is a drug in a pharmacodynamic
  mechanism class (:func:`kgsynth.questions.curation.pharmacodynamic_classes`) of at most
  ``shortcut_class_members`` drugs, and no option is.

When a key has such an anchor (:meth:`Shortcuts.anchor`), at least one distractor must share it: the distractor
rule ``shortcut_peer`` (:mod:`kgsynth.questions.distractors`) draws one, the open-world exclusions decide
whether it is safe as for every distractor, and a walk whose end has no safe peer is not asked. The audit counts
the items whose key has an anchor no option shares (``shortcut_alone``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.questions.curation import Curation, family_classes, norm_name, pharmacodynamic_classes
from kgsynth.questions.openworld import closure
from kgsynth.questions.sets import isin_sorted

logger = logging.getLogger(__name__)

TREATS = Step("biolink:treats")
TREATED_BY = Step("biolink:treats", True)
HAS_PHENOTYPE = Step("biolink:has_phenotype")
MEMBER_OF = Step("biolink:member_of")
MEMBERS = Step("biolink:member_of", True)
SUPERCLASS = Step("biolink:subclass_of", True)
DRUG = "biolink:Drug"
GENE = "biolink:Gene"
# a gene symbol's family stem: the symbol without its trailing number and letter (SLC6A3 -> SLC6A, NR3C1 -> NR3C,
# SCN5A -> SCN); a symbol without a trailing number (EGFR, KIT) has no family by name
STEM = re.compile(r"([A-Z][A-Z0-9]*?[A-Z])[0-9]+[A-Z]?")
PHENOTYPE = "biolink:PhenotypicFeature"


@dataclass
class Shortcuts:
    """The anchors of one graph (built once per run; the lookups are cached)."""

    graph: Graph
    index: CSRIndex
    pd_classes: np.ndarray  # mask: pharmacodynamic mechanism classes
    use_terms_limit: int
    class_members_limit: int
    contradicted: frozenset[tuple[int, int]] = frozenset()  # (drug, class) memberships its targets contradict
    family: np.ndarray | None = None  # mask: the classes a reader groups drugs by (mechanism or therapeutic use)
    _by_norm: dict[str, list[int]] | None = None
    _use: dict[int, np.ndarray] = field(default_factory=dict)
    _below: dict[int, np.ndarray] = field(default_factory=dict)
    _peers: dict[int, np.ndarray | None] = field(default_factory=dict)
    _kin: dict[int, np.ndarray | None] = field(default_factory=dict)
    _stems: dict[str, np.ndarray] | None = None
    _use_areas: dict[int, int] = field(default_factory=dict)
    _use_peers: dict[int, np.ndarray | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls, graph: Graph, index: CSRIndex, cur: Curation, *, use_terms: int, class_members: int,
        contradicted: np.ndarray | None = None,
    ) -> Shortcuts:  # fmt: skip
        """The tables of ``graph``; ``contradicted``: a mask over edges of the drug-class memberships the drugs'
        own targets contradict (:func:`kgsynth.questions.curation.contradicted_memberships`), never a peer's link."""
        pairs: frozenset[tuple[int, int]] = frozenset()
        if contradicted is not None and contradicted.any():
            e = np.flatnonzero(contradicted)
            pairs = frozenset(zip(graph.src[e].tolist(), graph.dst[e].tolist(), strict=True))
        return cls(graph, index, pharmacodynamic_classes(graph, cur), use_terms, class_members, pairs,
                   family_classes(graph, cur))  # fmt: skip

    def _is(self, node: int, category: str) -> bool:
        return self.graph.categories[int(self.graph.category[node])] == category

    def _phenotypes_named(self, disease: int) -> list[int]:
        """HPO terms sharing a normalised name, synonym or layperson form with ``disease`` (epilepsy -> Seizure)."""
        if self._by_norm is None:
            g = self.graph
            lo, hi = g.category_range(PHENOTYPE)
            by: dict[str, list[int]] = {}
            for p in range(lo, hi):
                for n in {norm_name(x) for x in (g.names[p], *g.synonyms[p], *g.layperson[p])}:
                    by.setdefault(n, []).append(p)
            self._by_norm = by
        g = self.graph
        names = {norm_name(x) for x in (g.names[disease], *g.synonyms[disease], *g.layperson[disease])}
        return sorted({p for n in names if n for p in self._by_norm.get(n, ())})

    def _terms_below(self, term: int) -> np.ndarray:
        got = self._below.get(term)
        if got is None:
            got = self._below[term] = closure(self.index, np.array([term], dtype=np.int32), SUPERCLASS,
                                              self.graph.num_nodes)  # fmt: skip
        return got

    def use_features(self, drug: int) -> np.ndarray:
        """The features of the diseases ``drug`` or a drug of its mechanism classes (:meth:`class_peers`: a
        reader knows a benzodiazepine's uses from its class) is indicated for: their HPO annotations and the HPO
        terms named like them (sorted)."""
        peers = self.class_peers(drug)
        drugs = np.array([drug], dtype=np.int32) if peers is None else np.append(peers, np.int32(drug))
        diseases = self.index.reach(drugs, TREATS)
        if len(diseases) == 0:
            return np.empty(0, np.int32)
        named = [p for d in diseases.tolist() for p in self._phenotypes_named(int(d))]
        return np.union1d(self.index.reach(diseases, HAS_PHENOTYPE), np.array(named, dtype=np.int32)).astype(np.int32)

    def use_areas(self, drug: int, areas: np.ndarray) -> int:
        """The area bits (``areas``: :func:`kgsynth.questions.areas.build_areas`) of :meth:`use_features`."""
        got = self._use_areas.get(drug)
        if got is None:
            feats = self.use_features(drug)
            got = self._use_areas[drug] = int(np.bitwise_or.reduce(areas[feats])) if len(feats) else 0
        return got

    def use_terms(self, drug: int) -> np.ndarray:
        """The phenotypes under a feature of a disease ``drug`` is indicated for (features with at most
        ``use_terms_limit`` terms below them; sorted)."""
        got = self._use.get(drug)
        if got is None:
            parts = [
                b for f in self.use_features(drug).tolist() if len(b := self._terms_below(f)) <= self.use_terms_limit
            ]
            got = np.unique(np.concatenate(parts)).astype(np.int32) if parts else np.empty(0, np.int32)
            self._use[drug] = got
        return got

    def class_peers(self, drug: int) -> np.ndarray | None:
        """The other drugs of ``drug``'s pharmacodynamic mechanism classes of at most ``class_members_limit``
        members (sorted), or None when it is in none."""
        if drug not in self._peers:
            self._peers[drug] = self._members_beside(drug, self.pd_classes)
        return self._peers[drug]

    def use_peers(self, drug: int) -> np.ndarray | None:
        """The other drugs indicated for a disease ``drug`` is indicated for (sorted), or None when there are none:
        a reader knows a drug by its use, so a drug key among options none of which shares a use is the only
        antiepileptic, the only vitamin D for a rickets vignette (a physician read's trivial items; the key's
        mechanism classes, :meth:`class_kin`, often hold only drugs acting on the asked gene, none of them safe)."""
        if drug not in self._use_peers:
            if not self._is(drug, DRUG):
                self._use_peers[drug] = None
                return None
            diseases = self.index.reach(np.array([drug], dtype=np.int32), TREATS)
            peers = self.index.reach(diseases, TREATED_BY) if len(diseases) else np.empty(0, np.int32)
            peers = peers[peers != drug].astype(np.int32)
            self._use_peers[drug] = peers if len(peers) else None
        return self._use_peers[drug]

    def use_alone(self, drug: int, options: list[int]) -> bool:
        """``drug`` has :meth:`use_peers` and none of the other ``options`` is one of them (the only antiepileptic;
        the audit's ``use_alone``, and where the ``use_peer`` distractor rule is tried)."""
        peers = self.use_peers(drug)
        return (
            peers is not None and not np.isin(np.array([o for o in options if o != drug], dtype=np.int32), peers).any()
        )

    def class_mates(self, drugs: np.ndarray, share: float) -> np.ndarray:
        """The members (sorted) of the pharmacodynamic mechanism classes of at most ``class_members_limit`` members
        at least ``share`` of whose members are in ``drugs``: five of the six general anaesthetics act on GABRG2 in
        DrugCentral's 2017 targets, and a clinician says enflurane, the sixth, does too."""
        if share <= 0 or len(drugs) == 0:
            return np.empty(0, np.int32)
        classes = self.index.reach(drugs.astype(np.int32), MEMBER_OF)
        among = np.zeros(self.graph.num_nodes, dtype=bool)
        among[drugs] = True
        parts = []
        for c in classes[self.pd_classes[classes]].tolist():
            members = self.index.neighbors(c, MEMBERS)
            if len(members) <= self.class_members_limit and among[members].mean() >= share:
                parts.append(members.astype(np.int32))
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int32)

    def class_kin(self, drug: int) -> np.ndarray | None:
        """:meth:`class_peers` and the other drugs of ``drug``'s therapeutic classes of at most
        ``class_members_limit`` members (``family``: "Hypoglycemic Agents" beside "Sulfonylurea"), or None. Every
        sulfonylurea acts on the gene glipizide is asked through, so none is a safe option; metformin, another
        hypoglycemic agent, is, and without it glipizide is the only antidiabetic among the options."""
        if drug not in self._kin:
            mask = self.pd_classes if self.family is None else self.pd_classes | self.family
            self._kin[drug] = self._members_beside(drug, mask)
        return self._kin[drug]

    def _members_beside(self, drug: int, mask: np.ndarray) -> np.ndarray | None:
        classes = self.index.neighbors(drug, MEMBER_OF)
        classes = classes[mask[classes]]
        keep = [c for c in classes.tolist() if (drug, c) not in self.contradicted
                and len(self.index.neighbors(c, MEMBERS)) <= self.class_members_limit]  # fmt: skip
        got = None
        if keep and self.class_members_limit > 0:
            peers = np.unique(np.concatenate([
                np.array([m for m in self.index.neighbors(c, MEMBERS).tolist() if (m, c) not in self.contradicted],
                         dtype=np.int32)
                for c in keep
            ]))  # fmt: skip
            peers = peers[peers != drug].astype(np.int32)
            got = peers if len(peers) else None  # a class of one: no option could share it
        return got

    def paralogs(self, genes: np.ndarray) -> np.ndarray:
        """The genes whose symbol shares its letter stem with one of ``genes`` (their paralogs by name: PSMB5 and
        PSMB8, FGFR1 and FGFR3, SCN5A and SCN9A; ``genes`` included; sorted). A drug acting on a paralog of the
        hidden gene is one a clinician may call correct (inhibitors of one family member often hit others), so
        it is never a distractor of a drug key (:func:`kgsynth.questions.distractors.chain_distractors`)."""
        g = self.graph
        if self._stems is None:
            lo, hi = g.category_range(GENE)
            by: dict[str, list[int]] = {}
            for n in range(lo, hi):
                if (m := STEM.fullmatch(g.names[n])) is not None:
                    by.setdefault(m.group(1), []).append(n)
            self._stems = {k: np.array(v, dtype=np.int32) for k, v in by.items()}
        parts = [genes.astype(np.int32)]
        for n in genes.tolist():
            if (m := STEM.fullmatch(g.names[n])) is not None:
                parts.append(self._stems.get(m.group(1), np.empty(0, np.int32)))
        return np.unique(np.concatenate(parts))

    def anchor(self, answer: int, stated: np.ndarray | None) -> np.ndarray | None:
        """The entities one option beside ``answer`` must include one of (sorted), or None when the key has no
        shortcut: its mechanism- and therapeutic-class peers (:meth:`class_kin`) for a drug key, the stated drugs'
        use terms for a phenotype key under one of them."""
        if self._is(answer, DRUG):
            return self.class_kin(answer)
        if self.use_terms_limit <= 0 or stated is None or not self._is(answer, PHENOTYPE):
            return None
        drugs = [int(s) for s in stated if self._is(int(s), DRUG)]
        if not drugs:
            return None
        # (one stated drug, a chain's start: its use terms are sorted and unique already)
        parts = [self.use_terms(d) for d in drugs]
        terms = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
        if not isin_sorted(np.array([answer]), terms)[0]:
            return None
        return terms.astype(np.int32)

    def alone(self, answer: int, stated: np.ndarray | None, options: list[int]) -> bool:
        """``answer`` has an anchor (:meth:`anchor`) that none of the other ``options`` shares."""
        a = self.anchor(answer, stated)
        return a is not None and not np.isin(np.array([o for o in options if o != answer]), a).any()
