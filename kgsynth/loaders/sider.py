"""SIDER 4.1 side effects. Non-commercial (CC BY-NC-SA 4.0): opt-in only, flagged in every output."""

from __future__ import annotations

import logging
from typing import ClassVar

from kgsynth.errors import SourceFormatError
from kgsynth.graph.model import GraphBuilder
from kgsynth.loaders.base import Loader, read_tsv

logger = logging.getLogger(__name__)


class SIDERLoader(Loader):
    name = "sider"
    title = "SIDER 4.1 drug side effects (NON-COMMERCIAL)"
    licence = "CC BY-NC-SA 4.0 (non-commercial)"
    commercial_use = False
    opt_in = True
    url = "http://sideeffects.embl.de"
    subdir = "sider-nc"
    files: ClassVar[dict[str, str]] = {
        "side_effects": "meddra_all_se.tsv.gz",
        "frequencies": "meddra_freq.tsv.gz",
        "drugs": "indications.tsv",
    }
    obtain = "Download meddra_all_se.tsv.gz, meddra_freq.tsv.gz and indications.tsv (dhimmel/SIDER4)."

    def load(self, builder: GraphBuilder) -> None:
        builder.register_source(self.info())
        drugs: dict[str, tuple[str, str]] = {}
        dpath = self.path("drugs")
        for lineno, f in read_tsv(
            dpath,
            columns=4,
            header=("drugbank_id", "drugbank_name", "pubchem_id", "stitch_id_flat"),
            what="a row",
        ):
            if not f[0].startswith("DB") or not f[3].startswith("CID"):
                raise SourceFormatError(
                    dpath, lineno, "a DrugBank id and a STITCH id CIDnnnnnnnnn", found="\t".join(f[:4])
                )
            drugs.setdefault(f[3], (f"DRUGBANK:{f[0]}", f[1]))

        freq: dict[tuple[str, str], str] = {}
        fpath = self.path("frequencies")
        for lineno, f in read_tsv(fpath, columns=10, what="a meddra_freq row (10 fields)"):
            if f[3] == "placebo" or f[7] != "PT":
                continue
            freq.setdefault((f[0], f[8]), f[4])
            del lineno

        path = self.path("side_effects")
        stream = builder.stream("meddra_all_se.tsv.gz side effects", self.name)
        for lineno, f in read_tsv(path, columns=6, what="a meddra_all_se row (6 fields)"):
            stitch, _stereo, _label_cui, kind, cui, name = f[:6]
            if kind != "PT":
                continue  # lowest-level (and a few untyped) terms repeat their preferred term
            if not stitch.startswith("CID") or not cui.startswith("C"):
                raise SourceFormatError(path, lineno, "a STITCH id CIDn and a UMLS id Cnnnnnnn", found="\t".join(f))
            stream.read += 1
            drug = drugs.get(stitch)
            if drug is None:
                stream.dropped["STITCH compound without a DrugBank id"] += 1
                continue
            builder.add_node(drug[0], "biolink:Drug", drug[1], source=self.name)
            builder.add_node(f"UMLS:{cui}", "biolink:PhenotypicFeature", name, source=self.name)
            builder.add_edge(
                drug[0],
                "biolink:has_side_effect",
                f"UMLS:{cui}",
                source=self.name,
                stream=stream.stream,
                qualifiers={"frequency": freq.get((stitch, cui), "")},
            )
