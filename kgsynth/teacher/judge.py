"""The optional judge: a model reads each multiple-choice item and says which options it accepts.

`judge_run(out, config)` is a pass over a finished run (``out/jsonl``): each item is shown to the
judge (`prompts/judge/question.j2`) up to ``k`` times, each time asked which options are correct. An
item where the judge accepts a distractor in at least ``m`` of the ``k`` samples is dropped, with the
reason recorded; sampling stops early once the verdict cannot change. Short-answer items have no
options to check and are kept unjudged.

It asks its model through the models layer, as the teacher does: the same backends
(`kgsynth.models.config.make_model`: any OpenAI-compatible server, a local model, vLLM), the request
cache (so a rerun after an interruption or a spent budget sends only what was never answered, and
writes the same files) and the run budget (`kgsynth.models.budget`). Written into
``out/judge/``, a run folder of its own that `kgsynth audit` reads like any other:

- ``jsonl/items-*.jsonl``: the kept items, in the run's order;
- ``verdicts.jsonl``: one verdict per item (status, reason, the letters each sample accepted);
- ``summary.json``: counts, drop reasons, the configuration; ``config.json``: the run's, plus the judge's;
- ``cache.sqlite``: the request cache.

The run's own ``summary.json`` gets the judge's drop reasons (prefixed ``judge: ``) in ``drop_reasons``
and its counts under ``judge``. Items still ``incomplete`` (a request failed after its retries, or
the budget ran out) are left out of the judged run until a rerun settles them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from kgsynth.errors import KgsynthError
from kgsynth.files import atomic_write
from kgsynth.models.base import ChatModel, ChatRequest, Message, SamplingParams
from kgsynth.models.budget import TRANSIENT_REASONS, Asking, RunBudget, for_each_concurrently, request_seed
from kgsynth.models.cache import RequestCache
from kgsynth.models.config import ModelConfig, make_model
from kgsynth.questions.item import Item
from kgsynth.questions.prompt import prompt_hash
from kgsynth.resources import prompts_environment
from kgsynth.run.journal import SHARD_SIZE, Progress, ShardRecord, read_run_items, shard_name
from kgsynth.run.layout import JUDGE, PROGRESS, REQUEST_CACHE, RUN_RECORD, SHARDS, SUMMARY, VERDICTS

logger = logging.getLogger(__name__)

JUDGE_TEMPLATE = "judge/question.j2"
DROP_PREFIX = "judge: "
DROP_REASON = "accepted a distractor in at least {m} of {k} samples"
Status = Literal["kept", "dropped", "incomplete"]

# "Correct: A, C" / "**Correct:** none" at the start of a line (the last such line wins).
_CORRECT_LINE = re.compile(r"^[ \t]*(?:\*\*)?[ \t]*correct[ \t]*(?:\*\*)?[ \t]*:[ \t]*(?:\*\*)?(?P<rest>.*)$",
                           re.IGNORECASE | re.MULTILINE)  # fmt: skip
_NONE = re.compile(r"^\W*(none|no option|neither)\b", re.IGNORECASE)


class JudgeConfig(ModelConfig):
    """How the judge runs (the CLI's ``--judge-*`` options): the model (`kgsynth.models.config.ModelConfig`),
    then how it is asked; the connection fields mean what the teacher's do."""

    k: int = Field(default=5, ge=1, description="samples per item at most")
    m: int = Field(default=2, ge=1, description="drop an item when a distractor is accepted in at least m samples")
    temperature: float = Field(default=0.7, ge=0.0)
    max_tokens: int = Field(default=1024, ge=1)
    seed: int = 0

    concurrency: int = Field(default=16, ge=1)
    timeout: float = Field(default=120.0, gt=0.0)
    max_retries: int = Field(default=6, ge=0)
    backoff_base: float = Field(default=1.0, ge=0.0)
    backoff_max: float = Field(default=60.0, ge=0.0)
    max_requests: int | None = Field(default=None, ge=0, description="budget: requests this run may send")
    max_total_tokens: int | None = Field(default=None, ge=0, description="budget: tokens this run may use")


class JudgeSample(BaseModel):
    """One judge completion: the letters it accepted (None when it gave no readable verdict)."""

    index: int
    seed: int
    request_key: str
    accepted: list[str] | None = None
    failure_reason: str | None = None
    text: str | None = None


class Verdict(BaseModel):
    """What the judge concluded about one item."""

    item_id: str
    status: Status
    reason: str | None = None
    distractor_samples: int = 0  # samples that accepted at least one distractor
    key_missed_samples: int = 0  # samples that did not accept the key
    distractors_accepted: dict[str, int] = Field(default_factory=dict)  # distractor rule -> samples
    prompt_hash: str | None = None
    samples: list[JudgeSample] = Field(default_factory=list)


def parse_accepted(text: str, letters: str) -> list[str] | None:
    """The option letters a judge completion accepts, from its last ``Correct:`` line after ``</think>``.

    >>> parse_accepted("<think>B is a synonym of A.</think>\\nCorrect: A, B", "ABCD")
    ['A', 'B']
    >>> parse_accepted("Correct: none", "ABCD")
    []
    >>> parse_accepted("I think A.", "ABCD") is None
    True
    """
    tail = text.rsplit("</think>", 1)[-1]
    lines = list(_CORRECT_LINE.finditer(tail))
    if not lines:
        return None
    rest = lines[-1].group("rest").strip().strip("*").strip()
    if _NONE.match(rest):
        return []
    found = sorted({x.upper() for x in re.findall(r"(?<![A-Za-z])([A-Ha-h])(?![A-Za-z])", rest)} & set(letters))
    return found or None


def judge_messages(item: Item) -> tuple[Message, ...]:
    """The chat messages the judge receives for ``item``."""
    content = prompts_environment().get_template(JUDGE_TEMPLATE).render(item=item).strip()
    return ({"role": "user", "content": content},)


def decide(item: Item, samples: list[JudgeSample], config: JudgeConfig) -> Verdict:
    """The verdict from the samples drawn so far (``incomplete`` if it still depends on unanswered ones)."""
    rules = {d.letter: d.rule for d in item.distractors}
    answered = [s for s in samples if s.accepted is not None]
    with_distractor = [s for s in answered if set(s.accepted or []) & set(rules)]
    accepted_rules: Counter[str] = Counter()
    for s in with_distractor:
        accepted_rules.update({rules[letter] for letter in s.accepted or [] if letter in rules})
    verdict = Verdict(
        item_id=item.id,
        status="kept",
        distractor_samples=len(with_distractor),
        key_missed_samples=sum(item.answer.letter not in (s.accepted or []) for s in answered),
        distractors_accepted=dict(sorted(accepted_rules.items())),
        samples=samples,
    )
    if len(with_distractor) >= config.m:
        verdict.status = "dropped"
        verdict.reason = f"accepted a distractor in {len(with_distractor)} of {len(samples)} samples"
    elif not answered and samples and all(s.failure_reason == "no_verdict" for s in samples):
        verdict.reason = "no readable verdict (kept)"
    elif transient := [s.failure_reason for s in samples if s.failure_reason in TRANSIENT_REASONS]:
        verdict.status, verdict.reason = "incomplete", transient[0]
    return verdict


def _settled(samples: list[JudgeSample], config: JudgeConfig, rules: set[str]) -> bool:
    """Whether more samples could no longer change the verdict (or a transient failure stops the item)."""
    hits = sum(bool(set(s.accepted or []) & rules) for s in samples)
    left = config.k - len(samples)
    transient = bool(samples) and samples[-1].failure_reason in TRANSIENT_REASONS
    return transient or hits >= config.m or hits + left < config.m


class _Judging:
    def __init__(self, config: JudgeConfig, asking: Asking) -> None:
        self.config = config
        self.asking = asking

    async def sample(self, item: Item, messages: tuple[Message, ...], index: int) -> JudgeSample:
        cfg = self.config
        seed = request_seed(cfg.seed, "judge\x00" + item.id, index)
        params = SamplingParams(temperature=cfg.temperature, max_tokens=cfg.max_tokens)
        request = ChatRequest(self.asking.model.model, messages, params, seed)
        record = JudgeSample(index=index, seed=seed, request_key=request.cache_key())
        asked = await self.asking.ask(request, what=f"judge, item {item.id}, sample {index}")
        if asked.completion is None:
            record.failure_reason = asked.failure_reason
            return record
        record.text = asked.completion.text
        record.accepted = parse_accepted(asked.completion.text, "".join(o.letter for o in item.options))
        if record.accepted is None:
            record.failure_reason = "no_verdict"
        return record

    async def item(self, item: Item) -> Verdict:
        if item.format != "mcq" or not item.options:
            return Verdict(item_id=item.id, status="kept", reason="not judged: no options")
        messages = judge_messages(item)
        rules = {d.letter for d in item.distractors}
        samples: list[JudgeSample] = []
        while len(samples) < self.config.k and not _settled(samples, self.config, rules):
            samples.append(await self.sample(item, messages, len(samples)))
        verdict = decide(item, samples, self.config)
        verdict.prompt_hash = prompt_hash(messages)
        return verdict


class JudgeSummary(BaseModel):
    items: int
    kept: int
    dropped: int
    incomplete: int
    drop_reasons: dict[str, int]
    distractor_rules_accepted: dict[str, int]
    requests_sent: int = 0  # this run only (varies with the cache)
    cache_hits: int = 0

    def counts(self) -> dict[str, Any]:
        return self.model_dump(exclude={"requests_sent", "cache_hits"})


async def ajudge(
    items: list[Item], config: JudgeConfig, folder: Path, *, model: ChatModel | None = None
) -> tuple[list[Verdict], JudgeSummary]:
    """The verdicts on ``items`` (in their order), through the cache in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    model = model if model is not None else make_model(config)
    verdicts: dict[str, Verdict] = {}
    with RequestCache(folder / REQUEST_CACHE) as cache:
        asking = Asking(model, cache, RunBudget(config.max_requests, config.max_total_tokens))
        run = _Judging(config, asking)

        async def one(item: Item) -> None:
            verdicts[item.id] = await run.item(item)

        await for_each_concurrently(items, one, concurrency=config.concurrency, model=model)
    ordered = [verdicts[item.id] for item in items]
    statuses = Counter(v.status for v in ordered)
    rules: Counter[str] = Counter()
    for v in ordered:
        if v.status == "dropped":
            rules.update(v.distractors_accepted)
    summary = JudgeSummary(
        items=len(ordered),
        kept=statuses["kept"],
        dropped=statuses["dropped"],
        incomplete=statuses["incomplete"],
        drop_reasons={DROP_REASON.format(m=config.m, k=config.k): statuses["dropped"]} if statuses["dropped"] else {},
        distractor_rules_accepted=dict(sorted(rules.items())),
        requests_sent=asking.sent,
        cache_hits=asking.cache_hits,
    )
    return ordered, summary


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def write_judged_run(out: Path, items: list[Item], verdicts: list[Verdict], summary: JudgeSummary,
                     config: JudgeConfig) -> Path:  # fmt: skip
    """Write ``out/judge/`` (kept items, verdicts, summary, config) and note the drops in ``out/summary.json``."""
    folder = out / JUDGE
    shards = folder / SHARDS
    shards.mkdir(parents=True, exist_ok=True)
    kept = [it for it, v in zip(items, verdicts, strict=True) if v.status == "kept"]
    for old in shards.glob("items-*.jsonl"):
        old.unlink()
    records = []
    for k in range(0, max(len(kept), 1), SHARD_SIZE):
        data = "".join(it.model_dump_json() + "\n" for it in kept[k : k + SHARD_SIZE])
        name = shard_name(k // SHARD_SIZE)
        atomic_write(shards / name, [data])
        raw = data.encode("utf-8")
        records.append(ShardRecord(name=name, length=len(raw), sha256=hashlib.sha256(raw).hexdigest()))
    # A journal as generate's, so the kept items are read back checked (`kgsynth.run.journal.read_run_items`).
    atomic_write(folder / PROGRESS, [_dumps(Progress(accepted=len(kept), shards=records).model_dump())])
    atomic_write(folder / VERDICTS, (v.model_dump_json() + "\n" for v in verdicts))
    settings = config.model_dump(mode="json")
    atomic_write(folder / SUMMARY, [_dumps({"summary": summary.counts(), "config": settings})])
    record: dict[str, Any] = {}
    if (out / RUN_RECORD).exists():
        record = json.loads((out / RUN_RECORD).read_text(encoding="utf-8"))
    atomic_write(folder / RUN_RECORD, [_dumps({**record, "judge": settings})])
    summary_path = out / SUMMARY
    if summary_path.exists():
        run_summary = json.loads(summary_path.read_text(encoding="utf-8"))
        drops = {k: v for k, v in run_summary.get("drop_reasons", {}).items() if not k.startswith(DROP_PREFIX)}
        drops.update({DROP_PREFIX + k: v for k, v in summary.drop_reasons.items()})
        run_summary["drop_reasons"] = dict(sorted(drops.items()))
        run_summary["judge"] = summary.counts()
        atomic_write(summary_path, [_dumps(run_summary)])
    return folder


def judge_run(
    out: Path,
    config: JudgeConfig,
    *,
    model: ChatModel | None = None,
) -> JudgeSummary:
    """Judge every item of the run in ``out``; write ``out/judge/`` and return the summary.

    Running it again with the same run and configuration sends only requests never answered before,
    and writes byte-identical files once every item is settled.
    """
    items = read_run_items(out)
    if not items:
        raise KgsynthError(f"{out} holds no items to judge", hint="run kgsynth generate into it first")
    verdicts, summary = asyncio.run(ajudge(items, config, out / JUDGE, model=model))
    write_judged_run(out, items, verdicts, summary, config)
    logger.info("judge: %d kept, %d dropped, %d incomplete", summary.kept, summary.dropped, summary.incomplete)
    return summary
