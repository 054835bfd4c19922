"""The models `kgsynth eval` asks, behind one interface (`kgsynth.eval.evaluate.Backend`).

- `TransformersBackend`: a transformers causal LM on the CPU (the `local` extra): a model folder or
  a `.gguf` file (SmolLM2-135M-Instruct ships as one; dequantised on load with `gguf_file=`),
  greedy, batched with left padding, torch threads = the cores this process may use unless told;
- `VLLMBackend`: vLLM's offline engine on a GPU (the `vllm` extra), a whole batch per `LLM.chat` call.

Both apply the model's own chat template to the student's messages. torch, transformers and vllm
are imported when a model is first needed, so this module imports anywhere and a resumed
evaluation whose completions are all cached never loads a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kgsynth.eval.benchmarks import FieldMap
from kgsynth.eval.evaluate import EvalConfig, GenerationParams, Progress
from kgsynth.eval.loglik import LoglikRequest, encode_pair
from kgsynth.models.base import Message
from kgsynth.models.transformers import (
    available_cores,
    check_model_path,
    generate_batch,
    load_causal_lm,
    model_fingerprint,
    model_label,
)
from kgsynth.models.vllm import sampling_params, start_vllm

logger = logging.getLogger(__name__)


class TransformersBackend:
    """A transformers causal LM, greedy and batched on the CPU."""

    def __init__(self, path: Path, *, batch_size: int = 8, threads: int = 0, device: str = "cpu") -> None:
        check_model_path(path, option="--model")
        self.path = path
        self.label = model_label(path)
        self.model_id = model_fingerprint(path)
        self.batch_size = batch_size
        self.threads = threads or available_cores()
        self.device = device
        self.prompts_generated = 0  # how many prompts this backend has generated for (tests count them)
        self.prompts_scored = 0  # how many items it has scored by log-likelihood
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_causal_lm(self.path, device=self.device, threads=self.threads, batched=True,
                                          float32=True)  # fmt: skip
        return self._loaded

    def load(self) -> None:
        self._load()

    def generate(self, prompts: Sequence[tuple[Message, ...]], params: GenerationParams) -> list[str]:
        """Greedy completions of `prompts`, generated together (left-padded)."""
        tokenizer, network = self._load()
        texts = generate_batch(network, tokenizer, prompts, max_new_tokens=params.max_new_tokens)
        self.prompts_generated += len(prompts)
        return [samples[0] for samples in texts]

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> list[list[float]]:
        """Per request, the summed log-probability of each continuation (`kgsynth.eval.loglik`): the tokens every
        pair shares (the chat prompt) are run once, then all pairs' own tokens in one right-padded batch
        on that cache (right padding is harmless: a causal model never attends forward)."""
        import torch

        tokenizer, network = self._load()
        out = []
        for request in requests:
            prompt = chat_text(tokenizer, request.messages)
            pairs = [encode_pair(tokenizer, prompt + prefix, continuation) for prefix, continuation in request.pairs]
            seqs = [context + continuation for context, continuation in pairs]
            shared = max(1, min([len(context) for context, _ in pairs] + [common_prefix(seqs[0], s) for s in seqs]))
            with torch.no_grad():
                head = network(
                    input_ids=torch.tensor([seqs[0][:shared]], device=self.device), use_cache=True, logits_to_keep=1
                )
                first = head.logits[0, -1].float().log_softmax(-1)
                cache = head.past_key_values
                cache.batch_repeat_interleave(len(seqs))
                width = max(len(seq) for seq in seqs) - shared
                pad = tokenizer.pad_token_id
                tail = torch.tensor([seq[shared:] + [pad] * (width - len(seq) + shared) for seq in seqs],
                                    device=self.device)  # fmt: skip
                logits = network(input_ids=tail, past_key_values=cache, use_cache=True).logits.float()
                logprobs = logits.log_softmax(-1)
            sums = []
            for k, ((context, _), seq) in enumerate(zip(pairs, seqs, strict=True)):
                total = 0.0
                for j in range(len(context), len(seq)):
                    row = first if j == shared else logprobs[k, j - 1 - shared]
                    total += float(row[seq[j]])
                sums.append(total)
            out.append(sums)
        self.prompts_scored += len(requests)
        return out


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share.

    >>> common_prefix([1, 2, 3], [1, 2, 4, 5])
    2
    """
    return next((j for j, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def chat_text(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The model's chat template over `messages`, ending with the assistant turn's opening."""
    return str(tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False))


def vllm_sampling_params(params: GenerationParams) -> Any:
    """vLLM's greedy `SamplingParams` for `params`."""
    return sampling_params(temperature=0.0, max_tokens=params.max_new_tokens, needed_by="evaluating with vLLM")


def vllm_prompt_logprob_params() -> Any:
    """vLLM's `SamplingParams` that return each prompt token's log-probability (one token generated, unused)."""
    return sampling_params(temperature=0.0, max_tokens=1, prompt_logprobs=0, needed_by="evaluating with vLLM")


class VLLMBackend:
    """A model run by vLLM's offline engine in this process (a GPU); `engine_args` go to `vllm.LLM` as they are.

    `engine` and `sampling_params` replace the engine and vLLM's `SamplingParams` (tests drive the
    backend with a fake engine: vLLM cannot run without a GPU).
    """

    def __init__(
        self,
        model: str,
        *,
        batch_size: int = 256,
        engine_args: dict[str, Any] | None = None,
        engine: Any = None,
        sampling_params: Callable[[GenerationParams], Any] = vllm_sampling_params,
        prompt_logprob_params: Callable[[], Any] = vllm_prompt_logprob_params,
    ) -> None:
        path = Path(model)
        self.model = model
        self.label = model_label(path) if path.exists() else model.rstrip("/").split("/")[-1]
        self.model_id = model_fingerprint(path) if path.exists() else model
        self.batch_size = batch_size
        self.engine_args = dict(engine_args or {})
        self.sampling_params = sampling_params
        self.prompt_logprob_params = prompt_logprob_params
        self.prompts_generated = 0
        self.prompts_scored = 0
        self._engine = engine

    def engine(self) -> Any:
        if self._engine is None:
            self._engine = start_vllm(self.model, self.engine_args, needed_by="evaluating with vLLM",
                                      hint="pip install 'kgsynth[vllm]', or use --backend transformers")  # fmt: skip
        return self._engine

    def load(self) -> None:
        self.engine()

    def generate(self, prompts: Sequence[tuple[Message, ...]], params: GenerationParams) -> list[str]:
        """Greedy completions of `prompts`, in one `LLM.chat` call."""
        outputs = self.engine().chat(
            [list(p) for p in prompts], sampling_params=self.sampling_params(params), use_tqdm=False
        )
        self.prompts_generated += len(prompts)
        return [output.outputs[0].text for output in outputs]

    def loglikelihood(self, requests: Sequence[LoglikRequest]) -> list[list[float]]:
        """Per request, the summed log-probability of each continuation (`kgsynth.eval.loglik`), from vLLM's prompt
        log-probabilities (`prompt_logprobs=0` returns each prompt token's own): one prompt per pair, all
        pairs of the batch in one `LLM.generate` call (vLLM's prefix cache shares the chat prompt)."""
        engine = self.engine()
        tokenizer = engine.get_tokenizer()
        pairs = []
        for request in requests:
            prompt = chat_text(tokenizer, request.messages)
            pairs += [encode_pair(tokenizer, prompt + prefix, cont) for prefix, cont in request.pairs]
        outputs = engine.generate(
            [{"prompt_token_ids": context + continuation} for context, continuation in pairs],
            sampling_params=self.prompt_logprob_params(),
            use_tqdm=False,
        )
        sums = []
        for (context, continuation), output in zip(pairs, outputs, strict=True):
            ids = context + continuation
            positions = output.prompt_logprobs
            sums.append(sum(float(positions[j][ids[j]].logprob) for j in range(len(context), len(ids))))
        self.prompts_scored += len(requests)
        out, at = [], 0
        for request in requests:
            out.append(sums[at : at + len(request.pairs)])
            at += len(request.pairs)
        return out


def load_backend(model: str, config: EvalConfig) -> TransformersBackend | VLLMBackend:
    """The backend `config` names for `model` (a path; for vLLM also a Hub model id)."""
    if config.backend == "vllm":
        return VLLMBackend(model, batch_size=config.batch_size or 256)
    return TransformersBackend(Path(model), batch_size=config.batch_size or 8, threads=config.threads)


def evaluate_models(
    models: Sequence[str],
    benchmarks: Sequence[str],
    out: Path,
    *,
    config: EvalConfig,
    fields: FieldMap | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """`kgsynth eval`: every model (a path; for vLLM also a Hub id) on every set (`resolve_set`'s specs), scored
    as ``config.scoring`` says, into ``out``; the summary."""
    from kgsynth.eval.benchmarks import resolve_set
    from kgsynth.eval.evaluate import evaluate

    sets = [resolve_set(spec, fields=fields) for spec in benchmarks]
    return evaluate([load_backend(m, config) for m in models], sets, out, config=config, progress=progress)
