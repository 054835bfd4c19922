"""Silent damage made visible: checks on what a load kept and dropped, run on every freshly built graph.

A malformed line stops a load where it is read (:mod:`kgsynth.loaders.base`). What is checked here is
data that parses but is not what its user meant: the accounting every loader keeps (one
:class:`~kgsynth.graph.model.StreamReport` per file, in ``graph.report["streams"]``) says how much of each file
made it into the graph, and why the rest did not.

* Errors (the load stops, nothing is stored): a file that loses more than half of its edges because an
  endpoint is not a node (ids spelled another way than the nodes', e.g. ``mondo:`` for ``MONDO:``, or a
  truncated ontology); a file none of whose records made it into the graph (a source loaded without the
  source it enriches); one source giving one id two categories.
* Warnings (logged on every load of the graph; errors with ``strict``): some edges dropped because an
  endpoint is not a node; nodes of a category kgsynth does not know, and edges of a predicate no shipped
  schema speaks (loaded, but no question reaches them); node names, synonyms or xrefs longer than
  ``MAX_TEXT_CHARS``, cut to it.
* Reported only (``kgsynth stats``, ``graph.report``): two sources giving one id different categories
  (the first source's wins). The real releases do this (MeSH files 369 pharmacologic-action descriptors
  as chemicals, DrugCentral as drug classes), so it cannot be an error, and a warning on every load of the
  default KG would teach users to ignore warnings.

``docs/graph.md`` ("When a load is refused") gives the reasons to the user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kgsynth.errors import DamagedSourceError
from kgsynth.graph.model import CATEGORIES, DANGLING, MAX_TEXT_CHARS, Graph

logger = logging.getLogger(__name__)

# A file losing more than this share of its edges to endpoints that are no node is refused.
MAX_DANGLING_SHARE = 0.5


@dataclass
class Damage:
    """What :func:`find_damage` found: ``errors`` refuse the load, ``warnings`` are told (or refuse it when strict)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def find_damage(graph: Graph) -> Damage:
    """Check ``graph``'s load report for damage that no single line shows.

    >>> from kgsynth.graph.model import GraphBuilder, SourceInfo
    >>> b = GraphBuilder()
    >>> b.register_source(SourceInfo(name="s", title="s", licence="CC0"))
    >>> s = b.stream("edges.tsv edges", "s")
    >>> b.add_node("X:1", "biolink:Disease", "one", source="s")
    >>> s.read = 2
    >>> b.add_edge("X:1", "biolink:related_to", "x:1", source="s", stream="edges.tsv edges")
    >>> b.add_edge("X:1", "biolink:related_to", "X:2", source="s", stream="edges.tsv edges")
    >>> print(find_damage(b.build()).errors[0])  # doctest: +ELLIPSIS
    edges.tsv edges (source s): 2 of 2 records dropped ...: 'x:1' differs from the node 'X:1' only in case...
    """
    damage = Damage()
    lowered: dict[str, str] | None = None
    examples: dict[str, list[str]] = graph.report.get("dangling_examples", {})
    for s in graph.report.get("streams", []):
        read, kept, dangling = s["read"], s["kept"], s["dropped"].get(DANGLING, 0)
        where = f"{s['stream']} (source {s['source']})"
        if dangling:
            if lowered is None:
                lowered = {i.lower(): i for i in graph.ids}
            shown = _explain_ids(examples.get(s["stream"], []), graph, lowered)
            message = f"{where}: {dangling:,} of {read:,} records dropped because an endpoint is not a node; {shown}"
            (damage.errors if dangling > read * MAX_DANGLING_SHARE else damage.warnings).append(message)
        elif read and not kept:
            reasons = "; ".join(f"{reason}: {n:,}" for reason, n in s["dropped"].items()) or "no reason recorded"
            damage.errors.append(f"{where}: none of its {read:,} records made it into the graph ({reasons})")
    for c in graph.report.get("category_conflicts", []):
        (first, other), (cat1, cat2) = c["sources"], c["categories"]
        message = f"{c['nodes']:,} ids (e.g. {c['example']}) are {cat1} to {first} but {cat2} to {other}"
        if first == other:
            damage.errors.append(f"source {first}: {message}: one id names one node")
        else:
            logger.info("%s; %s's category is kept", message, first)
    for what, c in graph.report.get("clipped_text", {}).items():
        damage.warnings.append(
            f"{c['count']:,} node {what} longer than {MAX_TEXT_CHARS:,} characters were cut to {MAX_TEXT_CHARS:,} "
            f"(e.g. on {c['example']}): check the file's columns"
        )
    predicates = _unknown_predicates(graph)
    if predicates:
        listed = ", ".join(f"{p}: {n:,}" for p, n in predicates.items())
        damage.warnings.append(
            f"edges of predicates no shipped graph schema speaks ({listed}) are loaded, but no question reaches "
            "them unless a --schema of your own names them (see docs/graph.md)"
        )
    unknown = _unknown_categories(graph)
    if unknown:
        listed = ", ".join(f"{cat}: {n:,}" for cat, n in unknown.items())
        damage.warnings.append(
            f"nodes of categories kgsynth does not know ({listed}) are loaded, but no question reaches them "
            f"(known: {', '.join(CATEGORIES)})"
        )
    return damage


def refuse_damage(graph: Graph, damage: Damage, *, strict: bool = False) -> None:
    """Raise :class:`DamagedSourceError` for ``damage.errors`` (and for ``damage.warnings`` when ``strict``);
    log the warnings otherwise."""
    refused = damage.errors + (damage.warnings if strict else [])
    if refused:
        raise DamagedSourceError(
            f"the graph {graph.name!r} was not stored: what its sources yield looks damaged\n  - "
            + "\n  - ".join(refused),
            hint="check the files named: ids spelled as the nodes spell them, complete downloads, and each source "
            "loaded together with the sources it enriches"
            + ("; a strict load refuses warnings too" if strict and damage.warnings else ""),
        )
    for warning in damage.warnings:
        logger.warning("%s: %s", graph.name, warning)


def _explain_ids(ids: list[str], graph: Graph, lowered: dict[str, str]) -> str:
    """Name the first dropped endpoints, and say when one differs from a node's id only in case."""
    if not ids:
        return "see `kgsynth stats`"
    text = "e.g. " + ", ".join(repr(i) for i in ids)
    for i in ids:
        node = lowered.get(i.lower())
        if node is not None and node != i:
            return f"{text}: {i!r} differs from the node {node!r} only in case (ids are case-sensitive)"
    return text


def _unknown_predicates(graph: Graph) -> dict[str, int]:
    from kgsynth.graph.schema import known_predicates

    known = known_predicates()
    per_code = np.bincount(graph.rel.astype(np.int64), minlength=len(graph.relations))
    counts: dict[str, int] = {}
    for code, relation in enumerate(graph.relations):
        predicate = relation.removeprefix("NOT ")
        if predicate not in known and int(per_code[code]):
            counts[predicate] = counts.get(predicate, 0) + int(per_code[code])
    return dict(sorted(counts.items()))


def _unknown_categories(graph: Graph) -> dict[str, int]:
    counts: dict[str, Any] = {}
    for code, category in enumerate(graph.categories):
        if category not in CATEGORIES:
            counts[category] = int((graph.category == code).sum())
    return {c: n for c, n in counts.items() if n}
