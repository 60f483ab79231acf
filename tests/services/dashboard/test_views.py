"""The pure helpers behind the pages: schemas and answers of any kind in, what the pages draw out."""

from __future__ import annotations

import pandas as pd
import pytest
from scoreline_dashboard import views

# A request schema as model-api answers it (pydantic's JSON schema), with every kind of field.
SCHEMA = {
    "task": "some-task",
    "kind": "regression",
    "request": {
        "properties": {
            "home_side": {"type": "string", "title": "Home Side"},
            "away_side": {"type": "string"},
            "day": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "default": None},
            "neutral": {"type": "boolean", "default": False},
            "rank": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "default": None},
            "games": {"type": "integer", "minimum": 1, "maximum": 200},
            "stage": {"enum": ["regular", "final"], "type": "string", "default": "regular"},
            "flag": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
            "payload": {"anyOf": [{"additionalProperties": True, "type": "object"}, {"type": "null"}]},
            "events": {"anyOf": [{"items": {"$ref": "#/$defs/Event"}, "type": "array"}, {"type": "null"}]},
            "level": {"$ref": "#/$defs/Level"},
        },
        "required": ["home_side", "away_side", "games", "level"],
        "$defs": {"Event": {"type": "object"}, "Level": {"enum": ["low", "high"], "type": "string"}},
    },
    "entity_fields": {"home_side": "side", "away_side": "side"},
    "entities": {"home_side": ["A", "B"], "away_side": ["A", "B"]},
    "example_request": {"home_side": "A", "away_side": "B", "games": 7, "events": [{"x": 1}]},
}


def test_form_fields_read_every_kind_from_the_json_schema() -> None:
    fields = {f.name: f for f in views.form_fields(SCHEMA)}
    assert list(fields) == list(SCHEMA["request"]["properties"])  # the request model's order
    assert {name: f.kind for name, f in fields.items()} == {
        "home_side": "entity", "away_side": "entity", "day": "date", "neutral": "boolean", "rank": "number",
        "games": "integer", "stage": "enum", "flag": "boolean", "payload": "json", "events": "json", "level": "enum",
    }  # fmt: skip
    assert fields["home_side"].options == ["A", "B"] and fields["home_side"].noun == "side"
    assert fields["home_side"].title == "Home Side" and fields["away_side"].title == "away side"
    assert fields["games"].default == 7 and fields["games"].required  # the example request's value
    assert (fields["games"].minimum, fields["games"].maximum) == (1.0, 200.0)
    assert fields["rank"].minimum == 0.0 and not fields["rank"].required
    assert fields["stage"].options == ["regular", "final"] and fields["stage"].default == "regular"
    assert fields["level"].options == ["low", "high"]  # through a $ref
    assert fields["events"].default == [{"x": 1}]


def test_form_problems_name_missing_and_unknown_entities() -> None:
    fields = views.form_fields(SCHEMA)
    assert views.form_problems(fields, {"home_side": "A", "away_side": "B", "games": 3, "level": "low"}) == []
    assert views.form_problems(fields, {"home_side": "Z", "games": 3, "level": "low"}) == [
        "Z is not a side the served model knows.",
        "Fill in away side.",
    ]


def test_json_fields_parse_or_say_why_not() -> None:
    assert views.parse_json_field("") == (None, None)
    assert views.parse_json_field('{"a": [1]}') == ({"a": [1]}, None)
    value, problem = views.parse_json_field("{oops")
    assert value is None and problem is not None and problem.startswith("not valid JSON")


def test_batch_columns_leave_json_fields_out() -> None:
    assert views.example_columns(views.form_fields(SCHEMA)).startswith("**home_side**, **away_side**, day")
    assert "payload" not in views.example_columns(views.form_fields(SCHEMA))


def test_probabilities_follow_the_class_order() -> None:
    frame = views.probabilities_frame({"c": 0.2, "a": 0.5, "b": 0.3}, ["a", "b", "c"])
    assert list(frame["class"]) == ["a", "b", "c"] and frame["probability"].sum() == pytest.approx(1.0)


def test_contributions_largest_push_first() -> None:
    frame = views.contributions_frame({"x": 0.1, "y": -0.7, "z": 0.3})
    assert list(frame["feature"]) == ["y", "z", "x"] and list(frame["direction"]) == ["down", "up", "up"]
    assert views.contributions_frame(None).empty


def test_forecast_frame_has_the_interval_band() -> None:
    answer = {"prediction": [10.0, 12.0], "horizon": [1, 2], "intervals": {"p90": [12.0, 15.0], "p10": [8.0, 9.0]}}
    frame = views.forecast_frame(answer)
    assert frame.to_dict("list") == {"day": [1, 2], "value": [10.0, 12.0], "low": [8.0, 9.0], "high": [12.0, 15.0]}
    assert views.interval_names(answer) == ("p10", "p90")
    assert views.forecast_frame({"prediction": [1.0]})["low"].isna().all()


VERSIONS = {
    "versions": [
        {
            "version": "4",
            "aliases": ["champion"],
            "created_at": "2026-01-01T10:00:00Z",
            "holdout": {"smape": 0.2, "smape_d1": 0.1, "smape_d2": 0.3},
            "baselines": {"seasonal_naive": {"smape": 0.3, "smape_d1": 0.25, "smape_d2": 0.35}},
            "tags": {"dataset_version": "abc"},
        }
    ]
}


def test_versions_table_keeps_overall_metrics() -> None:
    table = views.versions_frame(VERSIONS)
    assert table.to_dict("records") == [
        {"version": "4", "aliases": "champion", "created": "2026-01-01 10:00:00", "holdout smape": 0.2,
         "dataset": "abc"}
    ]  # fmt: skip


def test_comparison_and_horizon_frames() -> None:
    version = VERSIONS["versions"][0]
    comparison = views.comparison_frame(version)
    assert set(comparison["scorer"]) == {"model v4", "seasonal_naive"}
    assert set(comparison["metric"]) == {"smape (lower is better)"}
    by_day = views.horizon_frame(version)
    assert by_day[by_day["scorer"] == "model v4"][["day", "value"]].values.tolist() == [[1, 0.1], [2, 0.3]]
    assert set(by_day["metric"]) == {"smape"}
    assert views.horizon_frame({"version": "1", "holdout": {"rps": 0.2}}).empty
    assert views.metric_label("roc_auc") == "roc_auc (higher is better)"


def test_column_summary_histogram_and_top_categories() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2024-01-01", "2024-02-01", None, "2024-03-01"]),
            "value": [1.0, 2.0, 3.0, 50.0],
            "name": ["a", "b", "a", None],
            "flag": [True, False, True, True],
        }
    )
    summary = views.column_summary(frame).set_index("column")
    assert summary["kind"].to_dict() == {
        "when": "datetime",
        "value": "numeric",
        "name": "categorical",
        "flag": "boolean",
    }
    assert summary.loc["when", "missing"] == 0.25 and summary.loc["name", "distinct"] == 2
    bins = views.histogram(frame["value"], bins=5)
    assert bins["rows"].sum() == 4 and len(bins) == 4  # no more bins than distinct values
    assert views.histogram(frame["when"])["rows"].sum() == 3
    top = views.top_categories(frame["name"], n=1)
    assert top.to_dict("list") == {"value": ["a", "(other)"], "rows": [2, 2]}


def test_manifest_notes_in_any_shape() -> None:
    assert views.manifest_notes({}) == []
    assert views.manifest_notes({"notes": ["used 5 columns"]}) == ["used 5 columns"]
    assert views.manifest_notes({"notes": {"skipped": 2, "columns": ["a"]}}) == ["skipped: 2", 'columns: ["a"]']


def test_versions_table_names_the_source() -> None:
    table = views.versions_table(
        [{"version": "a", "created_at": "2026-01-01T10:00:00.5Z", "rows": 5, "source": {"kind": "upload",
                                                                                    "filename": "x.csv"}}]
    )  # fmt: skip
    assert table.to_dict("records") == [
        {"version": "a", "created": "2026-01-01 10:00:00", "rows": 5, "source": "upload: x.csv"}
    ]
    ordered = views.newest_first(
        [{"version": "a", "created_at": "2026-01-01"}, {"version": "b", "created_at": "2026-02"}]
    )
    assert [v["version"] for v in ordered] == ["b", "a"]


def test_summary_frames() -> None:
    summary = {
        "traffic": [{"time": "2026-06-01T10:00:00Z", "predictions": 3},
                    {"time": "2026-06-01T10:01:00Z", "predictions": 0}],
        "top_entities": {"home_side": [{"value": "A", "requests": 3}], "away_side": [{"value": "B", "requests": 2}]},
    }  # fmt: skip
    traffic = views.traffic_frame(summary)
    assert list(traffic["predictions"]) == [3, 0] and traffic["time"].dt.tz is None
    assert views.top_entities_frame(summary).values.tolist() == [["home_side", "A", 3], ["away_side", "B", 2]]
    assert views.traffic_frame({}).empty and views.top_entities_frame({}).empty


def test_latest_drift_run_keeps_the_newest_run_only() -> None:
    results = [
        {"@timestamp": "2026-06-02T00:00:00Z", "run_id": "new", "feature": "f1", "psi": 0.3},
        {"@timestamp": "2026-06-02T00:00:00Z", "run_id": "new", "feature": "f2", "psi": 0.01},
        {"@timestamp": "2026-06-01T00:00:00Z", "run_id": "old", "feature": "f1", "psi": 0.05},
    ]
    frame = views.latest_drift_run(results)
    assert list(frame["feature"]) == ["f1", "f2"] and set(frame["run_id"]) == {"new"}
    assert views.latest_drift_run([]).empty


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"log_loss": 0.6, "brier": 0.2, "accuracy": 0.7, "rps": 0.19}, {"log_loss", "brier", "accuracy", "rps"}),
        ({"mae": 120.0, "ape": 0.08}, {"mae", "ape"}),
    ],
)
def test_accuracy_frame_plots_whatever_metrics_the_documents_carry(
    metrics: dict[str, float], expected: set[str]
) -> None:
    holdout = {f"holdout_{m}": v * 0.9 for m, v in metrics.items()}
    results = [
        {"kind": "daily", "task": "t", "day": "2026-06-02", "model_version": "3", "count": 4, **metrics, **holdout},
        {"kind": "daily", "task": "t", "day": "2026-06-01", "model_version": "3", "count": 2, **metrics},
        {"kind": "prediction", "task": "t", "day": "2026-06-01", "model_version": "3", "prediction": 1.0, **metrics},
    ]
    frame = views.accuracy_frame(results)
    assert set(frame["metric"]) == expected
    assert len(frame) == 2 * len(expected)  # the per-prediction documents are left to the daily ones
    first = frame[frame["metric"] == sorted(expected)[0]]
    assert list(first["day"].dt.day) == [1, 2] and pd.isna(first["holdout"].iloc[0])
    assert first["holdout"].iloc[1] == pytest.approx(metrics[sorted(expected)[0]] * 0.9)


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


def test_served_tasks_from_model_apis_listing() -> None:
    models = {"models": [{"task": "b", "version": "1"}, {"task": "a", "version": None}]}
    assert views.served_tasks(models) == ["a", "b"]
    assert views.served_entry(models, "b") == {"task": "b", "version": "1"}
    assert views.served_entry(models, "c") is None


def test_replay_progress_says_where_the_replay_is() -> None:
    status = {"start": "2024-03-20", "end": "2024-03-26", "state": "running", "day": "2024-03-22", "days_done": 3,
              "days_total": 7, "predictions": 80, "results": 80,
              "live": {"drift_status": "warn", "matched": 80}}  # fmt: skip
    fraction, text = views.replay_progress(status)
    assert fraction == pytest.approx(3 / 7)
    assert "day 2024-03-22 (3/7)" in text and "80 predictions" in text and "drift warn" in text
    assert views.replay_progress({**status, "days_total": 0, "error": "model-api is down"})[1].endswith(
        "error: model-api is down"
    )


def test_reliability_frame_orders_each_class_by_bin() -> None:
    bins = [{"class": "home", "bin": 5, "predicted": 0.55, "observed": 0.5, "count": 10},
            {"class": "away", "bin": 1, "predicted": 0.15, "observed": 0.2, "count": 7},
            {"class": "home", "bin": 2, "predicted": 0.25, "observed": 0.3, "count": 4}]  # fmt: skip
    frame = views.reliability_frame({"bins": bins})
    assert frame[["class", "bin"]].values.tolist() == [["away", 1], ["home", 2], ["home", 5]]
    assert views.reliability_frame({}).empty
