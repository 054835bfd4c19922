"""Chains of thought from a teacher model, kept only when they reach the proven answer.

`kgsynth.teacher.run.distil` is the entry point; the backends (`client`, `local`, `vllm_backend`)
all speak the `Teacher` protocol of `kgsynth.models.base`. Importing this package imports no
backend: `openai`, `torch` and `vllm` are loaded only by the backend that needs them.
"""
