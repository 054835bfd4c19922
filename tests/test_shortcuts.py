"""Shortcut anchors (kgsynth.questions.shortcuts) on the real default KG: a drug key's mechanism-class peers, the
stated drug's use terms, gene paralogs by symbol, the peripheral nervous system as an area of its own, the
audit's ``shortcut_alone`` and ``use_alone`` counts and, on generated items, the rules that close the shortcuts."""

from __future__ import annotations

import numpy as np
import pytest

from kgsynth.graph.index import CSRIndex, Step
from kgsynth.graph.model import Graph
from kgsynth.questions.areas import build_areas
from kgsynth.questions.curation import contradicted_memberships, load_curation, without_symptomatic_indications
from kgsynth.questions.genconfig import GenerateConfig
from kgsynth.questions.shortcuts import MEMBER_OF, Shortcuts
from kgsynth.questions.verify import PHENOTYPIC_ABNORMALITY
from kgsynth.run.audit import audit_items

from .test_audit import make_item, triple


def node(g: Graph, name: str, category: str) -> int:
    hits = [i for i in range(*g.category_range(category)) if g.names[i].lower() == name.lower()]
    assert hits, f"{name} ({category}) not in the graph"
    return hits[0]


@pytest.fixture(scope="module")
def tables(real_graph: Graph) -> Shortcuts:
    g = without_symptomatic_indications(real_graph)  # as the generator walks it
    cfg = GenerateConfig()
    cur = load_curation("med")
    return Shortcuts.build(
        g, CSRIndex(g), cur, use_terms=cfg.shortcut_use_terms, class_members=cfg.shortcut_class_members,
        contradicted=contradicted_memberships(g, cur),
    )  # fmt: skip


def test_a_drug_key_in_a_small_mechanism_class_is_anchored_to_its_peers(real_graph: Graph, tables: Shortcuts) -> None:
    g = real_graph
    drug = "biolink:Drug"
    lapatinib, afatinib = node(g, "Lapatinib", drug), node(g, "Afatinib", drug)
    ofloxacin = node(g, "Ofloxacin", drug)
    peers = tables.anchor(lapatinib, None)
    assert peers is not None and afatinib in peers.tolist() and ofloxacin not in peers.tolist()
    assert lapatinib not in peers.tolist()
    # a pharmacokinetic class (a CYP inhibitor) is not a mechanism a reader recognises a key by
    classes = tables.index.neighbors(node(g, "Pazopanib", drug), MEMBER_OF).tolist()
    cyp = [c for c in classes if "cytochrome" in g.names[c].lower()]
    assert cyp and not tables.pd_classes[cyp].any()


def test_a_contradicted_membership_makes_no_peer(real_graph: Graph, tables: Shortcuts) -> None:
    """DrugCentral files risedronate under "Calcium Channel Blockers"; its targets contradict it."""
    g = real_graph
    risedronate, nifedipine = node(g, "Risedronate", "biolink:Drug"), node(g, "Nifedipine", "biolink:Drug")
    peers = tables.anchor(nifedipine, None)
    assert peers is not None and risedronate not in peers.tolist()


def test_use_terms_anchor_a_phenotype_key_the_stated_drug_suggests(real_graph: Graph, tables: Shortcuts) -> None:
    g = real_graph
    clonazepam = np.array([node(g, "Clonazepam", "biolink:Drug")], dtype=np.int32)
    pheno = "biolink:PhenotypicFeature"
    seizure_kind = node(g, "Focal hemiclonic seizure", pheno)  # below Seizure, named like epilepsy
    heart = node(g, "Impaired myocardial contractility", pheno)
    anchor = tables.anchor(seizure_kind, clonazepam)
    assert anchor is not None and node(g, "Bilateral tonic-clonic seizure", pheno) in anchor.tolist()
    assert tables.anchor(heart, clonazepam) is None  # nothing clonazepam is used for points to the heart
    assert tables.anchor(seizure_kind, None) is None  # nothing stated: no use
    opts = [seizure_kind, heart, node(g, "Myotonia", pheno), node(g, "Arthralgia", pheno)]
    assert tables.alone(seizure_kind, clonazepam, opts)
    assert not tables.alone(seizure_kind, clonazepam, [*opts[:3], node(g, "Bilateral tonic-clonic seizure", pheno)])


def test_paralogs_by_symbol_stem(real_graph: Graph, tables: Shortcuts) -> None:
    g = real_graph
    gene = "biolink:Gene"
    got = {g.names[n] for n in tables.paralogs(np.array([node(g, "PSMB8", gene)], dtype=np.int32))}
    assert {"PSMB8", "PSMB9"} <= got and all(n.startswith("PSMB") for n in got)
    assert {g.names[n] for n in tables.paralogs(np.array([node(g, "EGFR", gene)], dtype=np.int32))} == {"EGFR"}


def test_the_peripheral_nervous_system_and_seizures_are_areas_of_their_own(real_graph: Graph) -> None:
    g, cur = real_graph, load_curation("med")
    index = CSRIndex(g)
    pheno = "biolink:PhenotypicFeature"
    nerve, seizure = node(g, "Abnormality of peripheral nerve conduction", pheno), node(g, "Seizure", pheno)
    kw = {"therapeutic_root": cur.therapeutic_class_root, "phenotype_root": PHENOTYPIC_ABNORMALITY}
    joined = build_areas(g, index, **kw)
    split = build_areas(g, index, **kw, separate_roots=cur.separate_area_roots)
    assert joined[nerve] & joined[seizure]  # one "nervous system" in HPO's organ systems
    assert not split[nerve] & split[seizure] and split[nerve] and split[seizure]
    slower = node(g, "Decreased nerve conduction velocity", pheno)
    assert split[nerve] & split[slower]
    # seizures are an area of their own too: a seizure type and sensory loss are no longer "the same system"
    sensory, absence = node(g, "Dissociated sensory loss", pheno), node(g, "Typical absence seizure", pheno)
    assert joined[sensory] & joined[absence] and not split[sensory] & split[absence]
    assert split[absence] & split[seizure]


def assert_counted(g: Graph, metric: str, *, answer: str, path: list, counted: list[str], spared: list[str]) -> None:
    """The audit counts ``metric`` once for ``answer`` beside the distractors ``counted``, and not beside ``spared``."""
    for wrong, want in ((counted, 1), (spared, 0)):
        item = make_item(g, metric, answer=answer, path=path, wrong=wrong)
        assert audit_items([item], graph=g)["metrics"][metric] == want, (metric, wrong)


def test_audit_counts_a_key_alone_in_its_mechanism_class(real_graph: Graph) -> None:
    g = real_graph
    ids = {n: g.ids[node(g, n, "biolink:Drug")] for n in ("Lapatinib", "Afatinib", "Ofloxacin", "Octreotide",
                                                           "Cyproterone acetate")}  # fmt: skip
    fluorouracil, gastric = node(g, "Fluorouracil", "biolink:Drug"), node(g, "gastric cancer", "biolink:Disease")
    path = [triple(g, g.ids[fluorouracil], "biolink:treats", g.ids[gastric])]
    assert_counted(g, "shortcut_alone", answer=ids["Lapatinib"], path=path,
                   counted=[ids["Ofloxacin"], ids["Octreotide"], ids["Cyproterone acetate"]],
                   spared=[ids["Ofloxacin"], ids["Octreotide"], ids["Afatinib"]])  # fmt: skip


def test_a_class_key_named_after_an_entity_of_its_path_is_refused(real_graph: Graph) -> None:
    """The audit's circular key of a --hops 4 run: "Cystic Fibrosis Transmembrane Conductance Regulator Potentiator"
    after cystic fibrosis on the path (hidden, or the start beyond one hop); ivacaftor's other class is kept."""
    from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
    from kgsynth.questions.draft import build_context, key_problem

    g = real_graph
    ctx = build_context(g, CSRIndex(g), load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=4))
    cf, cftr = node(g, "cystic fibrosis", "biolink:Disease"), node(g, "CFTR", "biolink:Gene")
    ivacaftor = node(g, "Ivacaftor", "biolink:Drug")
    circular = node(g, "Cystic Fibrosis Transmembrane Conductance Regulator Potentiator", "biolink:OntologyClass")
    other = node(g, "Chloride Channel Activation Potentiators", "biolink:OntologyClass")
    assert key_problem(ctx, [cf, cftr, ivacaftor, circular], [cftr, ivacaftor]) is not None  # the start, 3 hops
    assert key_problem(ctx, [ivacaftor, cf, cftr, ivacaftor, circular], [cf, cftr, ivacaftor]) is not None  # hidden
    assert key_problem(ctx, [cf, cftr, ivacaftor, other], [cftr, ivacaftor]) is None


def test_a_drug_key_is_anchored_to_its_therapeutic_class_too(real_graph: Graph, tables: Shortcuts) -> None:
    """Every sulfonylurea acts on the gene a glipizide key is asked through (none is a safe option), so its anchor
    holds the other hypoglycemic agents as well; ezogabine, the only potassium channel opener, is anchored to the
    other anticonvulsants. A mechanism peer still comes first where one is safe (``shortcut_peer``)."""
    g = real_graph
    drug = "biolink:Drug"
    glipizide, glyburide, metformin = (node(g, n, drug) for n in ("Glipizide", "Glyburide", "Metformin"))
    mechanism = tables.class_peers(glipizide)
    assert mechanism is not None and glyburide in mechanism.tolist() and metformin not in mechanism.tolist()
    kin = tables.anchor(glipizide, None)
    assert kin is not None and {glyburide, metformin} <= set(kin.tolist()) and glipizide not in kin.tolist()
    ezogabine, lamotrigine = node(g, "Ezogabine", drug), node(g, "Lamotrigine", drug)
    assert tables.class_peers(ezogabine) is None
    kin = tables.anchor(ezogabine, None)
    assert kin is not None and lamotrigine in kin.tolist()
    # the audit's count reads the same anchor: glipizide beside metformin is not alone, beside ofloxacin it is
    ofloxacin = node(g, "Ofloxacin", drug)
    assert not tables.alone(glipizide, None, [glipizide, metformin, ofloxacin])
    assert tables.alone(glipizide, None, [glipizide, ofloxacin])


def test_a_grouping_term_is_never_a_key_or_an_option(real_graph: Graph) -> None:
    """ "Abnormality of mental function" (565 HPO descendants) fits most of a drug's uses: the physician read's
    "not signable" key after ursodiol -> primary biliary cholangitis -> sleep abnormality. "Short stature" stays."""
    from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
    from kgsynth.questions.distractors import fitting
    from kgsynth.questions.draft import build_context, key_problem, ow

    g = real_graph
    ctx = build_context(g, CSRIndex(g), load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=3))
    pheno = "biolink:PhenotypicFeature"
    vague, sleep = node(g, "Abnormality of mental function", pheno), node(g, "Sleep abnormality", pheno)
    short = node(g, "Short stature", pheno)
    assert ow(ctx).vague_key[vague] and not ow(ctx).vague_key[short] and not ow(ctx).vague_key[sleep]
    ursodiol, pbc = node(g, "Ursodeoxycholic acid", "biolink:Drug"), node(g, "primary biliary cholangitis",
                                                                           "biolink:Disease")  # fmt: skip
    assert key_problem(ctx, [ursodiol, pbc, sleep, vague], [pbc, sleep]) == "key is an HPO grouping term"
    assert key_problem(ctx, [ursodiol, pbc, sleep], [pbc]) is None
    pool = np.array([vague, short], dtype=np.int32)
    assert fitting(ctx, sleep, pool).tolist() == [short]
    m = audit_items([make_item(g, "vague", answer=g.ids[vague], path=[triple(g, g.ids[sleep], "biolink:subclass_of",
                                                                           g.ids[vague])],
                               wrong=[g.ids[short]])], graph=g)["metrics"]  # fmt: skip
    assert m["grouping_keys"] == 1


def test_audit_counts_a_key_beside_distractors_that_all_share_a_target(real_graph: Graph) -> None:
    """Three coumarins (VKORC1) beside dabigatran: the key is the odd one out; with one of them replaced, it is not."""
    g = real_graph
    ids = {n: g.ids[node(g, n, "biolink:Drug")] for n in ("Dabigatran etexilate", "Warfarin", "Acenocoumarol",
                                                           "Phenprocoumon", "Metformin")}  # fmt: skip
    f2 = node(g, "F2", "biolink:Gene")
    deficiency = g.ids[node(g, "congenital prothrombin deficiency", "biolink:Disease")]
    path = [triple(g, g.ids[f2], "biolink:gene_associated_with_condition", deficiency)]
    assert_counted(g, "odd_one_out_items", answer=ids["Dabigatran etexilate"], path=path,
                   counted=[ids["Warfarin"], ids["Acenocoumarol"], ids["Phenprocoumon"]],
                   spared=[ids["Warfarin"], ids["Acenocoumarol"], ids["Metformin"]])  # fmt: skip


def test_distractors_that_form_a_cluster_the_key_stands_outside_of(real_graph: Graph) -> None:
    """Fever, raised ESR and raised CRP (co-annotated to the same inflammatory diseases) beside a raised creatine
    kinase: the key is the odd one out. With one of them replaced by a muscle finding, or with a key inside the
    cluster, they are not. The audit counts the first item and not the second."""
    from kgsynth.questions.distractors import co_annotation, odd_cluster
    from kgsynth.questions.verify import Prover

    g = real_graph
    prover = Prover(g, CSRIndex(g))
    pheno = "biolink:PhenotypicFeature"
    names = ("Fever", "Elevated erythrocyte sedimentation rate",
             "Elevated circulating C-reactive protein concentration",
             "Elevated circulating creatine kinase concentration", "Myalgia", "Arthritis")  # fmt: skip
    fever, esr, crp, ck, myalgia, arthritis = (node(g, n, pheno) for n in names)
    limits = {"share": GenerateConfig().cluster_min_share, "ratio": GenerateConfig().cluster_key_ratio}
    assert co_annotation(prover, esr, crp) > 0.1 > co_annotation(prover, ck, crp)
    assert odd_cluster(prover, ck, [fever, esr, crp], **limits)
    assert not odd_cluster(prover, ck, [fever, esr, myalgia], **limits)
    assert not odd_cluster(prover, arthritis, [fever, esr, crp], **limits)  # an inflammatory key: inside it
    assert not odd_cluster(prover, ck, [fever, esr, crp], share=0.0, ratio=2.0)  # 0: off
    path = [triple(g, g.ids[node(g, "Tizanidine", "biolink:Drug")], "biolink:interacts_with",
                   g.ids[node(g, "ADRA2A", "biolink:Gene")])]  # fmt: skip
    assert_counted(g, "odd_cluster_items", answer=g.ids[ck], path=path, counted=[g.ids[fever], g.ids[esr], g.ids[crp]],
                   spared=[g.ids[fever], g.ids[esr], g.ids[myalgia]])  # fmt: skip


def test_a_drug_of_a_mechanism_class_mostly_on_the_hidden_gene_is_unsafe(real_graph: Graph, tables: Shortcuts) -> None:
    """Five of the six general anaesthetics act on GABRG2 in DrugCentral's targets; enflurane, the sixth, is one a
    clinician would call correct for a GABRG2 question too. Felbamate (on NMDA receptors) stays safe."""
    from kgsynth.questions.distractors import TARGETED_BY

    g = real_graph
    drug = "biolink:Drug"
    gabrg2 = np.array([node(g, "GABRG2", "biolink:Gene")], dtype=np.int32)
    hitters = tables.index.reach(tables.paralogs(gabrg2), TARGETED_BY)
    enflurane, isoflurane, felbamate = (node(g, n, drug) for n in ("Enflurane", "Isoflurane", "Felbamate"))
    assert isoflurane in hitters.tolist() and enflurane not in hitters.tolist()
    mates = tables.class_mates(hitters, GenerateConfig().class_target_share).tolist()
    assert enflurane in mates and felbamate not in mates
    assert tables.class_mates(hitters, 0.0).tolist() == []  # 0: off
    assert enflurane not in tables.class_mates(hitters, 1.0).tolist()  # all members: enflurane's class has one short


def test_distractors_under_one_ancestor_or_in_the_start_reach_single_out_the_key(real_graph: Graph) -> None:
    """Irritability, hyperactivity and polyphagia (all under "Abnormality of mental function") beside a tremor: the
    key is the odd one out; for an anxiety key, under it too, or beside a dystonia for polyphagia, it is not. Graves
    disease, proptosis and a raised free T4 beside a lowered T4 for methimazole: the three lie in what methimazole
    reaches at once (the disease it treats and its findings), the key does not. The config switches both off; the
    audit counts both."""
    import dataclasses

    from kgsynth.graph.schema import DEFAULT_SCHEMA, load_schema
    from kgsynth.questions.distractors import odd_one_out, start_reach
    from kgsynth.questions.draft import build_context

    g = real_graph
    ctx = build_context(g, CSRIndex(g), load_schema(DEFAULT_SCHEMA), GenerateConfig(n=5, hops=3))
    pheno = "biolink:PhenotypicFeature"
    names = ("Tremor", "Irritability", "Hyperactivity", "Polyphagia", "Anxiety", "Dystonia")
    tremor, irritable, hyperactive, polyphagia, anxiety, dystonia = (node(g, n, pheno) for n in names)
    behaviour = [irritable, hyperactive, polyphagia]
    assert odd_one_out(ctx, tremor, behaviour)
    assert not odd_one_out(ctx, anxiety, behaviour)
    assert not odd_one_out(ctx, tremor, [irritable, hyperactive, dystonia])
    methimazole = node(g, "Methimazole", "biolink:Drug")
    low_t4, free_t4, graves, proptosis = (node(g, n, pheno) for n in (
        "Decreased circulating T4 concentration", "Increased circulating free T4 concentration", "Graves disease",
        "Proptosis"))  # fmt: skip
    stated = np.array([methimazole], dtype=np.int32)
    reach = start_reach(ctx, methimazole).tolist()
    assert graves in reach and proptosis in reach and free_t4 in reach and low_t4 not in reach
    thyroid = [free_t4, graves, proptosis]
    assert odd_one_out(ctx, low_t4, thyroid, stated)
    assert not odd_one_out(ctx, low_t4, thyroid)  # no stated start: only the other rules
    off = dataclasses.replace(ctx, config=ctx.config.model_copy(update={"odd_ancestor": False,
                                                                         "odd_start_reach": False}))  # fmt: skip
    assert not odd_one_out(off, tremor, behaviour) and not odd_one_out(off, low_t4, thyroid, stated)
    bromocriptine, drd2 = node(g, "Bromocriptine", "biolink:Drug"), node(g, "DRD2", "biolink:Gene")
    assert_counted(
        g,
        "odd_ancestor_items",
        answer=g.ids[tremor],
        path=[triple(g, g.ids[bromocriptine], "biolink:interacts_with", g.ids[drd2])],
        counted=[g.ids[n] for n in behaviour],
        spared=[g.ids[irritable], g.ids[hyperactive], g.ids[dystonia]],
    )
    tpo = node(g, "TPO", "biolink:Gene")
    assert_counted(
        g,
        "odd_start_items",
        answer=g.ids[low_t4],
        path=[triple(g, g.ids[methimazole], "biolink:interacts_with", g.ids[tpo])],
        counted=[g.ids[n] for n in thyroid],
        spared=[g.ids[free_t4], g.ids[graves], g.ids[tremor]],
    )


def test_options_nested_by_name_are_never_offered_and_are_counted(real_graph: Graph) -> None:
    """HPO files "Polyarticular arthritis" under "Polyarticular arthropathy", not under "Arthritis": the ontology
    rule lets the pair through, the name rule does not; the audit counts such an item and spares one without it."""
    from kgsynth.questions.distractors import nested_names

    g = real_graph
    pheno = "biolink:PhenotypicFeature"
    cyst, arthritis, poly, arthralgia, nails = (node(g, n, pheno) for n in (
        "Bone cyst", "Arthritis", "Polyarticular arthritis", "Arthralgia", "Nail dystrophy"))  # fmt: skip
    assert nested_names(g.names[arthritis], g.names[poly]) and not nested_names(g.names[arthritis], g.names[arthralgia])
    vdr = node(g, "VDR", "biolink:Gene")
    path = [triple(g, g.ids[node(g, "Cholecalciferol", "biolink:Drug")], "biolink:interacts_with", g.ids[vdr])]
    assert_counted(g, "nested_name_options", answer=g.ids[cyst], path=path,
                   counted=[g.ids[arthritis], g.ids[poly], g.ids[nails]],
                   spared=[g.ids[arthritis], g.ids[arthralgia], g.ids[nails]])  # fmt: skip


def test_a_drug_key_gets_a_distractor_of_its_own_use(real_graph: Graph, tables: Shortcuts) -> None:
    """The physician read's trivial vignette: rufinamide for an SCN8A encephalopathy beside chlorzoxazone,
    vinblastine and ixabepilone, the only antiepileptic. Every drug of rufinamide's mechanism acts on SCN8A (none
    is safe), but lamotrigine and clobazam share its use. With ``GenerateConfig.use_peer`` the generator seeks one
    such distractor (fewer vignette keys alone in their use than with the rule off, over the same seed; off by
    default, see docs/generate.md), and the audit counts a key none of whose options shares a use (``use_alone``)."""
    from kgsynth.run.generate import Generator

    g = real_graph
    drug = "biolink:Drug"
    rufinamide, lamotrigine, clobazam, dantrolene = (
        node(g, n, drug) for n in ("Rufinamide", "Lamotrigine", "Clobazam", "Dantrolene")
    )
    peers = tables.use_peers(rufinamide)
    assert peers is not None and {lamotrigine, clobazam} <= set(peers.tolist()) and rufinamide not in peers.tolist()
    assert tables.use_peers(dantrolene) is None  # malignant hyperthermia has one drug
    others = [node(g, n, drug) for n in ("Chlorzoxazone", "Vinblastine", "Ixabepilone")]
    scn8a = node(g, "SCN8A", "biolink:Gene")
    assert_counted(
        g,
        "use_alone",
        answer=g.ids[rufinamide],
        path=[triple(g, g.ids[rufinamide], "biolink:interacts_with", g.ids[scn8a])],
        counted=[g.ids[n] for n in others],
        spared=[g.ids[others[0]], g.ids[others[1]], g.ids[lamotrigine]],
    )

    def alone(use_peer: bool) -> tuple[int, int]:
        cfg = GenerateConfig(n=40, hops=3, types=["vignette"], seed=3, use_peer=use_peer)
        gen = Generator(g, cfg)
        items = []
        while gen.accepted < cfg.n and gen.attempt < 200 * cfg.n:
            if (item := gen.next_item()) is not None:
                items.append(item)
        rules = sum(d.rule == "use_peer" for it in items for d in it.distractors)
        return audit_items(items, graph=g)["metrics"]["use_alone"], rules

    on, off = alone(True), alone(False)
    print(f"use_alone, use_peer distractors: on {on}, off {off}")
    assert off[1] == 0 and on[1] > 0
    assert on[0] < off[0], (on, off)


def test_a_start_drug_s_symptomatic_uses_are_in_its_reach_though_the_run_leaves_them_out(real_graph: Graph) -> None:
    """A run walks disease-modifying indications only, but a reader sets aside a start drug's symptomatic uses too
    (methamphetamine for narcolepsy): the start-reach rule counts them, and the run's graph still lacks the edge."""
    from kgsynth.questions.distractors import start_reach
    from kgsynth.run.generate import Generator

    g = real_graph
    meth = node(g, "Methamphetamine", "biolink:Drug")
    narcolepsy = node(g, "narcolepsy-cataplexy syndrome", "biolink:Disease")
    obesity = node(g, "obesity disorder", "biolink:Disease")
    gen = Generator(g, GenerateConfig(n=5, hops=3))
    assert narcolepsy not in gen.index.neighbors(meth, Step("biolink:treats")).tolist()  # left out of the walks
    reach = start_reach(gen.ctx, meth).tolist()
    assert narcolepsy in reach and obesity in reach
    with_sym = Generator(g, GenerateConfig(n=5, hops=3, symptomatic_indications=True))
    assert narcolepsy in with_sym.index.neighbors(meth, Step("biolink:treats")).tolist()
    assert not with_sym.ctx.symptomatic  # nothing left out, nothing to add back
