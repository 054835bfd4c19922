"""Chains of thought from a teacher model, kept only when they reach the proven answer; the judge.

`kgsynth.teacher.run.distil` is the teacher's entry point, `kgsynth.teacher.judge.judge_run` the
judge's; both ask their model through `kgsynth.models` (`make_model`, the request cache, the budget).
Importing this package imports no backend: `openai`, `torch` and `vllm` are loaded only by the
backend that needs them.
"""
