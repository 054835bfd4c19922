"""The generation options: the one home of their defaults."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kgsynth.graph.schema import DEFAULT_SCHEMA
from kgsynth.questions.item import LETTERS
from kgsynth.questions.sample import RarityConfig

logger = logging.getLogger(__name__)

QuestionType = Literal["chain", "vignette"]
AnswerFormat = Literal["mcq", "short"]
ContextMode = Literal["none", "facts"]

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
    # The graph schema: a shipped schema's name or the path of a user's YAML file (`generate --schema`).
    schema_name: str = DEFAULT_SCHEMA
    # Symptomatic indications (PharmacotherapyDB SYM) walked as "treats"; off: keys a clinician accepts.
    symptomatic_indications: bool = False
    # Caps on concentration: a diagnosis's share of the vignettes, a key's share of all items (each at least 1).
    max_diagnosis_share: float = Field(default=0.015, gt=0, le=1)
    max_key_share: float = Field(default=0.02, gt=0, le=1)
    # A key's share of a short-answer run's n: few starts lead to a single answer (about 70 keys at --hops 3),
    # and at 2% a 300-item run exhausts them at 297 items.
    max_short_key_share: float = Field(default=0.025, gt=0, le=1)
    # A hidden intermediate's share of all items (an entity on the path the question neither names nor asks:
    # kgsynth.questions.hidden), capped as keys are (a short item: of the run's n), so no hub middle carries a run.
    max_hidden_share: float = Field(default=0.02, gt=0, le=1)
    # Obscure edges (kgsynth.questions.hidden): a gene in the middle of a path is not reached through a disease with
    # more genes than this (Leber congenital amaurosis 22 -> IMPDH1, cystic fibrosis 20 -> EDNRA, Brugada syndrome
    # 22: a minor gene of a heterogeneous group or a modifier), neoplasms excepted (the curation list's
    # somatic_disease_roots); and no drug-target edge on a path belongs to a drug with more targets than this
    # (guanidine and dalfampridine on 40 potassium channels, metformin on 50, volatile anaesthetics on 22-23: an
    # incidental binding). Lower caps cost vignette-only runs much of their yield (docs/generate.md).
    max_disease_genes: int = Field(default=15, ge=1)
    max_drug_targets: int = Field(default=20, ge=1)
    # Vignettes: the diagnosis (or its parent group) must rank first among every disease by an information-content
    # weighted phenotype match of the stated findings, ahead of the next by this share of its own score.
    vignette_rank_margin: float = Field(default=0.1, ge=0, le=1)
    # Findings and phenotype keys come from annotations at least this frequent (HPO "frequent" is 30-79%).
    min_finding_frequency: float = Field(default=0.3, ge=0, le=1)
    # Short answers accept every proven answer by every name; a question with more proven answers than this is
    # not asked short (too open to be fair).
    max_short_answers: int = Field(default=5, ge=1)
    # Open-book items: "facts" shows the evidence path's edges and one decoy chain per distractor in the prompt
    # (chains only: the default types become chain, and vignette is refused); "none" is closed-book.
    context: ContextMode = "none"
    # Near distractors (kgsynth.questions.distractors.near_association): a distractor's association with what the stem
    # states (kgsynth.questions.association) lies within this factor of the key's, its number of graph neighbours within
    # ``popularity_band`` of the key's, and it shares the key's organ system or therapeutic area
    # (kgsynth.questions.areas) when the key has one. Too few such safe candidates: the attempt is dropped.
    near_band: float = Field(default=4.0, gt=1)
    # ... and at least this share of the key's (an option far less associated than the key is eliminated)
    near_floor: float = Field(default=0.5, gt=0, le=1)
    popularity_band: float = Field(default=8.0, gt=1)
    # A key with an organ system or therapeutic area has at least this many distractors in it (the others may lie
    # outside it, near by association): a key alone in its area is answered by the area alone.
    min_same_area_options: int = Field(default=1, ge=0)
    # ... and at least this many when the key's area is one of the stated drug's own indications' areas (a seizure
    # beside one other neurological option for clonazepam: the drug's use points to the key)
    min_same_area_options_in_use_area: int = Field(default=2, ge=0)
    # Shortcuts a reader takes without the chain (kgsynth.questions.shortcuts): a drug key in a mechanism class of at
    # most this many drugs has a distractor of the same class (not "the only kinase inhibitor"; 0: off) ...
    shortcut_class_members: int = Field(default=60, ge=0)
    # ... and a phenotype key under a feature of the stated drug's indications with at most this many terms below
    # it has a distractor under one too (not "the only seizure" for clonazepam; 0: off).
    shortcut_use_terms: int = Field(default=1000, ge=0)
    # A drug key gets, where one is safe, a distractor indicated for a disease the key is indicated for (not the only
    # antiepileptic among the options; kgsynth.questions.distractors.use_peer; sought, not required). Off by default:
    # it raised the vignette association-shortcut rate above the 0.50 bar (docs/generate.md, "A drug of the key's use").
    use_peer: bool = False
    # A drug of a small mechanism class (at most ``shortcut_class_members`` drugs) at least this share of whose members
    # act on the hidden gene or a paralog is never a distractor of a drug key (0: off).
    class_target_share: float = Field(default=0.5, ge=0, le=1)
    # Phenotype distractors never form a cluster the key stands outside of (fever, raised ESR and raised CRP beside a
    # raised creatine kinase: the odd one out is the key): every two of them share at least this Jaccard share of the
    # diseases annotated with them (kgsynth.questions.distractors.odd_cluster) ...
    cluster_min_share: float = Field(default=0.02, ge=0, le=1)
    # ... and at least this many times the key's largest share with any of them (0 share: off)
    cluster_key_ratio: float = Field(default=2.0, ge=1)
    # Phenotype and disease distractors never all sit under one ontology term the key is not under (irritability,
    # hyperactivity and polyphagia, all "Abnormality of mental function", beside a tremor; three autoantibodies, all
    # "Autoimmunity", beside serositis): the organ-system rule at every depth
    # (kgsynth.questions.distractors.odd_one_out)
    odd_ancestor: bool = True
    # A chain's distractors never all lie in what its start entity reaches at once (its uses, targets, classes and the
    # findings of the diseases it treats) while the key does not: the start drug's own uses, set aside by a reader
    # (kgsynth.questions.distractors.start_reach)
    odd_start_reach: bool = True
    # Walks one chain attempt tries before it is dropped (doubled per hop beyond 3:
    # kgsynth.questions.chain.walks_per_attempt)
    walks_per_attempt: int = Field(default=8, ge=1)
    # The association walk: at most this many most probable entities walk on at each step.
    association_keep: int = Field(default=500, ge=1)
    # A focus file (`kgsynth focus`): sampling weighted toward what a policy fails (kgsynth.run.focus);
    # None: unweighted.
    focus: Path | None = None

    @field_validator("types", "formats")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _facts_are_for_chains(self) -> GenerateConfig:
        if self.context == "facts":
            if "types" not in self.model_fields_set:
                self.types = ["chain"]
            elif "vignette" in self.types:
                raise ValueError(
                    "--context facts applies to chain items only; drop --type vignette (or use --context none)"
                )
        return self
