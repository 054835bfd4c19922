"""MeSH descriptors and their tree (parent tree number -> ``biolink:subclass_of``)."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)


def category_of(trees: list[str]) -> str:
    """A descriptor's Biolink category from its tree numbers (signs and symptoms, C23, win over C)."""
    if any(t.startswith("C23") for t in trees):
        return "biolink:PhenotypicFeature"
    for prefix, category in (
        ("C", "biolink:Disease"),
        ("D", "biolink:ChemicalEntity"),
        ("A", "biolink:AnatomicalEntity"),
        ("G", "biolink:BiologicalProcess"),
    ):
        if any(t.startswith(prefix) for t in trees):
            return category
    return "biolink:NamedThing"


class MeSHLoader(Loader):
    name = "mesh"
    title = "MeSH 2015 descriptors and tree"
    licence = "NLM terms and conditions (free, with attribution)"
    url = "https://www.nlm.nih.gov/mesh"
    subdir = "mesh"
    id_prefixes = ("MESH",)
    files: ClassVar[dict[str, str]] = {"terms": "terms.tsv", "trees": "tree-numbers.tsv"}
    obtain = "Download terms.tsv and tree-numbers.tsv (dhimmel/mesh)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        names: dict[str, str] = {}
        tpath = self.path("terms")
        for lineno, f in read_tsv(tpath, columns=2, header=("mesh_id", "mesh_name"), what="a descriptor row"):
            if not f[0].startswith(("D", "C")):
                raise SourceFormatError(tpath, lineno, "a MeSH descriptor id Dnnnnnn", found=f[0])
            names[f[0]] = f[1]
        trees: dict[str, list[str]] = {}
        by_tree: dict[str, str] = {}
        path = self.path("trees")
        for lineno, f in read_tsv(
            path, columns=3, header=("mesh_id", "mesh_name", "mesh_tree_number"), what="a tree-number row"
        ):
            mesh_id, _name, tree = f[:3]
            if not tree or not tree[0].isalpha():
                raise SourceFormatError(path, lineno, "a tree number like C10.228", found=tree)
            trees.setdefault(mesh_id, []).append(tree)
            by_tree[tree] = mesh_id
        nodes = builder.stream("terms.tsv descriptors", self.name)
        for mesh_id, name in names.items():
            nodes.read += 1
            nodes.kept += 1
            builder.add_node(f"MESH:{mesh_id}", category_of(trees.get(mesh_id, [])), name, source=self.name)
        isa = builder.stream("tree-numbers.tsv parents", self.name)
        for mesh_id, numbers in trees.items():
            for tree in numbers:
                if "." not in tree:
                    continue  # a root of one of the 16 trees
                isa.read += 1
                parent = by_tree.get(tree.rsplit(".", 1)[0])
                if parent is None:
                    isa.dropped["parent tree number not in the file"] += 1
                    continue
                builder.add_edge(
                    f"MESH:{mesh_id}",
                    "biolink:subclass_of",
                    f"MESH:{parent}",
                    source=self.name,
                    stream=isa.stream,
                )
