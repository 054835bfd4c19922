"""The judge against a real loopback chat-completions server, with a scripted judge that sometimes
accepts a distractor (as `tests/test_teacher_run.py` tests the teacher)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from kgsynth.models.budget import request_seed
from kgsynth.questions.item import Distractor, Item
from kgsynth.run.journal import Progress, ShardLog, read_run_items
from kgsynth.teacher.judge import JudgeConfig, judge_run, parse_accepted
from tests.chat_server import ChatServer
from tests.teacher_items import item_for_prompt, make_items

RULES = ["negative_evidence", "far_negative", "hard_negative_closed_world"]
DROP = "judge: accepted a distractor in at least 2 of 3 samples"


def with_distractors(items: list[Item]) -> list[Item]:
    """The teacher test items, each wrong option recorded as a distractor with a rule."""
    out = []
    for item in items:
        wrong = [o for o in item.options if o.letter != item.answer.letter]
        distractors = [Distractor(curie=o.curie, name=o.text, letter=o.letter, failed_constraint=1, rule=RULES[k])
                       for k, o in enumerate(wrong)]  # fmt: skip
        out.append(item.model_copy(update={"distractors": distractors}))
    return out


def write_run(folder: Path, items: list[Item]) -> Path:
    shards = ShardLog(folder / "jsonl", [])  # a run's shards and journal, as generate writes them
    shards.append(0, [it.model_dump_json() + "\n" for it in items])
    (folder / "progress.json").write_text(Progress(accepted=len(items), shards=shards.records()).model_dump_json())
    (folder / "config.json").write_text(json.dumps({"kg": {"name": "test"}}))
    (folder / "summary.json").write_text(json.dumps({"items": len(items), "drop_reasons": {"walk died": 3}}))
    return folder


def sample_index(item: Item, body: dict[str, Any]) -> int:
    return next(j for j in range(10) if request_seed(0, "judge\x00" + item.id, j) == body["seed"])


def scripted_judge(items: list[Item]) -> Any:
    """By item index mod 4: 0 accepts the key and a distractor every time; 1 the key only; 2 a distractor
    in its first sample only; 3 never gives a readable verdict."""

    def reply(body: dict[str, Any]) -> str:
        item = item_for_prompt(items, body["messages"][-1]["content"])
        index, key = int(item.id.split("-")[1]), item.answer.letter
        distractor = item.distractors[index % 3].letter
        if index % 4 == 0:
            return f"<think>{distractor} is also right.</think>\nCorrect: {key}, {distractor}"
        if index % 4 == 1 or (index % 4 == 2 and sample_index(item, body) > 0):
            return f"<think>Only one fits.</think>\nCorrect: {key}"
        if index % 4 == 2:
            return f"<think>Hmm.</think>\n**Correct:** {distractor}"
        return "I would rather not say."

    return reply


def config(server: ChatServer, **options: Any) -> JudgeConfig:
    settings: dict[str, Any] = {"model": "test-judge", "base_url": server.base_url, "k": 3, "m": 2,
                                "concurrency": 4, "timeout": 1.0, "max_retries": 4, "backoff_base": 0.001,
                                "backoff_max": 0.01}  # fmt: skip
    return JudgeConfig(**{**settings, **options})


def outputs(run: Path) -> dict[str, bytes]:
    files = [run / "summary.json", *sorted((run / "judge").glob("*.json*")), *(run / "judge" / "jsonl").iterdir()]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def test_items_whose_distractor_the_judge_accepts_are_dropped(tmp_path: Path) -> None:
    items = with_distractors(make_items(12))
    items[11] = with_distractors(make_items(12, format="short"))[11]  # no options: kept unjudged
    run = write_run(tmp_path / "run", items)
    with ChatServer(reply=scripted_judge(items)) as server:
        summary = judge_run(run, config(server))
        served = len(server.log)
    verdicts = {json.loads(line)["item_id"]: json.loads(line) for line in (run / "judge" / "verdicts.jsonl").open()}
    for item in items:
        v, index = verdicts[item.id], int(item.id.split("-")[1])
        expected = "dropped" if index % 4 == 0 else "kept"
        assert v["status"] == expected, (item.id, v)
        if index == 11:
            assert v["reason"] == "not judged: no options" and v["samples"] == []
        elif index % 4 == 0:
            # stopped as soon as the verdict was certain: two samples, each accepting the planted distractor
            assert len(v["samples"]) == 2 and v["distractors_accepted"] == {RULES[index % 3]: 2}
        elif index % 4 == 2:
            assert len(v["samples"]) == 3 and v["distractor_samples"] == 1
        elif index % 4 == 3:
            assert v["reason"] == "no readable verdict (kept)"
    assert (summary.dropped, summary.kept, summary.incomplete) == (3, 9, 0)
    assert served == summary.requests_sent == 3 * 2 + 3 * 2 + 3 * 3 + 2 * 2  # early stops: see JudgeConfig.m
    kept = [Item.model_validate_json(line) for line in (run / "judge" / "jsonl" / "items-00000.jsonl").open()]
    assert [it.id for it in kept] == [it.id for it in items if int(it.id.split("-")[1]) % 4 != 0]
    assert [it.id for it in read_run_items(run / "judge")] == [it.id for it in kept]  # journal-checked, as a run
    run_summary = json.loads((run / "summary.json").read_text())
    assert run_summary["drop_reasons"] == {DROP: 3, "walk died": 3}
    assert run_summary["judge"]["dropped"] == 3
    assert json.loads((run / "judge" / "config.json").read_text())["judge"]["m"] == 2


def test_budget_and_faults_leave_items_incomplete_and_a_rerun_finishes_byte_identical(tmp_path: Path) -> None:
    items = with_distractors(make_items(16))

    def faults(body: dict[str, Any], seen: int) -> str | None:
        digest = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16)
        return None if seen > 0 or digest % 3 == 0 else ["500", "429", "disconnect", "malformed"][digest % 4]

    fresh = write_run(tmp_path / "fresh", items)
    interrupted = write_run(tmp_path / "interrupted", items)
    with ChatServer(reply=scripted_judge(items), fault=faults) as server:
        first = judge_run(interrupted, config(server, max_requests=9))
        whole = judge_run(fresh, config(server))
        assert first.incomplete > 0 and first.requests_sent == 9
        kept_early = (interrupted / "judge" / "jsonl" / "items-00000.jsonl").read_text().count("\n")
        assert kept_early == first.kept < whole.kept
        assert sum(s.outcome != "ok" for s in server.log) > 0
        second = judge_run(interrupted, config(server))
        assert second.incomplete == 0 and second.requests_sent == whole.requests_sent - 9
        third = judge_run(interrupted, config(server))
        assert third.requests_sent == 0
    assert outputs(interrupted) == outputs(fresh)


def test_parse_accepted_reads_only_the_final_line_after_thinking() -> None:
    assert parse_accepted("<think>Correct: A, B would be wrong</think>\nCorrect: C", "ABCD") == ["C"]
    assert parse_accepted("Correct: A and (D).", "ABCD") == ["A", "D"]
    assert parse_accepted("Correct: E", "ABCD") is None  # not an option of this item
    assert parse_accepted("Correct: None of them", "ABCD") == []


def test_generate_with_a_judge_behind_a_loopback_server(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "j"

    def reply(body: dict[str, Any]) -> str:
        items = [Item.model_validate_json(line) for line in (out / "jsonl" / "items-00000.jsonl").open()]
        item = item_for_prompt(items, body["messages"][-1]["content"])
        position = [it.id for it in items].index(item.id)
        letters = [item.answer.letter, *([item.distractors[0].letter] if position % 2 == 0 else [])]
        return "<think>Checked each option.</think>\nCorrect: " + ", ".join(letters)

    args = ["generate", "--n", "20", "--hops", "2", "--seed", "5", "--no-compare-uniform", "--out", str(out),
            "--judge", "openai", "--judge-model", "test-judge", "--judge-k", "3", "--concurrency", "4"]  # fmt: skip
    env = {**os.environ, "KGSYNTH_CACHE_DIR": str(cache_dir), "OPENAI_API_KEY": "sk-test", "COLUMNS": "200"}
    with ChatServer(reply=reply) as server:
        proc = subprocess.run([sys.executable, "-m", "kgsynth.cli", *args, "--judge-base-url", server.base_url],
                              capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["drop_reasons"][DROP] == 10 and summary["judge"]["kept"] == 10
    assert "10 kept, 10 dropped, 0 incomplete" in " ".join(proc.stdout.split())
    kept = (out / "judge" / "jsonl" / "items-00000.jsonl").read_text().splitlines()
    assert len(kept) == 10
    audit = subprocess.run([sys.executable, "-m", "kgsynth.cli", "audit", str(out / "judge"), "--no-graph", "--json"],
                           capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["metrics"]["items"] == 10


def test_the_judge_and_the_teacher_share_one_failure_policy(tmp_path: Path) -> None:
    """A spent budget, spent retries and a refused request end a judge sample and a teacher sample alike
    (`kgsynth.models.budget.Asking.ask`): the same reason recorded, and the item left for the next run or not."""
    from kgsynth.teacher.run import TeacherConfig, distil

    items = with_distractors(make_items(2))
    cases = {"budget_exhausted": (None, 0), "retries_exhausted": ("500", None), "request_rejected": ("400", None)}
    for reason, (fault, max_requests) in cases.items():
        with ChatServer(fault=lambda body, seen, fault=fault: fault) as server:
            run = write_run(tmp_path / reason, items)
            judged = judge_run(run, config(server, k=1, m=1, max_requests=max_requests))
            verdicts = [json.loads(line) for line in (run / "judge" / "verdicts.jsonl").read_text().splitlines()]
            taught = distil(items, TeacherConfig(model="test-teacher", base_url=server.base_url, samples=1,
                                                 max_requests=max_requests, timeout=1.0, max_retries=1,
                                                 backoff_base=0.001, backoff_max=0.01), run)  # fmt: skip
        judge_reasons = {s["failure_reason"] for v in verdicts for s in v["samples"]}
        assert judge_reasons == {reason} and set(taught.failure_reasons) == {reason}, reason
        transient = reason != "request_rejected"
        assert judged.incomplete == (2 if transient else 0) and taught.incomplete == (2 if transient else 0), reason
