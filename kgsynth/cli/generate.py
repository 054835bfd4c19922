"""`kgsynth generate`: parse the flags over ``--config``, run the pipeline (`kgsynth.pipeline.make_run`), print.

The options are a table (`PARAMETERS`), each a typer option named after its config field; `run_config`
lays the given ones over ``--config`` (None: not given, so the config file or the config model decides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kgsynth.cli.base import app, console, err, set_verbose, user_errors
from kgsynth.cli.generate_options import PARAMETERS
from kgsynth.cli.options import (
    _JUDGE_FLAG_NAMES,
    _TEACHER_FLAG_NAMES,
    _print_counts,
    _print_export,
    _split_list,
    check_out_folder,
    graph_flags,
    with_parameters,
    with_section,
)


@app.command("generate")
@user_errors
@with_parameters(PARAMETERS)
def generate_cmd(**given: Any) -> None:
    """Generate verifiable multi-hop questions, each with its proof and evidence path.

    The run's configuration is written to OUT/config.yaml: `kgsynth generate --config OUT/config.yaml --out NEW`
    replays it byte for byte.
    """
    from kgsynth.pipeline import make_run

    cfg = run_config(given)
    set_verbose(given["verbose"])
    if given["export"] is not None:
        check_out_folder(given["export"], option="--export")
    make_run(cfg, given["out"], report=ConsoleReport(cfg, given["out"]), allow_incomplete=given["allow_incomplete"],
             export=given["export"])  # fmt: skip


def run_config(given: dict[str, Any]) -> Any:
    """The run's `RunConfig`: the given flags laid over ``--config``, validated (flag names in the errors)."""
    from kgsynth.config import RunConfig, read_config_file, validate_config

    g = given
    # Connection options serve whichever model-backed steps run (the judge's and the teacher's).
    connection = {"concurrency": g["concurrency"], "timeout": g["request_timeout"], "max_retries": g["max_retries"]}
    teacher_flags = {
        "backend": g["teacher"], "model": g["teacher_model"], "base_url": g["teacher_base_url"],
        "api_key_env": g["teacher_api_key_env"], "model_path": g["teacher_model_path"], "samples": g["samples"],
        "keep": g["keep"], "grounding": g["grounding"], "temperature": g["temperature"], "max_tokens": g["max_tokens"],
        "max_requests": g["max_requests"], "max_total_tokens": g["max_total_tokens"], "seed": g["seed"],
    }  # fmt: skip
    judge_flags = {
        "backend": g["judge"], "model": g["judge_model"], "base_url": g["judge_base_url"],
        "api_key_env": g["judge_api_key_env"], "model_path": g["judge_model_path"], "k": g["judge_k"],
        "m": g["judge_m"], "max_requests": g["judge_max_requests"], "seed": g["seed"],
    }  # fmt: skip
    graph = ("include_non_commercial", "backend", "cache_dir", "neo4j_uri", "neo4j_user", "neo4j_database")
    generate = ("n", "hops", "options", "context", "seed", "layperson", "hub_cap", "symptomatic_indications",
                "max_diagnosis_share", "max_key_share", "focus")  # fmt: skip
    flags = {
        "graph": graph_flags(g["sources"], g["from_"], name=g["graph_name"], **{k: g[k] for k in graph}),
        "generate": {**{k: g[k] for k in generate}, "types": _split_list(g["types"]),
                     "formats": _split_list(g["formats"]), "rarity": {"alpha": g["rarity_alpha"]},
                     "schema_name": g["schema"]},
        "compare_uniform": g["compare_uniform"],
    }  # fmt: skip
    data = read_config_file(g["config"]) if g["config"] is not None else {}
    judging = g["judge"] is not None or data.get("judge") is not None
    teaching = g["teacher"] is not None or data.get("teacher") is not None
    data = with_section(data, "teacher", teacher_flags | (connection if teaching or not judging else {}),
                        _TEACHER_FLAG_NAMES)  # fmt: skip
    data = with_section(data, "judge", judge_flags | (connection if judging else {}), _JUDGE_FLAG_NAMES)
    return validate_config(RunConfig, data, flags, g["config"])


class ConsoleReport:
    """`kgsynth.pipeline.RunReport` on the terminal: a progress bar while items are made, each step's outcome."""

    def __init__(self, cfg: Any, run: Path) -> None:
        self.cfg = cfg
        self.run = run

    @contextmanager
    def generating(self, total: int) -> Iterator[Callable[[int, int], None]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err) as bar:
            task = bar.add_task("items", total=total)
            yield lambda done, total: bar.update(task, completed=done)

    @contextmanager
    def exporting(self) -> Iterator[Callable[[str], None]]:
        with err.status("exporting") as status:
            yield lambda step: status.update(f"exporting: {step}")

    def step(self, name: str, outcome: Any, out: Path) -> None:
        if name == "generate":
            _print_summary(outcome, out)
        elif name == "judge":
            console.print(
                f"judge {self.cfg.judge.model}: {outcome.kept:,} kept, {outcome.dropped:,} dropped, "
                f"{outcome.incomplete:,} incomplete (re-run to continue); {outcome.requests_sent:,} requests sent, "
                f"{outcome.cache_hits:,} answered from the cache; distractor rules accepted: "
                f"{outcome.distractor_rules_accepted}; kept items in {out / 'judge'}"
            )
        elif name == "teacher":
            console.print(
                f"teacher {self.cfg.teacher.model}: {outcome.verified:,} verified, {outcome.rejected:,} rejected, "
                f"{outcome.incomplete:,} incomplete; {outcome.requests_sent:,} requests sent, "
                f"{outcome.cache_hits:,} answered from the cache; reasons: {outcome.failure_reasons}"
            )
        elif name == "export":
            _print_export(outcome, self.run, out)


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    console.print(f"[bold]{summary['items']:,} items[/] in {out} ({summary['attempts']:,} attempts)")
    if "focus" in summary:
        console.print(f"sampling focused by {summary['focus']['file']} (sha256 {summary['focus']['sha256'][:12]})")
    _print_counts("items by type / format / hops", "kind", "items", summary["by_type_format_hops"])
    _print_counts("dropped attempts by reason", "reason", "attempts", summary["drop_reasons"])
    console.print("gold letters: " + ", ".join(f"{k} {v}" for k, v in summary["gold_letter_counts"].items()))
    console.print("distractor rules: " + ", ".join(f"{k} {v}" for k, v in summary["distractor_rules"].items()))
    console.print("rarity histogram: " + ", ".join(f"{k}: {v}" for k, v in summary["rarity_histogram"].items()))
    rc = summary["rare_coverage"]
    line = f"rare coverage: {rc['orpha_diseases_covered']:,} distinct ORPHA diseases on evidence paths"
    if "uniform_start_sampling" in rc:
        line += f" (uniform start sampling, same N: {rc['uniform_start_sampling']:,})"
    console.print(line + f"; rare diseases in the KG: {rc['rare_diseases_in_kg']:,}")
    if summary["non_commercial_items"]:
        console.print(f"[red]{summary['non_commercial_items']} items use non-commercial sources[/]")
