"""The teacher step: send each item to the teacher, keep the chains of thought that reach the proven answer.

`distil(items, config, out_dir)` renders each item's prompt, draws up to `samples` completions from
the teacher, parses each final answer with `kgsynth.questions.answers` (the parser the GRPO reward uses) and
keeps the first verified chain, or every verified one with `keep="all"` (preference data). Every
item ends in exactly one state:

- `verified`: a chain of thought reached the proven answer;
- `rejected`: every sample was answered and none reached it (`wrong_answer`, `no_answer`,
  `truncated`), or the server refused the request itself (`request_rejected`);
- `incomplete`: a request still failed after its retries (`retries_exhausted`) or the run's budget
  ran out (`budget_exhausted`); the next run picks it up.

Every answered request is cached (`cache.py`) the moment it arrives, so a rerun -- after an
interruption, a crash or a spent budget -- sends only what was never answered, and produces the
same files. Written into `out_dir/teacher/` (the run's teacher outputs, not a dataset: `kgsynth export`
turns the kept chains into the `sft` config's rows, beside the answer columns):

- `results.jsonl`: one record per item, sorted by item id (teacher model, prompt hash, attempts,
  status, failure reason, tokens, path-faithfulness, and every sample drawn);
- `summary.json`: counts, and the configuration that produced them;
- `cache.sqlite`: the request cache; `runs.jsonl`: what each run sent (this one varies run to run).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from kgsynth.errors import KgsynthError
from kgsynth.files import atomic_write
from kgsynth.models.base import ChatModel, ChatRequest, Completion, SamplingParams
from kgsynth.models.budget import TRANSIENT_REASONS, Asking, RunBudget, for_each_concurrently, request_seed
from kgsynth.models.cache import RequestCache
from kgsynth.models.config import ModelConfig, make_model
from kgsynth.questions.answers import judge_item, reasoning_section
from kgsynth.questions.faithfulness import intermediate_entities, path_faithfulness
from kgsynth.questions.item import Item
from kgsynth.questions.prompt import prompt_hash
from kgsynth.run.layout import REQUEST_CACHE, SUMMARY, TEACHER, TEACHER_RESULTS, TEACHER_RUNS
from kgsynth.teacher.prompts import QUESTION_TEMPLATE, teacher_messages

logger = logging.getLogger(__name__)

Status = Literal["verified", "rejected", "incomplete"]


class TeacherIncomplete(KgsynthError):
    """Items were left incomplete (retries or budget spent): the run did not finish its work."""

    exit_code = 1


class TeacherConfig(ModelConfig):
    """Everything that says how the teacher step runs (the CLI's `--teacher-*` options): the model
    (`kgsynth.models.config.ModelConfig`), then how it is asked."""

    engine_args: dict[str, Any] = Field(default_factory=dict, description="vllm: arguments of vllm.LLM")

    concurrency: int = Field(default=16, ge=1, description="requests in flight at most")
    samples: int = Field(default=1, ge=1, description="completions drawn per item at most")
    keep: Literal["first", "all"] = Field(default="first", description="keep the first verified chain, or all")
    grounding: Literal["path", "none"] = Field(default="path", description="show the teacher the evidence path")

    temperature: float = Field(default=0.7, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=2048, ge=1, description="completion tokens per request")
    seed: int = Field(default=0, ge=0, lt=2**63)

    timeout: float = Field(default=120.0, gt=0.0, description="seconds per request attempt")
    max_retries: int = Field(default=6, ge=0)
    backoff_base: float = Field(default=1.0, ge=0.0, description="first backoff ceiling, doubled per retry")
    backoff_max: float = Field(default=60.0, ge=0.0)
    max_requests: int | None = Field(default=None, ge=0, description="budget: requests sent by this run")
    max_total_tokens: int | None = Field(default=None, ge=0, description="budget: tokens used by this run")

    def sampling(self) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens)


class SampleRecord(BaseModel):
    """One completion drawn for an item (or the reason none could be drawn)."""

    index: int
    seed: int
    request_key: str
    answer: str | None = None
    verified: bool = False
    kept: bool = False
    failure_reason: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    path_faithfulness: float | None = None
    text: str | None = None


class TeacherResult(BaseModel):
    """What the teacher step concluded about one item."""

    item_id: str
    status: Status
    verified: bool
    failure_reason: str | None
    teacher_model: str
    prompt_hash: str
    template: str
    grounding: str
    attempts: int  # completions drawn
    prompt_tokens: int
    completion_tokens: int
    path_faithfulness: float | None  # mean over the kept chains
    samples: list[SampleRecord]


class TeacherSummary(BaseModel):
    """The outcome of a run: the counts (deterministic) and what this run sent (not)."""

    items: int
    verified: int
    rejected: int
    incomplete: int
    failure_reasons: dict[str, int]
    kept_chains: int
    prompt_tokens: int
    completion_tokens: int
    mean_path_faithfulness: float | None
    # This run only: varies with what earlier runs left in the cache and with transient faults.
    requests_sent: int = 0
    cache_hits: int = 0
    client: dict[str, Any] = Field(default_factory=dict)

    def counts(self) -> dict[str, Any]:
        return self.model_dump(exclude={"requests_sent", "cache_hits", "client"})


# -- the run ----------------------------------------------------------------------------------------


def judge(item: Item, completion: Completion) -> tuple[str | None, bool, str | None]:
    """The answer a completion gives, whether it is the proven one (`kgsynth.questions.answers.judge_item`), and
    if not, why."""
    verdict = judge_item(completion.text, item)
    if verdict.correct:
        return verdict.answer, True, None
    if verdict.answer is None:
        return None, False, "truncated" if completion.finish_reason == "length" else "no_answer"
    return verdict.answer, False, "wrong_answer"


class _Run:
    def __init__(self, config: TeacherConfig, asking: Asking) -> None:
        self.config = config
        self.asking = asking

    async def sample(self, item: Item, messages: tuple[dict[str, str], ...], index: int) -> SampleRecord:
        seed = request_seed(self.config.seed, item.id, index)
        request = ChatRequest(self.asking.model.model, messages, self.config.sampling(), seed)
        record = SampleRecord(index=index, seed=seed, request_key=request.cache_key())
        asked = await self.asking.ask(request, what=f"item {item.id}, sample {index}")
        if asked.completion is None:
            record.failure_reason = asked.failure_reason
            return record
        completion = asked.completion
        answer, verified, reason = judge(item, completion)
        intermediates = intermediate_entities(item).values()
        record.answer = answer
        record.verified = verified
        record.failure_reason = reason
        record.finish_reason = completion.finish_reason
        record.prompt_tokens = completion.prompt_tokens
        record.completion_tokens = completion.completion_tokens
        record.path_faithfulness = path_faithfulness(reasoning_section(completion.text), intermediates)
        record.text = completion.text
        return record

    async def item(self, item: Item) -> TeacherResult:
        messages = teacher_messages(item, grounding=self.config.grounding)
        samples: list[SampleRecord] = []
        if self.config.keep == "all":
            drawn = [self.sample(item, messages, index) for index in range(self.config.samples)]
            samples = list(await asyncio.gather(*drawn))
        else:
            for index in range(self.config.samples):
                record = await self.sample(item, messages, index)
                samples.append(record)
                # A transient failure stops the item here, so the next run resumes at the same sample
                # and the kept chain does not depend on which requests happened to fail.
                if record.verified or record.failure_reason in TRANSIENT_REASONS:
                    break
        kept = [record for record in samples if record.verified]
        if self.config.keep == "first":
            kept = kept[:1]
        for record in kept:
            record.kept = True
        return self.result(item, messages, samples, kept)

    def result(
        self,
        item: Item,
        messages: tuple[dict[str, str], ...],
        samples: list[SampleRecord],
        kept: list[SampleRecord],
    ) -> TeacherResult:
        transient = [r.failure_reason for r in samples if r.failure_reason in TRANSIENT_REASONS]
        status: Status
        if kept:
            status, reason = "verified", None
        elif transient:
            status, reason = "incomplete", transient[0]
        else:
            status, reason = "rejected", samples[-1].failure_reason
        scores = [r.path_faithfulness for r in kept if r.path_faithfulness is not None]
        return TeacherResult(
            item_id=item.id,
            status=status,
            verified=bool(kept),
            failure_reason=reason,
            teacher_model=self.asking.model.model,
            prompt_hash=prompt_hash(messages),
            template=QUESTION_TEMPLATE,
            grounding=self.config.grounding,
            attempts=sum(1 for r in samples if r.text is not None),
            prompt_tokens=sum(r.prompt_tokens for r in samples),
            completion_tokens=sum(r.completion_tokens for r in samples),
            path_faithfulness=sum(scores) / len(scores) if scores else None,
            samples=samples,
        )


async def adistil(
    items: Iterable[Item],
    config: TeacherConfig,
    out_dir: str | Path,
    *,
    teacher: ChatModel | None = None,
    progress: bool = False,
) -> TeacherSummary:
    """`distil`, for callers already inside an event loop."""
    from kgsynth.run.journal import lock_run_dir

    with lock_run_dir(Path(out_dir)):  # one teacher run at a time in a folder (re-entrant for the CLI)
        return await _adistil(items, config, out_dir, teacher=teacher, progress=progress)


async def _adistil(
    items: Iterable[Item],
    config: TeacherConfig,
    out_dir: str | Path,
    *,
    teacher: ChatModel | None,
    progress: bool,
) -> TeacherSummary:
    pending = sorted(items, key=lambda item: item.id)
    if len({item.id for item in pending}) != len(pending):
        raise ValueError("item ids must be unique")
    folder = Path(out_dir) / TEACHER
    folder.mkdir(parents=True, exist_ok=True)
    teacher = teacher if teacher is not None else make_model(config)
    results: dict[str, TeacherResult] = {}
    with RequestCache(folder / REQUEST_CACHE) as cache, _progress(progress, len(pending)) as advance:
        asking = Asking(teacher, cache, RunBudget(config.max_requests, config.max_total_tokens))
        run = _Run(config, asking)

        async def one(item: Item) -> None:
            results[item.id] = await run.item(item)
            advance()

        await for_each_concurrently(pending, one, concurrency=config.concurrency, model=teacher)
    ordered = [results[item.id] for item in pending]
    summary = _summarise(ordered)
    summary.requests_sent, summary.cache_hits = asking.sent, asking.cache_hits
    stats = getattr(teacher, "stats", None)
    summary.client = stats.as_dict() if stats is not None and hasattr(stats, "as_dict") else {}
    _write_outputs(folder, ordered, summary, config)
    logger.info(
        "teacher: %d verified, %d rejected, %d incomplete; %d requests sent, %d from cache",
        summary.verified,
        summary.rejected,
        summary.incomplete,
        summary.requests_sent,
        summary.cache_hits,
    )
    return summary


def distil(
    items: Iterable[Item],
    config: TeacherConfig,
    out_dir: str | Path,
    *,
    teacher: ChatModel | None = None,
    progress: bool = False,
) -> TeacherSummary:
    """Chains of thought from the teacher for `items`, verified against their proven answers.

    Writes `out_dir/teacher/` (see the module docstring) and returns the run's summary. Running it
    again with the same items and configuration sends only requests never answered before, and
    writes byte-identical files once every item is settled.
    """
    return asyncio.run(adistil(items, config, out_dir, teacher=teacher, progress=progress))


def _summarise(results: list[TeacherResult]) -> TeacherSummary:
    statuses = Counter(result.status for result in results)
    reasons = Counter(result.failure_reason for result in results if result.failure_reason)
    scores = [r.path_faithfulness for r in results if r.path_faithfulness is not None]
    return TeacherSummary(
        items=len(results),
        verified=statuses["verified"],
        rejected=statuses["rejected"],
        incomplete=statuses["incomplete"],
        failure_reasons=dict(sorted(reasons.items())),
        kept_chains=sum(1 for r in results for s in r.samples if s.kept),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        mean_path_faithfulness=round(sum(scores) / len(scores), 6) if scores else None,
    )


def _write_outputs(folder: Path, results: list[TeacherResult], summary: TeacherSummary, config: TeacherConfig) -> None:
    atomic_write(folder / TEACHER_RESULTS, (r.model_dump_json() + "\n" for r in results))
    document = {"summary": summary.counts(), "config": config.model_dump(mode="json")}
    atomic_write(folder / SUMMARY, [json.dumps(document, indent=2, sort_keys=True) + "\n"])
    with (folder / TEACHER_RUNS).open("a", encoding="utf-8") as log:
        run = {"requests_sent": summary.requests_sent, "cache_hits": summary.cache_hits, **summary.client}
        log.write(json.dumps(run, sort_keys=True) + "\n")


class _progress:
    """A rich progress bar over items when asked for, else nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self._bar: Any = None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self._bar = Progress(transient=True)
        self._bar.start()
        task = self._bar.add_task("teacher", total=self.total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
