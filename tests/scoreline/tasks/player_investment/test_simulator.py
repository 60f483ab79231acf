from __future__ import annotations

import numpy as np
import pandas as pd

from scoreline.tasks import get_task
from scoreline.tasks.player_investment.simulator import (
    ROOKIE_TABLE_COLUMNS,
    SEASON_TABLE_COLUMNS,
    simulate,
    simulate_seasons,
)

TASK = get_task("player-investment")


def test_seeded_and_row_for_row() -> None:
    raw, truth = simulate(400, seed=5)
    again, _ = simulate(400, seed=5)
    other, _ = simulate(400, seed=6)
    pd.testing.assert_frame_equal(raw, again)
    assert not raw.equals(other)
    assert list(raw.columns) == list(ROOKIE_TABLE_COLUMNS)
    assert len(raw) == len(truth) == 400
    assert truth["p_five_plus"].between(0, 1, inclusive="neither").all()
    assert (raw["TARGET_5Yrs"].to_numpy() == truth["five_plus"].to_numpy()).all()
    assert raw["3P%"].isna().any()  # blank without three-point attempts, as in the real table


def test_rookie_table_round_trip() -> None:
    raw, truth = simulate(500, seed=7)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "nba_logreg.csv")
    assert len(canonical) == 500  # same-name players have different stats: nothing is dropped
    assert canonical["target"].mean() == truth["five_plus"].mean()


def test_outcomes_follow_the_true_probabilities() -> None:
    _, truth = simulate(6000, seed=8)
    p, y = truth["p_five_plus"].to_numpy(), truth["five_plus"].to_numpy()
    assert abs(y.mean() - p.mean()) < 0.02
    for low, high in ((0.0, 0.3), (0.3, 0.7), (0.7, 1.0)):
        band = (p >= low) & (p < high)
        assert abs(y[band].mean() - p[band].mean()) < 0.04


def test_season_table_has_the_quirks_and_the_same_players() -> None:
    seasons, truth = simulate_seasons(800, seed=9)
    assert list(seasons.columns) == list(SEASON_TABLE_COLUMNS)
    end_year = seasons["Season"].str[:4].astype(int) + 1
    assert seasons.loc[end_year < 1980, "3P"].isna().all() and seasons.loc[end_year >= 1980, "3P"].notna().all()
    assert seasons.loc[end_year < 1978, "TOV"].isna().all()
    assert (seasons["Tm"] == "TOT").any()
    assert seasons["Player"].str.endswith("*").any()
    three_rate = (seasons["3PA"] / seasons["FGA"]).groupby(end_year // 10).mean()
    assert three_rate.loc[202] > 3 * three_rate.loc[198]  # the three-point era grows
    rookies, rookie_truth = simulate(800, seed=9)
    assert (truth["player"].head(800).to_numpy() == rookie_truth["player"].to_numpy()).all()

    canonical = TASK.to_canonical(seasons.to_csv(index=False).encode(), "seasons.csv")
    assert (canonical["censoring"] == "left").sum() == truth["left_censored"].sum()
    key = truth["player"] + "|" + truth["rookie_season"].astype(str)
    unique = truth[~key.duplicated(keep=False)].assign(key=key).set_index("key")
    labelled = canonical[canonical["target"].notna() & (canonical["censoring"] == "")]
    joined = (labelled["player"] + "|" + labelled["rookie_season"].astype(str)).map(unique["five_plus"])
    assert joined.notna().mean() > 0.97
    assert (joined.dropna().to_numpy() == labelled["target"].to_numpy()[joined.notna().to_numpy()]).all()
    recent = canonical[canonical["censoring"] == "recent"]
    assert len(recent) and (recent["rookie_season"] > 2020).all()
    # the rookie-season stats of the season table are those of the rookie table
    plain_names = rookies["Name"].str.replace("*", "", regex=False)
    games = rookies.assign(name=plain_names)[~plain_names.duplicated(keep=False)].set_index("name")["GP"]
    sample = labelled[labelled["player"].isin(games.index)].head(50)
    assert len(sample) == 50
    assert np.allclose(sample["gp"].to_numpy(), games.loc[sample["player"]].to_numpy())


def test_simulated_file_is_a_season_table_the_task_reads() -> None:
    content, filename = TASK.simulated_file(300, seed=2)
    canonical = TASK.to_canonical(content, filename)
    assert canonical.attrs["format"] == "season-table"
    assert canonical["rookie_season"].notna().all()
