"""The learning run: does kgsynth's pipeline teach SmolLM2-135M-Instruct to follow a chain of facts in its prompt?

    python bench/bench_learning.py [--out out/learn] [--quick]      # make learn

Every step is a kgsynth command, the same a user runs (docs/learning.md lists them):

1. `kgsynth generate --context facts --hops 2 --format mcq --format short`: open-book items (the question,
   then 8 facts: the evidence chain and one decoy chain ending in each other candidate, shuffled);
2. `kgsynth export --split-by path --sft-chain path`: a test split whose path entities no train item
   contains, SFT answers reasoning through the path as a terse chain of names;
3. `kgsynth train sft`, `kgsynth train grpo` (stage 1), `kgsynth train grpo --stage 2 --from STAGE1`
   with the recipes in `trainers/recipes/smollm2-135m/learn/`, then `kgsynth focus` on stage 2's pass rates;
4. `kgsynth eval` of the base model and of every stage on the open-book test items, the same items
   closed-book (`EXPORT:test:closed`) and each shared benchmark.

Two lanes run side by side, one process each with one torch thread: training (SFT, stage 1, stage 2,
then the final benchmarks) and evaluation (the base model while SFT trains, then each stage as soon as
it is trained). On 2 cores one thread per process is much faster than two threads
fighting for a core. Closed-book and the benchmarks are asked of the base and the final model only.
Each finished step leaves `done/<step>.json` (its seconds), so a killed run resumes where it stopped
(training resumes from its last checkpoint, evaluation from its generation cache). The results go to
`OUT/learning.md` (one table: stage x set) and `OUT/learning.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgsynth.questions.item import Item

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "trainers" / "recipes" / "smollm2-135m" / "learn"
BASE_MODEL = ROOT / ".models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
BENCHMARKS = ("medqa", "medmcqa", "mmlu_medical", "pubmedqa")
STAGES = ("base", "sft", "grpo1", "grpo2")

logger = logging.getLogger("bench_learning")


@dataclass(frozen=True)
class Sizes:
    """How big each part of the run is (`--quick`: a smoke test of the plumbing in a few minutes)."""

    items: int = 4000
    test_size: float = 0.15
    sft_steps: int = 80
    grpo1_steps: int = 10
    mining_items: int = 40
    mining_k: int = 4
    grpo2_steps: int = 6
    kgsynth_limit: int = 400
    benchmark_limit: int = 200
    max_new_tokens: int = 40
    # Closed-book and the benchmarks cost as much as the open-book set each: asked before and after training.
    full_stages: tuple[str, ...] = ("base", "grpo2")


QUICK = Sizes(
    items=120, test_size=0.3, sft_steps=2, grpo1_steps=1, mining_items=4, mining_k=2, grpo2_steps=1,
    kgsynth_limit=10, benchmark_limit=4, max_new_tokens=8,
)  # fmt: skip


def kgsynth(*args: str) -> list[str]:
    return [sys.executable, "-m", "kgsynth", *args]


@dataclass(frozen=True)
class Step:
    """One step: commands run one after another, once every step in `after` is done."""

    name: str
    commands: list[list[str]]
    after: tuple[str, ...] = ()


class Runner:
    """Runs lanes of steps side by side (one process per lane, one torch thread each), skipping the steps
    already done, and records their seconds in `done/<step>.json`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.done = out / "done"
        self.logs = out / "logs"
        self.done.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.failed: list[str] = []

    def is_done(self, name: str) -> bool:
        return (self.done / f"{name}.json").is_file()

    def run_step(self, step: Step) -> bool:
        """Run `step` (after its dependencies); False if it or one of them failed."""
        while not all(self.is_done(name) for name in step.after):
            if self.failed:
                return False
            time.sleep(2)
        if self.is_done(step.name):
            logger.info("%s: done before", step.name)
            return True
        script = " && ".join(" ".join(shlex.quote(a) for a in command) for command in step.commands)
        logger.info("%s: start", step.name)
        start = time.perf_counter()
        with (self.logs / f"{step.name}.log").open("ab") as log:
            log.write(f"$ {script}\n".encode())
            log.flush()
            code = subprocess.run(["bash", "-c", script], cwd=ROOT, env=self.env, stdout=log, stderr=log).returncode
        seconds = round(time.perf_counter() - start, 1)
        if code:
            self.failed.append(step.name)
            logger.error(
                "%s failed (exit %d, %.0f s): see %s", step.name, code, seconds, self.logs / f"{step.name}.log"
            )
            return False
        (self.done / f"{step.name}.json").write_text(json.dumps({"seconds": seconds}) + "\n")
        logger.info("%s: %.0f s", step.name, seconds)
        return True

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


def model_path(out: Path, stage: str) -> Path:
    return BASE_MODEL if stage == "base" else out / "train" / TRAIN_DIRS[stage] / "merged"


TRAIN_DIRS = {"sft": "sft", "grpo1": "grpo_stage1", "grpo2": "grpo_stage2"}


def eval_step(out: Path, stage: str, sizes: Sizes, *, benchmarks: bool = False) -> Step:
    """Evaluate a stage on the open-book test items (and, at the full stages, the same items closed-book),
    or on every shared benchmark."""
    dataset = out / "dataset"
    common = ["--threads", "1", "--batch-size", "16", "--max-new-tokens", str(sizes.max_new_tokens)]
    model = str(model_path(out, stage))
    if benchmarks:
        sets = [a for b in BENCHMARKS for a in ("--benchmark", b)]
        limit, kind = sizes.benchmark_limit, "benchmarks"
    else:
        sets = ["--benchmark", f"{dataset}:test"]
        if stage in sizes.full_stages:
            sets += ["--benchmark", f"{dataset}:test:closed"]
        limit, kind = sizes.kgsynth_limit, "kgsynth"
    command = kgsynth("eval", "--model", model, *sets, "--limit", str(limit), *common,
                      "--out", str(out / "eval" / f"{stage}-{kind}"))  # fmt: skip
    return Step(f"eval-{stage}-{kind}", [command], after=() if stage == "base" else (f"train-{stage}",))


def train(recipe: str, out: Path, *overrides: str, extra: tuple[str, ...] = ()) -> list[str]:
    return kgsynth("train", "sft" if recipe == "sft" else "grpo", "--config", str(RECIPES / f"{recipe}.yaml"),
                   *extra, f"dataset={out / 'dataset'}", *overrides)  # fmt: skip


def run(out: Path, sizes: Sizes, *, sft_only: bool = False) -> None:
    """Every step of the learning run into `out`: a training lane and an evaluation lane side by side
    (`sft_only`: only SFT and its open-book evaluation, for a quick test of a change to the data)."""
    runner = Runner(out)
    (out / "sizes.json").write_text(json.dumps(asdict(sizes), indent=2) + "\n")
    data = out / "data"
    runner.run_lanes([[Step("generate", [
        kgsynth("generate", "--context", "facts", "--hops", "2", "--type", "chain", "--format", "mcq", "--format",
                "short", "--n", str(sizes.items), "--seed", "12", "--out", str(data)),
        kgsynth("export", str(data), "--out", str(out / "dataset"), "--split-by", "path", "--sft-chain", "path",
                "--test-size", str(sizes.test_size), "--validation-size", "0.02"),
    ])]])  # fmt: skip
    sft_dir, g1_dir, g2_dir = (out / "train" / TRAIN_DIRS[stage] for stage in ("sft", "grpo1", "grpo2"))
    training = [
        Step("train-sft", [train("sft", out, f"output_dir={sft_dir}", f"max_steps={sizes.sft_steps}")]),
        Step("train-grpo1", [train("grpo_stage1", out, f"output_dir={g1_dir}", f"init_from={sft_dir}",
                                   f"max_steps={sizes.grpo1_steps}")]),
        Step("train-grpo2", [
            train("grpo_stage2", out, f"output_dir={g2_dir}", f"max_steps={sizes.grpo2_steps}",
                  f"mining_max_items={sizes.mining_items}", f"mining_k={sizes.mining_k}",
                  extra=("--stage", "2", "--from", str(g1_dir))),
            kgsynth("focus", str(g2_dir / "passrates.jsonl"), "--out", str(out / "focus.json")),
        ]),
        eval_step(out, "grpo2", sizes, benchmarks=True),
    ]  # fmt: skip
    evaluation = [
        eval_step(out, "base", sizes),
        eval_step(out, "base", sizes, benchmarks=True),
        eval_step(out, "sft", sizes),
        eval_step(out, "grpo1", sizes),
        eval_step(out, "grpo2", sizes),
    ]
    if sft_only:
        training, evaluation = training[:1], [eval_step(out, "sft", sizes)]
    runner.run_lanes([training, evaluation])
    write_report(out, sizes, runner)


# -- the report -----------------------------------------------------------------------------------


def _results(out: Path, stage: str) -> list[dict[str, Any]]:
    rows = []
    for kind in ("kgsynth", "benchmarks"):
        path = out / "eval" / f"{stage}-{kind}" / "summary.json"
        if path.is_file():
            rows += json.loads(path.read_text())["results"]
    return rows


def test_items(out: Path) -> dict[str, Item]:
    """The exported test split's items by id (read once for the report)."""
    import pyarrow.parquet as pq

    from kgsynth.dataset.export import data_file
    from kgsynth.dataset.rows import item_from_row

    rows = pq.read_table(out / "dataset" / data_file("items", "test")).to_pylist()
    return {row["id"]: item_from_row(row) for row in rows}


def endpoint_chance(items: dict[str, Item]) -> float | None:
    """What naming a random candidate endpoint of the facts scores on the open-book short items: the mean
    of 1 / (chains in the facts), since every candidate ends one chain of `hops` facts."""
    short = [item for item in items.values() if item.format == "short" and item.context]
    if not short:
        return None
    return sum(item.hops / len(item.context) for item in short) / len(short)


def table_rows(out: Path) -> list[dict[str, Any]]:
    """One row per stage x set (the kgsynth sets split by answer format)."""
    rows = []
    for stage in STAGES:
        for result in _results(out, stage):
            name = result["set"]
            if result.get("breakdown") and "format" in result["breakdown"]:
                book = "closed-book" if name.endswith(":closed") else "open-book"
                for fmt, m in sorted(result["breakdown"]["format"].items()):
                    rows.append({"stage": stage, "set": f"{book} {fmt}", **_metric(m)})
            else:
                rows.append({"stage": stage, "set": name, **_metric(result)})
    return rows


def _metric(m: dict[str, Any]) -> dict[str, Any]:
    keys = ("n", "correct", "accuracy", "ci95", "letter_prior", "strict_format", "answered", "predicted")
    return {k: m.get(k) for k in keys}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def chain_diagnostics(out: Path, items: dict[str, Item]) -> list[dict[str, Any]]:
    """Per stage, on the open-book test items: how often the model's scratchpad (`A → B → C`) names the
    start, the middle and the end entity of the true chain, and how often its letter is the option it named
    last (case-insensitive exact names)."""
    from kgsynth.dataset.rows import PATH_ARROW, path_chain

    found = []
    for stage in STAGES:
        for path in sorted((out / "eval" / f"{stage}-kgsynth" / "items").glob("*/*test.jsonl")):
            keys = ("items", "chains", "start", "middle", "end", "letter_is_named_end", "mcq_chains")
            counts = dict.fromkeys(keys, 0)
            for line in path.open(encoding="utf-8"):
                record = json.loads(line)
                item = items[record["id"]]
                counts["items"] += 1
                match = re.search(r"<think>\s*(.*?)\s*</think>", record["completion"], re.S)
                said = [p.strip().casefold() for p in match.group(1).split(PATH_ARROW.strip())] if match else []
                if len(said) != item.hops + 1:
                    continue
                true = [p.casefold() for p in path_chain(item).split(PATH_ARROW)]
                counts["chains"] += 1
                counts["start"] += said[0] == true[0]
                counts["middle"] += said[1] == true[1]
                counts["end"] += said[-1] == true[-1]
                if item.format == "mcq":
                    counts["mcq_chains"] += 1
                    named = {o.letter: o.text.casefold() for o in item.options}.get(record["answer"] or "")
                    counts["letter_is_named_end"] += named == said[-1]
            found.append({"stage": stage, **counts})
    return found


def verdicts(rows: list[dict[str, Any]], chance: float | None) -> list[dict[str, Any]]:
    """The rule of docs/learning.md, stated before the run: a trained stage learned on an open-book set if
    its 95% interval lies above the base model's interval and above the bar (its letter-prior expectation
    for multiple choice; naming a random candidate endpoint of the facts for short answers)."""
    base = {r["set"]: r for r in rows if r["stage"] == "base"}
    found = []
    for r in rows:
        if r["stage"] == "base" or not r["set"].startswith("open-book") or r["set"] not in base or not r["n"]:
            continue
        bar = r["letter_prior"] if r["set"].endswith("mcq") else chance
        low, base_high = r["ci95"][0], base[r["set"]]["ci95"][1]
        learned = bar is not None and low > base_high and low > bar
        found.append({"stage": r["stage"], "set": r["set"], "low": low, "base_high": base_high, "bar": bar,
                      "learned": learned})  # fmt: skip
    return found


def wall_seconds(done: Path) -> float | None:
    """First step's start to last step's end, from the `done/` records (their times and seconds)."""
    records = [(p.stat().st_mtime, json.loads(p.read_text())["seconds"]) for p in done.glob("*.json")]
    if not records:
        return None
    return max(end for end, _ in records) - min(end - seconds for end, seconds in records)


def write_report(out: Path, sizes: Sizes, runner: Runner) -> None:
    rows = table_rows(out)
    items = test_items(out)
    chance = endpoint_chance(items)
    timings = {p.stem: json.loads(p.read_text())["seconds"] for p in sorted(runner.done.glob("*.json"))}
    judged = verdicts(rows, chance)
    wall = wall_seconds(runner.done)
    chains = chain_diagnostics(out, items)
    lines = [
        "| stage | set | n | accuracy % [95% Wilson] | letter prior % | strict format % | answered % | predicted |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        low, high = r["ci95"] or (None, None)
        predicted = " ".join(f"{k}{v}" for k, v in (r["predicted"] or {}).items()) or "-"
        lines.append(
            f"| {r['stage']} | {r['set']} | {r['n']} | {_pct(r['accuracy'])} [{_pct(low)}, {_pct(high)}] | "
            f"{_pct(r['letter_prior'])} | {_pct(r['strict_format'])} | {_pct(r['answered'])} | {predicted} |"
        )
    lines += ["", f"Short answers, naming a random candidate endpoint of the facts: {_pct(chance)}%", ""]
    lines += ["| stage | set | lower bound % | base upper bound % | bar % | learned |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {v['stage']} | {v['set']} | {_pct(v['low'])} | {_pct(v['base_high'])} | {_pct(v['bar'])} | "
              f"{'yes' if v['learned'] else 'no'} |" for v in judged]  # fmt: skip
    lines += ["", "| stage | open-book items | with an `A → B → C` scratchpad | start right | middle right | end right "
              "| MCQ: letter = option named last |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    lines += [f"| {c['stage']} | {c['items']} | {c['chains']} | {c['start']} | {c['middle']} | {c['end']} | "
              f"{c['letter_is_named_end']} of {c['mcq_chains']} |" for c in chains]  # fmt: skip
    lines += ["", "| step | seconds |", "|---|---:|", *[f"| {k} | {v:.0f} |" for k, v in timings.items()]]
    lines.append(f"| all steps, first start to last end (two lanes side by side) | {wall or 0:.0f} |")
    (out / "learning.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = {"sizes": asdict(sizes), "rows": rows, "short_endpoint_chance": chance, "verdicts": judged,
              "chains": chains, "seconds": timings, "wall_seconds": wall}  # fmt: skip
    (out / "learning.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "learn")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the plumbing in minutes")
    parser.add_argument("--fresh", action="store_true", help="delete OUT first instead of resuming")
    parser.add_argument("--report-only", action="store_true", help="only rebuild learning.md from OUT")
    parser.add_argument("--sft-only", action="store_true", help="only SFT and its open-book evaluation")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    sizes = QUICK if args.quick else Sizes()
    out = args.out.absolute()
    if args.fresh and out.exists():
        shutil.rmtree(out)
    if args.report_only:
        write_report(out, sizes, Runner(out))
        return
    start = time.perf_counter()
    run(out, sizes, sft_only=args.sft_only)
    print(f"learning run: {time.perf_counter() - start:.0f} s wall")


if __name__ == "__main__":
    main()
