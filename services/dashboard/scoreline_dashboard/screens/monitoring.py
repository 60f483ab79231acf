"""Monitoring: traffic, latency and most requested teams from the prediction log; drift per feature and live
accuracy against holdout from model-api's monitoring reads."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from scoreline_dashboard import predlog, ui, views

DRIFT_COLUMNS = ("feature", "kind", "psi", "statistic_name", "statistic", "p_value", "status", "rows")

config = ui.settings()
st.title("Monitoring")
task = ui.task_picker(config, key="monitoring_task")

st.header("Traffic")
st.caption(f"From the {predlog.source_label(config)}.")
log = ui.read("predictions", task, config=config, spinner="Reading the prediction log…")
if log is not None:
    if log.empty:
        st.info(f"No prediction of {task} has been logged yet.")
    else:
        columns = st.columns(5)
        columns[0].metric("Predictions", f"{len(log):,}")
        for column, (name, value) in zip(columns[1:], views.latency_summary(log).items(), strict=False):
            column.metric(f"latency {name.removesuffix('_ms')}", f"{value:.1f} ms")
        st.subheader("Predictions over time")
        st.altair_chart(
            alt.Chart(views.predictions_over_time(log))
            .mark_bar()
            .encode(x="time:T", y="predictions:Q", tooltip=["time:T", "predictions"]),
            use_container_width=True,
        )
        left, right = st.columns(2)
        left.subheader("Latency")
        left.altair_chart(
            alt.Chart(log[["latency_ms"]].dropna())
            .mark_bar()
            .encode(x=alt.X("latency_ms:Q", bin=alt.Bin(maxbins=30), title="latency (ms)"), y="count()"),
            use_container_width=True,
        )
        right.subheader("Most requested teams")
        teams = views.top_teams(log)
        if teams.empty:
            right.caption("The logged requests name no teams.")
        else:
            right.altair_chart(
                alt.Chart(teams).mark_bar().encode(x="requests:Q", y=alt.Y("team:N", sort="-x")),
                use_container_width=True,
            )


st.header("Drift per feature")
st.caption("Written by the monitor run (POST /v1/admin/monitor, scheduled by the scoreline_monitor DAG).")
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
        shown = [
            c for c in ("feature", "kind", "psi", "statistic_name", "statistic", "p_value", "status") if c in frame
        ]
        st.dataframe(frame[shown], hide_index=True, use_container_width=True)

st.header("Live accuracy vs holdout")
accuracy = ui.read("accuracy", task, config=config, spinner="Reading live accuracy…")
if accuracy is not None:
    frame = views.accuracy_frame(views.monitoring_results(accuracy))
    if frame.empty:
        st.info("No prediction has been joined with a real result yet (the monitor run does that).")
    else:
        metric = st.selectbox("Metric", sorted(frame["metric"].unique()), key="accuracy_metric")
        chosen = frame[frame["metric"] == metric]
        live = (
            alt.Chart(chosen)
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title="match day"),
                y=alt.Y("live:Q", title=f"live {metric}"),
                color=alt.Color("model_version:N", title="version"),
                tooltip=["day:T", "model_version", "live", "holdout", "matches"],
            )
        )
        holdout = (
            alt.Chart(chosen.dropna(subset=["holdout"]).drop_duplicates("model_version"))
            .mark_rule(strokeDash=[4, 4])
            .encode(y="holdout:Q", color="model_version:N", tooltip=["model_version", "holdout"])
        )
        st.altair_chart(live + holdout, use_container_width=True)
        st.caption("Lines: live score per match day; dashed: the version's holdout score.")
