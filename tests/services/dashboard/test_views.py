"""The pure helpers behind the pages."""

from __future__ import annotations

import pandas as pd
import pytest
from scoreline_dashboard import views

TEAMS = ["Brazil", "France", "Japan"]


@pytest.mark.parametrize(
    ("home", "away", "expected"),
    [
        ("Brazil", "France", []),
        (None, "France", ["Pick a home team."]),
        ("Brazil", None, ["Pick an away team."]),
        ("Brazil", "Brazil", ["Home and away must be two different teams."]),
        ("Atlantis", "France", ["Atlantis is not a team the served model knows."]),
    ],
)
def test_match_problems(home: str | None, away: str | None, expected: list[str]) -> None:
    assert views.match_problems(home, away, TEAMS) == expected


@pytest.mark.parametrize(
    ("probabilities", "neutral", "expected"),
    [
        ({"home": 0.62, "draw": 0.23, "away": 0.15}, False, "Brazil are the clear favourite to beat France (62%)."),
        ({"home": 0.30, "draw": 0.28, "away": 0.42}, False, "France are the favourite to win at Brazil (42%)."),
        ({"home": 0.34, "draw": 0.40, "away": 0.26}, False, "A draw between Brazil and France is the most likely"),
        ({"home": 0.40, "draw": 0.25, "away": 0.35}, True, "Brazil are the slight favourite to beat France on neutral"),
        (
            {"home": 0.374, "draw": 0.241, "away": 0.385},
            False,
            "Too close to call: France win 38%, Brazil win 37%, draw",
        ),
    ],
)
def test_outcome_in_words(probabilities: dict[str, float], neutral: bool, expected: str) -> None:
    assert views.outcome_in_words(probabilities, "Brazil", "France", neutral=neutral).startswith(expected)


def test_probabilities_frame_orders_home_draw_away_and_labels() -> None:
    frame = views.probabilities_frame({"away": 0.2, "home": 0.5, "draw": 0.3}, {"home": "Brazil win"})
    assert list(frame["outcome"]) == ["Brazil win", "draw", "away"]
    assert frame["probability"].sum() == pytest.approx(1.0)


def test_team_names_from_strings_or_objects() -> None:
    assert views.team_names({"teams": ["b", "a"]}) == ["a", "b"]
    assert views.team_names({"teams": [{"name": "b", "rating": 1}, {"name": "a"}]}) == ["a", "b"]
    assert views.team_names({"teams": {"b": {}, "a": {}}}) == ["a", "b"]


def test_team_details_merge_schema_and_prediction() -> None:
    schema = {"teams": [{"name": "Brazil", "rating": 2010.5, "form": "WWDLW"}, {"name": "France", "rating": 1990}]}
    prediction = {"features": {"home_elo": 2010.5, "away_elo": 1990.0, "elo_diff": 20.5}}
    assert views.team_details(schema, prediction, "Brazil", "home") == {
        "rating": 2010.5,
        "form": "WWDLW",
        "elo": 2010.5,
    }
    assert views.team_details(schema, prediction, "France", "away") == {"rating": 1990, "elo": 1990.0}


def test_team_details_read_model_apis_team_state() -> None:
    schema = {"teams": ["Brazil", "France"], "team_state": {"Brazil": {"elo": 2010.5, "form_points_per_match": 2.1}}}
    assert views.team_details(schema, {}, "Brazil", "home") == {"elo": 2010.5, "form_points_per_match": 2.1}
    assert views.team_details(schema, {}, "France", "away") == {}


def test_baseline_metrics_are_grouped_by_baseline_with_underscores() -> None:
    metrics = {
        "holdout_rps": 0.2,
        "baseline_base_rates_rps": 0.24,
        "baseline_base_rates_log_loss": 1.05,
        "baseline_elo_rps": 0.21,
        "baseline_weird": 1.0,
    }
    assert views.baseline_metrics(metrics) == {"base_rates": {"rps": 0.24, "log_loss": 1.05}, "elo": {"rps": 0.21}}


def test_version_rows_mark_aliases_and_sort_newest_first() -> None:
    versions = [
        {"version": "1", "run_id": "r1", "creation_timestamp": 1_700_000_000_000, "tags": []},
        {"version": "2", "run_id": "r2", "tags": [{"key": "dataset_version", "value": "abc"}]},
    ]
    runs = {
        "r2": {"data": {"metrics": [{"key": "holdout_rps", "value": 0.2}, {"key": "baseline_elo_rps", "value": 0.21}]}}
    }
    rows = views.version_rows(versions, {"champion": "1", "challenger": "2"}, runs)
    assert [r["version"] for r in rows] == ["2", "1"]
    assert rows[0]["aliases"] == "challenger" and rows[1]["aliases"] == "champion"
    assert rows[0]["holdout"] == {"rps": 0.2} and rows[0]["baselines"] == {"elo": {"rps": 0.21}}
    comparison = views.comparison_frame(rows[0])
    assert set(comparison["scorer"]) == {"model v2", "elo"}
    assert set(comparison["metric"]) == {"rps (lower is better)"}


MATCHES = pd.DataFrame(
    {
        "date": pd.to_datetime(["2000-01-01", "2000-06-01", "2000-07-01", "2001-01-01", "2001-02-01"]),
        "home_score": [2, 0, 1, 3, 12],
        "away_score": [1, 0, 2, 0, 0],
        "neutral": [False, False, False, True, False],
    }
)


def test_goals_distribution_caps_at_ten() -> None:
    goals = views.goals_distribution(MATCHES)
    assert dict(zip(goals["goals"], goals["matches"], strict=True)) == {0: 1, 3: 3, 10: 1}


def test_results_by_year_shares_sum_to_one() -> None:
    shares = views.results_by_year(MATCHES)
    assert shares.groupby("year")["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    row = shares[(shares["year"] == 2000) & (shares["result"] == "home")]
    assert row["share"].item() == pytest.approx(1 / 3)


def test_home_advantage_ignores_neutral_grounds() -> None:
    advantage = views.home_advantage_by_year(MATCHES)
    assert advantage.set_index("year")["home_advantage"].to_dict() == {2000: 0.0, 2001: 1.0}


def test_versions_table_names_the_source() -> None:
    table = views.versions_table(
        [
            {
                "version": "a",
                "created_at": "2026-01-01T10:00:00.5Z",
                "rows": 5,
                "source": {"kind": "upload", "filename": "x.csv"},
            }
        ]
    )
    assert table.to_dict("records") == [
        {"version": "a", "created": "2026-01-01 10:00:00", "rows": 5, "source": "upload: x.csv"}
    ]


def test_dataset_and_version_listings_in_several_shapes() -> None:
    assert views.dataset_entries({"datasets": [{"task": "t", "dataset": "d"}]}) == [{"task": "t", "dataset": "d"}]
    assert views.dataset_entries({"t": ["d"]}) == [{"task": "t", "dataset": "d"}]
    listing = {"versions": [{"version": "a", "created_at": "2026-01-01"}, {"version": "b", "created_at": "2026-02-01"}]}
    assert [v["version"] for v in views.version_entries(listing)] == ["b", "a"]


def test_request_fields_from_the_request_json_schema() -> None:
    schema = {
        "request": {
            "properties": {
                "home_team": {"type": "string"},
                "date": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None},
                "neutral": {"type": "boolean", "default": False},
            },
            "required": ["home_team"],
        }
    }
    fields = views.request_fields(schema)
    assert {name: (f["type"], f["required"]) for name, f in fields.items()} == {
        "home_team": ("string", True),
        "date": ("string", False),
        "neutral": ("boolean", False),
    }


def test_latest_drift_run_keeps_the_newest_run_only() -> None:
    results = [
        {"@timestamp": "2026-06-02T00:00:00Z", "run_id": "new", "feature": "elo_diff", "psi": 0.3},
        {"@timestamp": "2026-06-02T00:00:00Z", "run_id": "new", "feature": "tier", "psi": 0.01},
        {"@timestamp": "2026-06-01T00:00:00Z", "run_id": "old", "feature": "elo_diff", "psi": 0.05},
    ]
    frame = views.latest_drift_run(results)
    assert list(frame["feature"]) == ["elo_diff", "tier"] and set(frame["run_id"]) == {"new"}
    assert views.latest_drift_run([]).empty


def test_accuracy_frame_pairs_live_and_holdout() -> None:
    results = [
        {"day": "2026-06-02", "model_version": "3", "count": 4, "accuracy": 0.5, "holdout_accuracy": 0.52},
        {"day": "2026-06-01", "model_version": "3", "count": 2, "accuracy": 1.0, "rps": 0.1, "holdout_rps": 0.2},
    ]
    frame = views.accuracy_frame(results)
    assert list(frame["day"].dt.day) == [1, 1, 2]
    accuracy = frame[frame["metric"] == "accuracy"]
    assert list(accuracy["live"]) == [1.0, 0.5]
    assert accuracy["holdout"].tolist()[1] == 0.52


def test_promotion_events_table() -> None:
    history = {
        "events": [
            {
                "event": "decision",
                "version": "2",
                "decision": "promoted",
                "reason": "better",
                "at": "t2",
                "metrics": {},
            },
            {"event": "rolled_back", "version": "2", "at": "t3", "by": "dashboard"},
        ]
    }
    frame = views.promotion_events(history)
    assert list(frame.columns) == ["at", "event", "version", "decision", "reason", "by"]
    assert frame["event"].tolist() == ["decision", "rolled_back"]
