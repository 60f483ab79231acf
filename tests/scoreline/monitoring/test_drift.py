from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.ml.profile import build_reference_profile
from scoreline.monitoring.drift import bin_fractions, category_key, compute_drift, psi
from scoreline.monitoring.settings import MonitoringSettings

SETTINGS = MonitoringSettings()


def match_features(n: int, seed: int, shift_sd: float = 0.0) -> pd.DataFrame:
    """Features shaped like match-outcome's; ``shift_sd`` moves both teams' ratings by that many sd."""
    rng = np.random.default_rng(seed)
    elo_home = rng.normal(1500, 150, n)
    elo_away = rng.normal(1500, 150, n)
    elo_diff = elo_home - elo_away + 60
    frame = pd.DataFrame(
        {
            "elo_home": elo_home + shift_sd * 150,
            "elo_away": elo_away + shift_sd * 150,
            "elo_diff": elo_diff,
            "form_points_home": rng.uniform(0, 3, n),
            "rest_days_home": rng.gamma(3, 30, n),
            "tier": rng.choice([0, 1, 3, 4, 5], n, p=[0.4, 0.1, 0.3, 0.1, 0.1]).astype(float),
            "neutral": rng.choice([0.0, 1.0], n, p=[0.75, 0.25]),
        }
    )
    return frame


def labels_of(features: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(features["elo_diff"] > 80, "home", np.where(features["elo_diff"] < -80, "away", "draw")))


def window_of(features: pd.DataFrame) -> pd.DataFrame:
    """The frame the log readers produce: timestamp, prediction, features.<name>."""
    frame = features.add_prefix("features.")
    frame["prediction"] = labels_of(features).to_numpy()
    frame["timestamp"] = pd.date_range("2026-06-01", periods=len(frame), freq="min", tz="UTC")
    return frame


@pytest.fixture(scope="module")
def profile() -> dict:
    training = match_features(20_000, seed=1)
    return build_reference_profile(training, labels_of(training), categorical=("tier", "neutral"))


@pytest.mark.parametrize("seed", [11, 12, 13, 14, 15])
def test_a_window_drawn_like_the_training_data_raises_no_alert(profile: dict, seed: int) -> None:
    drift = compute_drift("match-outcome", profile, window_of(match_features(500, seed)), SETTINGS)
    assert drift.rows == 500
    assert not drift.alert
    assert drift.features_in_alert == []
    assert {f.feature for f in drift.features} == set(profile["numeric"]) | set(profile["categorical"])
    assert drift.prediction is not None
    assert drift.prediction.status != "alert"


def test_shifted_ratings_alert_on_the_shifted_features_only(profile: dict) -> None:
    drift = compute_drift("match-outcome", profile, window_of(match_features(500, 21, shift_sd=1.0)), SETTINGS)
    assert drift.alert
    assert drift.status == "alert"
    assert sorted(drift.features_in_alert) == ["elo_away", "elo_home"]
    by_name = {f.feature: f for f in drift.features}
    assert by_name["elo_home"].psi > SETTINGS.drift_psi_alert
    assert by_name["elo_home"].p_value is not None and by_name["elo_home"].p_value < 1e-6
    assert by_name["elo_diff"].status == "ok"
    assert not drift.prediction_drift


def test_a_shifted_predicted_class_distribution_alerts_on_its_own(profile: dict) -> None:
    window = window_of(match_features(500, 31))
    window["prediction"] = "home"
    drift = compute_drift("match-outcome", profile, window, SETTINGS)
    assert drift.prediction_drift
    assert drift.alert
    assert drift.features_in_alert == []


def test_a_shifted_category_is_caught_by_its_frequencies(profile: dict) -> None:
    window = window_of(match_features(500, 41))
    window["features.tier"] = 5.0  # only World Cup matches
    drift = compute_drift("match-outcome", profile, window, SETTINGS)
    tier = next(f for f in drift.features if f.feature == "tier")
    assert tier.kind == "categorical"
    assert tier.status == "alert"
    assert tier.p_value is not None and tier.p_value < 1e-6
    assert tier.statistic is not None and tier.statistic > SETTINGS.drift_js_alert
    assert drift.features_in_alert == ["tier"]
    assert not drift.alert  # one feature is below the rule's minimum of two


def test_too_few_rows_is_insufficient_data_never_an_alert(profile: dict) -> None:
    drift = compute_drift("match-outcome", profile, window_of(match_features(20, 5, shift_sd=3)), SETTINGS)
    assert drift.status == "insufficient_data"
    assert not drift.alert


def test_psi_of_identical_distributions_is_zero_and_grows_with_the_gap() -> None:
    base = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(base, base) == pytest.approx(0.0)
    assert psi(base, np.array([0.4, 0.3, 0.2, 0.1])) < psi(base, np.array([0.7, 0.1, 0.1, 0.1]))


def test_values_beyond_the_reference_range_count_in_the_outer_bins() -> None:
    fractions = bin_fractions(np.array([-100.0, 0.5, 1.5, 2.5, 100.0]), [0.0, 1.0, 2.0, 3.0])
    assert fractions.tolist() == [0.4, 0.2, 0.4]


def test_category_spellings_agree() -> None:
    assert category_key(3) == category_key(3.0) == category_key("3.0") == "3"
    assert category_key(True) == "1"
    assert category_key("home") == "home"
