"""Trainer benchmark: feature pass speed, full training time and the match-outcome quality table.

    uv run python benchmarks/train.py [--matches 1000000] [--skip-simulated-quality]
        [--sizes 6000,20000,40000] [--seeds 7,1,2] [--simulated-quality-matches 80000]

Prints:
* the point-in-time feature pass over N simulated matches (target: 1,000,000 in at most 5 s),
  with the numba compile excluded (a warm-up pass runs first) and a plain numpy pass over the
  same arrays as the in-run yardstick;
* one serving-feature call for a single request (what model-api does per request);
* a full training run on the real international results (holdout from 2018-01-01);
* the quality table: model vs base rates vs Elo logistic regression vs the bar (0.168 / 0.86),
  the next goal (0.165 / 0.85) and the reference Elo with ordinal logit (0.170 / 0.871);
* small simulated datasets (the sizes `make run` and the tests use): model vs Elo baseline vs
  the simulator's true probabilities, per size and seed;
* the simulated-data gap: model log loss vs the log loss of the simulator's true probabilities.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from scoreline.ml import evaluation
from scoreline.ml.training import train
from scoreline.tasks import get_task
from scoreline.tasks.match_outcome.features import RatingState, build_features, serving_features

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "international_results" / "results.csv"
HOLDOUT = date(2018, 1, 1)
BAR = {"rps": 0.168, "log_loss": 0.86}
NEXT_GOAL = {"rps": 0.165, "log_loss": 0.85}
ELO_REFERENCE = {"rps": 0.170, "log_loss": 0.871}


def best_of(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def feature_pass(matches: int) -> None:
    task = get_task("match-outcome")
    raw, _ = task.simulate(matches, seed=1)
    canonical = raw.rename(columns={"tournament": "competition"})
    canonical["date"] = pd.to_datetime(canonical["date"])
    build_features(canonical.head(1000))  # compile (or load the numba cache) outside the timing
    seconds = best_of(3, lambda: build_features(canonical))
    home = canonical["home_score"].to_numpy()
    away = canonical["away_score"].to_numpy()
    # Yardstick: a vectorised numpy pass that only derives the outcome and a rolling goal mean.
    yardstick = best_of(3, lambda: (np.sign(home - away), np.cumsum(home) / np.arange(1, len(home) + 1)))
    print(f"feature pass, {matches:,} simulated matches: {seconds:.2f} s (target <= 5 s)")
    print(f"  numpy yardstick, same rows: {yardstick:.3f} s; ratio {seconds / yardstick:.0f}x")

    _, state = build_features(canonical)
    compiled = RatingState.from_json(state.to_json())
    request = canonical.iloc[[-1]][["home_team", "away_team", "date", "neutral", "competition"]]
    serving_features(compiled, request)
    calls = 2000
    per_call = best_of(3, lambda: [serving_features(compiled, request) for _ in range(calls)]) / calls
    print(f"serving features, one request: {per_call * 1e3:.3f} ms per call")


def real_training() -> None:
    task = get_task("match-outcome")
    canonical = task.to_canonical(REAL_DATA.read_bytes(), REAL_DATA.name)
    started = time.perf_counter()
    result = train(task, canonical, holdout_start=HOLDOUT)
    seconds = time.perf_counter() - started
    print(f"\nfull train, real international results ({len(canonical):,} matches): {seconds:.1f} s")
    print(f"  rows {result.rows}, validation from {result.validation_start}, holdout {HOLDOUT}..{result.holdout_end}")
    prior = list(result.bundle.prior.features) if result.bundle.prior else "none"
    print(f"  boosting rounds {result.params['num_boost_round']}, logistic prior (base margin) on {prior}")
    table = pd.DataFrame(
        {
            "model": result.holdout_metrics,
            **{f"baseline {name}": metrics for name, metrics in result.baseline_metrics.items()},
            "bar": BAR,
            "next goal": NEXT_GOAL,
            "Elo+ordinal reference": ELO_REFERENCE,
        }
    )
    print("\nquality on the 2018+ holdout (lower is better except accuracy):")
    print(table.to_string(float_format=lambda value: f"{value:.4f}"))
    passed = all(result.holdout_metrics[m] <= BAR[m] for m in BAR) and all(
        result.holdout_metrics[m] < result.baseline_metrics["elo"][m] for m in BAR
    )
    print(f"bar met and Elo baseline beaten: {passed}")


def simulated_sizes(sizes: list[int], seeds: list[int]) -> None:
    task = get_task("match-outcome")
    rows = []
    for matches in sizes:
        for seed in seeds:
            raw, truth = task.simulate(matches, seed=seed)
            canonical = task.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
            started = time.perf_counter()
            result = train(task, canonical)
            seconds = time.perf_counter() - started
            holdout = (pd.to_datetime(canonical["date"]) >= pd.Timestamp(result.holdout_start)).to_numpy()
            labels = task.target(canonical).to_numpy()[holdout]
            true_p = truth[["p_home", "p_draw", "p_away"]].to_numpy()[holdout]
            model, elo = result.holdout_metrics, result.baseline_metrics["elo"]
            rows.append(
                {
                    "matches": matches,
                    "seed": seed,
                    "rounds": result.params["num_boost_round"],
                    "rps model": model["rps"],
                    "rps elo": elo["rps"],
                    "rps base rates": result.baseline_metrics["base_rates"]["rps"],
                    "rps truth": evaluation.rps(labels, true_p),
                    "log loss model": model["log_loss"],
                    "log loss elo": elo["log_loss"],
                    "log loss truth": evaluation.log_loss(labels, true_p),
                    "beats elo (rps)": model["rps"] < elo["rps"],
                    "train s": seconds,
                }
            )
    table = pd.DataFrame(rows)
    print("\nsmall simulated datasets (holdout = last 20 %), model vs Elo baseline of the same run:")
    print(table.to_string(index=False, float_format=lambda value: f"{value:.4f}"))
    print(f"model beats the Elo baseline on RPS in {int(table['beats elo (rps)'].sum())} of {len(table)} runs")


def simulated_quality(matches: int) -> None:
    task = get_task("match-outcome")
    raw, truth = task.simulate(matches, seed=7)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    result = train(task, canonical)
    holdout = (pd.to_datetime(canonical["date"]) >= pd.Timestamp(result.holdout_start)).to_numpy()
    labels = task.target(canonical).to_numpy()[holdout]
    best = evaluation.log_loss(labels, truth[["p_home", "p_draw", "p_away"]].to_numpy()[holdout])
    model = result.holdout_metrics["log_loss"]
    elo = result.baseline_metrics["elo"]["log_loss"]
    print(f"\nsimulated, {matches:,} matches, holdout {result.rows['holdout']:,} rows:")
    print(
        f"  log loss: true probabilities {best:.4f}, model {model:.4f} (+{100 * (model / best - 1):.2f} %, bar 1.5 %)"
    )
    print(f"  Elo baseline {elo:.4f} (+{100 * (elo / best - 1):.2f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, default=1_000_000)
    parser.add_argument("--simulated-quality-matches", type=int, default=80_000)
    parser.add_argument("--skip-simulated-quality", action="store_true")
    parser.add_argument("--sizes", default="6000,20000,40000", help="small simulated dataset sizes (comma-separated)")
    parser.add_argument("--seeds", default="7,1,2", help="simulator seeds per size (comma-separated)")
    parser.add_argument("--skip-feature-pass", action="store_true")
    args = parser.parse_args()
    if not args.skip_feature_pass:
        feature_pass(args.matches)
    real_training()
    if args.sizes:
        simulated_sizes([int(v) for v in args.sizes.split(",")], [int(v) for v in args.seeds.split(",")])
    if not args.skip_simulated_quality:
        simulated_quality(args.simulated_quality_matches)


if __name__ == "__main__":
    main()
