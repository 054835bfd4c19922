"""The staged learning run (`bench/bench_learning.py`, `make learn`): the rule's verdict on constructed
numbers, the paired and difference-in-differences statistics it reads, the knowledge-uptake groups, the
journal's resume (a killed run continues; a done step is skipped; a failed step stops the run and a rerun
goes on), and the whole staged run on the tiny model, resumed."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_learning", REPO / "bench" / "bench_learning.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_learning"] = module
    spec.loader.exec_module(module)
    return module


bl = load_bench()


# -- the rule, on constructed numbers -----------------------------------------------------------------


def gain(diff: float, low: float, high: float, *, trained: tuple[float, float]) -> dict[str, Any]:
    return {"diff": diff, "diff_bootstrap_ci95": [low, high], "acc_b_ci95": list(trained)}


@pytest.mark.parametrize(
    ("open_gain", "did_ci", "learned", "failed"),
    [
        (gain(0.41, 0.315, 0.495, trained=(0.68, 0.80)), (0.335, 0.535), True, False),  # the pilot's numbers
        (gain(0.05, -0.01, 0.11, trained=(0.30, 0.42)), (0.01, 0.10), False, True),  # gain's bound at -1 point
        (gain(0.20, 0.10, 0.30, trained=(0.24, 0.36)), (0.05, 0.30), False, False),  # trained bound under chance
        (gain(0.20, 0.10, 0.30, trained=(0.40, 0.55)), (-0.02, 0.25), False, False),  # closed-book rose as much
        (gain(0.08, 0.03, 0.13, trained=(0.30, 0.45)), (0.02, 0.14), True, True),  # learned, under 10 points
    ],
)
def test_verdict_applies_the_three_checks_and_the_replication_bar(
    open_gain: dict[str, Any], did_ci: tuple[float, float], learned: bool, failed: bool
) -> None:
    found = bl.verdict(open_gain, {"diff": 0.0}, {"ci95": list(did_ci)}, min_gain=bl.MIN_GAIN)
    assert found["learned"] is learned
    assert found["failed_replication"] is failed
    assert found["replicated"] is (learned and not failed)
    assert list(found["checks"]) == ["gain_lower_bound_above_0", "trained_lower_bound_above_chance",
                                     "open_minus_closed_lower_bound_above_0"]  # fmt: skip
    # Without a closed-book control the third check cannot pass: no stage is "learned" unchecked.
    unchecked = bl.verdict(open_gain, None, None)
    assert unchecked["learned"] is False and unchecked["decided"] is False
    assert found["decided"] is True
    row = {**open_gain, "n": 10, "acc_a": 0.3, "acc_a_ci95": [0.1, 0.6], "acc_b": 0.9, "wins": 6, "losses": 0,
           "mcnemar_p": 0.03}  # fmt: skip
    lines = bl.stage_lines("t", {"open": row, "direction": {}, "format": {}, "verdict": unchecked})
    assert "**Learned: not decided (no closed-book control for this pair)**" in lines[-2]
    assert "open minus closed lower bound above 0: not scored" in lines[-2]


def scored(flags: list[bool], direction: list[str] | None = None) -> dict[str, Any]:
    return {f"i{k}": bl.Scored({"hop1": ok}, {"direction": (direction or ["F"] * len(flags))[k], "format": "short"})
            for k, ok in enumerate(flags)}  # fmt: skip


def test_compare_stage_pairs_items_and_separates_a_gain_that_also_shows_closed_book() -> None:
    n = 100
    directions = ["F"] * 60 + ["I"] * 40
    base_open = scored([k % 4 == 0 for k in range(n)], directions)  # 25 right
    after_open = scored([k % 4 == 0 or k < 60 for k in range(n)], directions)  # + every F item: 25 -> 70
    base_closed = scored([k % 4 == 1 for k in range(n)], directions)
    stage = bl.compare_stage({"h1:test": base_open, "h1:test:closed": base_closed},
                             {"h1:test": after_open, "h1:test:closed": base_closed}, "h1", "hop1",
                             min_gain=bl.MIN_GAIN)  # fmt: skip
    assert stage["open"]["n"] == n and stage["open"]["acc_a"] == 0.25 and stage["open"]["acc_b"] == 0.70
    assert stage["open"]["wins"] == 45 and stage["open"]["losses"] == 0
    assert stage["closed"]["diff"] == 0.0
    assert stage["did"]["diff"] == pytest.approx(0.45)
    assert stage["verdict"]["learned"] and not stage["verdict"]["failed_replication"]
    # Per direction: every F item learned, the I items unchanged.
    assert stage["direction"]["F"]["acc_b"] == 1.0 and stage["direction"]["I"]["diff"] == 0.0
    # The same gain closed-book too is not chain following: the difference in differences is 0.
    stage = bl.compare_stage({"h1:test": base_open, "h1:test:closed": base_open},
                             {"h1:test": after_open, "h1:test:closed": after_open}, "h1", "hop1")  # fmt: skip
    assert stage["did"]["diff"] == 0.0 and stage["did"]["ci95"] == [0.0, 0.0]
    assert stage["verdict"]["learned"] is False
    assert stage["verdict"]["checks"]["gain_lower_bound_above_0"] is True


def test_contrast_of_two_groups() -> None:
    from kgsynth.eval.paired import bootstrap_mean

    found = bl.contrast([1.0] * 30 + [0.0] * 10, [0.0] * 40, bootstrap_mean)
    assert found["diff"] == 0.75 and 0.55 < found["ci95"][0] < 0.75 < found["ci95"][1] <= 0.9
    found = bl.contrast([1.0, 0.0] * 20, [1.0, 0.0] * 20, bootstrap_mean)
    assert found["diff"] == 0.0 and found["ci95"][0] < 0 < found["ci95"][1]


# -- knowledge uptake: which pool items ask about a trained fact --------------------------------------


def item(item_id: str, subject: str, obj: str, start: str) -> Any:
    from kgsynth.questions.item import Constraint, Item, Triple

    edge = Triple(subject=subject, subject_name=subject, predicate="p", object=obj, object_name=obj, source="",
                  licence="")  # fmt: skip
    begin = Constraint(description="", kind="start", candidates_after=1, args={"entity": start})
    return Item.model_construct(id=item_id, path=[edge], constraints=[begin])


def test_uptake_groups_sort_pool_items_by_the_trained_fact_and_its_direction() -> None:
    trained = [item("t1", "G1", "D1", "G1"), item("t2", "G2", "D2", "D2")]
    train = [*trained, item("t3", "G3", "D3", "G3")]  # in the train split, not among the rows trained on
    pool = [
        item("p1", "G1", "D1", "G1"),  # trained fact, walked the same way (G1 -> D1)
        item("p2", "G1", "D1", "D1"),  # trained fact, walked the other way
        item("p3", "G2", "D2", "G2"),  # t2 walked D2 -> G2; this one G2 -> D2
        item("p4", "G3", "D3", "D3"),  # a train fact never trained on: in no group
        item("p5", "G4", "D4", "G4"),  # a fact no train item holds
    ]
    assert bl.uptake_groups(trained, train, pool) == {
        "trained_same": ["p1"], "trained_reverse": ["p2", "p3"], "new": ["p5"],
    }  # fmt: skip


# -- the journal: skip, stop, continue --------------------------------------------------------------


def shell(text: str) -> list[str]:
    return ["bash", "-c", text]


def test_runner_skips_done_steps_and_a_failed_step_stops_the_lane(tmp_path: Path) -> None:
    out = tmp_path / "run"
    tally = tmp_path / "tally"
    steps = [bl.Step("one", [shell(f"echo one >> {tally}")]), bl.Step("two", [shell("exit 3")]),
             bl.Step("three", [shell(f"echo three >> {tally}")])]  # fmt: skip
    other = [bl.Step("waits", [shell(f"echo waits >> {tally}")], after=("two",))]
    with pytest.raises(SystemExit, match="failed: two"):
        bl.Runner(out).run_lanes([steps, other])
    assert tally.read_text().split() == ["one"]
    assert sorted(p.stem for p in (out / "done").glob("*.json")) == ["one"]
    assert "exit 3" in (out / "logs" / "two.log").read_text()
    steps[1] = bl.Step("two", [shell(f"echo two >> {tally}")])
    bl.Runner(out).run_lanes([steps, other])
    assert sorted(tally.read_text().split()) == ["one", "three", "two", "waits"]  # "one" not again
    assert json.loads((out / "done" / "two.json").read_text())["seconds"] >= 0


KILLABLE = """
import sys
from pathlib import Path
sys.path.insert(0, {bench!r})
import bench_learning as bl
out, tally = Path({out!r}), Path({tally!r})
step = lambda name, text: bl.Step(name, [["bash", "-c", text]])
runner = bl.Runner(out)
bl.stop_on_signals(runner)
runner.run_lanes([[step("first", f"echo first >> {{tally}}"),
                   step("slow", f"echo $$ > {{out}}/slow.pid; sleep {{sys.argv[1]}}; echo slow >> {{tally}}"),
                   step("last", f"echo last >> {{tally}}")]])
"""


def test_a_killed_run_stops_its_step_and_a_rerun_continues_there(tmp_path: Path) -> None:
    out, tally = tmp_path / "run", tmp_path / "tally"
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE.format(bench=str(REPO / "bench"), out=str(out), tally=str(tally)))
    process = subprocess.Popen([sys.executable, str(script), "60"])
    pid_file = out / "slow.pid"
    deadline = time.monotonic() + 60
    while not pid_file.is_file() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    slow = int(pid_file.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):  # the step's own process died with the run
        os.kill(slow, 0)
    assert tally.read_text().split() == ["first"]
    assert sorted(p.stem for p in (out / "done").glob("*.json")) == ["first"]
    subprocess.run([sys.executable, str(script), "0"], check=True, timeout=60)
    assert tally.read_text().split() == ["first", "slow", "last"]  # first not run again


# -- sizes and commands ------------------------------------------------------------------------------


def test_gpu_sizes_scale_the_cpu_run_and_its_commands_ask_for_bf16(tmp_path: Path) -> None:
    cpu, gpu = bl.Sizes(), bl.GPU
    assert gpu.gpu and not cpu.gpu
    for key in ("a_steps", "b_steps", "c_steps"):
        assert 10 <= getattr(gpu, key) / getattr(cpu, key) <= 20, key
    for key in ("h1_eval", "h2_eval", "uptake_per_group"):
        assert getattr(gpu, key) >= 5 * getattr(cpu, key), key
    _, (training, evaluation) = bl.plan(tmp_path, gpu, bl.BASE_MODEL)
    train_a = training[0].commands[0]
    assert "max_steps=1000" in train_a and "max_train_samples=8000" in train_a
    assert {"bf16=true", "use_cpu=false", "dtype=bfloat16"} <= set(train_a)
    grpo = next(s for s in training if s.name == "train-C").commands[0]
    assert ("use_vllm=true" in grpo) is bl.vllm_installed()
    scoring = next(s for s in evaluation if s.name == "eval-h1-A").commands[0]
    assert scoring[scoring.index("--limit") + 1] == "2000"
    assert ("vllm" in scoring) is bl.vllm_installed()
    _, (cpu_training, _) = bl.plan(tmp_path, cpu, bl.BASE_MODEL)
    assert "bf16=true" not in cpu_training[0].commands[0]
    assert "max_train_samples=480" in cpu_training[0].commands[0]


def test_every_recipe_override_the_run_sends_is_a_recipe_key(tmp_path: Path) -> None:
    pytest.importorskip("kgsynth_trainers", reason="needs the trainers package")
    pytest.importorskip("trl", reason="needs the train extra")
    from kgsynth_trainers.grpo import read_grpo_recipe
    from kgsynth_trainers.sft import read_sft_recipe

    for sizes in (bl.Sizes(), bl.GPU):
        _, (training, _) = bl.plan(tmp_path, sizes, bl.BASE_MODEL)
        for step in [s for s in training if s.name.startswith("train-")]:
            command = step.commands[0]
            recipe = Path(command[command.index("--config") + 1])
            keys = [a for a in command[command.index("--config") + 2 :] if "=" in a]
            keys = [k for k in keys if not k.startswith(("use_vllm", "vllm_mode"))]  # need vLLM to validate
            read = read_sft_recipe if recipe.stem.startswith("sft") else read_grpo_recipe
            if sizes.gpu:
                keys = [k for k in keys if k not in ("bf16=true", "use_cpu=false")]  # TRL refuses bf16 on a CPU
            parsed = read(recipe, keys)
            assert parsed.trl.max_steps == {"A": sizes.a_steps, "B": sizes.b_steps, "C": sizes.c_steps}[step.name[-1]]


# -- the whole staged run on the tiny model, resumed -----------------------------------------------------


@pytest.mark.slow
def test_the_staged_run_on_the_tiny_model_resumes_only_what_is_not_done(tmp_path: Path) -> None:
    pytest.importorskip("kgsynth_trainers", reason="needs the trainers package")
    pytest.importorskip("peft", reason="needs the train extra")
    from kgsynth_trainers.testing import save_tiny_llama

    tiny = save_tiny_llama(tmp_path / "tiny", models=REPO / ".models")
    sizes = bl.Sizes(
        h1_items=100, h1_test_size=0.3, a_steps=2, batch=2, h1_eval=6, h2_items=80, h2_test_size=0.3, b_steps=1,
        h2_eval=4, c_steps=1, generations=2, completion_tokens=4, pool_items=100, uptake_per_group=4, eval_batch=4,
    )  # fmt: skip
    out = tmp_path / "learn"
    bl.run(out, sizes, base=tiny)
    done = {p.stem: p.stat().st_mtime_ns for p in (out / "done").glob("*.json")}
    first, (training, evaluation) = bl.plan(out, sizes, tiny)
    assert set(done) == {s.name for s in [first, *training, *evaluation]}
    record = json.loads((out / "learning.json").read_text())
    stage_a = record["stages"]["A"]
    assert stage_a["open"]["n"] == stage_a["closed"]["n"] == 6  # the same items open- and closed-book
    assert set(stage_a["verdict"]["checks"]) and "failed_replication" in stage_a["verdict"]
    assert {"B_vs_base_h2_hop2", "C_vs_B_h2_chain", "A_vs_base_h2_hop1"} <= set(record["stages"])
    assert record["uptake"]["sets"]["new"] > 0
    sets = json.loads((out / "uptake" / "sets.json").read_text())
    assert sets["trained_rows"] == sizes.a_steps * sizes.batch
    assert "Stage A" in (out / "learning.md").read_text()
    # Forget stage C: a rerun trains and scores only it, and keeps every other step's journal.
    for name in ("train-C", "eval-h2-C"):
        (out / "done" / f"{name}.json").unlink()
    bl.run(out, sizes, base=tiny)
    again = {p.stem: p.stat().st_mtime_ns for p in (out / "done").glob("*.json")}
    assert {k for k in again if again[k] != done.get(k)} == {"train-C", "eval-h2-C"}
    assert (out / "logs" / "train-C.log").read_text().count("$ ") == 2
    assert (out / "logs" / "train-A.log").read_text().count("$ ") == 1
