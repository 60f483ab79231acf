"""Monitoring: traffic, latency and most requested teams from the prediction log; drift per feature and live
accuracy against holdout from model-api's monitoring reads."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from scoreline_dashboard import predlog, ui, views

DEFAULT_PSI_THRESHOLD = 0.2

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


def entries_of(answer: Any, *keys: str) -> list[dict[str, Any]]:
    if isinstance(answer, list):
        return [e for e in answer if isinstance(e, dict)]
    if isinstance(answer, dict):
        for key in keys:
            if isinstance(answer.get(key), list):
                return [e for e in answer[key] if isinstance(e, dict)]
    return []


st.header("Drift per feature")
drift = ui.read("drift", task, config=config, spinner="Reading drift…")
if drift is not None:
    rows = entries_of(drift, "features", "drift", "results", "items")
    if not rows:
        st.info("No drift has been measured yet (the monitor run writes it).")
    else:
        frame = pd.DataFrame(rows)
        threshold = float(drift.get("psi_threshold", DEFAULT_PSI_THRESHOLD)) if isinstance(drift, dict) else 0.2
        if "psi" in frame:
            frame["drifted"] = frame["psi"] >= threshold
            bars = (
                alt.Chart(frame)
                .mark_bar()
                .encode(
                    x=alt.X("psi:Q", title="PSI"),
                    y=alt.Y("feature:N", sort="-x"),
                    color=alt.Color("drifted:N", scale=alt.Scale(domain=[False, True], range=["#4c78a8", "#e45756"])),
                    tooltip=list(frame.columns),
                )
            )
            rule = alt.Chart(pd.DataFrame({"psi": [threshold]})).mark_rule(strokeDash=[4, 4]).encode(x="psi:Q")
            st.altair_chart(bars + rule, use_container_width=True)
            st.caption(f"Dashed line: PSI threshold {threshold:g}; features beyond it are drifting.")
        st.dataframe(frame, hide_index=True, use_container_width=True)

st.header("Live accuracy vs holdout")
accuracy = ui.read("accuracy", task, config=config, spinner="Reading live accuracy…")
if accuracy is not None:
    rows = entries_of(accuracy, "versions", "results", "items", "accuracy")
    if not rows and isinstance(accuracy, dict) and accuracy:
        rows = [accuracy]
    if not rows:
        st.info("No prediction has been joined with a real result yet.")
    else:
        st.dataframe(pd.json_normalize(rows), hide_index=True, use_container_width=True)
