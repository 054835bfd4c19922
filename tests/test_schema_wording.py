"""`generate --schema` with a user's schema: the teacher's evidence and the open-book facts are worded by it.

An item records the schema that wrote it (`Item.schema_name`), so the steps after generate -- the
teacher's request, the student's prompt with its facts, the dataset rows -- speak each edge with that
schema's sentences, not the default schema's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kgsynth.eval.benchmarks import read_kgsynth
from kgsynth.graph.schema import DEFAULT_SCHEMA
from kgsynth.questions.prompt import student_messages
from kgsynth.run.journal import read_run_items
from tests.chat_server import ChatServer

ROOT = Path(__file__).resolve().parents[1]
FORWARD, INVERSE = "{subject} MANIFESTS AS {object}", "{object} IS A MANIFESTATION OF {subject}"


def user_schema(folder: Path) -> Path:
    """The default schema, with `has_phenotype` spoken by the user's own sentences (a schema of one's own that
    includes a shipped one and overrides one predicate, as docs/graph.md describes)."""
    hpo = yaml.safe_load((ROOT / "graph_schemas" / "hpo.yaml").read_text())
    predicate = dict(hpo["predicates"]["biolink:has_phenotype"], forward=FORWARD, inverse=INVERSE)
    path = folder / "mine.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "title": "Mine", "include": [DEFAULT_SCHEMA],
                                    "predicates": {"biolink:has_phenotype": predicate}}))  # fmt: skip
    return path


@pytest.mark.parametrize("own", [True, False], ids=["user-schema", "default-schema"])
def test_the_schema_that_wrote_an_item_words_its_evidence_and_facts(cache_dir: Path, tmp_path: Path, own: bool) -> None:
    out = tmp_path / "run"
    schema = ["--schema", str(user_schema(tmp_path))] if own else []
    args = ["generate", "--n", "16", "--hops", "2", "--seed", "3", "--type", "chain", "--context", "facts",
            "--no-compare-uniform", "--out", str(out), *schema,
            "--teacher", "openai", "--teacher-model", "test-teacher", "--concurrency", "2"]  # fmt: skip
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache_dir), "OPENAI_API_KEY": "sk-test"}
    with ChatServer() as server:
        proc = subprocess.run([sys.executable, "-m", "kgsynth.cli", *args, "--teacher-base-url", server.base_url],
                              capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        teacher_prompts = [served.request["messages"][-1]["content"] for served in server.log]
    items = read_run_items(out)
    shown = [it for it in items if any(t.predicate == "biolink:has_phenotype" for t in it.path)]
    assert shown, "some evidence path walks has_phenotype"
    assert {it.schema_name for it in items} == ({str(tmp_path / "mine.yaml")} if own else {None})
    users, default = ("MANIFESTS AS", "IS A MANIFESTATION OF"), ("presents with", "is a feature of")
    expected, absent = (users, default) if own else (default, users)
    by_id = {it.id: it for it in items}
    for text in teacher_prompts:  # the teacher's evidence lines
        item = next(it for it in items if it.question in text)
        lines = [line for line in text.splitlines() if line.startswith("- ")]
        if any(t.predicate == "biolink:has_phenotype" for t in item.path):
            assert any(word in line for line in lines for word in expected), text
        assert not any(word in line for line in lines for word in absent), text
    facts_shown = 0
    for item in by_id.values():  # the open-book facts of the student's prompt
        prompt = student_messages(item)[0]["content"]
        facts = [line for line in prompt.splitlines() if line.startswith("- ")]  # the stem may use the phrases
        if any(t.predicate == "biolink:has_phenotype" for t in item.context):
            facts_shown += 1
            assert any(word in line for line in facts for word in expected), prompt
        assert not any(word in line for line in facts for word in absent), prompt
    assert facts_shown > 0
    # an export's rows leave the schema out; evaluation reads it back from the export's record
    export = tmp_path / "export"
    proc = subprocess.run([sys.executable, "-m", "kgsynth.cli", "export", str(out), "--out", str(export),
                           "--allow-empty-split"], capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    asked = [
        line for it in read_kgsynth(export, "train").items for m in it.messages for line in m["content"].splitlines()
    ]
    facts = [line for line in asked if line.startswith("- ")]
    assert any(word in line for line in facts for word in expected)
    assert not any(word in line for line in facts for word in absent)
