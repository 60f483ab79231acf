"""Pure helpers that turn service answers into what the pages show (no Streamlit, no HTTP, no task named).

Everything a page knows about a task comes from model-api's ``GET /v1/{task}/schema`` (kind, classes, horizon,
the JSON schema of a request, entity fields and their known names, an example request) and from the answers.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

# Metric names whose larger value is the better one (the others: lower is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "roc_auc", "pr_auc", "f1", "precision", "recall"})
FieldKind = Literal["entity", "enum", "number", "integer", "boolean", "date", "datetime", "string", "json"]


# ---- the request form -----------------------------------------------------------------------------
@dataclass
class FormField:
    """One field of a task's request, as the Predict page draws it."""

    name: str
    kind: FieldKind
    required: bool
    title: str
    description: str | None = None
    default: Any = None  # the example request's value, else the schema's default
    options: list[Any] = field(default_factory=list)  # entity names or enum values
    noun: str | None = None  # entity fields: "team", "player", "series"
    minimum: float | None = None
    maximum: float | None = None


def _resolve(spec: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**definitions.get(ref.removeprefix("#/$defs/"), {}), **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec


def _options(spec: dict[str, Any], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a field (``anyOf``/``oneOf``, or itself), references resolved, ``null`` left out."""
    spec = _resolve(spec, definitions)
    alternatives = spec.get("anyOf") or spec.get("oneOf") or [spec]
    found = [_resolve(option, definitions) for option in alternatives if isinstance(option, dict)]
    return [option for option in found if option.get("type") != "null"]


def _kind(spec: dict[str, Any], definitions: dict[str, Any]) -> tuple[FieldKind, list[Any], dict[str, Any]]:
    options = _options(spec, definitions)
    chosen = options[0] if options else {}
    enum = chosen.get("enum") or (spec.get("enum") if isinstance(spec.get("enum"), list) else None)
    if enum:
        return "enum", [v for v in enum if v is not None], chosen
    kind = chosen.get("type")
    if kind in ("number", "integer", "boolean"):
        return kind, [], chosen
    if kind == "string":
        text_format = chosen.get("format")
        return ("date" if text_format == "date" else "datetime" if text_format == "date-time" else "string"), [], chosen
    return "json", [], chosen  # objects, arrays and anything else: JSON text


def form_fields(schema: dict[str, Any]) -> list[FormField]:
    """The fields of one request, in the order of the request model, with defaults from the example request."""
    request = schema.get("request") or {}
    definitions = request.get("$defs") or {}
    required = set(request.get("required") or [])
    entity_fields: dict[str, str] = schema.get("entity_fields") or {}
    entities: dict[str, list[str]] = schema.get("entities") or {}
    example = schema.get("example_request") or next(iter((schema.get("example") or {}).get("instances") or []), {})
    fields = []
    for name, raw in (request.get("properties") or {}).items():
        spec = raw if isinstance(raw, dict) else {}
        kind, options, chosen = _kind(spec, definitions)
        default = example.get(name, spec.get("default")) if isinstance(example, dict) else spec.get("default")
        noun = entity_fields.get(name)
        if noun is not None:
            kind, options = "entity", list(entities.get(name) or [])
        fields.append(
            FormField(
                name=name,
                kind=kind,
                required=name in required,
                title=str(spec.get("title") or name.replace("_", " ")),
                description=spec.get("description") or chosen.get("description"),
                default=default,
                options=options,
                noun=noun,
                minimum=_number(chosen.get("minimum", chosen.get("exclusiveMinimum"))),
                maximum=_number(chosen.get("maximum", chosen.get("exclusiveMaximum"))),
            )
        )
    return fields


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_json_field(text: str | None) -> tuple[Any, str | None]:
    """(value, problem) of a JSON text box; empty text is no value."""
    if text is None or not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON: {exc}"


def form_problems(fields: list[FormField], instance: dict[str, Any]) -> list[str]:
    """Why the request cannot be sent yet (empty when it can): required fields left empty, unknown entities."""
    problems = []
    for spec in fields:
        value = instance.get(spec.name)
        if value is None or value == "":
            if spec.required:
                problems.append(f"Fill in {spec.title}.")
        elif spec.kind == "entity" and spec.options and value not in spec.options:
            problems.append(f"{value} is not a {spec.noun or 'name'} the served model knows.")
    return problems


def example_columns(fields: list[FormField]) -> str:
    """The columns of a batch file, required ones in bold (markdown)."""
    return ", ".join(f"**{f.name}**" if f.required else f.name for f in fields if f.kind != "json")


# ---- answers ---------------------------------------------------------------------------------------
def probabilities_frame(probabilities: dict[str, float], classes: list[str] | None = None) -> pd.DataFrame:
    """One row per class in the task's class order (then any other the answer has)."""
    order = [c for c in classes or [] if c in probabilities] + [c for c in probabilities if c not in (classes or [])]
    return pd.DataFrame({"class": order, "probability": [float(probabilities[c]) for c in order]})


def contributions_frame(contributions: dict[str, float] | None) -> pd.DataFrame:
    """The features that pushed a prediction most (SHAP values), largest push first."""
    items = sorted((contributions or {}).items(), key=lambda item: -abs(float(item[1])))
    frame = pd.DataFrame(items, columns=["feature", "contribution"])
    frame["direction"] = ["up" if v >= 0 else "down" for v in frame["contribution"]]
    return frame


def forecast_frame(answer: dict[str, Any]) -> pd.DataFrame:
    """A forecast answer as (day, value, low, high): one row per horizon day, the interval when there is one."""
    values = answer.get("prediction")
    values = values if isinstance(values, list) else [values]
    days = answer.get("horizon") or list(range(1, len(values) + 1))
    intervals = answer.get("intervals") or {}
    bounds = sorted(intervals, key=lambda name: _quantile(name))
    low = intervals.get(bounds[0]) if bounds else None
    high = intervals.get(bounds[-1]) if len(bounds) > 1 else None
    return pd.DataFrame(
        {
            "day": [int(d) for d in days],
            "value": [float(v) for v in values],
            "low": [float(v) for v in low] if low else [math.nan] * len(values),
            "high": [float(v) for v in high] if high else [math.nan] * len(values),
        }
    )


def interval_names(answer: dict[str, Any]) -> tuple[str, str]:
    names = sorted(answer.get("intervals") or {}, key=_quantile)
    return (names[0], names[-1]) if len(names) > 1 else ("low", "high")


def _quantile(name: str) -> float:
    found = re.search(r"\d+(\.\d+)?", name)
    return float(found.group()) if found else 0.0


def value_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


# ---- models ------------------------------------------------------------------------------------------
def versions_frame(listing: dict[str, Any]) -> pd.DataFrame:
    """The trainer's registered versions as one row each: aliases, creation time, holdout metrics, dataset."""
    rows = []
    for entry in listing.get("versions") or []:
        holdout = entry.get("holdout") or {}
        tags = entry.get("tags") or {}
        rows.append(
            {
                "version": str(entry.get("version")),
                "aliases": ", ".join(entry.get("aliases") or []),
                "created": str(entry.get("created_at") or "")[:19].replace("T", " "),
                **{f"holdout {k}": v for k, v in sorted(holdout.items()) if not _per_day(k)},
                "dataset": tags.get("dataset_version", tags.get("dataset", "")),
            }
        )
    return pd.DataFrame(rows)


def _per_day(metric: str) -> bool:
    return re.search(r"_d\d+$", metric) is not None


def comparison_frame(version: dict[str, Any]) -> pd.DataFrame:
    """Long frame (scorer, metric, value) of one version's holdout metrics against its baselines (overall ones)."""
    records = [
        {"scorer": f"model v{version['version']}", "metric": k, "value": v}
        for k, v in (version.get("holdout") or {}).items()
        if not _per_day(k) and isinstance(v, int | float)
    ]
    for baseline, metrics in (version.get("baselines") or {}).items():
        records.extend({"scorer": baseline, "metric": k, "value": v} for k, v in metrics.items() if not _per_day(k))
    frame = pd.DataFrame(records, columns=["scorer", "metric", "value"])
    frame["metric"] = frame["metric"].map(metric_label)
    return frame


def metric_label(metric: str) -> str:
    base = re.sub(r"_d\d+$", "", metric)
    return f"{metric} ({'higher' if base in HIGHER_IS_BETTER else 'lower'} is better)"


def horizon_frame(version: dict[str, Any]) -> pd.DataFrame:
    """Error by horizon day (metrics named ``<metric>_d<h>``) of the model and its baselines: long
    (day, metric, scorer, value); empty for versions without per-day metrics."""
    pattern = re.compile(r"^(?P<metric>.+)_d(?P<day>\d+)$")
    records = []
    scorers = {f"model v{version['version']}": version.get("holdout") or {}, **(version.get("baselines") or {})}
    for scorer, metrics in scorers.items():
        for key, value in metrics.items():
            found = pattern.match(key)
            if found and isinstance(value, int | float):
                records.append({"day": int(found["day"]), "metric": found["metric"], "scorer": scorer, "value": value})
    return pd.DataFrame(records, columns=["day", "metric", "scorer", "value"]).sort_values(["metric", "scorer", "day"])


def promotion_events(history: Any) -> pd.DataFrame:
    """The trainer's promotion history (``{"events": [...]}``) as a table, newest first, metrics left out."""
    events = history.get("events", []) if isinstance(history, dict) else history
    columns = ["at", "event", "version", "decision", "reason", "by", "mode", "compared_with"]
    rows = [{name: event.get(name) for name in columns} for event in events or [] if isinstance(event, dict)]
    return pd.DataFrame(rows, columns=columns).dropna(axis=1, how="all")


# ---- datasets ----------------------------------------------------------------------------------------
def versions_table(versions: list[dict[str, Any]]) -> pd.DataFrame:
    """One line per dataset version: when, how many rows, which dates, where it came from."""
    rows = []
    for entry in versions:
        source = entry.get("source")
        if isinstance(source, dict):
            origin = source.get("filename") or source.get("url") or source.get("key") or ""
            source = f"{source.get('kind', '')}: {origin}".strip(": ")
        rows.append(
            {
                "version": entry.get("version"),
                "created": str(entry.get("created_at", ""))[:19].replace("T", " "),
                "rows": entry.get("rows"),
                "dates": f"{entry['date_min']} to {entry['date_max']}" if entry.get("date_min") else None,
                "source": source,
            }
        )
    return pd.DataFrame(rows).dropna(axis=1, how="all")


def newest_first(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(versions, key=lambda entry: str(entry.get("created_at", "")), reverse=True)


def manifest_notes(manifest: dict[str, Any]) -> list[str]:
    """The adapter's notes of a version (columns used, rows skipped or repaired) as lines of text."""
    notes = manifest.get("notes")
    if not notes:
        return []
    if isinstance(notes, str):
        return [notes]
    if isinstance(notes, dict):
        return [f"{key}: {v if isinstance(v, str) else json.dumps(v, default=str)}" for key, v in notes.items()]
    return [n if isinstance(n, str) else json.dumps(n, default=str) for n in notes]


ColumnKind = Literal["numeric", "boolean", "datetime", "categorical"]


def column_kind(series: pd.Series) -> ColumnKind:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "categorical"


def column_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: kind, missing share, distinct values, and min/median/max for numbers and dates."""
    rows = []
    for name in frame.columns:
        series = frame[name]
        kind = column_kind(series)
        row: dict[str, Any] = {
            "column": str(name),
            "kind": kind,
            "missing": float(series.isna().mean()) if len(series) else 0.0,
            "distinct": int(series.nunique(dropna=True)),
        }
        if kind in ("numeric", "datetime") and series.notna().any():
            row.update(min=str(series.min()), median=str(series.median()), max=str(series.max()))
        rows.append(row)
    return pd.DataFrame(rows)


def histogram(series: pd.Series, bins: int = 30) -> pd.DataFrame:
    """Counts of a numeric (or date) column in equal-width bins: (start, end, rows)."""
    values = series.dropna()
    if column_kind(series) == "datetime":
        values = values.astype("int64")
    values = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if values.empty:
        return pd.DataFrame(columns=["start", "end", "rows"])
    if values.min() == values.max():
        return pd.DataFrame({"start": [values.min()], "end": [values.max()], "rows": [len(values)]})
    counts = pd.cut(values, bins=min(bins, max(1, values.nunique())), include_lowest=True).value_counts(sort=False)
    return pd.DataFrame(
        {"start": [i.left for i in counts.index], "end": [i.right for i in counts.index], "rows": counts.to_numpy()}
    )


def top_categories(series: pd.Series, n: int = 15) -> pd.DataFrame:
    """The most frequent values of a column, the rest summed as "(other)"."""
    counts = series.astype("string").fillna("(missing)").value_counts()
    top = counts.head(n)
    frame = pd.DataFrame({"value": top.index.astype(str), "rows": top.to_numpy()})
    if len(counts) > n:
        frame.loc[len(frame)] = ["(other)", int(counts.iloc[n:].sum())]
    return frame


# ---- monitoring (trainer GET /v1/monitor/summary, drift and accuracy) ---------------------------------
def traffic_frame(summary: dict[str, Any]) -> pd.DataFrame:
    rows = summary.get("traffic") or []
    frame = pd.DataFrame(rows, columns=["time", "predictions"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce").dt.tz_convert(None)  # charts: naive UTC
    return frame


def top_entities_frame(summary: dict[str, Any]) -> pd.DataFrame:
    """Most requested names per entity field: long (field, value, requests)."""
    rows = [
        {"field": name, "value": str(entry.get("value")), "requests": int(entry.get("requests") or 0)}
        for name, entries in (summary.get("top_entities") or {}).items()
        for entry in entries or []
    ]
    return pd.DataFrame(rows, columns=["field", "value", "requests"])


def monitoring_results(answer: Any) -> list[dict[str, Any]]:
    results = answer.get("results", []) if isinstance(answer, dict) else answer
    return [r for r in results or [] if isinstance(r, dict)]


def latest_drift_run(results: list[dict[str, Any]]) -> pd.DataFrame:
    """The newest monitor run's drift rows (one per feature and one for the predictions)."""
    if not results:
        return pd.DataFrame()
    frame = pd.DataFrame(results)
    if "run_id" in frame:
        ordered = frame.sort_values("@timestamp", ascending=False) if "@timestamp" in frame else frame
        frame = frame[frame["run_id"] == ordered["run_id"].iloc[0]]
    return frame.reset_index(drop=True)


# Fields of a live-accuracy document that are not metrics.
_NOT_METRICS = frozenset({"count", "horizon", "prediction", "outcome", "correct", "matched", "predictions"})


def accuracy_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    """Live metric per version and day with the version's holdout value: long (day, model_version, metric, live,
    holdout, count). Whatever numeric metrics the documents carry (classification: log_loss, brier, accuracy,
    rps; regression and forecast: mae, ape); per-day documents when the results have them."""
    daily = [doc for doc in results if doc.get("kind") == "daily"]
    documents = daily or [doc for doc in results if doc.get("kind") in (None, "daily")]
    rows = []
    for doc in documents:
        for key, value in doc.items():
            if (
                key in _NOT_METRICS
                or key.startswith("holdout_")
                or not isinstance(value, int | float)
                or isinstance(value, bool)
            ):
                continue
            rows.append(
                {
                    "day": doc.get("day"),
                    "model_version": str(doc.get("model_version")),
                    "metric": key,
                    "live": float(value),
                    "holdout": doc.get(f"holdout_{key}"),
                    "count": doc.get("count"),
                }
            )
    frame = pd.DataFrame(rows, columns=["day", "model_version", "metric", "live", "holdout", "count"])
    frame["day"] = pd.to_datetime(frame["day"], errors="coerce")
    return frame.sort_values(["metric", "day"], kind="stable").reset_index(drop=True)


def reliability_frame(calibration: dict[str, Any]) -> pd.DataFrame:
    """A reliability diagram's points: per class and bin, the mean predicted probability, how often the class
    happened and how many holdout rows the bin holds (trainer ``GET /v1/models/{task}/versions/{v}/calibration``)."""
    frame = pd.DataFrame(calibration.get("bins") or [], columns=["class", "bin", "predicted", "observed", "count"])
    return frame.sort_values(["class", "bin"]).reset_index(drop=True)


def replay_progress(status: dict[str, Any]) -> tuple[float, str]:
    """A replay's progress bar: the fraction of its days played and a line saying where it is."""
    total = int(status.get("days_total") or 0)
    done = int(status.get("days_done") or 0)
    live = status.get("live") or {}
    text = (
        f"Replay {status.get('start')} → {status.get('end')}: {status.get('state')}, day {status.get('day') or '-'} "
        f"({done}/{total}), {status.get('predictions', 0)} predictions, {status.get('results', 0)} results"
    )
    if live:
        text += f"; drift {live.get('drift_status')}, {live.get('matched')} predictions matched with results"
    if status.get("error"):
        text += f"; error: {status['error']}"
    return (min(1.0, done / total) if total else 1.0), text


def served_tasks(models: Any) -> list[str]:
    """Task ids in model-api's ``GET /v1/models`` answer."""
    entries = models.get("models", []) if isinstance(models, dict) else models or []
    return sorted({str(e["task"]) for e in entries if isinstance(e, dict) and e.get("task")})


def served_entry(models: Any, task: str) -> dict[str, Any] | None:
    entries = models.get("models", []) if isinstance(models, dict) else models or []
    return next((e for e in entries if isinstance(e, dict) and e.get("task") == task), None)
