"""Writes saved_objects.ndjson: data views, Lens visualizations and the Scoreline dashboard.

Run ``uv run python services/elastic/kibana/build_saved_objects.py`` after changing a panel; the
NDJSON is what the setup step imports (with overwrite, so re-running it is harmless).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DASHBOARD_TITLE = "Scoreline — predictions, drift and accuracy"
PSI_ALERT = 0.25  # MonitoringSettings.drift_psi_alert default


def entity_script() -> str:
    """Painless that emits every entity a request names (e.g. both teams of a match), for every registered task."""
    from scoreline.tasks import all_tasks

    fields = sorted({f"inputs.{entity.field}" for task in all_tasks() for entity in task.entity_fields})
    return " ".join(
        f"if (doc.containsKey('{field}') && doc['{field}'].size() > 0) {{ emit(doc['{field}'].value); }}"
        for field in fields
    )


def runtime_fields() -> dict[str, Any]:
    return {
        # Every entity a request names counts as a request for it ("most queried countries", players, series).
        "entity": {"type": "keyword", "script": {"source": entity_script()}},
        "hour_of_day": {"type": "long", "script": {"source": "emit(doc['@timestamp'].value.getHour());"}},
    }


DATA_VIEWS = {
    "scoreline-predictions": ("scoreline-predictions-*", "Scoreline predictions", None),
    "scoreline-drift": ("scoreline-drift", "Scoreline drift", {}),
    "scoreline-outcomes": ("scoreline-outcomes", "Scoreline outcomes", {}),
}


def data_view(view_id: str) -> dict[str, Any]:
    title, name, runtime = DATA_VIEWS[view_id]
    runtime = runtime_fields() if runtime is None else runtime
    return {
        "type": "index-pattern",
        "id": view_id,
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": "@timestamp",
            "runtimeFieldMap": json.dumps(runtime),
        },
        "references": [],
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "8.0.0",
    }


def date_column(interval: str = "auto") -> dict[str, Any]:
    return {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": interval, "includeEmptyRows": True},
    }


def metric(operation: str, field: str, label: str, **params: Any) -> dict[str, Any]:
    column: dict[str, Any] = {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio",
    }
    if params:
        column["params"] = params
    return column


def count(label: str) -> dict[str, Any]:
    return metric("count", "___records___", label)


def terms(field: str, order_by: str, size: int = 10, secondary: list[str] | None = None, label: str = "") -> dict:
    params: dict[str, Any] = {
        "size": size,
        "orderBy": {"type": "column", "columnId": order_by},
        "orderDirection": "desc",
        "otherBucket": False,
    }
    if secondary:
        params["secondaryFields"] = secondary
    return {
        "label": label or field,
        "customLabel": bool(label),
        "dataType": "string" if field != "hour_of_day" else "number",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": params,
    }


def lens(
    vis_id: str,
    title: str,
    view_id: str,
    columns: dict[str, dict[str, Any]],
    layer: dict[str, Any],
    *,
    series: str = "line",
    query: str = "",
    reference_lines: dict[str, float] | None = None,
) -> dict[str, Any]:
    layers = {"main": {"columns": columns, "columnOrder": list(columns), "incompleteColumns": {}}}
    vis_layers = [{"layerId": "main", "layerType": "data", "seriesType": series, **layer}]
    references = [{"type": "index-pattern", "id": view_id, "name": "indexpattern-datasource-layer-main"}]
    if reference_lines:
        ref_columns = {
            f"ref_{i}": {
                "label": label,
                "customLabel": True,
                "dataType": "number",
                "operationType": "static_value",
                "isStaticValue": True,
                "isBucketed": False,
                "scale": "ratio",
                "params": {"value": str(value)},
                "references": [],
            }
            for i, (label, value) in enumerate(reference_lines.items())
        }
        layers["thresholds"] = {"columns": ref_columns, "columnOrder": list(ref_columns), "incompleteColumns": {}}
        vis_layers.append(
            {
                "layerId": "thresholds",
                "layerType": "referenceLine",
                "accessors": list(ref_columns),
                "yConfig": [
                    {"forAccessor": c, "axisMode": "left", "color": "#E7664C", "lineStyle": "dashed", "lineWidth": 2}
                    for c in ref_columns
                ],
            }
        )
        references.append({"type": "index-pattern", "id": view_id, "name": "indexpattern-datasource-layer-thresholds"})
    return {
        "type": "lens",
        "id": vis_id,
        "attributes": {
            "title": title,
            "visualizationType": "lnsXY",
            "state": {
                "datasourceStates": {"formBased": {"layers": layers}},
                "visualization": {
                    "legend": {"isVisible": True, "position": "right"},
                    "valueLabels": "hide",
                    "preferredSeriesType": series,
                    "layers": vis_layers,
                },
                "query": {"query": query, "language": "kuery"},
                "filters": [],
                "adHocDataViews": {},
                "internalReferences": [],
            },
        },
        "references": references,
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "8.9.0",
    }


def visualizations() -> list[dict[str, Any]]:
    return [
        lens(
            "scoreline-predictions-per-minute",
            "Predictions per minute by task and model version",
            "scoreline-predictions",
            {
                "split": terms("task", "count", secondary=["model_version"], label="Task and model version"),
                "time": date_column("1m"),
                "count": count("Predictions"),
            },
            {"xAccessor": "time", "accessors": ["count"], "splitAccessor": "split"},
        ),
        lens(
            "scoreline-latency-percentiles",
            "Latency p50 / p95 / p99 (ms)",
            "scoreline-predictions",
            {
                "time": date_column(),
                "p50": metric("percentile", "latency_ms", "p50", percentile=50),
                "p95": metric("percentile", "latency_ms", "p95", percentile=95),
                "p99": metric("percentile", "latency_ms", "p99", percentile=99),
            },
            {"xAccessor": "time", "accessors": ["p50", "p95", "p99"]},
        ),
        lens(
            "scoreline-most-requested-teams",
            "Most requested teams, players and series",
            "scoreline-predictions",
            {"entity": terms("entity", "count", size=20, label="Entity"), "count": count("Requests")},
            {"xAccessor": "entity", "accessors": ["count"]},
            series="bar_horizontal",
        ),
        lens(
            "scoreline-requests-by-hour",
            "Requests by hour of day (UTC)",
            "scoreline-predictions",
            {"hour": terms("hour_of_day", "count", size=24, label="Hour of day"), "count": count("Requests")},
            {"xAccessor": "hour", "accessors": ["count"]},
            series="bar",
        ),
        lens(
            "scoreline-psi-per-feature",
            "PSI per feature over time (dashed: alert threshold)",
            "scoreline-drift",
            {
                "feature": terms("feature", "psi", size=25, label="Feature"),
                "time": date_column(),
                "psi": metric("max", "psi", "PSI"),
            },
            {"xAccessor": "time", "accessors": ["psi"], "splitAccessor": "feature"},
            reference_lines={"Alert threshold": PSI_ALERT},
        ),
        lens(
            "scoreline-live-vs-holdout",
            "Live log loss and accuracy per model version beside its holdout score",
            "scoreline-outcomes",
            {
                "version": terms("model_version", "log_loss", size=10, label="Model version"),
                "log_loss": metric("average", "log_loss", "Live log loss"),
                "holdout_log_loss": metric("average", "holdout_log_loss", "Holdout log loss"),
                "accuracy": metric("average", "accuracy", "Live accuracy"),
                "holdout_accuracy": metric("average", "holdout_accuracy", "Holdout accuracy"),
            },
            {"xAccessor": "version", "accessors": ["log_loss", "holdout_log_loss", "accuracy", "holdout_accuracy"]},
            series="bar",
            query='kind : "prediction"',
        ),
    ]


def dashboard(panels: list[dict[str, Any]]) -> dict[str, Any]:
    panel_json = []
    references = []
    for i, vis in enumerate(panels):
        index = f"p{i}"
        panel_json.append(
            {
                "panelIndex": index,
                "gridData": {"x": 24 * (i % 2), "y": 15 * (i // 2), "w": 24, "h": 15, "i": index},
                "type": "lens",
                "panelRefName": f"panel_{index}",
                "embeddableConfig": {"enhancements": {}},
            }
        )
        references.append({"name": f"panel_{index}", "type": "lens", "id": vis["id"]})
    return {
        "type": "dashboard",
        "id": "scoreline-overview",
        "attributes": {
            "title": DASHBOARD_TITLE,
            "description": "Prediction traffic and latency, feature drift against the served model, live accuracy.",
            "panelsJSON": json.dumps(panel_json),
            "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}})},
        },
        "references": references,
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "10.2.0",
    }


def saved_objects() -> list[dict[str, Any]]:
    panels = visualizations()
    return [*(data_view(view_id) for view_id in DATA_VIEWS), *panels, dashboard(panels)]


def main() -> None:
    path = HERE / "saved_objects.ndjson"
    path.write_text("".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in saved_objects()))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
