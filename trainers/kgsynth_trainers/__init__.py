"""kgsynth's bundled trainers: thin plugins over TRL, registered in the `kgsynth.trainers` entry-point group.

- `sft` (`kgsynth_trainers.sft`): TRL's SFTTrainer on an export's `sft` config, LoRA or full;
- `grpo` (`kgsynth_trainers.grpo`): TRL's GRPOTrainer on the `grpo` config with kgsynth's rewards,
  stage 1, or stage 2 on the items the stage-1 policy still fails (`kgsynth_trainers.mining`).

Each reads a flat YAML recipe (`kgsynth_trainers.recipe`) and writes its run files beside the
checkpoint (`kgsynth_trainers.runlog`). Heavy imports (torch, transformers, TRL) happen inside the
functions that need them.
"""
