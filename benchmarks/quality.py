"""Match-outcome quality benchmark: real walk-forward holdouts, an untuned window, a home-advantage collapse.

    nice -n 5 uv run python benchmarks/quality.py [--holdouts 2014,2018,2022] [--untuned-from 2024-01-01]
        [--tuning-trials 0] [--tuning-seconds 300] [--simulated-matches 40000] [--collapse-year 2021] [--seed 3]
        [--skip-real] [--skip-simulated]

Prints:
* the real international results (CC0, ../shared/data or data/international_results), one training run
  (``scoreline.ml.training.train``; with ``--tuning-trials``, tuned on the folds before the holdout as the training
  DAG does by default) per holdout start: every evaluation fold before the holdout (model,
  each baseline, the gap to the best baseline), then the holdout itself (model, each baseline, gap), then
  the matches from ``--untuned-from`` on inside that holdout (a window no one has tuned against);
* the targets of issue 16 on the 2018 holdout (RPS <= 0.165, log loss <= 0.850, better than the best
  baseline on every fold) with PASS/FAIL;
* the simulator with a regime change: every home advantage halved in one calendar year
  (``home_advantage_collapse``); a run with its holdout from the year before, and the model's log loss in
  the collapsed year, the year before and after, against the log loss of the simulator's true
  probabilities on the same matches (target: within 2% in the collapsed year).
"""

from __future__ import annotations

import argparse
import io
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from scoreline.ml import evaluation
from scoreline.ml.training import TrainingResult, TuningBudget, train
from scoreline.tasks import get_task
from scoreline.tasks.match_outcome.simulator import simulate

ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = (
    ROOT.parent / "shared" / "data" / "international_results" / "results.csv",
    ROOT / "data" / "international_results" / "results.csv",
)
METRICS = ("rps", "log_loss")
TARGET = {"rps": 0.165, "log_loss": 0.850}
TARGET_HOLDOUT = 2018
COLLAPSE_TARGET = 0.02  # model log loss within 2% of the true probabilities' in the collapsed season
MARKET = "bookmaker"  # never a "best baseline" for a results-only model (promotion leaves it out too)


def _line(name: str, scores: dict[str, float], best: dict[str, float] | None = None) -> str:
    text = f"  {name:<22}" + "".join(f"  {m} {scores[m]:.4f}" for m in METRICS)
    if best is not None:
        text += "   gap to best baseline" + "".join(f"  {m} {scores[m] - best[m]:+.4f}" for m in METRICS)
    return text


def _best(baselines: dict[str, dict[str, float]]) -> dict[str, float]:
    usable = [scores for name, scores in baselines.items() if name != MARKET]
    return {m: min(scores[m] for scores in usable) for m in METRICS}


def _window_scores(result: TrainingResult, start: date) -> tuple[int, dict[str, dict[str, float]]]:
    """Model and baselines on the holdout rows dated from ``start`` (from the run's per-match holdout table)."""
    table = result.holdout_table
    if table is None or table.empty:
        return 0, {}
    rows = (pd.to_datetime(table["date"]) >= pd.Timestamp(start)).to_numpy()
    if rows.sum() == 0:
        return 0, {}
    target = np.asarray(result.holdout_target)[rows]
    scores = {"model": evaluation.score(list(METRICS), target, table.loc[rows, ["home", "draw", "away"]].to_numpy())}
    for name in result.baseline_metrics:
        columns = [f"{name}_home", f"{name}_draw", f"{name}_away"]
        if all(c in table.columns for c in columns):
            scores[name] = evaluation.score(list(METRICS), target, table.loc[rows, columns].to_numpy())
    return int(rows.sum()), scores


def real(holdouts: list[int], untuned_from: date, tuning: TuningBudget | None = None) -> dict[int, dict[str, object]]:
    task = get_task("match-outcome")
    path = next((p for p in REAL_DATA if p.is_file()), None)
    if path is None:
        print(f"real data not found in {[str(p) for p in REAL_DATA]}; skipped")
        return {}
    canonical = task.to_canonical(path.read_bytes(), path.name)
    print(f"international results: {len(canonical)} matches ({path})")
    found: dict[int, dict[str, object]] = {}
    for year in holdouts:
        started = time.perf_counter()
        result = train(task, canonical, holdout_start=date(year, 1, 1), tuning_budget=tuning)
        seconds = time.perf_counter() - started
        print(f"\nholdout from {year}-01-01: {result.rows} rows, {seconds:.0f} s, "
              f"{result.params.get('num_boost_round')} trees, {result.tuning_trials} tuning trials")  # fmt: skip
        if result.tuning_trials:
            print(f"  tuned on the folds before the holdout: { {k: round(v, 4) for k, v in result.params.items()} }")
        beats_every_fold = True
        for i, (fold, baselines) in enumerate(zip(result.fold_metrics, result.fold_baseline_metrics, strict=True)):
            best = _best(baselines)
            beats = all(fold[m] < best[m] for m in METRICS)
            beats_every_fold &= beats
            print(f" fold {i}" + ("" if beats else "   (does NOT beat the best baseline)"))
            print(_line("model", fold, best))
            for name, scores in baselines.items():
                print(_line(name, scores))
        folds = np.array([[fold[m] for m in METRICS] for fold in result.fold_metrics])
        if len(folds):
            print("  folds mean ± sd" + "".join(
                f"  {m} {folds[:, j].mean():.4f} ± {folds[:, j].std():.4f}" for j, m in enumerate(METRICS)
            ))  # fmt: skip
        best = _best(result.baseline_metrics)
        print(" holdout")
        print(_line("model", result.holdout_metrics, best))
        for name, scores in result.baseline_metrics.items():
            print(_line(name, scores))
        count, window = _window_scores(result, untuned_from)
        if count:
            print(f" untuned window: {count} matches from {untuned_from}")
            window_best = _best({k: v for k, v in window.items() if k != "model"})
            print(_line("model", window["model"], window_best))
            for name, scores in window.items():
                if name != "model":
                    print(_line(name, scores))
        found[year] = {"holdout": result.holdout_metrics, "best": best, "beats_every_fold": beats_every_fold}
    if TARGET_HOLDOUT in found:
        entry = found[TARGET_HOLDOUT]
        holdout = entry["holdout"]
        assert isinstance(holdout, dict)
        checks = [(f"holdout {m} <= {TARGET[m]}", holdout[m] <= TARGET[m]) for m in METRICS]
        checks.append(("better than the best baseline on every fold", bool(entry["beats_every_fold"])))
        print(f"\ntargets on the {TARGET_HOLDOUT} holdout:")
        for label, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return found


def simulated(matches: int, collapse_year: int, seed: int) -> None:
    task = get_task("match-outcome")
    raw, truth = simulate(matches, seed, home_advantage_collapse=(collapse_year, 0.5))
    buffer = io.StringIO()
    raw.to_csv(buffer, index=False)
    canonical = task.to_canonical(buffer.getvalue().encode(), "simulated.csv")
    result = train(task, canonical, holdout_start=date(collapse_year - 1, 1, 1))
    table = result.holdout_table
    assert table is not None
    # The holdout table is in the training table's (stable date) order: match it back to the simulator's rows.
    order = pd.to_datetime(raw["date"]).to_numpy().argsort(kind="stable")
    raw_dates = pd.to_datetime(raw["date"]).to_numpy()[order]
    truth_sorted = truth.to_numpy()[order]
    held = raw_dates >= np.datetime64(date(collapse_year - 1, 1, 1))
    truth_held = truth_sorted[held]
    dates = pd.to_datetime(table["date"]).dt.year.to_numpy()
    target = np.asarray(result.holdout_target)
    model = table[["home", "draw", "away"]].to_numpy()
    print(f"\nsimulator: {matches} matches, seed {seed}, home advantage halved in {collapse_year}; "
          f"holdout from {collapse_year - 1}")  # fmt: skip
    for year in (collapse_year - 1, collapse_year, collapse_year + 1):
        rows = dates == year
        if rows.sum() == 0:
            continue
        model_ll = evaluation.score(["log_loss"], target[rows], model[rows])["log_loss"]
        true_ll = evaluation.score(["log_loss"], target[rows], truth_held[rows])["log_loss"]
        elo = table.loc[rows, ["elo_home", "elo_draw", "elo_away"]].to_numpy()
        elo_ll = evaluation.score(["log_loss"], target[rows], elo)["log_loss"]
        gap = model_ll / true_ll - 1
        verdict = ""
        if year == collapse_year:
            verdict = f"   {'PASS' if gap <= COLLAPSE_TARGET else 'FAIL'} (target within {COLLAPSE_TARGET:.0%})"
        home_rate = float((target[rows] == 0).mean())
        print(f"  {year}{' (collapsed)' if year == collapse_year else '':<12} {int(rows.sum()):>5} matches, "
              f"home wins {home_rate:.1%}: model log loss {model_ll:.4f}, elo {elo_ll:.4f}, "
              f"true {true_ll:.4f}, gap {gap:+.2%}{verdict}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdouts", default="2014,2018,2022")
    parser.add_argument("--untuned-from", default="2024-01-01")
    parser.add_argument("--simulated-matches", type=int, default=40_000)
    parser.add_argument("--collapse-year", type=int, default=2021)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--tuning-trials", type=int, default=0,
        help="Optuna trials on the folds before each holdout (the training DAG's default is 20 within 300 s)",
    )  # fmt: skip
    parser.add_argument("--tuning-seconds", type=float, default=300.0)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-simulated", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    if not args.skip_real:
        tuning = TuningBudget(args.tuning_trials, args.tuning_seconds) if args.tuning_trials else None
        real([int(y) for y in args.holdouts.split(",") if y], date.fromisoformat(args.untuned_from), tuning)
    if not args.skip_simulated:
        simulated(args.simulated_matches, args.collapse_year, args.seed)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
