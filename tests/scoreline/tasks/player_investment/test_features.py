from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from scoreline.tasks import get_task
from scoreline.tasks.player_investment.features import FEATURE_NAMES, THRESHOLDS_VARIABLE
from scoreline.tasks.player_investment.simulator import simulate, simulate_seasons
from scoreline.tasks.player_investment.task import RookieRequest

TASK = get_task("player-investment")


@pytest.fixture(scope="module")
def seasons() -> pd.DataFrame:
    return simulate_seasons(600, seed=3)[0]


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    return TASK.to_canonical(frame.to_csv(index=False).encode(), "seasons.csv")


def test_training_table_from_season_table(seasons: pd.DataFrame) -> None:
    canonical = _canonical(seasons)
    table = TASK.training_table(canonical)
    assert list(table.features.columns) == list(FEATURE_NAMES)
    assert isinstance(table.features.index, pd.RangeIndex)
    labelled = canonical["target"].notna() & (canonical["censoring"] == "")
    assert len(table) == labelled.sum()
    assert set(np.unique(table.target)) == {0, 1}
    assert table.groups is not None and (np.diff(table.groups) >= 0).all()  # sorted by rookie class
    assert len(set(table.keys)) == len(table)
    assert table.keys.tolist() == TASK.training_table(canonical).keys.tolist()  # stable


def test_rookie_table_has_no_groups_and_falls_back_to_keys() -> None:
    raw, _ = simulate(300, seed=4)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "nba_logreg.csv")
    table = TASK.training_table(canonical)
    assert table.groups is None and table.keys is not None and len(set(table.keys)) == len(table)
    assert table.features["age"].isna().all() and (table.features["age_offset"] == 0).all()


def test_no_leakage_from_later_seasons(seasons: pd.DataFrame) -> None:
    """A rookie row only uses the rookie season: later seasons change the label, never the features."""
    canonical = _canonical(seasons)
    base = TASK.training_table(canonical)
    changed = seasons.copy()
    end_year = changed["Season"].str[:4].astype(int) + 1
    player = changed["Player"] + "|" + (end_year - changed["Age"]).astype(str)  # shared names: born apart
    later = end_year > end_year.groupby(player).transform("min")
    for column in ("G", "MP", "PTS", "FG", "FGA", "TRB", "AST"):
        changed.loc[later, column] = changed.loc[later, column] * 2 + 1
    # and every career that had five seasons loses all seasons after its fourth
    order = end_year.groupby(player).rank(method="dense")
    dropped = changed[order <= 4].reset_index(drop=True)
    for variant in (changed, dropped):
        table = TASK.training_table(_canonical(variant))
        by_key = dict(zip(table.keys, range(len(table)), strict=True))
        common = [k for k in base.keys if k in by_key]
        assert len(common) > 0.9 * len(base)
        mine = base.features.iloc[[list(base.keys).index(k) for k in common]].reset_index(drop=True)
        theirs = table.features.iloc[[by_key[k] for k in common]].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, theirs)
    relabelled = TASK.training_table(_canonical(dropped))
    assert relabelled.target.mean() < base.target.mean()  # the labels did change


def test_later_classes_do_not_change_earlier_features(seasons: pd.DataFrame) -> None:
    end_years = seasons["Season"].str[:4].astype(int) + 1
    full = TASK.training_table(_canonical(seasons))
    early = TASK.training_table(_canonical(seasons[end_years <= 2010]))
    shared = full.groups <= 2005  # classes labelled in both files (2005 + 4 ≤ 2010)
    keys = dict(zip(early.keys, range(len(early)), strict=True))
    rows = [keys[k] for k in full.keys[shared]]
    pd.testing.assert_frame_equal(
        full.features[shared].reset_index(drop=True), early.features.iloc[rows].reset_index(drop=True)
    )


def test_serving_features_equal_training_features(seasons: pd.DataFrame) -> None:
    canonical = _canonical(seasons)
    table = TASK.training_table(canonical)
    state = TASK.serving_state(canonical)
    import json

    state = json.loads(json.dumps(state))  # as stored in bundle.json
    picked = table.requests.sample(80, random_state=1)
    instances = [
        RookieRequest.model_validate({k: v for k, v in row.items() if v is not None}).model_dump(mode="json")
        for row in picked.to_dict(orient="records")
    ]
    served = TASK.serving_features(state, pd.DataFrame(instances))
    expected = table.features.loc[picked.index].reset_index(drop=True)
    pd.testing.assert_frame_equal(served, expected)


def test_request_aliases_and_season_text() -> None:
    rookie_table_names = {
        "Name": "A", "GP": 60, "MIN": 20, "PTS": 8, "FGM": 3, "FGA": 7, "FG%": 42.9, "3P Made": 0.5, "3PA": 1.5,
        "3P%": 33.3, "FTM": 1.5, "FTA": 2, "FT%": 75, "OREB": 1, "DREB": 2, "REB": 3, "AST": 2, "STL": 1, "BLK": 0.5,
        "TOV": 1.2, "Season": "2016-17", "Age": 21,
    }  # fmt: skip
    request = RookieRequest.model_validate(rookie_table_names)
    assert request.fg3m == 0.5 and request.rookie_season == 2017 and request.player == "A"
    by_field = RookieRequest.model_validate({**request.model_dump(), "fg3m": 0.7})
    assert by_field.fg3m == 0.7
    short = {k: v for k, v in rookie_table_names.items() if k not in ("3P Made", "FG%", "3P%", "FT%", "OREB", "DREB")}
    assert RookieRequest.model_validate({**short, "3PM": 0.5}).fg3_pct is None
    with pytest.raises(ValidationError):
        RookieRequest.model_validate({**rookie_table_names, "TARGET_5Yrs": 1})
    with pytest.raises(ValidationError):
        RookieRequest.model_validate({**rookie_table_names, "FG%": 140})


def test_future_and_missing_seasons_use_the_latest_class(seasons: pd.DataFrame) -> None:
    canonical = _canonical(seasons)
    state = TASK.serving_state(canonical)
    last = max(state["seasons"])
    instance = TASK.example_request(state, TASK.training_table(canonical).requests.to_dict(orient="records"))
    base = RookieRequest.model_validate(instance).model_dump(mode="json")
    frames = [{**base, "rookie_season": season} for season in (last, last + 3, None)]
    features = TASK.serving_features(state, pd.DataFrame(frames))
    assert np.allclose(features.iloc[0], features.iloc[1], equal_nan=True)
    assert np.allclose(features.iloc[0], features.iloc[2], equal_nan=True)


def test_describe_uses_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TASK.describe({}, 0.78) == "invest (P=0.78 of 5+ seasons)"
    assert TASK.describe({}, [0.5, 0.5]).startswith("watch")
    assert TASK.describe({}, {"short": 0.9, "five_plus": 0.1}).startswith("pass")
    monkeypatch.setenv(THRESHOLDS_VARIABLE, '{"invest": 0.8, "watch": 0.6}')
    assert TASK.describe({}, 0.78).startswith("watch")
    monkeypatch.setenv(THRESHOLDS_VARIABLE, "0.9,0.5")
    assert TASK.describe({}, 0.55).startswith("watch")
    assert TASK.serving_state(_canonical(simulate_seasons(100, seed=1)[0]))["thresholds"] == {
        "invest": 0.9,
        "watch": 0.5,
    }


def test_outcomes_only_known_careers(seasons: pd.DataFrame) -> None:
    canonical = _canonical(seasons)
    outcomes = TASK.outcomes(canonical)
    assert list(outcomes.columns) == ["player", "rookie_season", "outcome"]
    labelled = canonical[canonical["target"].notna() & (canonical["censoring"] == "")]
    assert len(outcomes) == len(labelled)
    assert set(outcomes["outcome"]) == {"five_plus", "short"}
    assert outcomes["rookie_season"].str.fullmatch(r"\d{4}").all()
