"""Point-in-time match features: hand-checked Elo, same-day isolation, no leakage, serving == training."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreline.core.cores import PARALLEL_ROWS
from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks import get_task
from scoreline.tasks.match_outcome.features import (
    FEATURE_NAMES,
    TIER_CONTINENTAL,
    TIER_FRIENDLY,
    TIER_NATIONS_LEAGUE,
    TIER_OTHER,
    TIER_QUALIFIER,
    TIER_WORLD_CUP,
    FeatureParams,
    RatingState,
    build_features,
    competition_tier,
    serving_features,
)
from scoreline.tasks.match_outcome.task import MatchRequest

TASK = get_task("match-outcome")


def table(rows: list[tuple[str, str, str, int, int, str, bool]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["date", "home_team", "away_team", "home_score", "away_score", "competition", "neutral"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


@pytest.mark.parametrize(
    ("name", "tier"),
    [
        ("Friendly", TIER_FRIENDLY),
        ("FIFA World Cup", TIER_WORLD_CUP),
        ("FIFA World Cup qualification", TIER_QUALIFIER),
        ("UEFA Euro qualification", TIER_QUALIFIER),
        ("UEFA Euro", TIER_CONTINENTAL),
        ("Copa América", TIER_CONTINENTAL),
        ("CONCACAF Gold Cup", TIER_CONTINENTAL),
        ("Gold Cup", TIER_CONTINENTAL),
        ("UEFA Nations League", TIER_NATIONS_LEAGUE),
        ("CONIFA World Football Cup", TIER_OTHER),
        ("Viva World Cup", TIER_OTHER),
        ("Baltic Cup", TIER_OTHER),
    ],
)
def test_competition_tier_from_name(name: str, tier: int) -> None:
    assert competition_tier(name) == tier


def test_elo_form_and_h2h_by_hand() -> None:
    data = table(
        [
            ("2020-01-01", "A", "B", 2, 0, "Friendly", False),
            ("2020-01-11", "B", "A", 1, 1, "FIFA World Cup", True),
        ]
    )
    features, _ = build_features(data)
    first, second = features.iloc[0], features.iloc[1]
    assert first["elo_home"] == first["elo_away"] == 1500.0
    assert first["elo_diff"] == pytest.approx(100.0)  # home advantage
    assert math.isnan(first["form_points_home"]) and first["played_home"] == 0
    expected = 1 / (1 + 10 ** (-100 / 400))
    delta = 20 * 1.5 * (1 - expected)  # friendly K, two-goal margin
    assert second["elo_home"] == pytest.approx(1500 - delta)  # B is at home now
    assert second["elo_away"] == pytest.approx(1500 + delta)
    assert second["elo_diff"] == pytest.approx(-2 * delta)  # neutral: no home advantage
    assert second["form_points_home"] == 0.0 and second["form_points_away"] == 3.0
    assert second["form_goals_against_home"] == 2.0
    assert second["rest_days_home"] == 10.0 and second["played_away"] == 1.0
    assert second["h2h_matches"] == 1.0
    assert second["h2h_home_score"] == 0.0  # B lost the only meeting
    assert second["h2h_home_goal_diff"] == -2.0
    assert second["tier"] == TIER_WORLD_CUP and second["neutral"] == 1.0


def test_same_day_matches_do_not_see_each_other() -> None:
    data = table(
        [
            ("2020-01-01", "A", "B", 5, 0, "Friendly", False),
            ("2020-01-01", "A", "C", 0, 3, "Friendly", False),
            ("2020-01-02", "A", "C", 1, 1, "Friendly", False),
        ]
    )
    features, _ = build_features(data)
    assert features.loc[1, "played_home"] == 0.0
    assert features.loc[1, "elo_home"] == 1500.0
    assert features.loc[2, "played_home"] == 2.0


def test_features_keep_the_input_index_and_order() -> None:
    data = table(
        [
            ("2020-02-01", "A", "B", 1, 0, "Friendly", False),
            ("2020-01-01", "A", "B", 2, 0, "Friendly", False),
        ]
    ).set_axis([10, 20])
    features, _ = build_features(data)
    assert list(features.index) == [10, 20]
    assert features.loc[20, "played_home"] == 0.0  # the earlier match, though listed second
    assert features.loc[10, "played_home"] == 1.0


def test_target_codes_home_draw_away() -> None:
    data = table(
        [
            ("2020-01-01", "A", "B", 2, 0, "Friendly", False),
            ("2020-01-02", "A", "B", 1, 1, "Friendly", False),
            ("2020-01-03", "A", "B", 0, 3, "Friendly", False),
        ]
    )
    assert TASK.target(data).tolist() == [0, 1, 2]


def test_state_is_json_and_round_trips() -> None:
    data = table(
        [
            ("2020-01-01", "A", "B", 2, 0, "Friendly", False),
            ("2020-01-05", "C", "A", 0, 1, "UEFA Euro", True),
        ]
    )
    state = TASK.serving_state(data)
    again = RatingState.from_json(json.loads(json.dumps(state)))
    assert again.to_json() == state
    assert state["as_of"] == "2020-01-05"
    assert state["teams"]["A"]["played"] == 2


def test_unknown_team_is_an_input_error_with_row_and_field() -> None:
    state = TASK.serving_state(table([("2020-01-01", "A", "B", 2, 0, "Friendly", False)]))
    requests = pd.DataFrame([{"home_team": "A", "away_team": "B"}, {"home_team": "A", "away_team": "Atlantis"}])
    with pytest.raises(ScorelineError) as caught:
        TASK.serving_features(state, requests)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert caught.value.details["problems"] == [
        {"row": 1, "field": "away_team", "value": "Atlantis", "expected": "a team that played in the training data"}
    ]


def test_match_request_defaults() -> None:
    request = MatchRequest(home_team=" Brazil ", away_team="Argentina")
    assert request.home_team == "Brazil"
    assert request.date is None and request.neutral is False and request.competition == "Friendly"
    assert TASK.request_model is MatchRequest


def test_serving_defaults_date_to_today_and_friendly() -> None:
    data = table([("2020-01-01", "A", "B", 2, 0, "UEFA Euro", False)])
    state = TASK.serving_state(data)
    features = TASK.serving_features(state, pd.DataFrame([{"home_team": "A", "away_team": "B"}]))
    today = pd.Timestamp.today().normalize()
    assert features.loc[0, "rest_days_home"] == (today - pd.Timestamp("2020-01-01")).days
    assert features.loc[0, "tier"] == TIER_FRIENDLY and features.loc[0, "neutral"] == 0.0


# ---- properties -------------------------------------------------------------------------------

TEAMS = ["A", "B", "C", "D", "E"]
COMPETITIONS = ["Friendly", "FIFA World Cup", "UEFA Euro qualification", "Baltic Cup"]

match = st.tuples(
    st.integers(0, 30),  # day offset: few distinct days, so same-day matches are common
    st.sampled_from(TEAMS),
    st.integers(1, 4),
    st.integers(0, 5),
    st.integers(0, 5),
    st.sampled_from(COMPETITIONS),
    st.booleans(),
)


def random_table(matches: list[tuple[int, str, int, int, int, str, bool]]) -> pd.DataFrame:
    rows = []
    for offset, home, shift, home_goals, away_goals, competition, neutral in matches:
        away = TEAMS[(TEAMS.index(home) + shift) % len(TEAMS)]
        day = (pd.Timestamp("2019-12-25") + pd.Timedelta(days=offset)).strftime("%Y-%m-%d")
        rows.append((day, home, away, home_goals, away_goals, competition, neutral))
    return table(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(match, min_size=1, max_size=40), st.integers(0, 31))
def test_features_do_not_depend_on_later_matches(matches: list, cut_offset: int) -> None:
    data = random_table(matches)
    cut = pd.Timestamp("2019-12-25") + pd.Timedelta(days=cut_offset)
    full, _ = build_features(data)
    kept = data[data["date"] <= cut]
    partial, _ = build_features(kept)
    pd.testing.assert_frame_equal(partial, full.loc[kept.index])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(match, min_size=1, max_size=40), st.integers(0, 30))
def test_serving_features_equal_training_features(matches: list, day_offset: int) -> None:
    data = random_table(matches)
    day = pd.Timestamp("2019-12-25") + pd.Timedelta(days=day_offset)
    training, _ = build_features(data)
    state = json.loads(json.dumps(TASK.serving_state(data[data["date"] < day])))  # as stored in the model
    requests = data.loc[data["date"] == day, ["home_team", "away_team", "date", "neutral", "competition"]]
    if requests.empty:
        return
    served = serving_features(RatingState.from_json(state), requests, unknown_teams="new")
    pd.testing.assert_frame_equal(served, training.loc[requests.index])


def test_feature_names_match_columns() -> None:
    data = table([("2020-01-01", "A", "B", 2, 0, "Friendly", False)])
    assert list(TASK.build_features(data).columns) == list(FEATURE_NAMES)
    assert np.isfinite(TASK.build_features(data)[["elo_home", "elo_diff", "tier"]].to_numpy()).all()


def test_state_summary_gives_each_teams_rating_and_form_per_match() -> None:
    data = table(
        [
            ("2020-01-01", "A", "B", 2, 0, "Friendly", False),
            ("2020-01-11", "B", "A", 1, 1, "Friendly", True),
        ]
    )
    summary = TASK.state_summary(TASK.serving_state(data))
    assert set(summary) == {"A", "B"}
    assert summary["A"]["elo"] > 1500 > summary["B"]["elo"]
    assert summary["A"]["matches_played"] == 2 and summary["A"]["last_match"] == "2020-01-11"
    # A won 3 points then drew 1, weighted toward the recent draw: between 1 and 3 per match.
    assert 1.0 < summary["A"]["form_points_per_match"] < 3.0
    assert 0.0 < summary["B"]["form_points_per_match"] < 1.0


request = st.tuples(
    st.sampled_from([*TEAMS, "Atlantis"]),  # Atlantis never played: rated as a newcomer
    st.sampled_from(TEAMS),
    st.sampled_from([None, "2020-01-10", "2020-02-01"]),
    st.sampled_from([None, True, False]),
    st.sampled_from([None, *COMPETITIONS]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(match, min_size=1, max_size=20), st.lists(request, min_size=1, max_size=30))
def test_serving_features_do_not_depend_on_column_types(matches: list, rows: list) -> None:
    state = RatingState.from_json(json.loads(json.dumps(TASK.serving_state(random_table(matches)))))
    plain = pd.DataFrame(rows, columns=["home_team", "away_team", "date", "neutral", "competition"], dtype=object)
    expected = serving_features(state, plain, unknown_teams="new")
    for kind in ("category", "str"):
        typed = plain.astype({"home_team": kind, "away_team": kind, "date": kind, "competition": kind})
        typed["neutral"] = typed["neutral"].astype("category")
        pd.testing.assert_frame_equal(serving_features(state, typed, unknown_teams="new"), expected, obj=kind)
    # Categories in another order than first appearance, and unused ones.
    shuffled = plain.astype({"home_team": pd.CategoricalDtype([*reversed(TEAMS), "Atlantis", "Nowhere"])})
    pd.testing.assert_frame_equal(serving_features(state, shuffled, unknown_teams="new"), expected)


valid_request = st.fixed_dictionaries(
    {
        "home_team": st.sampled_from(TEAMS),
        "away_team": st.sampled_from(TEAMS),
        "date": st.one_of(st.none(), st.dates(min_value=pd.Timestamp("1960-01-01").date()).map(str)),
        "neutral": st.booleans(),
        "competition": st.sampled_from([*COMPETITIONS, "Copa América", "friendly tournament"]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(match, min_size=1, max_size=20),
    st.lists(valid_request, min_size=1, max_size=8),
    st.permutations(FEATURE_NAMES),
    st.integers(1, len(FEATURE_NAMES)),
)
def test_serving_rows_equal_serving_features(matches: list, rows: list, names: list, keep: int) -> None:
    """The few-row array path gives the table path's features, in any model's feature order."""
    state = json.loads(json.dumps(TASK.serving_state(random_table(matches))))
    known = set(state["teams"])
    rows = [row for row in rows if row["home_team"] in known and row["away_team"] in known]
    if not rows:
        return
    feature_names = list(names[:keep])
    compiled = TASK.compile_serving(state, feature_names)
    expected = TASK.serving_features(state, pd.DataFrame(rows))[feature_names].to_numpy()
    got = TASK.serving_rows(compiled, rows)
    np.testing.assert_array_equal(got, expected)


def test_serving_rows_refuse_unknown_teams_as_the_table_path_does() -> None:
    state = TASK.serving_state(table([("2020-01-01", "A", "B", 2, 0, "Friendly", False)]))
    compiled = TASK.compile_serving(state, list(FEATURE_NAMES))
    rows = [{"home_team": "A", "away_team": "B"}, {"home_team": "Atlantis", "away_team": "A"}]
    with pytest.raises(ScorelineError) as table_error:
        TASK.serving_features(state, pd.DataFrame(rows))
    with pytest.raises(ScorelineError) as rows_error:
        TASK.serving_rows(compiled, rows)
    assert rows_error.value.code == ErrorCode.INVALID_INPUT
    assert rows_error.value.details == table_error.value.details
    with pytest.raises(ValueError, match="not match-outcome features"):
        TASK.compile_serving(state, ["elo_home", "shots_on_target"])


def test_home_advantage_is_learned_per_tier_from_home_results() -> None:
    """Home sides losing friendlies lower the friendly tier's learned home advantage, not the qualifiers'."""
    teams = [f"T{i}" for i in range(8)]
    rows = []
    for day in range(60):
        home, away = teams[day % 8], teams[(day * 3 + 1) % 8]
        if home != away:
            rows.append((f"2000-{1 + day // 28:02d}-{1 + day % 28:02d}", home, away, 0, 1, "Friendly", False))
    rows.append(("2000-04-01", "T0", "T1", 0, 0, "Friendly", False))
    rows.append(("2000-04-01", "T2", "T3", 0, 0, "FIFA World Cup qualification", False))
    rows.append(("2000-04-01", "T4", "T5", 0, 0, "Friendly", True))
    features, state = build_features(table(rows))
    assert state.venue is not None
    start = state.params.elo_home_advantage
    friendly, qualifier, neutral = features.iloc[-3], features.iloc[-2], features.iloc[-1]
    assert friendly["home_advantage_elo2"] < start - 10
    assert qualifier["home_advantage_elo2"] == pytest.approx(start)
    assert neutral["home_advantage_elo2"] == 0.0
    assert state.venue[TIER_FRIENDLY, 1] < state.params.goal_home_advantage  # the goal model's too
    probabilities = features[["goal_p_home", "goal_p_draw", "goal_p_away"]].to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5) and (probabilities > 0).all()
    # The learned values travel in the state: serving the same requests answers the same features.
    again = RatingState.from_json(json.loads(json.dumps(state.to_json())))
    assert np.allclose(again.venue, state.venue)


def test_a_state_without_the_candidate_ratings_still_serves() -> None:
    """States saved before the learned home advantage and the second Elo load with their starting values."""
    _, state = build_features(table([("2000-01-01", "A", "B", 2, 1, "Friendly", False)]))
    data = state.to_json()
    del data["venue"]
    for entry in data["teams"].values():
        del entry["elo2"], entry["congestion"]
    old = RatingState.from_json(data)
    assert old.elo2 is not None and np.allclose(old.elo2, old.elo)
    request = pd.DataFrame([{"home_team": "A", "away_team": "B", "date": "2000-02-01", "competition": "Friendly"}])
    assert np.isfinite(serving_features(old, request)[["elo2_diff", "goal_p_home"]].to_numpy()).all()


# ---- club leagues: promotion and relegation ------------------------------------------------------


def two_division_seasons(seasons: int, top: str = "E0", second: str = "E1") -> tuple[pd.DataFrame, list[list[str]]]:
    """Double round robins of six teams per division; each season the two weakest of the top division go down
    and the two strongest of the second go up. Strength is the team's number (T00 strongest): the stronger side
    wins 2-1. The second division starts a week before the top one, as English seasons do."""
    rows = []
    tops = [f"T{i:02d}" for i in range(6)]
    seconds = [f"T{i:02d}" for i in range(6, 12)]
    promoted: list[list[str]] = []
    for season in range(seasons):
        for division, teams, delay in ((second, seconds, 0), (top, tops, 7)):
            pairs = [(h, a) for h in teams for a in teams if h != a]
            for k, (home, away) in enumerate(pairs):
                day = pd.Timestamp(f"{2000 + season}-08-01") + pd.Timedelta(days=delay + 7 * (k // 3))
                home_goals, away_goals = (2, 1) if home < away else (1, 2)
                rows.append((day.strftime("%Y-%m-%d"), home, away, home_goals, away_goals, division, False))
        down, up = sorted(tops)[-2:], sorted(seconds)[:2]
        tops = sorted([t for t in tops if t not in down] + up)
        seconds = sorted([t for t in seconds if t not in up] + down)
        promoted.append(up)
    return table(rows), promoted


def first_top_division_ratings(
    features: pd.DataFrame, data: pd.DataFrame, season: int, top: str = "E0"
) -> dict[str, float]:
    """Each team's Elo rating in its first top-division match of a season (no top-division result of that
    season has reached it yet: every side's first match falls in the season's first fortnight)."""
    ratings: dict[str, float] = {}
    rows = data[(data["competition"] == top) & (data["date"].dt.year == 2000 + season)]
    for row in rows.index:
        for side in ("home", "away"):
            ratings.setdefault(data.loc[row, f"{side}_team"], features.loc[row, f"elo_{side}"])
    return ratings


@pytest.mark.parametrize("season", [1, 2])
def test_a_promoted_team_starts_below_the_top_divisions_mean(season: int) -> None:
    """Season 2: from the ratings the relegated sides left with; season 3: from what earlier promoted sides
    were worth after settling in."""
    data, promoted = two_division_seasons(3)
    features, state = build_features(data)
    ratings = first_top_division_ratings(features, data, season)
    up = promoted[season - 1]
    stayed = [team for team in ratings if team not in up]
    assert len(stayed) == 4
    assert all(ratings[team] < np.mean([ratings[t] for t in stayed]) for team in up), ratings
    assert state.divisions == ["E1", "E0"]


def test_without_league_divisions_a_promoted_team_keeps_its_second_division_rating() -> None:
    """The same seasons under competition names that are not league divisions: the promoted sides come in with
    the high ratings they earned against weaker teams (what the division entry level corrects)."""
    data, promoted = two_division_seasons(2, top="Top league", second="Second league")
    features, _ = build_features(data)
    ratings = first_top_division_ratings(features, data, 1, top="Top league")
    stayed = [team for team in ratings if team not in promoted[0]]
    assert all(ratings[team] > np.mean([ratings[t] for t in stayed]) for team in promoted[0]), ratings


def test_division_entry_levels_travel_in_the_state_and_serve_as_training_does() -> None:
    data, _ = two_division_seasons(3)
    cut = pd.Timestamp("2002-08-01")  # the third season's second-division opening day
    training, _ = build_features(data)
    state = json.loads(json.dumps(TASK.serving_state(data[data["date"] < cut])))
    loaded = RatingState.from_json(state)
    assert loaded.entry_levels is not None and loaded.entry_levels[..., -1].sum() > 0
    for day in (cut, cut + pd.Timedelta(days=7)):  # the promoted and relegated sides' first matches
        requests = data.loc[data["date"] == day, ["home_team", "away_team", "date", "neutral", "competition"]]
        served = serving_features(loaded, requests)
        # The second day's rows in training also learned the first day's results; compare the first day only.
        if day == cut:
            pd.testing.assert_frame_equal(served, training.loc[requests.index])
        rows = TASK.serving_rows(TASK.compile_serving(state, list(FEATURE_NAMES)), requests.to_dict("records"))
        assert np.allclose(rows, served.to_numpy(), equal_nan=True)


def test_a_team_that_keeps_beating_the_goal_model_at_home_gets_a_home_venue_edge() -> None:
    """Issue 16: T0 wins 3-0 at home and loses 0-1 away; its home edge grows positive and above any other side's,
    its away edge negative, and a neutral venue has no edge."""
    teams = [f"T{i}" for i in range(6)]
    rows = []
    day = pd.Timestamp("2000-01-01")
    for round_ in range(20):
        for k, other in enumerate(teams[1:]):
            day += pd.Timedelta(days=7)
            when = day.strftime("%Y-%m-%d")
            if (round_ + k) % 2 == 0:
                rows.append((when, "T0", other, 3, 0, "Friendly", False))
            else:
                rows.append((when, other, "T0", 1, 0, "Friendly", False))
            rest = [t for t in teams[1:] if t != other]
            rows.append((when, rest[0], rest[1], 1, 1, "Friendly", False))
    last = (day + pd.Timedelta(days=7)).strftime("%Y-%m-%d")
    rows += [(last, "T0", "T1", 0, 0, "Friendly", False), (last, "T1", "T0", 0, 0, "Friendly", False)]
    rows += [(last, "T0", "T2", 0, 0, "Friendly", True), (last, "T3", "T4", 0, 0, "Friendly", False)]
    features, _ = build_features(table(rows))
    home_t0, away_t0, neutral, others = (features.iloc[i] for i in range(-4, 0))
    assert home_t0["venue_edge_home"] > 0.5
    assert away_t0["venue_edge_away"] < -0.3
    assert neutral["venue_edge_home"] == 0.0 and neutral["venue_edge_away"] == 0.0
    assert home_t0["venue_edge_home"] > others["venue_edge_home"] + 0.5
    # The edges travel in the state: serving the last rows from the state before them gives the same features.
    _, before = build_features(table(rows[:-4]))
    requests = pd.DataFrame(
        [
            {"home_team": h, "away_team": a, "date": d, "competition": c, "neutral": n}
            for d, h, a, _, _, c, n in rows[-4:]
        ]
    )
    again = RatingState.from_json(json.loads(json.dumps(before.to_json())))
    served = serving_features(again, requests)[["venue_edge_home", "venue_edge_away"]].to_numpy()
    assert np.allclose(served, features[["venue_edge_home", "venue_edge_away"]].to_numpy()[-4:])


def test_a_state_saved_before_the_venue_edges_serves_with_no_edge() -> None:
    rows = [("2000-01-01", "A", "B", 2, 1, "Friendly", False), ("2000-02-01", "A", "B", 3, 0, "Friendly", False)]
    _, state = build_features(table(rows))
    data = state.to_json()
    for entry in data["teams"].values():
        entry["kalman"] = entry["kalman"][:4]  # attack, defence and their variances: the older layout
    old = RatingState.from_json(data)
    request = pd.DataFrame([{"home_team": "A", "away_team": "B", "date": "2000-03-01", "competition": "Friendly"}])
    served = serving_features(old, request)
    assert served[["venue_edge_home", "venue_edge_away"]].to_numpy().tolist() == [[0.0, 0.0]]
    assert np.isfinite(served[["kalman_log_ratio", "goal_logp_home"]].to_numpy()).all()


def test_params_saved_with_the_dropped_goal_weights_still_load() -> None:
    """Params saved before ``goal_weight_by_tier`` was removed (1 for every tier) load and ignore it."""
    data = FeatureParams().to_json()
    assert "goal_weight_by_tier" not in data
    assert FeatureParams.from_json({**data, "goal_weight_by_tier": [1.0] * 6}) == FeatureParams()


# ---- club leagues: the long-run level the Kalman goal ratings return to after a season break ----------------


def league_seasons(competition: str, surge_season: int, seasons: int) -> pd.DataFrame:
    """Double round robins of six teams, one season a year from August: the lower-numbered side wins 2-1, except
    in ``surge_season``, when T05 (the weakest) wins every match 3-0."""
    teams = [f"T{i:02d}" for i in range(6)]
    rows = []
    for season in range(seasons):
        pairs = [(h, a) for h in teams for a in teams if h != a]
        for k, (home, away) in enumerate(pairs):
            day = pd.Timestamp(f"{2000 + season}-08-01") + pd.Timedelta(days=7 * (k // 3))
            home_goals, away_goals = (2, 1) if home < away else (1, 2)
            if season == surge_season and "T05" in (home, away):
                home_goals, away_goals = (3, 0) if home == "T05" else (0, 3)
            rows.append((day.strftime("%Y-%m-%d"), home, away, home_goals, away_goals, competition, False))
    return table(rows)


def test_after_a_season_break_a_league_sides_goal_ratings_return_part_way_to_its_long_run_level() -> None:
    """Issue 16: T05, weak for four seasons, wins everything in the fifth; at the sixth season's first match its
    Kalman goal ratings have closed part of the gap to its long-run (weak) level, while within the surge season
    (weekly matches, no break) nothing differs."""
    data = league_seasons("E0", surge_season=4, seasons=6)
    kept, _ = build_features(data, FeatureParams(longrun_share=0.0))
    pulled, _ = build_features(data, FeatureParams(longrun_share=0.5))
    plays = (data["home_team"] == "T05") | (data["away_team"] == "T05")
    first_after = data.index[plays & (data["date"].dt.year == 2005)][0]
    side = 1.0 if data.loc[first_after, "home_team"] == "T05" else -1.0  # T05's view of home minus away
    assert side * pulled.loc[first_after, "kalman_log_ratio"] < side * kept.loc[first_after, "kalman_log_ratio"] - 0.03
    # Without a season break the long-run level changes nothing: the first season is the same either way.
    first_season = data.index[data["date"].dt.year == 2000]
    pd.testing.assert_frame_equal(pulled.loc[first_season], kept.loc[first_season])


def test_national_teams_idle_between_windows_keep_their_goal_ratings() -> None:
    """The same seasons under a competition that is not a league division (international football): months idle
    between matches move nothing towards the long-run level."""
    data = league_seasons("Friendly", surge_season=4, seasons=6)
    kept, _ = build_features(data, FeatureParams(longrun_share=0.0))
    pulled, _ = build_features(data, FeatureParams(longrun_share=0.5))
    pd.testing.assert_frame_equal(pulled, kept)


def test_a_league_matchs_features_do_not_change_with_its_own_result() -> None:
    """Leak-free with the long-run level: changing a result after a season break (where the ratings return to
    it) changes no feature of that match, of its day or of any earlier one."""
    data = league_seasons("E0", surge_season=4, seasons=6)
    features, _ = build_features(data)
    for year in (2001, 2005):
        row = data.index[data["date"].dt.year == year][0]
        changed = data.copy()
        changed.loc[row, ["home_score", "away_score"]] = (9, 0)
        again, _ = build_features(changed)
        upto = data.index[data["date"] <= data.loc[row, "date"]]
        pd.testing.assert_frame_equal(again.loc[upto], features.loc[upto])
        later = data.index[data["date"] > data.loc[row, "date"]]
        assert not again.loc[later].equals(features.loc[later])


def test_the_long_run_levels_travel_in_the_state_and_serve_as_training_does() -> None:
    data = league_seasons("E0", surge_season=4, seasons=6)
    cut = pd.Timestamp("2005-08-01")  # the first day after the surge season's break
    training, _ = build_features(data)
    state = json.loads(json.dumps(TASK.serving_state(data[data["date"] < cut])))
    requests = data.loc[data["date"] == cut, ["home_team", "away_team", "date", "neutral", "competition"]]
    served = serving_features(RatingState.from_json(state), requests)
    pd.testing.assert_frame_equal(served, training.loc[requests.index])
    rows = TASK.serving_rows(TASK.compile_serving(state, list(FEATURE_NAMES)), requests.to_dict("records"))
    assert np.allclose(rows, served.to_numpy(), equal_nan=True)
    # A state saved before the long-run levels (Kalman rows of 8) loads with them at 0 and still serves.
    for entry in state["teams"].values():
        entry["kalman"] = entry["kalman"][:8]
    old = RatingState.from_json(state)
    assert old.kalman is not None and not old.kalman[:, 8:].any()
    assert np.isfinite(serving_features(old, requests)[["kalman_log_ratio", "goal_logp_home"]].to_numpy()).all()


def test_params_saved_before_the_long_run_levels_load_without_the_return_to_it() -> None:
    """A model trained before the long-run levels is served as it was trained: no return after a break."""
    data = FeatureParams().to_json()
    assert data["longrun_share"] > 0 and FeatureParams.from_json(data) == FeatureParams()
    del data["longrun_share"], data["longrun_rate"], data["longrun_gap_days"]
    assert FeatureParams.from_json(data).longrun_share == 0.0


def test_a_batch_served_in_parallel_parts_equals_serving_it_a_few_rows_at_a_time() -> None:
    """A request set of PARALLEL_ROWS rows or more is served in parts on every core at once; each part moves
    division entrants' ratings on copies, so the answers are those of serving the rows a few at a time and the
    state is left as it was."""
    top = league_seasons("E0", surge_season=-1, seasons=3)
    second = league_seasons("E1", surge_season=-1, seasons=3).replace({f"T{i:02d}": f"L{i:02d}" for i in range(6)})
    last = top["date"].dt.year == 2002  # T05 goes down and L00 up for the last season: entry levels are learned
    top.loc[last, ["home_team", "away_team"]] = top.loc[last, ["home_team", "away_team"]].replace("T05", "L00")
    second.loc[last, ["home_team", "away_team"]] = second.loc[last, ["home_team", "away_team"]].replace("L00", "T05")
    saved = json.dumps(TASK.serving_state(pd.concat([top, second], ignore_index=True)))
    state = RatingState.from_json(json.loads(saved))
    before = json.dumps(state.to_json(), sort_keys=True)
    rng = np.random.default_rng(5)
    teams = np.array([f"T{i:02d}" for i in range(6)] + [f"L{i:02d}" for i in range(6)])
    home = rng.integers(0, 12, PARALLEL_ROWS + 7)
    away = (home + rng.integers(1, 12, len(home))) % 12
    requests = pd.DataFrame({
        "home_team": teams[home], "away_team": teams[away],
        "date": pd.Timestamp("2003-08-01") + pd.to_timedelta(rng.integers(0, 300, len(home)), unit="D"),
        "neutral": rng.random(len(home)) < 0.2,
        "competition": rng.choice(["E0", "E1", "Friendly"], len(home)),  # sides of the other division: entrants
    })  # fmt: skip
    whole = serving_features(state, requests)
    in_pieces = pd.concat([serving_features(state, requests.iloc[i : i + 997]) for i in range(0, len(requests), 997)])
    pd.testing.assert_frame_equal(whole, in_pieces)
    assert json.dumps(state.to_json(), sort_keys=True) == before
    entrant = requests.index[(requests["competition"] == "E1") & (requests["home_team"] == "T00")][0]
    assert whole.loc[entrant, "elo_home"] != state.elo[state.teams.index("T00")]  # rated from the entry level
