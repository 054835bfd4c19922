"""The names of the files in a run folder and in an export folder: their one home.

A run (``kgsynth generate --out RUN``) holds its items in ``jsonl/`` under a journal (``progress.json``,
see `kgsynth.run.journal`), its record and replayable configuration, its summary and card, and the
folders of the steps after it (``judge/``, ``teacher/``). An export (``kgsynth export RUN --out DIR``)
holds ``data/<config>/<split>-*.parquet``, its record, its summary and the same card: the export is the
one step that writes a dataset.
"""

from __future__ import annotations

from kgsynth.graph.licences import COMBINED_LINK

# -- a run folder --------------------------------------------------------------------------------
RUN_RECORD = "config.json"  # what made the run: the generation config, the graph, the schema
RUN_CONFIG = "config.yaml"  # the replayable command-line config (`kgsynth generate --config RUN/config.yaml`)
PROGRESS = "progress.json"  # the journal's commit record
SUMMARY = "summary.json"
CARD = "README.md"
FIGURE = "rarity_hops.png"  # the card's figure, beside the card in a run and in an export
LICENCE = COMBINED_LINK  # the card's licence file, where the items' licences differ
LOCK = ".lock"
SHARDS = "jsonl"  # items-00000.jsonl, ...
# The flat dataset view (`datasets.load_from_disk`) that `generate` wrote into a run before the export became
# the one dataset door: no longer written, still accepted in a run folder, so that an older run resumes.
OLD_HF = "hf"
JUDGE = "judge"  # the judge's folder: a run folder of the kept items
TEACHER = "teacher"  # the teacher's folder
RUN_FILES = frozenset({RUN_RECORD, RUN_CONFIG, PROGRESS, SUMMARY, CARD, FIGURE, LICENCE, LOCK})
RUN_FOLDERS = frozenset({SHARDS, OLD_HF, TEACHER, JUDGE})

# -- inside the model steps' folders (``teacher/``, ``judge/``) -----------------------------------
REQUEST_CACHE = "cache.sqlite"  # every answered request (`kgsynth.models.cache`)
TEACHER_RESULTS = "results.jsonl"  # one record per item: status, samples, the kept chains
TEACHER_RUNS = "runs.jsonl"  # one line per teacher run: what it sent (varies run to run)
VERDICTS = "verdicts.jsonl"  # the judge's verdict on each item

# -- an export folder ----------------------------------------------------------------------------
DATA = "data"  # data/<config>/<split>-00000-of-00001.parquet (`data_file`)
CONFIGS = ("sft", "grpo", "items")  # data/<config>/
SPLITS = ("train", "validation", "test")
EXPORT_RECORD = "kgsynth_config.json"  # the export's configuration and the run's record
EXPORT_SUMMARY = "export_summary.json"


def data_file(config: str, split: str) -> str:
    """Where a config's split lives inside an export folder (the Hub's own layout).

    >>> data_file("grpo", "train")
    'data/grpo/train-00000-of-00001.parquet'
    """
    return f"{DATA}/{config}/{split}-00000-of-00001.parquet"
