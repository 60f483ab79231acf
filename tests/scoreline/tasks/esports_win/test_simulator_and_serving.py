from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.tasks.esports_win import EsportsWinTask
from scoreline.tasks.esports_win.columns import STAT_COLUMNS
from scoreline.tasks.esports_win.features import FEATURE_NAMES
from scoreline.tasks.esports_win.simulator import SimulatedGames, simulate, win_logit

TASK = EsportsWinTask()


def test_simulator_is_seeded_and_its_truth_follows_the_state() -> None:
    raw, truth = simulate(400, seed=11)
    again, truth_again = simulate(400, seed=11)
    other, _ = simulate(400, seed=12)
    pd.testing.assert_frame_equal(raw, again)
    pd.testing.assert_frame_equal(truth, truth_again)
    assert not raw["blueTotalGold"].equals(other["blueTotalGold"])
    assert truth["p_blue"].between(0, 1).all() and truth["game_id"].tolist() == raw["gameId"].tolist()
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "sim.csv")
    expected = 1 / (1 + np.exp(-win_logit(canonical, truth["strength_gap"].to_numpy())))
    np.testing.assert_allclose(truth["p_blue"], expected)
    ahead = canonical["blue_gold_diff"] > 2000
    assert truth["p_blue"][ahead].mean() > 0.7 > truth["p_blue"][~ahead].mean()
    # outcomes drawn from the truth: its log loss beats the base rate's
    y = raw["blueWins"].to_numpy()
    p = truth["p_blue"].to_numpy()
    assert -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) < np.log(2) - 0.05


def test_simulated_file_is_accepted() -> None:
    content, name = TASK.simulated_file(50, seed=1)
    assert len(TASK.to_canonical(content, name)) == 50


def _requests(canonical: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Requests as the generic validator hands them over: every field, validated, JSON mode."""
    records = [
        TASK.request_model.model_validate(
            {k: v.item() if hasattr(v, "item") else v for k, v in row.items()}
        ).model_dump(mode="json")
        for row in canonical[["game_id", *columns]].to_dict(orient="records")
    ]
    return pd.DataFrame(records)


@pytest.mark.parametrize("subset", ["all", "blue_only"])
def test_serving_features_equal_training_features(games: SimulatedGames, subset: str) -> None:
    canonical = games.table
    if subset == "blue_only":
        keep = [c for c in STAT_COLUMNS if c.startswith("blue_")][:14]
        canonical = canonical[["game_id", "blue_wins", *keep]]
    table = TASK.training_table(canonical)
    state = TASK.serving_state(canonical)
    assert list(table.features.columns) == list(FEATURE_NAMES)
    served = TASK.serving_features(state, _requests(canonical, state["columns"]))
    pd.testing.assert_frame_equal(served, table.features)
    example = TASK.example_request(state, table.requests.to_dict(orient="records"))
    TASK.request_model.model_validate(example)


def test_request_accepts_export_names_and_names_missing_columns(games: SimulatedGames) -> None:
    state = TASK.serving_state(games.table)
    row = games.table.iloc[0]
    request = TASK.request_model.model_validate({"blueTotalGold": int(row["blue_total_gold"]), "gameId": "x"})
    frame = pd.DataFrame([request.model_dump(mode="json")])
    with pytest.raises(ScorelineError) as error:
        TASK.serving_features(state, frame)
    assert "red_total_gold" in error.value.details["missing"]
    assert "blue_total_gold" not in error.value.details["missing"]


def test_prediction_from_a_timeline_equals_the_table_row(games: SimulatedGames, documents: list[dict]) -> None:
    state = TASK.serving_state(games.table)
    doc = documents[3]
    requests = pd.DataFrame([
        TASK.request_model.model_validate({"timeline": doc["timeline"], "match": doc["match"]}).model_dump(mode="json"),
        TASK.request_model.model_validate({"timeline": doc}).model_dump(mode="json"),  # the pair pasted whole
    ])  # fmt: skip
    served = TASK.serving_features(state, requests)
    expected = TASK.training_table(games.table).features.iloc[[3, 3]].reset_index(drop=True)
    pd.testing.assert_frame_equal(served, expected)
    short = dict(doc["timeline"], info={**doc["timeline"]["info"], "frames": doc["timeline"]["info"]["frames"][:8]})
    with pytest.raises(ScorelineError) as error:
        TASK.serving_features(state, pd.DataFrame([{"timeline": short, "match": None, "game_id": None}]))
    assert "before 10:00" in error.value.message


def test_outcomes_and_words(games: SimulatedGames) -> None:
    outcomes = TASK.outcomes(games.table)
    assert list(outcomes.columns) == ["game_id", "outcome"]
    assert set(outcomes["outcome"]) == {"blue", "red"}
    assert (outcomes["outcome"] == "blue").sum() == games.table["blue_wins"].sum()
    assert TASK.describe({}, "blue") == "blue side wins" and TASK.describe({}, "red") == "red side wins"


@pytest.mark.parametrize(
    ("column", "value"),
    [("blue_gold_diff", -1e18), ("blue_gold_diff", 1e308), ("red_experience_diff", 4e38), ("blue_total_gold", 2e6),
     ("blue_gold_per_min", 1e30)],
)  # fmt: skip
def test_values_beyond_any_game_at_ten_minutes_are_a_422_naming_the_column(column: str, value: float) -> None:
    from scoreline.serving.validation import validate_instances

    with pytest.raises(ScorelineError) as caught:
        validate_instances(TASK.request_model, [{column: value}])
    assert caught.value.details["problems"][0]["field"] == column
    assert caught.value.details["problems"][0]["row"] == 0


def test_a_served_model_answers_the_largest_differences_it_accepts() -> None:
    """-1e18 gold difference overflowed the few-row prior (math.exp) and 1e308 the float32 input of the
    explanation (XGBoostError): both were 500s; the largest accepted values answer finite probabilities."""
    from scoreline.ml.training import train
    from scoreline.serving.holder import ModelHolder
    from scoreline.serving.model import Predictor, ServedModel
    from scoreline.serving.service import PredictionService
    from scoreline.tasks.esports_win.task import MAX_STAT

    content, filename = TASK.simulated_file(1500, 1)
    bundle = train(TASK, TASK.to_canonical(content, filename), params={"max_depth": 3}).bundle
    predictor = Predictor(bundle, TASK)
    predictor.enable_fast_path(bundle.input_example)
    holder = ModelHolder((TASK.id,))
    holder.swap(ServedModel(TASK.id, "scoreline-esports-win", "1", "champion", "cache", bundle, predictor))
    service = PredictionService(holder, None)
    example = dict(bundle.input_example[-1])
    for sign in (1, -1):
        instance = {**example, "blue_gold_diff": sign * MAX_STAT, "red_gold_diff": -sign * MAX_STAT,
                    "blue_experience_diff": sign * MAX_STAT, "red_experience_diff": -sign * MAX_STAT}  # fmt: skip
        payload, _ = service.predict(TASK.id, {"instances": [instance]})
        probabilities = list(payload["predictions"][0]["probabilities"].values())
        assert np.isfinite(probabilities).all() and abs(sum(probabilities) - 1) < 1e-9
