"""kgsynth's bundled trainers end to end on CPU, from the shipped recipes.

The model is a tiny, randomly initialised Llama built here with SmolLM2's real tokenizer (from the
GGUF in `.models/`, see `ensure_smollm2`); the data is a small run of the real default KG exported by
`kgsynth export`. Every stage runs from its recipe with tiny overrides (2-3 steps, short completions,
one torch thread): SFT LoRA with a merge, SFT full, GRPO stage 1 from the SFT adapter, stage 2
(mining, pass rates, training on the kept items), a killed run that resumes, and recipe errors that
are one clear message before any model is loaded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kgsynth_trainers", reason="needs the trainers package: pip install -e trainers/")
pytest.importorskip("peft", reason="needs the train extra")

from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.errors import KgsynthError

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
RECIPES = REPO / "trainers" / "recipes"
MODELS = REPO / ".models"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (hidden 64, random weights) with SmolLM2's tokenizer, saved once as a model folder."""
    import torch

    from kgsynth_trainers.testing import save_tiny_llama

    torch.set_num_threads(1)
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), models=MODELS)


@pytest.fixture(scope="module")
def dataset(real_graph, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 items of the default KG (hops 2, both types and formats), exported as kgsynth export writes them."""
    from kgsynth.decontam import DecontamConfig
    from kgsynth.export import ExportConfig, export_run
    from kgsynth.generate import GenerateConfig, generate

    root = tmp_path_factory.mktemp("train-data")
    config = GenerateConfig(n=60, hops=2, seed=5, types=["chain", "vignette"], formats=["mcq", "short"])
    generate(real_graph, config, root / "run", compare_uniform=False)
    export_run(root / "run", root / "export", config=ExportConfig(decontam=DecontamConfig(shared=False)))
    return root / "export"


def tiny(model: Path, data: Path, out: Path, **keys: Any) -> list[str]:
    """Overrides that shrink a shipped recipe to the tiny model, the small export and a few steps."""
    values = {"model": str(model), "gguf_file": None, "dataset": str(data), "output_dir": str(out),
              "torch_threads": 1, "logging_steps": 1, "save_steps": 1, "max_steps": 2, **keys}  # fmt: skip
    return [f"{key}={'null' if value is None else value}" for key, value in values.items()]


def sft_keys() -> dict[str, Any]:
    return {"per_device_train_batch_size": 2, "max_length": 1024}


def grpo_keys() -> dict[str, Any]:
    return {"per_device_train_batch_size": 4, "num_generations": 2, "max_completion_length": 8}


def steps_logged(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def check_run_files(run: Path, *, steps: int, trainer: str) -> dict[str, Any]:
    """Every run writes its resolved config, one metrics line per logging step, a report and its curves."""
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["trainer"] == trainer and resolved["trl"]["max_steps"] == steps
    assert resolved["kgsynth"]["torch_threads"] == 1
    logged = steps_logged(run)
    assert logged == [*range(1, steps + 1), steps]  # each step, then the end-of-training summary
    report = (run / "report.md").read_text()
    assert f"steps: {steps}" in report and "![curves](curves.png)" in report
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = json.loads(sorted(run.glob("checkpoint-*/trainer_state.json"))[-1].read_text())
    assert state["global_step"] == steps
    return resolved


# -- recipes: strict, one clear message, before any model is loaded ---------------------------------


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["train", *args])


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (
            {"lerning_rate": 0.1},
            "key 'lerning_rate': unknown; expected a field of SFTConfig or of kgsynth's "
            "SFTSection (did you mean 'learning_rate'?)",
        ),
        ({"max_steps": "many"}, "key 'max_steps': expected int, found 'many'"),
        ({"lora_r": "big"}, "key 'lora_r': input should be a valid integer"),
        ({"dataset_config": "grpo"}, "lacks the column 'messages' (read by SFTTrainer)"),
    ],
)
def test_sft_recipe_error_is_one_clear_message(dataset: Path, tmp_path: Path, keys, expected) -> None:
    # The model does not exist: an error about it would mean the recipe was not checked first.
    overrides = tiny(tmp_path / "no-model-here", dataset, tmp_path / "run", **keys)
    result = run_cli("sft", "--config", str(RECIPES / "smollm2-135m" / "sft_lora.yaml"), *overrides)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "no-model-here" not in result.output
    assert expected in " ".join(result.output.split()), result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"rewards": "[accuracy, acuracy]"}, "key 'rewards': unknown reward 'acuracy'"),
        ({"dataset_config": "sft"}, "lacks the column 'path_intermediates' (read by reward 'path_faithfulness')"),
        ({"stage": 2, "init_from": "null"}, "stage 2 trains from the stage-1 run: set init_from"),
        ({"stage": 3}, "key 'stage': input should be 1 or 2, found 3"),
        ({"beta": "[1]"}, "key 'beta': expected float, found [1]"),
        ({"stage": 2, "init_from": "elsewhere", "mining_backend": "vllm"}, "mining_backend: vllm needs vLLM"),
    ],
)
def test_grpo_recipe_error_is_one_clear_message(dataset: Path, tmp_path: Path, keys, expected) -> None:
    overrides = tiny(tmp_path / "no-model-here", dataset, tmp_path / "run", **{"init_from": None, **keys})
    result = run_cli("grpo", "--config", str(RECIPES / "smollm2-135m" / "grpo_stage1.yaml"), *overrides)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert expected in " ".join(result.output.split()), result.output


def test_recipe_errors_are_listed_together_with_the_file(tmp_path: Path) -> None:
    from kgsynth_trainers.sft import read_sft_recipe

    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model: m\ndataset: d\noutput_dir: o\nwarmup_stepz: 3\nlearning_rate: fast\nlora_dropout: 2\n")
    with pytest.raises(KgsynthError) as error:
        read_sft_recipe(recipe)
    message = error.value.message
    assert message.startswith(f"recipe {recipe}: 3 problems")
    assert "'warmup_stepz'" in message and "'learning_rate': expected float" in message and "'lora_dropout'" in message
    recipe.write_text("model: [unclosed\n")
    with pytest.raises(KgsynthError, match=r"bad.yaml:\d+: not valid YAML"):
        read_sft_recipe(recipe)


def test_every_shipped_recipe_parses() -> None:
    from kgsynth_trainers.grpo import read_grpo_recipe
    from kgsynth_trainers.sft import read_sft_recipe

    recipes = sorted(p for p in RECIPES.glob("*/*.yaml") if p.parent.name != "accelerate")
    assert {p.parent.name for p in recipes} == {"smollm2-135m", "qwen2.5-7b"}
    for path in recipes:
        read = read_sft_recipe if path.stem.startswith("sft") else read_grpo_recipe
        # The 7B recipes ask for bf16, which TRL refuses on a machine without a GPU: checked with it off.
        recipe = read(path, ["bf16=false"] if "qwen" in path.parent.name else [])
        assert Path(recipe.trl.output_dir).parts[-1] == path.stem
        if "qwen" in path.parent.name and path.stem.startswith("grpo"):
            assert recipe.trl.use_vllm and recipe.trl.vllm_mode == "colocate"
    for name in ("zero3", "fsdp"):
        accelerate = yaml.safe_load((RECIPES / "accelerate" / f"{name}.yaml").read_text())
        assert accelerate["distributed_type"] == {"zero3": "DEEPSPEED", "fsdp": "FSDP"}[name]


def test_train_finds_trainers_by_entry_point_and_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import kgsynth.train
    from kgsynth_trainers import grpo, sft

    assert kgsynth.train.get_trainer("sft") is sft.train and kgsynth.train.get_trainer("grpo") is grpo.train
    assert {"sft", "grpo"} <= set(kgsynth.train.trainer_names())
    monkeypatch.setattr(kgsynth.train, "entry_points", lambda group: [])
    result = run_cli("sft", "--config", "x.yaml")
    assert result.exit_code == 2 and "pip install -e trainers/" in result.output


# -- the loss is on the assistant's turn -------------------------------------------------------------


def test_sft_rows_train_the_assistant_turn_only(tiny_model: Path, dataset: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from kgsynth_trainers.data import load_split, to_prompt_completion
    from kgsynth_trainers.sft import read_sft_recipe

    recipe = read_sft_recipe(RECIPES / "smollm2-135m" / "sft_lora.yaml", tiny(tiny_model, dataset, tmp_path))
    rows = load_split(recipe.kgsynth, config="sft", split="train").select(range(4))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    assert "{% generation %}" not in tokenizer.chat_template  # why the rows become prompt-completion
    args = SFTConfig(output_dir=str(tmp_path), max_length=1024, report_to="none", use_cpu=True)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(str(tiny_model)), args=args,
                         train_dataset=to_prompt_completion(rows), processing_class=tokenizer)  # fmt: skip
    for prepared, row in zip(trainer.train_dataset, rows, strict=True):
        # TRL 1.16 folds the completion mask into `labels` (-100 on the prompt).
        taught = tokenizer.decode([t for t, label in zip(prepared["input_ids"], prepared["labels"], strict=True)
                                   if label != -100])  # fmt: skip
        assistant = row["messages"][-1]["content"]
        assert taught.startswith("<think>") and taught.rstrip().endswith(assistant.splitlines()[-1] + "<|im_end|>")
        assert row["messages"][-2]["content"][:40] not in taught


# -- every stage end to end from its recipe ----------------------------------------------------------


@pytest.fixture(scope="module")
def sft_lora_run(tiny_model: Path, dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sft_lora"
    result = run_cli("sft", "--config", str(RECIPES / "smollm2-135m" / "sft_lora.yaml"), "--merge",
                     *tiny(tiny_model, dataset, out, **sft_keys()))  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_sft_lora_then_merge(sft_lora_run: Path) -> None:
    from transformers import AutoModelForCausalLM

    resolved = check_run_files(sft_lora_run, steps=2, trainer="sft")
    assert resolved["kgsynth"]["lora"] and resolved["kgsynth"]["merge"]
    assert (sft_lora_run / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(str(sft_lora_run / "merged"))
    assert not hasattr(merged, "peft_config") and not (sft_lora_run / "merged" / "adapter_config.json").exists()
    assert all("lora" not in name for name, _ in merged.named_parameters())
    assert any(isinstance(json.loads(line).get("loss"), float)
               for line in (sft_lora_run / "metrics.jsonl").read_text().splitlines())  # fmt: skip


def test_sft_full(tiny_model: Path, dataset: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    out = tmp_path / "sft_full"
    result = run_cli("sft", "--config", str(RECIPES / "smollm2-135m" / "sft_full.yaml"),
                     *tiny(tiny_model, dataset, out, **sft_keys()))  # fmt: skip
    assert result.exit_code == 0, result.output
    check_run_files(out, steps=2, trainer="sft")
    assert not (out / "adapter_config.json").exists()
    trained = AutoModelForCausalLM.from_pretrained(str(out)).state_dict()
    initial = AutoModelForCausalLM.from_pretrained(str(tiny_model)).state_dict()
    assert any(not trained[name].equal(initial[name]) for name in initial)  # full fine-tuning moved the weights


@pytest.fixture(scope="module")
def grpo_stage1_run(sft_lora_run: Path, tiny_model: Path, dataset: Path) -> Path:
    out = sft_lora_run.parent / "grpo_stage1"
    result = run_cli("grpo", "--config", str(RECIPES / "smollm2-135m" / "grpo_stage1.yaml"),
                     *tiny(tiny_model, dataset, out, init_from=sft_lora_run, **grpo_keys()))  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_grpo_stage1_from_the_sft_adapter(grpo_stage1_run: Path) -> None:
    resolved = check_run_files(grpo_stage1_run, steps=2, trainer="grpo")
    assert resolved["kgsynth"]["rewards"] == ["accuracy", "format", "path_faithfulness"]
    rows = [json.loads(line) for line in (grpo_stage1_run / "metrics.jsonl").read_text().splitlines()]
    assert all("rewards/accuracy_reward/mean" in row and "reward" in row for row in rows[:-1])
    assert (grpo_stage1_run / "adapter_config.json").is_file() and (
        grpo_stage1_run / "merged" / "config.json"
    ).is_file()


def test_a_chain_of_lora_stages_keeps_every_stage(
    sft_lora_run: Path, grpo_stage1_run: Path, tiny_model: Path, dataset: Path, tmp_path: Path
) -> None:
    """Starting from stage 1's adapter without its merged/ copy merges SFT's adapter first, then stage 1's:
    the weights equal stage 1's own merged model (the base + stage 1's adapter alone does not)."""
    import shutil

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from kgsynth_trainers.model import lineage, load_model
    from kgsynth_trainers.recipe import GRPOSection

    copies = {}
    for name, run in (("sft", sft_lora_run), ("grpo1", grpo_stage1_run)):  # the runs as merge: false leaves them
        copies[name] = tmp_path / name
        shutil.copytree(run, copies[name], ignore=shutil.ignore_patterns("merged", "checkpoint-*"))
    config = yaml.safe_load((copies["grpo1"] / "config.yaml").read_text())
    assert config["kgsynth"]["init_from"] == str(sft_lora_run)
    config["kgsynth"]["init_from"] = str(copies["sft"])
    (copies["grpo1"] / "config.yaml").write_text(yaml.safe_dump(config))
    assert lineage(copies["grpo1"]) == (None, [copies["sft"], copies["grpo1"]])
    assert lineage(grpo_stage1_run) == (grpo_stage1_run / "merged", [])

    section = GRPOSection(model=str(tiny_model), dataset=str(dataset), init_from=str(copies["grpo1"]))
    loaded = load_model(section).state_dict()
    expected = AutoModelForCausalLM.from_pretrained(str(grpo_stage1_run / "merged")).state_dict()
    assert all(torch.allclose(loaded[k], expected[k], atol=1e-6) for k in expected)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model))
    stage1_alone = PeftModel.from_pretrained(base, str(copies["grpo1"])).merge_and_unload().state_dict()
    assert not all(torch.allclose(stage1_alone[k], expected[k], atol=1e-6) for k in expected)


def test_grpo_full_from_the_merged_sft_model(sft_lora_run: Path, tiny_model: Path, dataset: Path) -> None:
    """init_from a plain saved model (the SFT run's merged/), no LoRA: the GRPO run saves a full model."""
    out = sft_lora_run.parent / "grpo_full"
    result = run_cli("grpo", "--config", str(RECIPES / "smollm2-135m" / "grpo_stage1.yaml"),
                     *tiny(tiny_model, dataset, out, init_from=sft_lora_run / "merged", lora=False, merge=False,
                           max_steps=1, **grpo_keys()))  # fmt: skip
    assert result.exit_code == 0, result.output
    check_run_files(out, steps=1, trainer="grpo")
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()


def test_grpo_stage2_mines_then_trains_on_the_kept_items(
    grpo_stage1_run: Path, tiny_model: Path, dataset: Path, real_graph: Any
) -> None:
    out = grpo_stage1_run.parent / "grpo_stage2"
    result = run_cli("grpo", "--config", str(RECIPES / "smollm2-135m" / "grpo_stage2.yaml"),
                     "--stage", "2", "--from", str(grpo_stage1_run),
                     *tiny(tiny_model, dataset, out, mining_k=2, mining_max_items=10, mining_tau=0.5,
                           **grpo_keys()))  # fmt: skip
    assert result.exit_code == 0, result.output
    resolved = check_run_files(out, steps=2, trainer="grpo")
    assert resolved["kgsynth"]["stage"] == 2 and resolved["kgsynth"]["init_from"] == str(grpo_stage1_run)
    rates = [json.loads(line) for line in (out / "passrates.jsonl").read_text().splitlines()]
    assert len(rates) == 10
    for rate in rates:
        assert set(rate) >= {"item_id", "type", "hops", "metapath", "template_id", "rarity", "k", "successes",
                             "pass_rate", "kept"}  # fmt: skip
        assert rate["k"] == 2 and rate["pass_rate"] == rate["successes"] / 2 and rate["hops"] == 2
        assert all(rel.startswith("biolink:") for rel in rate["metapath"].split(">")) and 0.0 <= rate["rarity"] <= 1.0
        assert rate["kept"] == (rate["pass_rate"] <= 0.5)
    kept = sum(rate["kept"] for rate in rates)
    assert kept > 0 and f"{kept} kept" in (out / "report.md").read_text()
    # The loop back to the graph: the pass rates become sampling weights.
    result = CliRunner().invoke(app, ["focus", str(out / "passrates.jsonl"), "--out", str(out / "focus.json")])
    assert result.exit_code == 0, result.output
    focus = json.loads((out / "focus.json").read_text())
    assert focus["items"] == 10 and focus["rollouts"] == 20 and focus["weights"]["relation"]
    # ... which steer a new generate run, recorded in its config and summary
    from kgsynth.genconfig import GenerateConfig
    from kgsynth.generate import generate as generate_items

    summary = generate_items(real_graph, GenerateConfig(n=20, hops=2, seed=5, focus=out / "focus.json"),
                             out / "focused", compare_uniform=False)  # fmt: skip
    assert summary["items"] == 20 and summary["focus"]["file"] == str(out / "focus.json")
    record = json.loads((out / "focused" / "config.json").read_text())
    assert record["focus"]["weights"]["relation"] == focus["weights"]["relation"]


# -- mining, with a policy whose answers are known ---------------------------------------------------


def test_mining_keeps_items_at_most_tau_and_confirms_unsolved_ones() -> None:
    from kgsynth.rewards import accuracy_reward
    from kgsynth_trainers.mining import MiningSettings, mine

    rows = [{"item_id": f"i{n}", "type": "chain", "hops": 2, "prompt": [{"role": "user", "content": f"i{n}"}],
             "answer_letter": "A", "answer_aliases": ["x"]} for n in range(3)]  # fmt: skip
    # A policy whose answers are known: i0 always right, i1 right once in four, i2 wrong in its first four
    # rollouts and right in the fifth (the confirmation round).
    script = {"i0": "AAAAAAAA", "i1": "ABBBBBBB", "i2": "BBBBABBB"}
    calls: list[int] = []

    def roll_out(prompts, k):
        offset = 4 * len(calls)
        calls.append(len(prompts))
        ids = [p[0]["content"] for p in prompts]
        return [[f"<think>x</think>\nAnswer: {script[i][offset + j]}" for j in range(k)] for i in ids]

    plain = mine(rows, roll_out=roll_out, reward=accuracy_reward, settings=MiningSettings(k=4, tau=0.5))
    assert [(r.successes, r.pass_rate, r.kept) for r in plain] == [(4, 1.0, False), (1, 0.25, True), (0, 0.0, True)]
    assert plain[1].answers == ("A", "B", "B", "B") and plain[1].answer_letter == "A"
    calls.clear()
    confirmed = mine(rows, roll_out=roll_out, reward=accuracy_reward,
                     settings=MiningSettings(k=4, tau=0.5, confirm_k=2))  # fmt: skip
    assert calls == [3, 1]  # the confirmation rolls out the unsolved item only
    assert [r.kept for r in confirmed] == [False, True, True] and confirmed[2].confirm_successes == 1
    script["i2"] = "BBBBBBBB"  # never solved, even in the confirmation: dropped
    calls.clear()
    unsolved = mine(rows, roll_out=roll_out, reward=accuracy_reward,
                    settings=MiningSettings(k=4, tau=0.5, confirm_k=2))  # fmt: skip
    assert [r.kept for r in unsolved] == [False, True, False]


def test_vllm_rollout_interface() -> None:
    """vLLM cannot run here (no GPU, not installed): its rollout is checked against vLLM's `LLM.chat` shapes."""
    from types import SimpleNamespace

    from kgsynth_trainers.mining import MiningSettings, roll_out_vllm, vllm_sampling_params

    class ChatOnlyLLM:  # what roll_out_vllm uses of vllm.LLM: chat(messages, sampling_params, use_tqdm)
        def chat(self, messages, sampling_params, use_tqdm):
            assert isinstance(messages, list) and all(isinstance(m, list) for m in messages) and not use_tqdm
            return [SimpleNamespace(outputs=[SimpleNamespace(text=f"{m[0]['content']}-{j}")
                                             for j in range(sampling_params.n)]) for m in messages]  # fmt: skip

    roll_out = roll_out_vllm(ChatOnlyLLM(), lambda k: SimpleNamespace(n=k))
    assert roll_out([[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]], 2) == [
        ["a-0", "a-1"], ["b-0", "b-1"]]  # fmt: skip
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(KgsynthError, match="needs vLLM"):
            vllm_sampling_params(MiningSettings(k=2, tau=0.5), 2)


def test_curves_are_deterministic(tmp_path: Path) -> None:
    from kgsynth_trainers.runlog import plot_curves

    metrics = [{"step": s, "loss": 1.0 / s, "reward": s / 10} for s in range(1, 6)]
    first = plot_curves(metrics, tmp_path / "a.png", title="t")
    second = plot_curves(metrics, tmp_path / "b.png", title="t")
    assert first and second and first.read_bytes() == second.read_bytes()


# -- a killed run resumes from its last checkpoint ---------------------------------------------------


def test_killed_run_resumes(tiny_model: Path, dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "kgsynth.cli", "train", "sft", "--config",
               str(RECIPES / "smollm2-135m" / "sft_lora.yaml"),
               *tiny(tiny_model, dataset, out, max_steps=30, **sft_keys())]  # fmt: skip
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, env=env, cwd=REPO, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 600
    while not list(out.glob("checkpoint-2/trainer_state.json")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    assert 2 <= killed_at < 30
    result = subprocess.run([*command[:-1], "max_steps=30"], env=env, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = (out / "report.md").read_text()
    resumed_at = int(report.split("resumed at step ")[1].split(")")[0])
    assert resumed_at >= killed_at
    state = json.loads((out / "checkpoint-30" / "trainer_state.json").read_text())
    assert state["global_step"] == 30
    logged = steps_logged(out)
    assert logged[:-1] == list(range(1, 31)) and logged[-1] == 30  # one line per step across the kill


@pytest.mark.parametrize("module", ["recipe", "data", "mining"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"kgsynth_trainers.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_gguf_model_is_trainable_after_its_quantizer_is_detached(tmp_path: Path) -> None:
    """SmolLM2's GGUF is dequantised on load but keeps the GGUF quantizer, which Trainer refuses to train."""
    from transformers import AutoModelForCausalLM
    from transformers.trainer_utils import validate_quantization_for_training

    from kgsynth.teacher.local import ensure_smollm2
    from kgsynth_trainers.model import detach_gguf_quantizer

    gguf = ensure_smollm2(MODELS)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    with pytest.raises(ValueError, match="quantized"):
        validate_quantization_for_training(model)
    plain = detach_gguf_quantizer(model)
    validate_quantization_for_training(plain)
    plain.save_pretrained(str(tmp_path))
    assert (tmp_path / "config.json").is_file() and "quantization_config" not in (tmp_path / "config.json").read_text()
