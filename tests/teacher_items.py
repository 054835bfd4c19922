"""Realistic items for the teacher tests: 2-hop chains with a path and four options, as `generate` makes."""

from __future__ import annotations

from kgsynth.questions.item import Answer, Constraint, Item, Option, Triple

# (gene, gene name, disease, disease name, phenotype, phenotype name, distractors)
CHAINS = [
    (
        "NCBIGene:2200",
        "FBN1",
        "OMIM:154700",
        "Marfan syndrome",
        "HP:0002616",
        "Aortic root aneurysm",
        ["Hypoglycemia", "Cataract", "Anosmia"],
    ),
    (
        "NCBIGene:1080",
        "CFTR",
        "OMIM:219700",
        "Cystic fibrosis",
        "HP:0006528",
        "Chronic lung disease",
        ["Aortic root aneurysm", "Ptosis", "Macrocephaly"],
    ),
    (
        "NCBIGene:3043",
        "HBB",
        "OMIM:603903",
        "Sickle cell anemia",
        "HP:0001923",
        "Reticulocytosis",
        ["Hearing impairment", "Ectopia lentis", "Polydactyly"],
    ),
    (
        "NCBIGene:4000",
        "LMNA",
        "OMIM:176670",
        "Hutchinson-Gilford progeria syndrome",
        "HP:0000518",
        "Cataract",
        ["Steatorrhea", "Hypoglycemia", "Arachnodactyly"],
    ),
    (
        "NCBIGene:7157",
        "TP53",
        "OMIM:151623",
        "Li-Fraumeni syndrome",
        "HP:0002859",
        "Rhabdomyosarcoma",
        ["Ectopia lentis", "Anosmia", "Cataract"],
    ),
    (
        "NCBIGene:5727",
        "PTCH1",
        "OMIM:109400",
        "Basal cell nevus syndrome",
        "HP:0002671",
        "Basal cell carcinoma",
        ["Ptosis", "Reticulocytosis", "Steatorrhea"],
    ),
]
LETTERS = "ABCD"


def make_item(index: int, *, format: str = "mcq") -> Item:
    """Item `index`: 'which phenotype does the disease caused by <gene> show?', answer at a varying letter."""
    gene, gene_name, disease, disease_name, phenotype, phenotype_name, wrong = CHAINS[index % len(CHAINS)]
    answer_at = index % 4
    texts = list(wrong)
    texts.insert(answer_at, phenotype_name)
    options = [
        Option(letter=LETTERS[i], curie=phenotype if i == answer_at else f"HP:99{index:03d}{i}", text=text)
        for i, text in enumerate(texts)
    ]
    source, licence = "hpo", "HPO licence"
    return Item(
        id=f"chain-{index:04d}",
        question=(
            f"A {18 + index}-year-old patient carries a pathogenic variant in {gene_name}. "
            "Which of the following phenotypes is characteristic of the disease this gene causes?"
        ),
        options=options if format == "mcq" else [],
        answer=Answer(
            letter=LETTERS[answer_at] if format == "mcq" else None,
            curie=phenotype,
            name=phenotype_name,
            aliases=[phenotype_name.lower()],
        ),
        type="chain",
        format=format,  # type: ignore[arg-type]
        hops=2,
        path=[
            Triple(
                subject=gene,
                subject_name=gene_name,
                predicate="biolink:gene_associated_with_condition",
                object=disease,
                object_name=disease_name,
                source=source,
                licence=licence,
            ),
            Triple(
                subject=disease,
                subject_name=disease_name,
                predicate="biolink:has_phenotype",
                object=phenotype,
                object_name=phenotype_name,
                source=source,
                licence=licence,
            ),
        ],
        constraints=[
            Constraint(description=f"caused by {gene_name}", kind="chain_step", candidates_after=1),
            Constraint(description=f"phenotype of {disease_name}", kind="chain_step", candidates_after=1),
        ],
        rarity=0.5,
        template_id="gene_disease_phenotype",
        kg_version="test",
        seed=index,
        rationale=f"{gene_name} causes {disease_name}, which has {phenotype_name}.",
        licences=[licence],
        entity_aliases={
            gene: [gene_name],
            disease: [disease_name, disease_name.split()[0] + " disease"],
            phenotype: [phenotype_name],
        },
    )


def make_items(count: int, *, format: str = "mcq") -> list[Item]:
    return [make_item(index, format=format) for index in range(count)]


def item_for_prompt(items: list[Item], prompt: str) -> Item:
    """The item a rendered prompt was made from (the tests' fake teacher needs to know)."""
    for item in items:
        if item.question in prompt:
            return item
    raise LookupError("no item matches this prompt")


def good_chain(item: Item) -> str:
    first, second = item.path
    return (
        f"<think>{first.subject_name} variants cause {first.object_name}. "
        f"{second.subject_name} characteristically shows {second.object_name}.</think>\n"
        f"Answer: {item.answer.letter or item.answer.name}"
    )


def wrong_chain(item: Item) -> str:
    wrong = next(option for option in item.options if option.letter != item.answer.letter)
    return f"<think>Perhaps it is {wrong.text}.</think>\nAnswer: {wrong.letter}"
