"""Match-outcome model against the betting market on football-data.co.uk season files (issue 16, item 3).

    nice -n 5 uv run python benchmarks/market.py --football-data DIR [--division E0] [--seasons 1]
        [--target-pct 3] [--early-matches 6]

DIR holds football-data.co.uk season files as the site serves them (``E0.csv``, ``E1.csv``, ... one per
season, or zips of them; sub-folders are read too). They go through the task's own adapter as one zip
(``to_canonical``), so every quirk the adapter handles is exercised. The last ``--seasons`` seasons of
``--division`` are evaluated walk-forward, one training run (``scoreline.ml.training.train``) each: the run
sees every match before the season (all divisions in DIR: promoted teams arrive with a history) and is
scored on that season only. For each season it prints, on the matches with closing odds:

* model, margin-free market (1/odds normalised per match, closing prices first: ``MARKET_PREFERENCE``) and
  Elo baseline: RPS and log loss; the model's gap to the market, absolute and relative (target: RPS within
  ``--target-pct`` % of the market's, PASS/FAIL), and the gap the run itself logs (``holdout_gap_to_...``);
* where the gap comes from: promoted teams (not in the division the season before) against the rest, each
  team's first ``--early-matches`` matches of the season against the rest, and the season by month.

No real data is committed (football-data.co.uk grants no redistribution): bring your own files.
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from scoreline.ml import evaluation
from scoreline.ml.training import train
from scoreline.tasks import get_task

TASK = get_task("match-outcome")
CLASSES = ("home", "draw", "away")
MARKET = "bookmaker"
SEASON_BREAK_DAYS = 21


def load(directory: Path) -> pd.DataFrame:
    """Every season file under ``directory`` through the adapter, as one zip of them."""
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in (".csv", ".zip") and p.is_file())
    if not files:
        raise SystemExit(f"no .csv or .zip files under {directory}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(path) as inner:
                    for info in inner.infolist():
                        if info.filename.lower().endswith(".csv"):
                            archive.writestr(f"{path.stem}/{info.filename}", inner.read(info))
            else:
                archive.writestr(str(path.relative_to(directory)), path.read_bytes())
    return TASK.to_canonical(buffer.getvalue(), f"{directory.name}.zip")


def season_of(canonical: pd.DataFrame) -> pd.Series:
    """The season of each match, named by the year of its first match. Within a division the matches split at
    breaks of ``SEASON_BREAK_DAYS`` or more; a part starts a new season when it repeats a home/away pairing of the
    season so far (a double round robin plays each once), else it continues it. A calendar rule (July on) would put
    2019/20's matches after the 2020 restart (June-July) in 2020/21."""
    dates = pd.to_datetime(canonical["date"])
    seasons = pd.Series(0, index=canonical.index, dtype="int64")
    ordered = canonical.assign(_date=dates).sort_values("_date", kind="stable")
    for _, rows in ordered.groupby("competition", sort=False):
        part = (rows["_date"].diff() >= pd.Timedelta(days=SEASON_BREAK_DAYS)).cumsum()
        seen: set[tuple[str, str]] = set()
        start = None
        for _, matches in rows.groupby(part, sort=True):
            pairings = set(zip(matches["home_team"], matches["away_team"], strict=True))
            if start is None or pairings & seen:
                start, seen = matches["_date"].iloc[0], set()
            seen |= pairings
            seasons.loc[matches.index] = start.year
    return seasons


def _scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    return {"rps": evaluation.rps(labels, probabilities), "log_loss": evaluation.log_loss(labels, probabilities)}


def _gap_line(name: str, rows: pd.DataFrame) -> str:
    if rows.empty:
        return f"    {name:<34} (no matches)"
    labels = rows["actual"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    model = _scores(labels, rows[list(CLASSES)].to_numpy())
    market = _scores(labels, rows[[f"{MARKET}_{c}" for c in CLASSES]].to_numpy())
    gap = model["rps"] - market["rps"]
    return (
        f"    {name:<34} n {len(rows):>4}  model rps {model['rps']:.4f}  market {market['rps']:.4f}  "
        f"gap {gap:+.4f} ({100 * gap / market['rps']:+.1f}%)"
    )


def evaluate_season(
    canonical: pd.DataFrame, division: str, season: int, target_pct: float, early: int
) -> dict[str, float]:
    seasons = season_of(canonical)
    known = canonical[(seasons <= season).to_numpy()]
    start = pd.to_datetime(canonical.loc[(seasons == season).to_numpy(), "date"]).min()
    began = time.perf_counter()
    result = train(TASK, known.reset_index(drop=True), holdout_start=start.date())
    seconds = time.perf_counter() - began
    table = result.holdout_table
    assert table is not None
    table = table.assign(date=pd.to_datetime(table["date"]))
    keys = canonical.assign(date=pd.to_datetime(canonical["date"]))[["date", "home_team", "away_team", "competition"]]
    table = table.merge(keys, on=["date", "home_team", "away_team"], how="left", suffixes=("", "_file"))
    division_column = "competition_file" if "competition_file" in table.columns else "competition"
    in_division = table[table[division_column] == division]
    priced = in_division.dropna(subset=[f"{MARKET}_{c}" for c in CLASSES])
    labels = priced["actual"].map({c: i for i, c in enumerate(CLASSES)}).to_numpy()
    model = _scores(labels, priced[list(CLASSES)].to_numpy())
    market = _scores(labels, priced[[f"{MARKET}_{c}" for c in CLASSES]].to_numpy())
    elo = _scores(labels, priced[[f"elo_{c}" for c in CLASSES]].to_numpy())
    gap = {m: model[m] - market[m] for m in model}
    pct = {m: 100 * gap[m] / market[m] for m in model}
    verdict = "PASS" if pct["rps"] <= target_pct else "FAIL"
    print(
        f"\n{division} {season}/{(season + 1) % 100:02d}: trained on {result.rows['train'] + result.rows['validation']}"
        f" matches before {start.date()}, {len(in_division)} matches in the season, {len(priced)} with odds"
        f" ({seconds:.0f} s)"
    )
    for name, scores in (("model", model), ("market (margin-free)", market), ("elo baseline", elo)):
        print(f"  {name:<22}  rps {scores['rps']:.4f}  log_loss {scores['log_loss']:.4f}")
    print(
        f"  gap model - market      rps {gap['rps']:+.4f} ({pct['rps']:+.2f}%)  log_loss {gap['log_loss']:+.4f}"
        f" ({pct['log_loss']:+.2f}%)   target rps within {target_pct:g}%: {verdict}"
    )
    logged = {k: v for k, v in result.holdout_metrics.items() if k.startswith(("gap_to_", f"{MARKET}_rows"))}
    if logged:
        print(
            f"  the run logs (all holdout rows with odds, every division): {MARKET}_rows"
            f" {logged.get(f'{MARKET}_rows', float('nan')):.0f}, gap_to_{MARKET}_rps"
            f" {logged.get(f'gap_to_{MARKET}_rps', float('nan')):+.4f}"
            f" ({logged.get(f'gap_to_{MARKET}_rps_pct', float('nan')):+.2f}%)"
        )
    # Where the gap comes from.
    before = canonical[(seasons == season - 1).to_numpy() & (canonical["competition"] == division).to_numpy()]
    previous = set(before["home_team"]) | set(before["away_team"])
    if previous:
        promoted = ~priced["home_team"].isin(previous) | ~priced["away_team"].isin(previous)
        print("  by team history (promoted = not in the division last season):")
        print(_gap_line("a promoted team plays", priced[promoted]))
        print(_gap_line("no promoted team", priced[~promoted]))
    ordered = priced.sort_values("date", kind="stable")
    played: dict[str, int] = {}
    early_rows = []
    for home, away in zip(ordered["home_team"], ordered["away_team"], strict=True):
        early_rows.append(min(played.get(home, 0), played.get(away, 0)) < early)
        played[home] = played.get(home, 0) + 1
        played[away] = played.get(away, 0) + 1
    early_mask = pd.Series(early_rows, index=ordered.index)
    print(f"  by stage (early = either team within its first {early} matches of the season):")
    print(_gap_line("early", ordered[early_mask]))
    print(_gap_line("rest of the season", ordered[~early_mask]))
    print("  by month:")
    for month, rows in ordered.groupby(ordered["date"].dt.to_period("M")):
        print(_gap_line(str(month), rows))
    return {"gap_pct": pct["rps"], "model_rps": model["rps"], "market_rps": market["rps"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--football-data", type=Path, required=True, help="folder of football-data.co.uk files")
    parser.add_argument("--division", default="E0", help="the division evaluated (the file's Div), e.g. E0")
    parser.add_argument("--seasons", type=int, default=1, help="how many of the last seasons to evaluate")
    parser.add_argument("--target-pct", type=float, default=3.0, help="model RPS within this % of the market's")
    parser.add_argument("--early-matches", type=int, default=6, help="a team's first matches count as early")
    args = parser.parse_args()

    canonical = load(args.football_data)
    seasons = season_of(canonical)
    division = canonical["competition"] == args.division
    available = sorted(set(seasons[division.to_numpy()]))
    print(
        f"{len(canonical)} matches from {args.football_data} ({', '.join(canonical.attrs.get('files', []))}); "
        f"divisions {sorted(set(canonical['competition']))}; {args.division} seasons "
        f"{', '.join(f'{s}/{(s + 1) % 100:02d}' for s in available)}"
    )
    evaluated = available[-args.seasons :]
    if len(available) < 2 or not evaluated:
        raise SystemExit(f"need at least two {args.division} seasons (one to learn from, one to evaluate)")
    results = [
        evaluate_season(canonical, args.division, season, args.target_pct, args.early_matches)
        for season in evaluated
        if season != available[0]
    ]
    if len(results) > 1:
        mean_pct = float(np.mean([r["gap_pct"] for r in results]))
        print(f"\nmean relative rps gap over {len(results)} seasons: {mean_pct:+.2f}%")


if __name__ == "__main__":
    main()
