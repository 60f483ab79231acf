"""esports-win benchmark: Riot timeline aggregation speed and model quality against the truth and baselines.

    uv run python benchmarks/esports_win.py [--timeline-games 10000] [--games 20000] [--seed 5]

Prints:
* 10,000 simulated games as Riot match + timeline JSON Lines → the canonical 10-minute table
  (target: at most 10 s), next to the yardstick of parsing the same JSON alone;
* a training run (``scoreline.ml.training.train``: stratified holdout by game id) on N simulated
  games, and the holdout table: model vs base rate vs logistic regression on the gold difference
  vs logistic regression on all columns vs the simulator's true probabilities. The bar: model
  log loss within 2% of the true probabilities' and better than both logistic baselines.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import orjson

from scoreline.ml import evaluation
from scoreline.tasks import get_task
from scoreline.tasks.esports_win.simulator import riot_documents, simulate, simulate_games

METRICS = ("log_loss", "roc_auc", "accuracy", "brier", "ece")


def timeline_speed(games: int, seed: int) -> None:
    task = get_task("esports-win")
    simulated = simulate_games(games, seed)
    documents = riot_documents(simulated)
    raw = b"\n".join(orjson.dumps(d) for d in documents)
    del documents
    lines = raw.split(b"\n")
    gc.disable()
    started = time.perf_counter()
    for line in lines:
        orjson.loads(line)
    parse_only = time.perf_counter() - started
    gc.enable()
    del lines
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        canonical = task.to_canonical(raw, "games.jsonl")
        timings.append(time.perf_counter() - started)
    same = (canonical["blue_total_gold"].to_numpy() == simulated.table["blue_total_gold"].to_numpy()).all()
    print(f"timelines: {games:,} games, {len(raw) / 1e6:,.0f} MB of JSON Lines")
    runs = ", ".join(f"{t:.2f}" for t in timings)
    print(f"  JSON Lines -> canonical table: {min(timings):.2f} s (runs: {runs}; target <= 10 s)")
    print(f"  yardstick, parsing the same JSON alone: {parse_only:.2f} s; table equals the simulator's: {same}")


def quality(games: int, seed: int) -> None:
    from scoreline.ml.training import holdout_rows, train

    task = get_task("esports-win")
    raw, truth = simulate(games, seed)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    started = time.perf_counter()
    result = train(task, canonical, seed=seed)
    seconds = time.perf_counter() - started
    table = task.training_table(canonical)
    rows = holdout_rows(table, result.holdout)
    target = table.target[rows]
    p_blue = truth["p_blue"].to_numpy()[rows]
    truth_metrics = evaluation.score(list(METRICS), target, np.column_stack([1 - p_blue, p_blue]))
    print(f"\nquality: {games:,} simulated games, holdout {int(rows.sum()):,} (stratified by game id), "
          f"training {seconds:.1f} s, rows {result.rows}")  # fmt: skip
    print(f"  {'':24}" + "".join(f"{m:>10}" for m in METRICS))
    lines = {"model": result.holdout_metrics, **result.baseline_metrics, "true probabilities": truth_metrics}
    for name, metrics in lines.items():
        print(f"  {name:24}" + "".join(f"{metrics.get(m, float('nan')):>10.4f}" for m in METRICS))
    gap = result.holdout_metrics["log_loss"] / truth_metrics["log_loss"] - 1
    beats = all(result.holdout_metrics["log_loss"] < result.baseline_metrics[b]["log_loss"]
                for b in ("gold_logistic", "all_columns_logistic"))  # fmt: skip
    print(f"  model log loss vs the truth's: {gap:+.2%} (bar: within 2%); better than both logistic baselines: {beats}")
    top = list(result.feature_importance.items())[:6]
    print("  top features (gain): " + ", ".join(f"{name} {share:.2f}" for name, share in top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeline-games", type=int, default=10_000)
    parser.add_argument("--games", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    timeline_speed(args.timeline_games, args.seed)
    quality(args.games, args.seed)


if __name__ == "__main__":
    main()
