"""The line `kgsynth generate` runs, as one library function: generate -> (judge) -> (teacher) -> (export).

`make_run(cfg, out)` checks what can be checked before any work (the schema, the focus file, each
model: its extra, key and server), then, holding the run folder's lock, opens the graph, generates
the items (resumable: `kgsynth.run.generate`), writes the run's replayable configuration, judges the
items when ``cfg.judge`` says so, distils chains of thought when ``cfg.teacher`` does (from the judged
items if there was a judge), and exports the run as a dataset when asked. A run folder holds runs
only: the export (`kgsynth.dataset.export`) is the one step that writes a dataset. What each step did
goes to ``report`` as it finishes, so a caller shows it while the next step runs; nothing here prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kgsynth.config import RunConfig, write_config

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # items done, items asked for


class RunReport(Protocol):
    """Where `make_run` says what happens: a progress callback while items are generated, then each step's
    outcome (``"generate"``: the summary dict; ``"judge"``: a `JudgeSummary`; ``"teacher"``: a
    `TeacherSummary`; ``"export"``: the export summary dict)."""

    def generating(self, total: int) -> AbstractContextManager[Progress]: ...

    def exporting(self) -> AbstractContextManager[Callable[[str], None]]: ...

    def step(self, name: str, outcome: Any, out: Path) -> None: ...


class Silent:
    """A `RunReport` that shows nothing."""

    @contextmanager
    def generating(self, total: int) -> Iterator[Progress]:
        yield lambda done, total: None

    @contextmanager
    def exporting(self) -> Iterator[Callable[[str], None]]:
        yield lambda step: None

    def step(self, name: str, outcome: Any, out: Path) -> None:
        logger.info("%s done in %s", name, out)


@dataclass
class RunOutcome:
    """What one `make_run` did: each step's outcome, by step name, in the order they ran."""

    steps: dict[str, Any] = field(default_factory=dict)


def check_run(cfg: RunConfig) -> None:
    """Refuse, before any work, what would fail later: a bad schema or focus file, a model that cannot work."""
    from kgsynth.graph.schema import load_schema
    from kgsynth.models.config import check_model
    from kgsynth.run.focus import read_focus

    load_schema(cfg.generate.schema_name)  # a bad schema file is reported before the graph is loaded
    if cfg.generate.focus is not None:
        read_focus(cfg.generate.focus)  # and a bad focus file
    for flag, step in (("--judge", cfg.judge), ("--teacher", cfg.teacher)):
        if step is not None:
            check_model(step, flag=flag)  # extras, key and server


def make_run(
    cfg: RunConfig,
    out: Path,
    *,
    report: RunReport | None = None,
    allow_incomplete: bool = False,
    export: Path | None = None,
) -> RunOutcome:
    """Run the line ``cfg`` describes into ``out``; see the module docstring. Raises `TeacherIncomplete` when the
    teacher left items incomplete (retries or budget spent) unless ``allow_incomplete``."""
    from kgsynth.graph.open import open_graph
    from kgsynth.run.generate import generate
    from kgsynth.run.journal import lock_run_dir
    from kgsynth.run.layout import JUDGE, RUN_CONFIG

    report = report if report is not None else Silent()
    outcome = RunOutcome()
    check_run(cfg)
    with lock_run_dir(out):  # held through the teacher step: a second run into OUT is refused
        graph = open_graph(cfg.graph, progress=True)
        with report.generating(cfg.generate.n) as progress:
            summary = generate(graph, cfg.generate, out, progress=progress, compare_uniform=cfg.compare_uniform)
        write_config(cfg, out / RUN_CONFIG)
        _done(outcome, report, "generate", summary, out)
        items_from = out
        if cfg.judge is not None:
            from kgsynth.teacher.judge import judge_run

            _done(outcome, report, "judge", judge_run(out, cfg.judge), out)
            items_from = out / JUDGE
        if cfg.teacher is not None:
            _teach(cfg, out, items_from, outcome, report, allow_incomplete=allow_incomplete)
    if export is not None:
        from kgsynth.dataset.export import ExportConfig, export_run

        with report.exporting() as step:
            exported = export_run(out, export, config=ExportConfig(), progress=step)
        _done(outcome, report, "export", exported, export)
    return outcome


def _teach(cfg: RunConfig, out: Path, items_from: Path, outcome: RunOutcome, report: RunReport, *,
           allow_incomplete: bool) -> None:  # fmt: skip
    from kgsynth.models.budget import TRANSIENT_REASONS
    from kgsynth.run.journal import read_run_items
    from kgsynth.teacher.run import TeacherIncomplete, distil

    assert cfg.teacher is not None
    result = distil(read_run_items(items_from), cfg.teacher, out, progress=True)
    _done(outcome, report, "teacher", result, out)
    if result.incomplete and not allow_incomplete:
        raise TeacherIncomplete(
            f"{result.incomplete:,} of {result.items:,} items are incomplete ("
            + ", ".join(f"{r}: {c}" for r, c in result.failure_reasons.items() if r in TRANSIENT_REASONS)
            + ")",
            hint="run the same command again to continue (answered requests are cached), "
            "or pass --allow-incomplete to accept a partial teacher run",
        )


def _done(outcome: RunOutcome, report: RunReport, name: str, result: Any, out: Path) -> None:
    outcome.steps[name] = result
    report.step(name, result, out)
