"""`kgsynth eval-compare`'s paired statistics (`kgsynth.eval.paired`), against cases computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgsynth.cli import app
from kgsynth.eval.paired import CompareConfig, Outcome, bootstrap_mean, compare_pair, mcnemar_exact, paired_wald


def binomial_two_sided(k: int, n: int) -> float:
    """The two-sided binomial test at p = 1/2 by its definition: the total probability of every outcome no
    more likely than the one observed."""
    probs = [math.comb(n, j) / 2**n for j in range(n + 1)]
    return min(1.0, sum(p for p in probs if p <= probs[k] * (1 + 1e-12)))


@pytest.mark.parametrize(("b", "c"), [(0, 0), (1, 0), (9, 1), (1, 9), (5, 5), (3, 7), (20, 8), (98, 16)])
def test_mcnemar_exact_is_the_binomial_test_on_discordant_pairs(b: int, c: int) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(binomial_two_sided(b, b + c) if b + c else 1.0, rel=1e-9)


def test_mcnemar_exact_by_hand_and_against_scipy() -> None:
    assert mcnemar_exact(9, 1) == 22 / 1024  # 2 x (C(10,0) + C(10,1)) / 2^10
    assert mcnemar_exact(2, 2) == 1.0
    scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is not installed")
    for b, c in [(9, 1), (3, 7), (20, 8), (98, 16)]:
        assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_paired_wald_interval_by_hand() -> None:
    low, high = paired_wald(10, 4, 50)
    se = math.sqrt(14 - 36 / 50) / 50  # sqrt(b + c - (b - c)^2 / n) / n
    assert (low, high) == pytest.approx((0.12 - 1.959964 * se, 0.12 + 1.959964 * se), abs=1e-6)
    assert paired_wald(0, 0, 10) == (0.0, 0.0)  # identical results: no uncertainty in the difference


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    assert bootstrap_mean([0.5] * 30, resamples=500, seed=1) == (0.5, 0.5)
    values = [((k * 37) % 101) / 10 for k in range(60)]
    a = bootstrap_mean(values, resamples=1000, seed=3)
    assert a == bootstrap_mean(values, resamples=1000, seed=3) != bootstrap_mean(values, resamples=1000, seed=4)
    assert a[0] < sum(values) / len(values) < a[1]


def test_compare_pair_counts_wins_losses_and_margins_by_hand() -> None:
    a = {"1": Outcome(True, 1.0), "2": Outcome(True, 0.5), "3": Outcome(False, -1.0), "4": Outcome(False, -2.0),
         "5": Outcome(True, 3.0), "only-a": Outcome(True, 9.0)}  # fmt: skip
    b = {"1": Outcome(True, 2.0), "2": Outcome(False, -0.5), "3": Outcome(True, 1.0), "4": Outcome(True, 0.0),
         "5": Outcome(True, 3.0), "only-b": Outcome(False, -9.0)}  # fmt: skip
    stats = compare_pair(a, b, config=CompareConfig(bootstrap=500, seed=0))
    assert stats["n"] == 5 and stats["wins"] == 2 and stats["losses"] == 1  # item 3 and 4 won, item 2 lost
    assert stats["acc_a"] == 0.6 and stats["acc_b"] == 0.8 and stats["diff"] == 0.2
    assert stats["mcnemar_p"] == 1.0  # 2 against 1 discordant: 2 x (1 + 3) / 8 > 1
    assert stats["margin_diff"] == pytest.approx((1 - 1 + 2 + 2 + 0) / 5)
    low, high = stats["margin_diff_bootstrap_ci95"]
    assert low <= stats["margin_diff"] <= high


def write_eval(directory: Path, scoring: str, model: str, correct: dict[str, bool], margins: dict[str, float]) -> None:
    """An evaluation folder as `kgsynth eval` writes it: summary.json and the per-item file."""
    from kgsynth.eval.evaluate import _safe

    items = directory / "items" / _safe(model)
    items.mkdir(parents=True)
    lines = []
    for item_id, ok in correct.items():
        if scoring == "loglik":
            q = {"correct": ok, "correct_norm": ok, "margin": margins[item_id], "gold": 0, "pred": 0 if ok else 1}
            lines.append({"id": item_id, "format": "mcq", "groups": {}, "queries": {"hop1": q}})
        else:
            lines.append({"id": item_id, "correct": ok, "format": "mcq"})
    (items / "set.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    n, k = len(correct), sum(correct.values())
    result: dict[str, object] = {"model": model, "set": "set"}
    if scoring == "loglik":
        m = {"n": n, "acc": k / n, "acc_ci95": [0, 1], "acc_norm": k / n, "acc_norm_ci95": [0, 1], "chance": 0.25,
             "mean_margin": 0.0, "mean_p_gold": 0.25}  # fmt: skip
        result |= {"queries": {"hop1": m}, "breakdown": {}}
    else:
        result |= {"n": n, "correct": k, "accuracy": k / n, "ci95": [0, 1], "letter_prior": None, "strict_format": 1.0,
                   "answered": 1.0, "predicted": {}, "gold": {}, "breakdown": {}}  # fmt: skip
    summary = {"format": 1, "models": [{"label": model, "model_id": model}], "sets": [{"name": "set"}],
               "results": [result], **({"scoring": "loglik"} if scoring == "loglik" else {})}  # fmt: skip
    (directory / "summary.json").write_text(json.dumps(summary))


@pytest.mark.parametrize("scoring", ["loglik", "generate"])
def test_eval_compare_writes_the_paired_statistics(tmp_path: Path, scoring: str) -> None:
    # 40 items: both right on 10, both wrong on 14, B alone right on 12 (wins), A alone on 4 (losses).
    pattern = [(True, True)] * 10 + [(False, False)] * 14 + [(False, True)] * 12 + [(True, False)] * 4
    ids = [f"q{k}" for k in range(len(pattern))]
    write_eval(tmp_path / "base", scoring, "m", {i: a for i, (a, _) in zip(ids, pattern, strict=True)},
               {i: -1.0 for i in ids})  # fmt: skip
    write_eval(tmp_path / "sft", scoring, "m", {i: b for i, (_, b) in zip(ids, pattern, strict=True)},
               {i: 0.5 for i in ids})  # fmt: skip
    args = [
        "eval-compare",
        str(tmp_path / "base"),
        str(tmp_path / "sft"),
        "--out",
        str(tmp_path / "cmp"),
        "--seed",
        "7",
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    paired = json.loads((tmp_path / "cmp" / "paired.json").read_text())
    (row,) = paired["comparisons"]
    assert (
        row["a"] == "base/m" and row["b"] == "sft/m" and row["query"] == ("hop1" if scoring == "loglik" else "answer")
    )
    assert (row["n"], row["wins"], row["losses"]) == (40, 12, 4)
    assert row["acc_a"] == 14 / 40 and row["acc_b"] == 22 / 40 and row["diff"] == 0.2
    assert row["mcnemar_p"] == pytest.approx(2 * sum(math.comb(16, k) for k in range(5)) / 2**16, abs=1e-6)
    assert row["diff_ci95"] == pytest.approx(list(paired_wald(12, 4, 40)), abs=1e-6)
    low, high = row["diff_bootstrap_ci95"]
    assert low < 0.2 < high
    if scoring == "loglik":
        assert row["margin_diff"] == 1.5 and row["margin_diff_bootstrap_ci95"] == [1.5, 1.5]
    else:
        assert "margin_diff" not in row
    again = CliRunner().invoke(app, [*args[:-3], str(tmp_path / "cmp2"), "--seed", "7"], catch_exceptions=False)
    assert again.exit_code == 0
    assert (tmp_path / "cmp" / "paired.json").read_bytes() == (tmp_path / "cmp2" / "paired.json").read_bytes()


def test_eval_compare_refuses_a_folder_that_is_no_evaluation(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    result = CliRunner().invoke(
        app, ["eval-compare", str(tmp_path / "x"), str(tmp_path / "x"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "no summary.json" in result.output and "Traceback" not in result.output
    bad = CliRunner().invoke(
        app, ["eval-compare", str(tmp_path / "x"), "--out", str(tmp_path / "o"), "--bootstrap", "5"]
    )
    assert bad.exit_code == 2 and "bootstrap" in bad.output
