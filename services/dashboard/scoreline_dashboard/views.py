"""Pure helpers that turn service answers into what the pages show (no Streamlit, no HTTP)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

OUTCOME_ORDER = ("home", "draw", "away")
HIGHER_IS_BETTER = frozenset({"accuracy", "roc_auc", "f1"})


def match_problems(home: str | None, away: str | None, known_teams: list[str]) -> list[str]:
    """Why this match cannot be submitted (empty when it can)."""
    problems = []
    known = set(known_teams)
    if not home:
        problems.append("Pick a home team.")
    elif known and home not in known:
        problems.append(f"{home} is not a team the served model knows.")
    if not away:
        problems.append("Pick an away team.")
    elif known and away not in known:
        problems.append(f"{away} is not a team the served model knows.")
    if home and away and home == away:
        problems.append("Home and away must be two different teams.")
    return problems


def probabilities_frame(probabilities: dict[str, float], labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per outcome, in home/draw/away order when those are the classes."""
    order = [name for name in OUTCOME_ORDER if name in probabilities] + [
        name for name in probabilities if name not in OUTCOME_ORDER
    ]
    labels = labels or {}
    return pd.DataFrame(
        {
            "outcome": [labels.get(name, name) for name in order],
            "probability": [float(probabilities[name]) for name in order],
        }
    )


def outcome_in_words(probabilities: dict[str, float], home: str, away: str, *, neutral: bool = False) -> str:
    """The most likely result as a sentence, with how sure the model is."""
    if not probabilities:
        return "The model returned no probabilities."
    best = max(probabilities, key=lambda name: probabilities[name])
    share = probabilities[best]
    ranked = sorted(probabilities.values(), reverse=True)
    margin = ranked[0] - ranked[1] if len(ranked) > 1 else 1.0
    venue = " on neutral ground" if neutral else ""
    if margin < 0.03:
        names = {"home": f"{home} win", "away": f"{away} win"}
        ranked_names = sorted(probabilities, key=lambda name: -probabilities[name])
        shares = ", ".join(f"{names.get(name, name)} {probabilities[name]:.0%}" for name in ranked_names)
        return f"Too close to call{venue}: {shares}."
    strength = "clear favourite" if margin >= 0.25 else "favourite" if margin >= 0.08 else "slight favourite"
    if best == "home":
        return f"{home} are the {strength} to beat {away}{venue} ({share:.0%})."
    if best == "away":
        return (
            f"{away} are the {strength} to win at {home}{venue} ({share:.0%})."
            if not neutral
            else (f"{away} are the {strength} to beat {home}{venue} ({share:.0%}).")
        )
    if best == "draw":
        return f"A draw between {home} and {away} is the most likely result{venue} ({share:.0%})."
    return f"Most likely: {best} ({share:.0%})."


def team_names(schema: dict[str, Any]) -> list[str]:
    """The known teams of a match-outcome schema, whether listed as names or as objects."""
    teams = schema.get("teams") or schema.get("known_teams") or []
    if isinstance(teams, dict):
        return sorted(teams)
    names = [team if isinstance(team, str) else str(team.get("name") or team.get("team")) for team in teams]
    return sorted(name for name in names if name and name != "None")


def team_details(schema: dict[str, Any], prediction: dict[str, Any], team: str, side: str) -> dict[str, Any]:
    """Whatever the schema or the prediction tells about a team (rating, form, ...), flat."""
    details: dict[str, Any] = {}
    state = schema.get("team_state")
    if isinstance(state, dict) and isinstance(state.get(team), dict):
        details.update(state[team])
    teams = schema.get("teams") or schema.get("known_teams")
    if isinstance(teams, dict) and isinstance(teams.get(team), dict):
        details.update(teams[team])
    elif isinstance(teams, list):
        for entry in teams:
            if isinstance(entry, dict) and (entry.get("name") or entry.get("team")) == team:
                details.update({k: v for k, v in entry.items() if k not in ("name", "team")})
    for key in ("teams", "team_state", "context"):
        block = prediction.get(key)
        if isinstance(block, dict):
            entry = block.get(side) or block.get(team)
            if isinstance(entry, dict):
                details.update({k: v for k, v in entry.items() if k not in ("name", "team")})
    features = prediction.get("features")
    if isinstance(features, dict):
        for name, value in features.items():
            if name.startswith(f"{side}_"):
                details.setdefault(name.removeprefix(f"{side}_"), value)
    return details


# ---- prediction log -----------------------------------------------------------------------


def predictions_over_time(log: pd.DataFrame) -> pd.DataFrame:
    """Predictions per time bucket, the bucket size chosen from the span of the log."""
    if log.empty:
        return pd.DataFrame({"time": [], "predictions": []})
    span = log["timestamp"].max() - log["timestamp"].min()
    freq = "1min" if span <= pd.Timedelta(hours=2) else "1h" if span <= pd.Timedelta(days=3) else "1D"
    counts = log.set_index("timestamp").resample(freq).size()
    times = counts.index.tz_convert(None) if counts.index.tz is not None else counts.index  # charts want naive UTC
    return pd.DataFrame({"time": times, "predictions": counts.to_numpy()})


def latency_summary(log: pd.DataFrame) -> dict[str, float]:
    latencies = log["latency_ms"].dropna()
    if latencies.empty:
        return {}
    return {
        "p50_ms": float(latencies.quantile(0.5)),
        "p95_ms": float(latencies.quantile(0.95)),
        "p99_ms": float(latencies.quantile(0.99)),
        "max_ms": float(latencies.max()),
    }


def top_teams(log: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    counts: Counter[str] = Counter()
    for inputs in log["inputs"]:
        if isinstance(inputs, dict):
            for key in ("home_team", "away_team"):
                if inputs.get(key):
                    counts[str(inputs[key])] += 1
    return pd.DataFrame(counts.most_common(n), columns=["team", "requests"])


# ---- models ----------------------------------------------------------------------------


def version_rows(
    versions: list[dict[str, Any]], aliases: dict[str, str], runs: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per registered version: aliases, creation time, holdout metrics, baseline metrics, tags."""
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = []
    for entry in sorted(versions, key=lambda v: int(v.get("version", 0)), reverse=True):
        version = str(entry.get("version"))
        metrics = run_metrics(runs.get(entry.get("run_id", ""), {}))
        tags = {tag["key"]: tag["value"] for tag in entry.get("tags", []) if "key" in tag}
        created = entry.get("creation_timestamp")
        rows.append(
            {
                "version": version,
                "aliases": ", ".join(sorted(by_version.get(version, []))),
                "created": pd.to_datetime(int(created), unit="ms", utc=True) if created else None,
                "run_id": entry.get("run_id"),
                "holdout": {k.removeprefix("holdout_"): v for k, v in metrics.items() if k.startswith("holdout_")},
                "baselines": baseline_metrics(metrics),
                "tags": tags,
            }
        )
    return rows


def run_metrics(run: dict[str, Any]) -> dict[str, float]:
    return {m["key"]: float(m["value"]) for m in run.get("data", {}).get("metrics", []) if "key" in m}


def baseline_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``baseline_<baseline>_<metric>`` keys grouped by baseline (baseline names may hold underscores)."""
    known_metrics = ("log_loss", "rps", "brier", "accuracy", "ece", "roc_auc", "f1", "mae", "mape", "smape")
    grouped: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if not key.startswith("baseline_"):
            continue
        rest = key.removeprefix("baseline_")
        metric = next((m for m in known_metrics if rest.endswith(f"_{m}")), None)
        if metric is None:
            continue
        grouped.setdefault(rest.removesuffix(f"_{metric}"), {})[metric] = value
    return grouped


def comparison_frame(row: dict[str, Any]) -> pd.DataFrame:
    """Long frame (scorer, metric, value) of one version's holdout metrics against its baselines."""
    records = [{"scorer": f"model v{row['version']}", "metric": k, "value": v} for k, v in row["holdout"].items()]
    for baseline, metrics in row["baselines"].items():
        records.extend({"scorer": baseline, "metric": k, "value": v} for k, v in metrics.items())
    frame = pd.DataFrame(records, columns=["scorer", "metric", "value"])
    frame["metric"] = frame["metric"].map(lambda m: f"{m} ({'higher' if m in HIGHER_IS_BETTER else 'lower'} is better)")
    return frame


# ---- datasets --------------------------------------------------------------------------


def dataset_entries(listing: Any) -> list[dict[str, Any]]:
    """Ingest's dataset listing as a flat list of {task, dataset, ...} whatever envelope it uses."""
    entries = listing.get("datasets", listing) if isinstance(listing, dict) else listing
    if isinstance(entries, dict):  # {task: [dataset, ...]} or {task: {dataset: {...}}}
        flat = []
        for task, datasets in entries.items():
            items = datasets.items() if isinstance(datasets, dict) else ((d, {}) for d in datasets)
            for name, extra in items:
                flat.append({"task": task, "dataset": name, **(extra if isinstance(extra, dict) else {})})
        return flat
    return [entry for entry in entries or [] if isinstance(entry, dict)]


def version_entries(listing: Any) -> list[dict[str, Any]]:
    """Ingest's versions listing (manifests or names), newest first."""
    entries = listing.get("versions", listing) if isinstance(listing, dict) else listing
    flat = [entry if isinstance(entry, dict) else {"version": str(entry)} for entry in entries or []]
    return sorted(flat, key=lambda entry: str(entry.get("created_at", "")), reverse=True)


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


def goals_distribution(matches: pd.DataFrame) -> pd.DataFrame:
    goals = (matches["home_score"] + matches["away_score"]).clip(upper=10)
    counts = goals.value_counts().sort_index()
    return pd.DataFrame({"goals": counts.index.astype(int), "matches": counts.to_numpy()})


def results_by_year(matches: pd.DataFrame) -> pd.DataFrame:
    """Share of home wins, draws and away wins per year (long format)."""
    year = pd.to_datetime(matches["date"]).dt.year
    result = pd.Series("draw", index=matches.index)
    result[matches["home_score"] > matches["away_score"]] = "home"
    result[matches["home_score"] < matches["away_score"]] = "away"
    shares = pd.crosstab(year, result, normalize="index")
    long = shares.reset_index().melt(id_vars=shares.index.name or "date", var_name="result", value_name="share")
    return long.rename(columns={shares.index.name or "date": "year"})


def home_advantage_by_year(matches: pd.DataFrame) -> pd.DataFrame:
    """Home win rate minus away win rate per year, on non-neutral grounds only."""
    played = matches[~matches["neutral"].astype(bool)] if "neutral" in matches else matches
    year = pd.to_datetime(played["date"]).dt.year
    edge = (played["home_score"] > played["away_score"]).astype(float) - (
        played["home_score"] < played["away_score"]
    ).astype(float)
    frame = edge.groupby(year).agg(["mean", "size"])
    return pd.DataFrame({"year": frame.index, "home_advantage": frame["mean"].to_numpy(), "matches": frame["size"]})


def request_fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Instance fields from model-api's schema: the JSON schema of one request (``request``), by name."""
    request = schema.get("request") or {}
    properties = request.get("properties") or schema.get("fields") or {}
    if isinstance(properties, list):
        properties = {str(f.get("name")): f for f in properties if isinstance(f, dict)}
    required = set(request.get("required", []))
    fields = {}
    for name, spec in properties.items():
        spec = dict(spec) if isinstance(spec, dict) else {"type": str(spec)}
        kinds = [spec.get("type")] + [
            option.get("type") for option in spec.get("anyOf", []) if isinstance(option, dict)
        ]
        kind = next((k for k in kinds if k and k != "null"), "string")
        fields[name] = {**spec, "type": kind, "required": name in required}
    return fields


def promotion_events(history: Any) -> pd.DataFrame:
    """The trainer's promotion history (``{"events": [...]}``) as a table, newest first, metrics left out."""
    events = history.get("events", history.get("history", [])) if isinstance(history, dict) else history
    columns = ["at", "event", "version", "decision", "reason", "by", "mode", "compared_with"]
    rows = [{name: event.get(name) for name in columns} for event in events or [] if isinstance(event, dict)]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.dropna(axis=1, how="all")


# ---- monitoring results (model-api GET /v1/monitoring/drift and /accuracy) ------------------


def monitoring_results(answer: Any) -> list[dict[str, Any]]:
    results = answer.get("results", []) if isinstance(answer, dict) else answer
    return [r for r in results or [] if isinstance(r, dict)]


def latest_drift_run(results: list[dict[str, Any]]) -> pd.DataFrame:
    """The newest monitor run's drift rows (one per feature and one for the predictions)."""
    if not results:
        return pd.DataFrame()
    frame = pd.DataFrame(results)
    if "run_id" in frame:
        newest = (
            frame.sort_values("@timestamp", ascending=False)["run_id"].iloc[0]
            if "@timestamp" in frame
            else (frame["run_id"].iloc[0])
        )
        frame = frame[frame["run_id"] == newest]
    return frame.reset_index(drop=True)


def accuracy_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    """Live metric per version and day with the version's holdout value: long (day, version, metric, live, holdout)."""
    rows = []
    for doc in results:
        for metric in ("accuracy", "log_loss", "rps", "brier", "mae"):
            if doc.get(metric) is None:
                continue
            rows.append(
                {
                    "day": doc.get("day"),
                    "model_version": str(doc.get("model_version")),
                    "metric": metric,
                    "live": float(doc[metric]),
                    "holdout": doc.get(f"holdout_{metric}"),
                    "matches": doc.get("count"),
                }
            )
    frame = pd.DataFrame(rows, columns=["day", "model_version", "metric", "live", "holdout", "matches"])
    frame["day"] = pd.to_datetime(frame["day"], errors="coerce")
    return frame.sort_values("day").reset_index(drop=True)
