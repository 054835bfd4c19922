"""The learning run, staged: does training on kgsynth's items change what SmolLM2-135M-Instruct can do?

    python bench/bench_learning.py [--out out/learn] [--quick | --gpu]      # make learn / make learn-gpu

The rule that says "learned" is written in docs/learning.md before the run; `verdict` applies it. Every
step is a kgsynth command, the same a user runs, except the knowledge-uptake selection (a few lines here):

- **Stage A** (the claim): open-book 1-hop chain items (`kgsynth generate --context facts --hops 1`), exported
  `--split-by path --sft-chain path` (entity-disjoint test); LoRA SFT (`kgsynth train sft`, recipe
  `trainers/recipes/smollm2-135m/learn/sft_hop1.yaml`); the hop score (`kgsynth eval --scoring loglik`)
  of the base and trained models on the same test items, open-book and closed-book (the control).
- **Stage B**: open-book 2-hop short-answer items (facts in walk order, the default), SFT from stage A's
  model (`sft_hop2.yaml`); hop1, hop2 and chain scores of the base, stage A (zero-shot) and stage B.
- **Stage C**: GRPO from stage B on the same short-answer items (`grpo_hop2.yaml`), scored the same way.
- **Uptake**: stage A trains on exactly `steps x batch` rows, each once, so its trained facts are known.
  A second draw of 1-hop items (another seed: other templates, distractors, formats) is sorted into
  questions about a trained fact walked the same way, the same fact walked the other way, and facts no
  stage-A train item holds; the base and stage-A models answer them closed-book (the facts removed).

Two lanes run side by side, one process each with one torch thread (on 2 cores one thread per process
beats two threads fighting for a core): training (A, B, C, then C's evaluation) and evaluation (the base
model while A trains, then each stage as soon as it is trained). Each finished step leaves
`done/<step>.json` (its seconds): a killed run (SIGTERM/SIGINT stops the running step's processes too)
resumes where it stopped, training from its last checkpoint and evaluation from its cache.
The results go to `OUT/learning.md` and `OUT/learning.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "trainers" / "recipes" / "smollm2-135m" / "learn"
BASE_MODEL = ROOT / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
CHANCE = 0.25  # every hop-score query has 4 candidates (the gold chain and one decoy per distractor)
MIN_GAIN = 0.10  # a stage-A gain under 10 points is a failed replication of the pilot (+41 points at 60 steps)
UPTAKE_GROUPS = ("trained_same", "trained_reverse", "new")

logger = logging.getLogger("bench_learning")


@dataclass(frozen=True)
class Sizes:
    """How big each part of the run is. The default: 2 CPU cores, about 90 minutes."""

    h1_items: int = 3000
    h1_test_size: float = 0.15
    a_steps: int = 60
    batch: int = 8
    h1_eval: int = 200
    h2_items: int = 1500
    h2_test_size: float = 0.3
    b_steps: int = 60
    h2_eval: int = 150
    c_steps: int = 10
    generations: int = 8
    completion_tokens: int = 40
    pool_items: int = 3000
    uptake_per_group: int = 120
    eval_batch: int = 16
    gpu: bool = False  # bf16 on the GPU; vLLM for GRPO rollouts and evaluation where vLLM is installed
    train_overrides: tuple[str, ...] = field(default=())  # extra `key=value` for every recipe (tests)


QUICK = Sizes(
    h1_items=150, h1_test_size=0.3, a_steps=2, batch=4, h1_eval=12, h2_items=120, h2_test_size=0.3, b_steps=1,
    h2_eval=8, c_steps=1, generations=2, completion_tokens=8, pool_items=150, uptake_per_group=6, eval_batch=4,
)  # fmt: skip

# One H100 for about 10 minutes (an estimate: not yet run): steps 10-17x (stage B's 600 x 8 rows go over its
# ~4,000 train rows about 1.2 times), scored items 5-10x; generated items 4x, bounded by `kgsynth generate`'s
# single-process speed (about 70 1-hop items per CPU-second: 12,000 items is about 3 minutes before SFT starts).
# Scoring runs on the GPU only through vLLM: `kgsynth eval`'s transformers backend runs on the CPU.
GPU = Sizes(
    h1_items=12000, h1_test_size=0.15, a_steps=1000, batch=8, h1_eval=2000, h2_items=6000, h2_test_size=0.3,
    b_steps=600, h2_eval=1500, c_steps=100, generations=8, completion_tokens=48, pool_items=12000,
    uptake_per_group=1000, eval_batch=64, gpu=True,
)  # fmt: skip


def kgsynth(*args: str) -> list[str]:
    return [sys.executable, "-m", "kgsynth", *args]


def bench(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


@dataclass(frozen=True)
class Step:
    """One step: commands run one after another, once every step in `after` is done."""

    name: str
    commands: list[list[str]]
    after: tuple[str, ...] = ()


class Runner:
    """Runs lanes of steps side by side (one process per lane, one torch thread each), skipping the steps
    already done, and records their seconds in `done/<step>.json` (the journal a rerun resumes from)."""

    def __init__(self, out: Path, *, threads: int = 1) -> None:
        self.out = out
        self.done = out / "done"
        self.logs = out / "logs"
        self.done.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        one = str(threads)
        self.env = {**os.environ, "OMP_NUM_THREADS": one, "MKL_NUM_THREADS": one, "TOKENIZERS_PARALLELISM": "false"}
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), str(ROOT / "trainers"), os.environ.get("PYTHONPATH", "")) if p
        )
        self.failed: list[str] = []
        self.stopping = False
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def is_done(self, name: str) -> bool:
        return (self.done / f"{name}.json").is_file()

    def run_step(self, step: Step) -> bool:
        """Run `step` (after its dependencies); False if it or one of them failed, or the run is stopping."""
        while not all(self.is_done(name) for name in step.after):
            if self.failed or self.stopping:
                return False
            time.sleep(1)
        if self.is_done(step.name):
            logger.info("%s: done before", step.name)
            return True
        if self.stopping:
            return False
        script = " && ".join(" ".join(shlex.quote(a) for a in command) for command in step.commands)
        logger.info("%s: start", step.name)
        start = time.perf_counter()
        with (self.logs / f"{step.name}.log").open("ab") as log:
            log.write(f"$ {script}\n".encode())
            log.flush()
            # Its own process group, so that stopping the run stops every process the step started.
            process = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=self.env, stdout=log, stderr=log,
                                       start_new_session=True)  # fmt: skip
            with self._lock:
                self._running[step.name] = process
            code = process.wait()
            with self._lock:
                self._running.pop(step.name, None)
        seconds = round(time.perf_counter() - start, 1)
        if code and self.stopping:
            logger.warning("%s stopped after %.0f s", step.name, seconds)
            return False
        if code:
            self.failed.append(step.name)
            logger.error("%s failed (exit %d, %.0f s): see %s", step.name, code, seconds,
                         self.logs / f"{step.name}.log")  # fmt: skip
            return False
        (self.done / f"{step.name}.json").write_text(json.dumps({"seconds": seconds}) + "\n")
        logger.info("%s: %.0f s", step.name, seconds)
        return True

    def stop(self) -> None:
        """Stop the running steps' process groups; no new step starts (their journals stay unwritten)."""
        self.stopping = True
        with self._lock:
            running = list(self._running.values())
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)

    def run_lanes(self, lanes: list[list[Step]]) -> None:
        """Each lane's steps in order, the lanes side by side; stop the run if a step fails."""

        def lane(steps: list[Step]) -> None:
            for step in steps:
                if not self.run_step(step):
                    return

        threads = [threading.Thread(target=lane, args=(steps,)) for steps in lanes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.failed:
            raise SystemExit(f"failed: {', '.join(self.failed)}")
        if self.stopping:
            raise SystemExit("stopped: rerun the same command to continue")


def stop_on_signals(runner: Runner) -> None:
    """SIGTERM and SIGINT stop `runner`'s running steps (their process groups) and start no new one."""

    def stop(signum: int, frame: FrameType | None) -> None:
        logger.warning("signal %d: stopping the running steps; rerun to continue", signum)
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


# -- the steps ------------------------------------------------------------------------------------

TRAIN_DIRS = {"A": "sft_hop1", "B": "sft_hop2", "C": "grpo_hop2"}
RECIPE_OF = {"A": "sft_hop1", "B": "sft_hop2", "C": "grpo_hop2"}


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def model_path(out: Path, stage: str, base: Path) -> Path:
    return base if stage == "base" else out / "train" / TRAIN_DIRS[stage] / "merged"


def train_command(stage: str, out: Path, sizes: Sizes, base: Path) -> list[str]:
    """`kgsynth train` of `stage` from its shipped recipe, sized by `sizes`."""
    steps = {"A": sizes.a_steps, "B": sizes.b_steps, "C": sizes.c_steps}[stage]
    data = out / ("h1" if stage == "A" else "h2")
    keys = [f"dataset={data}", f"output_dir={out / 'train' / TRAIN_DIRS[stage]}", f"max_steps={steps}",
            f"save_steps={max(1, steps // 5)}"]  # fmt: skip
    if base != BASE_MODEL:
        keys += [
            f"model={base if base.is_dir() else base.parent}",
            f"gguf_file={'null' if base.is_dir() else base.name}",
        ]
    if stage in ("A", "B"):
        keys += [f"per_device_train_batch_size={sizes.batch}", f"max_train_samples={steps * sizes.batch}"]
        if stage == "B":
            keys.append(f"init_from={out / 'train' / TRAIN_DIRS['A']}")
    else:
        keys += [f"init_from={out / 'train' / TRAIN_DIRS['B']}", f"num_generations={sizes.generations}",
                 f"per_device_train_batch_size={sizes.generations}",
                 f"max_completion_length={sizes.completion_tokens}"]  # fmt: skip
    if sizes.gpu:
        keys += ["use_cpu=false", "bf16=true", "torch_threads=null", "dtype=bfloat16"]
        if stage == "C" and vllm_installed():
            keys += ["use_vllm=true", "vllm_mode=colocate"]
    keys += list(sizes.train_overrides)
    trainer = "sft" if stage in ("A", "B") else "grpo"
    return kgsynth("train", trainer, "--config", str(RECIPES / f"{RECIPE_OF[stage]}.yaml"), *keys)


def eval_args(sizes: Sizes) -> list[str]:
    backend = ["--backend", "vllm"] if sizes.gpu and vllm_installed() else ["--threads", "0" if sizes.gpu else "1"]
    return ["--scoring", "loglik", "--batch-size", str(sizes.eval_batch), *backend]


BOOKS = {"open": (":test",), "closed": (":test:closed",), "both": (":test", ":test:closed")}


def eval_step(out: Path, stage: str, data: str, sizes: Sizes, base: Path, *, books: str = "both") -> Step:
    """The hop score of `stage` on the `data` export's test items, open-book, closed-book or both. The
    closed-book half alone goes to a folder of its own (`h1-A~closed`), so that the two halves can run in the
    two lanes at once; the report reads the folders of one stage and set together."""
    limit = sizes.h1_eval if data == "h1" else sizes.h2_eval
    sets = [a for suffix in BOOKS[books] for a in ("--benchmark", f"{out / data}{suffix}")]
    folder = f"{data}-{stage}" + ("~closed" if books == "closed" else "")
    command = kgsynth("eval", "--model", str(model_path(out, stage, base)), *sets, "--limit", str(limit),
                      *eval_args(sizes), "--out", str(out / "eval" / folder))  # fmt: skip
    after = ("data-h1",) if data == "h1" else ("data-h2",)
    return Step(f"eval-{folder}", [command], after=after + (() if stage == "base" else (f"train-{stage}",)))


def uptake_eval_step(out: Path, stage: str, sizes: Sizes, base: Path) -> Step:
    command = bench("--out", str(out), "--uptake-eval", str(model_path(out, stage, base)), "--uptake-label", stage)
    return Step(
        f"eval-uptake-{stage}", [command], after=("uptake-sets",) + (() if stage == "base" else (f"train-{stage}",))
    )


def data_step(name: str, out: Path, *, hops: int, formats: Sequence[str], n: int, seed: int,
              test_size: float | None) -> Step:  # fmt: skip
    run = out / "runs" / name
    commands = [kgsynth("generate", "--context", "facts", "--hops", str(hops), "--type", "chain",
                        *[a for f in formats for a in ("--format", f)], "--n", str(n), "--seed", str(seed),
                        "--out", str(run))]  # fmt: skip
    if test_size is not None:
        commands.append(kgsynth("export", str(run), "--out", str(out / name), "--split-by", "path", "--sft-chain",
                                "path", "--test-size", str(test_size), "--validation-size", "0.02"))  # fmt: skip
    return Step(f"data-{name}", commands)


def plan(out: Path, sizes: Sizes, base: Path) -> tuple[Step, list[list[Step]]]:
    """The first step (stage A's data), then the training lane and the evaluation lane."""
    first = data_step("h1", out, hops=1, formats=("mcq", "short"), n=sizes.h1_items, seed=21,
                      test_size=sizes.h1_test_size)  # fmt: skip
    h2 = data_step("h2", out, hops=2, formats=("short",), n=sizes.h2_items, seed=22, test_size=sizes.h2_test_size)
    pool = data_step("pool", out, hops=1, formats=("mcq", "short"), n=sizes.pool_items, seed=23, test_size=None)
    select = Step("uptake-sets", [bench("--out", str(out), "--uptake-sets")], after=("data-h1", "data-pool"))
    training = [
        Step("train-A", [train_command("A", out, sizes, base)], after=("data-h1",)),
        eval_step(out, "A", "h1", sizes, base, books="closed"),
        Step("train-B", [train_command("B", out, sizes, base)], after=("train-A", "data-h2")),
        Step("train-C", [train_command("C", out, sizes, base)], after=("train-B",)),
        eval_step(out, "C", "h2", sizes, base),
    ]
    evaluation = [
        h2,
        pool,
        eval_step(out, "base", "h1", sizes, base),
        select,
        uptake_eval_step(out, "base", sizes, base),
        # Stage A's verdict first once A is trained: the 2-hop base scoring is split around it.
        eval_step(out, "base", "h2", sizes, base, books="open"),
        eval_step(out, "A", "h1", sizes, base, books="open"),
        uptake_eval_step(out, "A", sizes, base),
        eval_step(out, "base", "h2", sizes, base, books="closed"),
        eval_step(out, "A", "h2", sizes, base, books="open"),
        eval_step(out, "B", "h2", sizes, base),
    ]
    return first, [training, evaluation]


def read_sizes(out: Path) -> Sizes:
    """The sizes a run in `out` was started with (`sizes.json`)."""
    data = json.loads((out / "sizes.json").read_text())
    return Sizes(**{**data, "train_overrides": tuple(data.get("train_overrides", ()))})


def run(out: Path, sizes: Sizes, *, base: Path = BASE_MODEL, runner: Runner | None = None) -> None:
    """Every step of the learning run into `out`, resuming from its journal; then the report."""
    runner = runner or Runner(out, threads=0 if sizes.gpu else 1)
    (out / "sizes.json").write_text(json.dumps(asdict(sizes), indent=2) + "\n")
    first, lanes = plan(out, sizes, base)
    runner.run_lanes([[first]])
    runner.run_lanes(lanes)
    write_report(out, sizes)


# -- knowledge uptake -----------------------------------------------------------------------------


def fact_of(item: Any) -> tuple[str, str, str]:
    """A 1-hop item's fact: its path edge (subject, predicate, object) as stored, whichever way it is asked."""
    t = item.path[0]
    return (t.subject, t.predicate, t.object)


def trained_rows(out: Path, sizes: Sizes) -> list[str]:
    """The item ids of the stage-A SFT rows the run trains on: the first `a_steps x batch` train rows
    (`max_train_samples`), each seen once."""
    import pyarrow.parquet as pq

    from kgsynth.run.layout import data_file

    rows = pq.read_table(out / "h1" / data_file("sft", "train"), columns=["item_id"]).to_pylist()
    return [r["item_id"] for r in rows[: sizes.a_steps * sizes.batch]]


def uptake_groups(trained: Sequence[Any], train: Sequence[Any], pool: Sequence[Any]) -> dict[str, list[str]]:
    """The pool's items (ids) sorted by what stage A trained on: a trained fact walked the same way
    (`trained_same`), a trained fact walked the other way (`trained_reverse`), and a fact no train item
    holds (`new`); pool items about a train fact not trained on are left out.

    """
    from kgsynth.questions.walk import direction_pattern

    seen = {fact_of(i): direction_pattern(i) for i in trained}
    held = {fact_of(i) for i in train}
    groups: dict[str, list[str]] = {g: [] for g in UPTAKE_GROUPS}
    for item in pool:
        fact = fact_of(item)
        if fact in seen:
            groups["trained_same" if direction_pattern(item) == seen[fact] else "trained_reverse"].append(item.id)
        elif fact not in held:
            groups["new"].append(item.id)
    return groups


def select_uptake(out: Path, sizes: Sizes) -> dict[str, Any]:
    """Write `uptake/sets.json`: each group's pool items, at most `uptake_per_group` each (the first in run order)."""
    import pyarrow.parquet as pq

    from kgsynth.dataset.rows import item_from_row
    from kgsynth.run.journal import read_run_items
    from kgsynth.run.layout import data_file

    train = [item_from_row(r) for r in pq.read_table(out / "h1" / data_file("items", "train")).to_pylist()]
    by_id = {i.id: i for i in train}
    trained = [by_id[i] for i in trained_rows(out, sizes)]
    groups = uptake_groups(trained, train, read_run_items(out / "runs" / "pool"))
    record = {"found": {g: len(ids) for g, ids in groups.items()},
              "sets": {g: ids[: sizes.uptake_per_group] for g, ids in groups.items()},
              "trained_rows": len(trained)}  # fmt: skip
    (out / "uptake").mkdir(parents=True, exist_ok=True)
    (out / "uptake" / "sets.json").write_text(json.dumps(record, indent=2) + "\n")
    logger.info("uptake sets: %s", record["found"])
    return record


def evaluate_uptake(out: Path, sizes: Sizes, model: Path, label: str) -> None:
    """The hop score of `model` on the uptake sets, closed-book, into `eval/uptake-<label>` (kgsynth's evaluator)."""
    from kgsynth.eval.backends import load_backend
    from kgsynth.eval.benchmarks import EvalSet, eval_item
    from kgsynth.eval.evaluate import EvalConfig, evaluate
    from kgsynth.run.journal import read_run_items

    chosen = json.loads((out / "uptake" / "sets.json").read_text())["sets"]
    items = {i.id: i for i in read_run_items(out / "runs" / "pool")}
    sets = [
        EvalSet(f"{group}:closed", f"{out / 'runs' / 'pool'}:{group}:closed", "kgsynth",
                [eval_item(items[i], closed=True) for i in chosen[group]])
        for group in UPTAKE_GROUPS if chosen[group]
    ]  # fmt: skip
    backend = "vllm" if sizes.gpu and vllm_installed() else "transformers"
    config = EvalConfig.model_validate({"scoring": "loglik", "backend": backend, "batch_size": sizes.eval_batch,
                                        "threads": 0 if sizes.gpu else 1})  # fmt: skip
    evaluate([load_backend(str(model), config)], sets, out / "eval" / f"uptake-{label}", config=config)


# -- the report: paired statistics and the rule -----------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """One item's hop-score results in one evaluation: per query, correct or not; its groups (direction, ...)."""

    correct: Mapping[str, bool]
    groups: Mapping[str, str]


def read_scores(folder: Path) -> dict[str, dict[str, Scored]]:
    """Per set name (`h1:test`, `h1:test:closed`, ...), each item's `Scored`, from a loglik evaluation folder."""
    summary = json.loads((folder / "summary.json").read_text())
    from kgsynth.eval.evaluate import _safe

    found: dict[str, dict[str, Scored]] = {}
    for result in summary["results"]:
        path = folder / "items" / _safe(result["model"]) / f"{_safe(result['set'])}.jsonl"
        records = [json.loads(line) for line in path.read_text().splitlines()]
        found[result["set"]] = {
            r["id"]: Scored({q: v["correct"] for q, v in r["queries"].items()}, r["groups"]) for r in records
        }
    return found


def paired(
    base: Mapping[str, Scored], after: Mapping[str, Scored], query: str, *, bootstrap: int = 2000
) -> dict[str, Any]:
    """`after` against `base` on the items both hold: each accuracy (Wilson 95%), the paired gain with its
    bootstrap and Wald intervals, wins, losses and the exact McNemar p (`kgsynth.eval.paired.compare_pair`)."""
    from kgsynth.eval.evaluate import wilson_interval
    from kgsynth.eval.paired import CompareConfig, Outcome, compare_pair

    a = {i: Outcome(s.correct[query], None) for i, s in base.items() if query in s.correct}
    b = {i: Outcome(s.correct[query], None) for i, s in after.items() if query in s.correct}
    stats = compare_pair(a, b, config=CompareConfig(bootstrap=bootstrap))
    n = stats["n"]
    stats["acc_a_ci95"] = list(wilson_interval(round((stats["acc_a"] or 0) * n), n))
    stats["acc_b_ci95"] = list(wilson_interval(round((stats["acc_b"] or 0) * n), n))
    return stats


def did(base_open: Mapping[str, Scored], after_open: Mapping[str, Scored], base_closed: Mapping[str, Scored],
        after_closed: Mapping[str, Scored], query: str, *, bootstrap: int = 2000) -> dict[str, Any]:  # fmt: skip
    """The per-item difference in differences, (open gain - closed gain), with its 95% paired bootstrap interval."""
    from kgsynth.eval.paired import bootstrap_mean

    ids = sorted(set(base_open) & set(after_open) & set(base_closed) & set(after_closed))
    ids = [i for i in ids if all(query in s[i].correct for s in (base_open, after_open, base_closed, after_closed))]

    def right(scores: Mapping[str, Scored], i: str) -> float:
        return float(scores[i].correct[query])

    values = [
        (right(after_open, i) - right(base_open, i)) - (right(after_closed, i) - right(base_closed, i)) for i in ids
    ]
    low, high = bootstrap_mean(values, resamples=bootstrap, seed=0)
    return {"n": len(ids), "diff": sum(values) / len(values) if values else None, "ci95": [low, high]}


def verdict(open_gain: Mapping[str, Any], closed_gain: Mapping[str, Any] | None, diff_in_diff: Mapping[str, Any] | None,
            *, chance: float = CHANCE, min_gain: float | None = None) -> dict[str, Any]:  # fmt: skip
    """The rule of docs/learning.md, stated before the run. Learned only if all three hold on the open-book
    test items: (1) the paired gain's 95% bootstrap lower bound > 0, (2) the trained model's open-book
    Wilson lower bound > chance, (3) the (open gain - closed gain) lower bound > 0. With `min_gain` (stage A),
    a gain under it is a failed replication of the pilot, whatever the rest says.

    >>> verdict({"diff": 0.4, "diff_bootstrap_ci95": [0.3, 0.5], "acc_b_ci95": [0.6, 0.8]}, None,
    ...         {"ci95": [0.2, 0.5]}, min_gain=0.1)["learned"]
    True
    """
    checks = {
        "gain_lower_bound_above_0": open_gain["diff_bootstrap_ci95"][0] > 0,
        "trained_lower_bound_above_chance": open_gain["acc_b_ci95"][0] > chance,
        "open_minus_closed_lower_bound_above_0": diff_in_diff is not None and diff_in_diff["ci95"][0] > 0,
    }
    learned = all(checks.values())
    # Without a closed-book control the rule cannot say "learned": the pair is reported, not decided.
    found: dict[str, Any] = {"checks": checks, "learned": learned, "decided": diff_in_diff is not None}
    if min_gain is not None:
        found["replicated"] = learned and open_gain["diff"] >= min_gain
        found["failed_replication"] = open_gain["diff"] < min_gain
    if closed_gain is not None:
        found["closed_gain"] = closed_gain["diff"]
    return found


def by_group(scores: Mapping[str, Scored], key: str) -> dict[str, dict[str, Scored]]:
    out: dict[str, dict[str, Scored]] = {}
    for i, s in scores.items():
        out.setdefault(s.groups.get(key, "-"), {})[i] = s
    return out


def compare_stage(base: Mapping[str, Mapping[str, Scored]], after: Mapping[str, Mapping[str, Scored]], data: str,
                  query: str, *, min_gain: float | None = None) -> dict[str, Any]:  # fmt: skip
    """One stage against a baseline on one query: open and closed paired gains, the difference in
    differences, the verdict, and the open-book gain per direction pattern and per format."""
    open_, closed = f"{data}:test", f"{data}:test:closed"
    found: dict[str, Any] = {"query": query, "open": paired(base[open_], after[open_], query)}
    if closed in base and closed in after:
        found["closed"] = paired(base[closed], after[closed], query)
        found["did"] = did(base[open_], after[open_], base[closed], after[closed], query)
    found["verdict"] = verdict(found["open"], found.get("closed"), found.get("did"), min_gain=min_gain)
    for key in ("direction", "format"):
        groups_a, groups_b = by_group(base[open_], key), by_group(after[open_], key)
        found[key] = {g: paired(groups_a[g], groups_b.get(g, {}), query) for g in sorted(groups_a)}
        if closed in base and closed in after:
            ca, cb = by_group(base[closed], key), by_group(after[closed], key)
            found[f"{key}_closed"] = {g: paired(ca[g], cb.get(g, {}), query) for g in sorted(ca)}
    return found


def uptake_report(out: Path) -> dict[str, Any] | None:
    """Per uptake group, the closed-book hop1 gain of stage A over the base model; and the uptake contrast
    (trained-fact gain minus new-fact gain, a bootstrap over the two groups' items)."""
    from kgsynth.eval.paired import bootstrap_mean

    folders = [out / "eval" / f"uptake-{s}" for s in ("base", "A")]
    if not all((f / "summary.json").is_file() for f in folders):
        return None
    base, after = (read_scores(f) for f in folders)
    found: dict[str, Any] = {"sets": json.loads((out / "uptake" / "sets.json").read_text())["found"]}
    diffs: dict[str, list[float]] = {}
    for group in UPTAKE_GROUPS:
        name = f"{group}:closed"
        if name in base and name in after:
            found[group] = paired(base[name], after[name], "hop1")
            diffs[group] = [float(after[name][i].correct["hop1"]) - float(base[name][i].correct["hop1"])
                            for i in sorted(set(base[name]) & set(after[name]))]  # fmt: skip
    for group in ("trained_same", "trained_reverse"):
        if group in diffs and "new" in diffs and diffs[group] and diffs["new"]:
            found[f"{group}_minus_new"] = contrast(diffs[group], diffs["new"], bootstrap_mean)
    return found


def contrast(a: Sequence[float], b: Sequence[float], bootstrap_mean: Any, *, resamples: int = 2000) -> dict[str, Any]:
    """mean(a) - mean(b) of two independent groups, with a 95% bootstrap interval (each group resampled)."""
    import random

    rng = random.Random(0)
    draws = sorted(sum(rng.choice(a) for _ in a) / len(a) - sum(rng.choice(b) for _ in b) / len(b)
                   for _ in range(resamples))  # fmt: skip
    diff = sum(a) / len(a) - sum(b) / len(b)
    return {"diff": diff, "ci95": [draws[int(0.025 * resamples)], draws[int(0.975 * resamples)]]}


def seconds_per_step(run: Path) -> float | None:
    """The trainer's own s/step of its last session (its report.md)."""
    report = run / "report.md"
    match = re.search(r"\(([\d.]+) s/step\)", report.read_text()) if report.is_file() else None
    return float(match.group(1)) if match else None


def wall_seconds(done: Path) -> float | None:
    """First step's start to last step's end, from the `done/` records (their times and seconds)."""
    records = [(p.stat().st_mtime, json.loads(p.read_text())["seconds"]) for p in done.glob("*.json")]
    if not records:
        return None
    return max(end for end, _ in records) - min(end - seconds for end, seconds in records)


def collect(out: Path) -> dict[str, Any]:
    """Everything the report says, from the run's folders (stages not yet run are left out)."""
    evals: dict[str, dict[str, dict[str, Scored]]] = {}
    for folder in sorted((out / "eval").glob("h*-*")):
        if (folder / "summary.json").is_file():
            evals.setdefault(folder.name.split("~")[0], {}).update(read_scores(folder))
    found: dict[str, Any] = {"stages": {}}
    if {"h1-base", "h1-A"} <= set(evals):
        found["stages"]["A"] = compare_stage(evals["h1-base"], evals["h1-A"], "h1", "hop1", min_gain=MIN_GAIN)
    for stage, baseline in (("A", "base"), ("B", "base"), ("B", "A"), ("C", "base"), ("C", "B")):
        if {f"h2-{baseline}", f"h2-{stage}"} <= set(evals):
            for query in ("hop1", "hop2", "chain"):
                key = f"{stage}_vs_{baseline}_h2_{query}"
                found["stages"][key] = compare_stage(evals[f"h2-{baseline}"], evals[f"h2-{stage}"], "h2", query)
    found["uptake"] = uptake_report(out)
    found["seconds"] = {p.stem: json.loads(p.read_text())["seconds"] for p in sorted((out / "done").glob("*.json"))}
    found["s_per_step"] = {s: seconds_per_step(out / "train" / d) for s, d in TRAIN_DIRS.items()}
    found["wall_seconds"] = wall_seconds(out / "done")
    summary = out / "h1" / "export_summary.json"
    if summary.is_file():
        found["h1_directions"] = json.loads(summary.read_text()).get("directions")
    summary = out / "h2" / "export_summary.json"
    if summary.is_file():
        found["h2_directions"] = json.loads(summary.read_text()).get("directions")
    return found


def _p(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _gain(s: Mapping[str, Any]) -> str:
    low, high = s["diff_bootstrap_ci95"]
    return f"{100 * s['diff']:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]"


def _acc(s: Mapping[str, Any], side: str) -> str:
    low, high = s[f"acc_{side}_ci95"]
    return f"{_p(s[f'acc_{side}'])} [{_p(low)}, {_p(high)}]"


def _row(label: str, s: Mapping[str, Any]) -> str:
    return (f"| {label} | {s['n']} | {_acc(s, 'a')} | {_acc(s, 'b')} | {_gain(s)} | {s['wins']} / {s['losses']} "
            f"| {s['mcnemar_p']:.2g} |")  # fmt: skip


HEAD = [
    "| set | n | before % [Wilson 95%] | after % [Wilson 95%] | paired gain, points [bootstrap 95%] | wins / losses "
    "| McNemar p |",
    "|---|---:|---|---|---|---|---:|",
]


def stage_lines(title: str, s: Mapping[str, Any]) -> list[str]:
    lines = [f"### {title}", "", *HEAD, _row("open-book", s["open"])]
    if "closed" in s:
        lines.append(_row("closed-book (control)", s["closed"]))
    for key in ("direction", "format"):
        lines += [_row(f"open, {key} {g}", v) for g, v in s[key].items() if v["n"]]
        lines += [_row(f"closed, {key} {g}", v) for g, v in s.get(f"{key}_closed", {}).items() if v["n"]]
    v = s["verdict"]
    if "did" in s:
        d = s["did"]
        lines += ["", f"Open gain - closed gain (per item, paired): {100 * d['diff']:+.1f} "
                      f"[{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}] points (n {d['n']})."]  # fmt: skip
    decided = v.get("decided", True)
    unscored = "" if decided else "open_minus_closed_lower_bound_above_0"
    checks = ", ".join(
        f"{k.replace('_', ' ')}: {'not scored' if k == unscored else 'yes' if ok else 'no'}"
        for k, ok in v["checks"].items()
    )
    said = ("yes" if v["learned"] else "no") if decided else "not decided (no closed-book control for this pair)"
    lines += ["", f"Rule: {checks}. **Learned: {said}**"
              + (f"; {'failed replication (gain under 10 points)' if v['failed_replication'] else 'replicated'}"
                 if "failed_replication" in v else "") + ".", ""]  # fmt: skip
    return lines


def write_report(out: Path, sizes: Sizes) -> dict[str, Any]:
    found = collect(out)
    lines = ["# The learning run", ""]
    for data in ("h1", "h2"):
        if found.get(f"{data}_directions"):
            lines.append(f"Direction patterns per split of `{data}` (F along the stored edge, I against it): "
                         f"{found[f'{data}_directions']}")  # fmt: skip
    lines.append("")
    stages = found["stages"]
    if "A" in stages:
        lines += stage_lines("Stage A: 1-hop open-book items, hop1, base -> stage A", stages["A"])
    for key, s in stages.items():
        if key != "A":
            stage, _, baseline, _, query = key.split("_", 4)
            lines += stage_lines(f"2-hop items, {query}: {baseline} -> {stage}", s)
    up = found["uptake"]
    if up:
        lines += ["### Knowledge uptake (closed-book hop1, base -> stage A)", "",
                  f"Pool items found per group: {up['sets']}", "", *HEAD]  # fmt: skip
        lines += [_row(g, up[g]) for g in UPTAKE_GROUPS if g in up]
        for g in ("trained_same", "trained_reverse"):
            if f"{g}_minus_new" in up:
                c = up[f"{g}_minus_new"]
                lines.append(f"\n{g} gain - new gain: {100 * c['diff']:+.1f} [{100 * c['ci95'][0]:+.1f}, "
                             f"{100 * c['ci95'][1]:+.1f}] points")  # fmt: skip
        lines.append("")
    lines += ["| step | seconds (its last start: a step resumed after a stop counts from its resume) |", "|---|---:|",
              *[f"| {k} | {v:.0f} |" for k, v in found["seconds"].items()]]  # fmt: skip
    lines.append(f"| all steps, first start to last end (two lanes; pauses between starts included) | "
                 f"{found['wall_seconds'] or 0:.0f} |")  # fmt: skip
    lines += ["", "Trainer s/step: " + ", ".join(f"{k} {'-' if v is None else f'{v:.2f}'}"
                                                  for k, v in found["s_per_step"].items())]  # fmt: skip
    steps = {"A": sizes.a_steps, "B": sizes.b_steps, "C": sizes.c_steps}
    wall = {k: found["seconds"][f"train-{k}"] / n for k, n in steps.items() if f"train-{k}" in found["seconds"]}
    found["wall_s_per_step"] = wall
    lines.append("Step wall seconds / steps (loading, saving and merging included; low for a resumed step): "
                 + ", ".join(f"{k} {v:.1f}" for k, v in wall.items()))  # fmt: skip
    text = "\n".join(lines) + "\n"
    (out / "learning.md").write_text(text, encoding="utf-8")
    record = {"sizes": asdict(sizes), **found}
    (out / "learning.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("report: %s", out / "learning.md")
    return record


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "learn")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny sizes: check the plumbing in minutes")
    size.add_argument("--gpu", action="store_true", help="10-17x the steps on one GPU, bf16, vLLM where installed")
    parser.add_argument("--model", type=Path, default=BASE_MODEL, help="the base model (a .gguf file or a folder)")
    parser.add_argument("--fresh", action="store_true", help="delete OUT first instead of resuming")
    parser.add_argument("--report-only", action="store_true", help="only rebuild learning.md from OUT")
    parser.add_argument("--plan", action="store_true", help="print every step's commands and exit")
    parser.add_argument("--uptake-sets", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--uptake-eval", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--uptake-label", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sizes = QUICK if args.quick else GPU if args.gpu else Sizes()
    out = args.out.absolute()
    if args.uptake_sets or args.uptake_eval:  # steps of a run: its sizes are the run's own
        sizes = read_sizes(out)
        if args.uptake_eval:
            evaluate_uptake(out, sizes, args.uptake_eval, args.uptake_label)
        else:
            select_uptake(out, sizes)
        return
    if args.plan:
        first, lanes = plan(out, sizes, args.model.absolute())
        for lane, steps in (("data", [first]), ("training", lanes[0]), ("evaluation", lanes[1])):
            for step in steps:
                print(f"[{lane}] {step.name} (after {', '.join(step.after) or '-'})")
                for command in step.commands:
                    print("    " + " ".join(shlex.quote(a) for a in command))
        return
    if args.fresh and out.exists():
        shutil.rmtree(out)
    if args.report_only:
        write_report(out, read_sizes(out))
        print((out / "learning.md").read_text())
        return
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(out, threads=0 if sizes.gpu else 1)
    stop_on_signals(runner)
    start = time.perf_counter()
    run(out, sizes, base=args.model.absolute(), runner=runner)
    print((out / "learning.md").read_text())
    print(f"learning run: {time.perf_counter() - start:.0f} s wall")


if __name__ == "__main__":
    main()
