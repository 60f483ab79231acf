"""Monitoring: traffic, latency percentiles and the most requested entities of a task's predictions (trainer
``GET /v1/monitor/summary``), its newest logged predictions (``GET /v1/monitor/predictions``), drift per feature
(``GET /v1/monitor/drift``), live accuracy against holdout (``GET /v1/monitor/accuracy``) and the progress of a
``scoreline replay`` (``GET /v1/monitor/replays``). The trainer reads
model-api's prediction log (Elasticsearch or JSON Lines); the dashboard only asks the trainer."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from scoreline_dashboard import ui, views

DRIFT_COLUMNS = ("feature", "kind", "psi", "statistic_name", "statistic", "p_value", "status", "rows")
BUCKETS = {"minute": "per minute", "hour": "per hour", "day": "per day"}

config = ui.settings()
st.title("Monitoring")
task = ui.task_picker(config, key="monitoring_task")
if task is None:
    st.stop()

replays = ui.read("replays", task, config=config) or []
if replays:
    st.header("Replay")
    fraction, text = views.replay_progress(replays[0])
    st.progress(fraction, text=text)
    st.caption("`scoreline replay` plays a real period forward: predictions before each day, its results after.")

st.header("Traffic")
bucket = st.radio("Buckets", list(BUCKETS), format_func=BUCKETS.get, horizontal=True, key="monitoring_bucket")
summary = ui.read("summary", task, bucket, config=config, spinner="Summarising the prediction log…")
if summary is not None:
    st.caption(
        f"From the trainer at {config.trainer_url}, reading the {summary.get('source', '?')} prediction log: "
        f"{str(summary.get('since', ''))[:19]} to {str(summary.get('until', ''))[:19]} UTC."
    )
    if not summary.get("predictions"):
        st.info(f"No prediction of {task} has been logged in this window.")
    else:
        latency = summary.get("latency") or {}
        columns = st.columns(5)
        columns[0].metric("Predictions", f"{int(summary['predictions']):,}")
        for column, name in zip(columns[1:], ("p50", "p95", "p99", "max"), strict=True):
            if latency.get(f"{name}_ms") is not None:
                column.metric(f"latency {name}", f"{float(latency[f'{name}_ms']):.1f} ms")
        if summary.get("truncated"):
            st.caption("The window held more predictions than the trainer reads at once: the newest are counted.")
        st.subheader("Predictions over time")
        st.altair_chart(
            alt.Chart(views.traffic_frame(summary))
            .mark_bar()
            .encode(x=alt.X("time:T", title="time (UTC)"), y="predictions:Q", tooltip=["time:T", "predictions"]),
            use_container_width=True,
        )
        left, right = st.columns(2)
        left.subheader("Model versions")
        versions = pd.DataFrame(
            [{"version": k, "predictions": v} for k, v in (summary.get("model_versions") or {}).items()]
        )
        left.dataframe(versions, hide_index=True, use_container_width=True)
        right.subheader("Most requested")
        entities = views.top_entities_frame(summary)
        if entities.empty:
            right.caption("The task's requests name no entities.")
        else:
            right.altair_chart(
                alt.Chart(entities)
                .mark_bar()
                .encode(
                    x="requests:Q",
                    y=alt.Y("value:N", sort="-x", title=None),
                    color=alt.Color("field:N", title="field"),
                    tooltip=["field", "value", "requests"],
                ),
                use_container_width=True,
            )

with st.expander("Newest logged predictions"):
    recent = ui.read("predictions", task, config=config, spinner="Reading the newest predictions…")
    if recent is not None:
        records = recent.get("records") or []
        if not records:
            st.caption("None yet.")
        else:
            frame = pd.json_normalize(records, max_level=1)
            keep = [c for c in frame.columns if not c.startswith("features.")]
            st.dataframe(frame[keep], hide_index=True, use_container_width=True)

st.header("Drift per feature")
st.caption("Written by the monitor run (trainer POST /v1/monitor/runs, scheduled by the scoreline_monitor DAG).")
drift = ui.read("drift", task, config=config, spinner="Reading drift…")
if drift is not None:
    frame = views.latest_drift_run(views.monitoring_results(drift))
    if frame.empty or "psi" not in frame:
        st.info("No drift has been measured yet.")
    else:
        warn = float(frame["psi_warn_threshold"].iloc[0]) if "psi_warn_threshold" in frame else 0.1
        alert = float(frame["psi_alert_threshold"].iloc[0]) if "psi_alert_threshold" in frame else 0.25
        status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
        frame = frame.assign(status=status.fillna("ok"))
        window = frame["window"].iloc[0] if "window" in frame and isinstance(frame["window"].iloc[0], dict) else {}
        alerts = frame[frame["status"] == "alert"]["feature"].tolist()
        (st.warning if alerts else st.success)(
            f"{len(alerts)} of {len(frame)} drifting beyond PSI {alert:g}: {', '.join(alerts)}"
            if alerts
            else f"No feature beyond the PSI alert threshold {alert:g}."
        )
        if window:
            st.caption(f"Window {window.get('start')} to {window.get('end')}, {window.get('rows')} predictions.")
        bars = (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("psi:Q", title="PSI"),
                y=alt.Y("feature:N", sort="-x", title=None),
                color=alt.Color(
                    "status:N",
                    scale=alt.Scale(domain=["ok", "warn", "alert"], range=["#4c78a8", "#f2a93b", "#e45756"]),
                ),
                tooltip=[c for c in DRIFT_COLUMNS if c in frame],
            )
        )  # fmt: skip
        rules = alt.Chart(pd.DataFrame({"psi": [warn, alert], "threshold": ["warn", "alert"]})).mark_rule(
            strokeDash=[4, 4]
        ).encode(x="psi:Q", tooltip=["threshold", "psi"])  # fmt: skip
        st.altair_chart(bars + rules, use_container_width=True)
        st.caption(f"Dashed lines: PSI thresholds warn {warn:g} and alert {alert:g}.")
        shown = [c for c in DRIFT_COLUMNS if c in frame and c != "rows"]
        st.dataframe(frame[shown], hide_index=True, use_container_width=True)

st.header("Live accuracy vs holdout")
accuracy = ui.read("accuracy", task, config=config, spinner="Reading live accuracy…")
if accuracy is not None:
    frame = views.accuracy_frame(views.monitoring_results(accuracy))
    if frame.empty:
        st.info("No prediction has been joined with a real outcome yet (the monitor run does that).")
    else:
        metric = st.selectbox("Metric", sorted(frame["metric"].unique()), key="accuracy_metric")
        chosen = frame[frame["metric"] == metric]
        live = (
            alt.Chart(chosen)
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title="day"),
                y=alt.Y("live:Q", title=f"live {metric}"),
                color=alt.Color("model_version:N", title="version"),
                tooltip=["day:T", "model_version", "live", "holdout", "count"],
            )
        )
        holdout = (
            alt.Chart(chosen.dropna(subset=["holdout"]).drop_duplicates("model_version"))
            .mark_rule(strokeDash=[4, 4])
            .encode(y="holdout:Q", color="model_version:N", tooltip=["model_version", "holdout"])
        )
        st.altair_chart(live + holdout, use_container_width=True)
        st.caption("Lines: live score per day; dashed: the version's holdout score.")
        st.dataframe(chosen, hide_index=True, use_container_width=True)
