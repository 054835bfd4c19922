"""The dataset card: the true licence of the edges the items use, the configs block, counts, the figure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from kgsynth.dataset.export import export_run
from kgsynth.graph.licences import LICENCES, UNKNOWN, dataset_licence, identify
from kgsynth.graph.model import Graph
from kgsynth.loaders import available_loaders
from kgsynth.questions.question import GenerateConfig
from kgsynth.run.card import CardContext, card_data, draw_rarity_hops, write_card
from kgsynth.run.generate import generate
from kgsynth.run.journal import read_run_items

DEFAULT_KG_TEXTS = [
    "HPO licence (free to use with attribution; see hpo.jax.org/license)",
    "CC0 1.0",
    "CC BY 4.0",
    "NLM terms and conditions (free, with attribution)",
]


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def test_every_loader_licence_is_identified_or_unknown_on_purpose() -> None:
    for name, cls in available_loaders().items():
        lic = identify(cls.licence)
        if cls.licence.startswith("as the"):  # obo, kgx: the user's file states it
            assert lic is UNKNOWN, name
        else:
            assert lic is not UNKNOWN, (name, cls.licence)
            assert lic.non_commercial == (not cls.commercial_use), name
    assert identify("unknown (check the source)") is UNKNOWN
    # the Hub ids and ranks are one table: every known licence has a distinct key and a place in the order
    assert len({lic.key for lic in LICENCES}) == len(LICENCES)
    assert all(lic.rank < UNKNOWN.rank for lic in LICENCES)


def test_dataset_licence_is_the_one_licence_other_with_the_list_or_unknown() -> None:
    default = dataset_licence(DEFAULT_KG_TEXTS * 3)
    assert default.hub == "other" and default.name and default.link == "LICENSE.md"
    assert [lic.key for lic in default.licences] == ["cc0-1.0", "cc-by-4.0", "hpo-licence", "nlm-terms"]
    assert {lic.key for lic in default.most_restrictive} == {"hpo-licence", "nlm-terms"}
    assert not default.non_commercial
    assert dataset_licence(["CC BY 4.0", "CC BY 4.0"]).hub == "cc-by-4.0"
    only_hpo = dataset_licence(DEFAULT_KG_TEXTS[:1])
    assert only_hpo.hub == "other" and only_hpo.link == "https://hpo.jax.org/license"
    sider = dataset_licence([*DEFAULT_KG_TEXTS, "CC BY-NC-SA 4.0 (non-commercial)"])
    assert sider.hub == "other" and sider.non_commercial
    assert [lic.key for lic in sider.most_restrictive] == ["cc-by-nc-sa-4.0"]
    assert dataset_licence(["CC0 1.0"], non_commercial=True).non_commercial
    unknown = dataset_licence(["CC0 1.0", "unknown (check the source)"])
    assert unknown.hub == "unknown" and unknown.unknown == ("unknown (check the source)",)
    assert dataset_licence([]).hub == "unknown"


def _items_parquet_licences(directory: Path) -> set[str]:
    """Independently of kgsynth.run.card: the licence texts on the evidence paths of the exported items."""
    texts = set()
    for f in (directory / "data" / "items").glob("*.parquet"):
        for row in pq.read_table(f, columns=["path", "licences"]).to_pylist():
            texts.update(t["licence"] for t in row["path"])
            texts.update(row["licences"])
    return texts


@pytest.fixture(scope="module")
def default_export(real_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("card")
    run, out = base / "run", base / "export"
    generate(real_graph, GenerateConfig(n=60, hops=3, seed=5), run, compare_uniform=False)
    export_run(run, out)
    return run, out


@pytest.mark.slow
def test_card_of_a_default_kg_export(default_export: tuple[Path, Path]) -> None:
    import datasets

    _, out = default_export
    meta = front_matter(out / "README.md")
    texts = _items_parquet_licences(out)
    assert len(texts) >= 3  # HPO, CC0 (PharmacotherapyDB), CC BY 4.0 (DrugCentral) at least
    assert texts <= set(DEFAULT_KG_TEXTS)
    # several licences: 'other', with the list, never the old 'cc-by-4.0' claim
    assert meta["license"] == "other" and meta["license_link"] == "LICENSE.md"
    assert meta["license_details"] == "; ".join(sorted(texts))
    licence_md = (out / "LICENSE.md").read_text()
    for text in texts:
        assert identify(text).name in licence_md
    assert "non-commercial" not in meta["tags"] and "NON-COMMERCIAL" not in (out / "README.md").read_text()
    # the configs block names every file, and datasets loads each config from it
    files = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet"))
    block = {c["config_name"]: {d["split"]: d["path"] for d in c["data_files"]} for c in meta["configs"]}
    assert set(block) == {"sft", "grpo", "items"}
    assert sorted(str(p.relative_to(out).as_posix()) for c in block.values() for pat in c.values()
                  for p in out.glob(pat)) == files  # fmt: skip
    summary = json.loads((out / "export_summary.json").read_text())
    datasets.disable_progress_bars()
    for name in block:
        loaded = datasets.load_dataset(str(out), name)
        assert {s: loaded[s].num_rows for s in loaded} == summary["rows"][name]
    readme = (out / "README.md").read_text()
    # counts, figure, dedup and decontamination, and the exact configuration
    n = sum(summary["rows"]["items"].values())
    assert f"{n:,} items." in readme and "| chain/mcq/3-hop |" in readme
    assert "![" in readme and "(rarity_hops.png)" in readme and (out / "rarity_hops.png").is_file()
    for benchmark in summary["decontamination"]["benchmarks"]:
        assert f"| {benchmark} |" in readme
    assert "| path_key |" in readme
    config_block = readme.split("## Configuration", 1)[1].split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(config_block) == json.loads((out / "kgsynth_config.json").read_text())
    assert "hpo.jax.org" in readme and "| drugcentral |" in readme


@pytest.mark.slow
def test_card_is_byte_identical_and_the_figure_carries_no_metadata(
    default_export: tuple[Path, Path], tmp_path: Path
) -> None:
    run, out = default_export
    copies = []
    for name in ("a", "b"):
        shutil.copytree(out, tmp_path / name)
        (tmp_path / name / "README.md").unlink()
        (tmp_path / name / "rarity_hops.png").unlink()
        write_card(tmp_path / name, CardContext(run=run))
        copies.append(tmp_path / name)
    for f in ("README.md", "rarity_hops.png", "LICENSE.md"):
        assert (copies[0] / f).read_bytes() == (copies[1] / f).read_bytes() == (out / f).read_bytes(), f
    png = (out / "rarity_hops.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in png and b"matplotlib" not in png
    facts = card_data(out, CardContext(run=run)).facts
    assert draw_rarity_hops(facts[: len(facts) // 2]) != png  # the figure depends on the items


@pytest.mark.slow
def test_audit_and_teacher_statistics_are_rendered_when_present(
    default_export: tuple[Path, Path], tmp_path: Path
) -> None:
    run, out = default_export
    shutil.copytree(run, tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    summary["audit"] = {
        "answer_proven": {"checked": 60, "failed": 0},
        "distractor_refuted": {"checked": 180, "failed": 2},
    }
    (tmp_path / "run" / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "run" / "teacher").mkdir(exist_ok=True)
    teacher = {"summary": {"items": 60, "verified": 41, "rejected": 19, "incomplete": 0, "mean_path_faithfulness": 0.83,
                           "failure_reasons": {"wrong_answer": 19}},
               "config": {"model": "teacher-x", "backend": "openai"}}  # fmt: skip
    (tmp_path / "run" / "teacher" / "summary.json").write_text(json.dumps(teacher))
    shutil.copytree(out, tmp_path / "export")
    readme = write_card(tmp_path / "export", CardContext(run=tmp_path / "run")).read_text()
    audit = readme.split("## Audit", 1)[1].split("##", 1)[0]
    assert "| answer_proven | 60 | 0 |" in audit and "| distractor_refuted | 180 | 2 |" in audit
    teacher_part = readme.split("## Teacher and verification", 1)[1].split("\n## ", 1)[0]
    assert "teacher-x" in teacher_part and "| verified | 41 |" in teacher_part
    assert "wrong_answer: 19" in teacher_part and "| mean_path_faithfulness | 0.83 |" in teacher_part
    assert "## Audit" not in (out / "README.md").read_text()  # absent from the run: not rendered


@pytest.mark.slow
def test_a_sider_run_is_flagged_non_commercial(cache_dir: Path, tmp_path: Path) -> None:
    from kgsynth.graph.assemble import load_graph

    g = load_graph(include_non_commercial=True, cache_dir=cache_dir)
    generate(g, GenerateConfig(n=20, hops=2, seed=2), tmp_path / "run", compare_uniform=False)
    for readme in (tmp_path / "run" / "README.md", write_card(tmp_path / "run", CardContext(run=tmp_path / "run"))):
        meta = front_matter(readme)
        assert meta["license"] == "other" and "CC BY-NC-SA 4.0 (non-commercial)" in meta["license_details"]
        assert "non-commercial" in meta["tags"]
        text = readme.read_text()
        assert "**NON-COMMERCIAL.**" in text and "may not be used commercially" in text
        assert "The most restrictive: CC BY-NC-SA 4.0." in text


def write_kgx(graph: Graph, directory: Path) -> None:
    """The graph as a KGX TSV pair, each edge's source as its infores id (no licence stated)."""
    directory.mkdir(parents=True)
    with (directory / "nodes.tsv").open("w", encoding="utf-8") as fh:
        fh.write("id\tcategory\tname\tsynonym\txref\n")
        for i in range(graph.num_nodes):
            n = graph.node(i)
            fh.write("\t".join([n.id, n.category, n.name, "|".join(n.synonyms), "|".join(n.xrefs)]) + "\n")
    with (directory / "edges.tsv").open("w", encoding="utf-8") as fh:
        fh.write("subject\tpredicate\tobject\tnegated\tprimary_knowledge_source\tfrequency\tonset\n")
        for e in graph.iter_edges():
            q = e.qualifiers
            fh.write("\t".join([e.subject, e.predicate, e.object, str(e.negated).lower(), f"infores:{e.source}",
                                str(q.get("frequency", "")), str(q.get("onset", ""))]) + "\n")  # fmt: skip


@pytest.mark.slow
def test_a_kgx_graph_of_unknown_licence_is_claimed_as_nothing(
    real_graph: Graph, cache_dir: Path, tmp_path: Path
) -> None:
    from kgsynth.graph.assemble import load_graph

    write_kgx(real_graph, tmp_path / "kgx")
    g = load_graph(["kgx"], directories={"kgx": tmp_path / "kgx"}, cache_dir=cache_dir, name="kgx-med")
    generate(g, GenerateConfig(n=20, hops=2, seed=4), tmp_path / "run", compare_uniform=False)
    assert {lic for it in read_run_items(tmp_path / "run") for lic in it.licences} == {"unknown (check the source)"}
    export_run(tmp_path / "run", tmp_path / "export")
    for readme in (tmp_path / "run" / "README.md", tmp_path / "export" / "README.md"):
        meta = front_matter(readme)
        assert meta["license"] == "unknown" and "license_name" not in meta and "license_link" not in meta
        assert meta["license_details"] == "unknown (check the source)"
        text = readme.read_text()
        assert "**LICENCE UNKNOWN.**" in text and "kgsynth claims no licence" in text
        assert "creativecommons.org" not in text
    assert not (tmp_path / "export" / "LICENSE.md").exists()
