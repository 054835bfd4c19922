from __future__ import annotations

from pathlib import Path

import pytest

from kgsynth.errors import KgsynthError, UnknownNameError
from kgsynth.graph.model import Graph
from kgsynth.graph.schema import PHENOTYPE_ROOT, GraphSchema, available_schemas, load_schema, schemas_dir
from kgsynth.loaders import available_loaders


@pytest.mark.parametrize("name", available_schemas())
def test_every_schema_file_loads(name: str) -> None:
    schema = load_schema(name)
    assert isinstance(schema, GraphSchema) and schema.name == name
    schema.check_metapaths()
    for spec in schema.predicates.values():
        assert spec.forward.format(subject="A", object="B") != spec.inverse.format(subject="A", object="B")


def test_every_bundled_source_has_a_schema() -> None:
    names = set(available_schemas())
    for name, cls in available_loaders().items():
        if cls.in_default or cls.opt_in:
            assert name in names, name
    med = load_schema("med")
    assert len(med.metapaths) >= 5 and any(len(m.steps) == 3 for m in med.metapaths)
    assert any(s.askable for s in med.predicates.values())


def test_the_phenotype_root_is_a_schema_fact_that_the_included_schemas_pass_up(tmp_path: Path) -> None:
    from kgsynth.questions.verify import PHENOTYPIC_ABNORMALITY

    assert load_schema("hpo").roots == {PHENOTYPE_ROOT: "HP:0000118"}
    assert load_schema("med").roots[PHENOTYPE_ROOT] == "HP:0000118" == PHENOTYPIC_ABNORMALITY  # through `include`
    own = tmp_path / "own.yaml"  # a user's schema including hpo and overriding the root
    own.write_text("name: own\ntitle: t\ninclude: [hpo]\nroots: {phenotypic_abnormality: 'X:1'}\n")
    assert load_schema(str(own)).roots == {PHENOTYPE_ROOT: "X:1"}


def test_the_phenotype_root_is_phenotypic_abnormality_in_the_built_graph(real_graph: Graph) -> None:
    root = load_schema("med").roots[PHENOTYPE_ROOT]
    assert real_graph.names[real_graph.index[root]] == "Phenotypic abnormality"


def test_invalid_schema_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kgsynth.graph.schema as mod

    (tmp_path / "bad.yaml").write_text(
        "name: bad\ntitle: t\ncategories: {biolink:Disease: {noun: d, plural: ds}}\n"
        "predicates:\n  biolink:x: {subject: biolink:Disease, object: biolink:Disease, forward: '{subject}', "
        "inverse: '{object} {subject}'}\n"
    )
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    monkeypatch.setattr(mod, "schemas_dir", lambda: tmp_path)
    mod.load_schema.cache_clear()
    try:
        with pytest.raises(KgsynthError, match=r"bad.yaml: not a valid graph schema"):
            mod.load_schema("bad")
        with pytest.raises(KgsynthError, match=r"broken.yaml:\d+: not valid YAML"):
            mod.load_schema("broken")
        with pytest.raises(UnknownNameError, match="unknown graph schema 'nope'"):
            mod.load_schema("nope")
    finally:
        mod.load_schema.cache_clear()


def test_schemas_ship_in_the_wheel(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    root = schemas_dir().parent
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("kgsynth-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in available_schemas():
        assert f"kgsynth/graph_schemas/{schema}.yaml" in names
    assert any(n.startswith("kgsynth/prompts/") for n in names)
