"""`kgsynth focus`: failure rates per relation, metapath, type, hops and rarity bin, as sampling weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.errors import SourceFormatError
from kgsynth.run.focus import FocusConfig, derive_focus, read_pass_rates, write_focus

ROWS = [
    # The policy fails every item through `treats` and every 3-hop item; it solves the common `has_phenotype` ones.
    {"item_id": "a", "type": "chain", "hops": 3, "metapath": "has_phenotype>treats", "rarity": 0.9, "k": 4,
     "successes": 0},
    {"item_id": "b", "type": "vignette", "hops": 3, "metapath": "has_phenotype>treats", "rarity": 0.8, "k": 4,
     "successes": 0},
    {"item_id": "c", "type": "chain", "hops": 2, "metapath": "has_phenotype>subclass_of", "rarity": 0.2, "k": 4,
     "successes": 4},
    {"item_id": "d", "type": "vignette", "hops": 2, "metapath": "has_phenotype>subclass_of", "rarity": 0.3, "k": 4,
     "successes": 3},
]  # fmt: skip


def test_focus_weights_what_fails_above_what_succeeds() -> None:
    focus = derive_focus(ROWS)
    assert focus["items"] == 4 and focus["rollouts"] == 16 and focus["overall_failure_rate"] == 9 / 16
    weights = focus["weights"]
    assert weights["relation"]["treats"] > weights["relation"]["has_phenotype"] > weights["relation"]["subclass_of"]
    assert weights["hops"]["3"] > 1.0 > weights["hops"]["2"]
    assert weights["rarity_bin"]["0.75-1.00"] > weights["rarity_bin"]["0.00-0.25"]
    assert focus["groups"]["metapath"][0]["value"] == "has_phenotype>treats"
    # Smoothing: the same failures on fewer pseudo-items move the weights further from 1.
    sharp = derive_focus(ROWS, config=FocusConfig(prior_items=0))["weights"]["hops"]
    assert sharp["3"] >= weights["hops"]["3"] and sharp["2"] <= weights["hops"]["2"]
    assert all(0.25 <= w <= 4.0 for dimension in weights.values() for w in dimension.values())


def test_focus_cli_writes_the_same_bytes_twice(tmp_path: Path) -> None:
    rates = tmp_path / "passrates.jsonl"
    rates.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    for name in ("one.json", "two.json"):
        result = CliRunner().invoke(app, ["focus", str(rates), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        assert "most failed relation: treats" in result.output
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()
    assert json.loads((tmp_path / "one.json").read_text()) == derive_focus(read_pass_rates(rates))
    write_focus(derive_focus(ROWS), tmp_path / "three.json")
    assert (tmp_path / "three.json").read_bytes() == (tmp_path / "one.json").read_bytes()


def test_focus_bad_file_is_a_clear_error(tmp_path: Path) -> None:
    rates = tmp_path / "passrates.jsonl"
    rates.write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    with pytest.raises(SourceFormatError, match=r"passrates.jsonl:2: expected one JSON object per line"):
        read_pass_rates(rates)
    result = CliRunner().invoke(app, ["focus", str(tmp_path / "missing.jsonl")])
    assert result.exit_code == 2 and "Traceback" not in result.output and "stage-2 run" in result.output
