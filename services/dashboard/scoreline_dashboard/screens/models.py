"""Models: what model-api serves (``GET /v1/models``), the registered versions with holdout metrics against
the baselines (trainer ``GET /v1/models/{task}/versions``), a version's reliability diagram (its logged holdout
calibration table, ``.../versions/{version}/calibration``), error by horizon day for forecasts, the promotion
history (trainer ``GET /v1/promotions/{task}``, admin key) and the admin actions (promote, approve, roll back)."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from scoreline_dashboard import ui, views
from scoreline_dashboard.services import Trainer

config = ui.settings()
st.title("Models")
task = ui.task_picker(config, key="models_task")
if task is None:
    st.stop()

# ---- what model-api serves --------------------------------------------------------------
st.header("Served now")
models = ui.read("models", config=config, spinner="Asking model-api what it serves…")
if models is not None:
    served = views.served_entry(models, task)
    if served is None or not served.get("version"):
        st.warning(f"model-api serves no model for {task} yet.")
    else:
        columns = st.columns(3)
        columns[0].metric("Served version", str(served.get("version")))
        columns[1].metric("Alias", str(served.get("alias") or "champion"))
        loaded_at = str(served.get("loaded_at") or "")
        columns[2].metric("Loaded at (UTC)", loaded_at[11:19] or "?", help=loaded_at or None)
    error = (served or {}).get("last_reload_error")
    if error:
        text = error.get("message", error) if isinstance(error, dict) else error
        st.warning(f"The last reload failed, the served version stays: {text}")
    metrics = (served or {}).get("holdout_metrics")
    if metrics:
        overall = {k: v for k, v in metrics.items() if not k.rsplit("_d", 1)[-1].isdigit()}
        st.dataframe(pd.DataFrame([overall or metrics]), hide_index=True)

# ---- the registry (through the trainer) -------------------------------------------------
st.header("Registered versions")
listing = ui.read("model_versions", task, config=config, spinner="Reading the registered versions…")
if listing is not None:
    versions = listing.get("versions") or []
    if not versions:
        st.info(f"{listing.get('model_name') or task} has no versions yet.")
    else:
        aliases = listing.get("aliases") or {}
        columns = st.columns(3)
        columns[0].metric("Champion", f"v{aliases['champion']}" if "champion" in aliases else "none")
        columns[1].metric("Challenger", f"v{aliases['challenger']}" if "challenger" in aliases else "none")
        columns[2].metric("Primary metric", str(listing.get("primary_metric") or "?"))
        st.dataframe(views.versions_frame(listing), hide_index=True, use_container_width=True)
        chosen = st.selectbox("Compare with baselines", [str(v["version"]) for v in versions], key="compare_version")
        version = next(v for v in versions if str(v["version"]) == chosen)
        comparison = views.comparison_frame(version)
        if comparison.empty:
            st.info(f"Version {chosen} has no holdout metrics logged.")
        else:
            chart = (
                alt.Chart(comparison)
                .mark_bar()
                .encode(
                    x=alt.X("value:Q", title=None),
                    y=alt.Y("scorer:N", title=None),
                    color=alt.Color("scorer:N", legend=None),
                    row=alt.Row("metric:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
                    tooltip=["scorer", "metric", alt.Tooltip("value:Q", format=".4f")],
                )
                .properties(height=alt.Step(22), width=480)
                .resolve_scale(x="independent")
            )
            st.altair_chart(chart)
        if listing.get("kind") in ("binary", "multiclass"):
            st.subheader("Reliability diagram")
            calibration = ui.read("calibration", task, chosen, config=config, spinner="Reading the calibration…")
            points = views.reliability_frame(calibration or {})
            if points.empty:
                st.info(f"Version {chosen} logged no calibration table.")
            else:
                diagonal = alt.Chart(pd.DataFrame({"predicted": [0.0, 1.0], "observed": [0.0, 1.0]})).mark_line(
                    strokeDash=[4, 4], color="grey"
                ).encode(x="predicted:Q", y="observed:Q")  # fmt: skip
                lines = (
                    alt.Chart(points)
                    .mark_line(point=True)
                    .encode(
                        x=alt.X("predicted:Q", title="predicted probability", scale=alt.Scale(domain=[0, 1])),
                        y=alt.Y("observed:Q", title="observed frequency", scale=alt.Scale(domain=[0, 1])),
                        color=alt.Color("class:N", title="class"),
                        tooltip=["class", alt.Tooltip("predicted:Q", format=".3f"),
                                 alt.Tooltip("observed:Q", format=".3f"), "count"],
                    )
                )  # fmt: skip
                st.altair_chart((diagonal + lines).properties(width=480, height=420))
                st.caption(
                    f"Holdout of version {chosen}, from its run's evaluation/calibration.csv: a well calibrated "
                    "model's points lie on the dashed diagonal."
                )
        by_day = views.horizon_frame(version)
        if not by_day.empty:
            st.subheader("Error by horizon day")
            metric = st.selectbox("Metric", sorted(by_day["metric"].unique()), key="horizon_metric")
            st.altair_chart(
                alt.Chart(by_day[by_day["metric"] == metric])
                .mark_line(point=True)
                .encode(
                    x=alt.X("day:O", title="days ahead"),
                    y=alt.Y("value:Q", title=views.metric_label(metric)),
                    color=alt.Color("scorer:N", title=None),
                    tooltip=["scorer", "day", alt.Tooltip("value:Q", format=".4f")],
                ),
                use_container_width=True,
            )
        with st.expander("Tags"):
            st.json(version.get("tags") or {})

# ---- promotions -------------------------------------------------------------------------
st.header("Promotions")
st.caption("The trainer keeps the promotion history and the actions behind the admin key (SCORELINE_ADMIN_KEY).")
admin_key = st.text_input("Admin key", type="password", key="admin_key")
history_key = admin_key or config.history_key
st.subheader("History")
if not history_key:
    st.info("Enter the admin key to see the promotion history.")
else:
    history = ui.read("promotions", task, history_key, config=config, spinner="Reading the promotion history…")
    if history is not None:
        events = views.promotion_events(history)
        if events.empty:
            st.info("No promotion has happened yet.")
        else:
            st.dataframe(events, hide_index=True, use_container_width=True)

st.subheader("Change the champion")
action = st.radio(
    "Action",
    ["promote", "approve", "rollback"],
    format_func={
        "promote": "Decide: compare the challenger with the champion and promote it if it is better",
        "approve": "Approve a version waiting for approval (manual mode)",
        "rollback": "Roll back to the previous champion",
    }.get,
    key="promotion_action",
)
body: dict[str, Any] = {"actor": "dashboard"}
if action == "promote":
    mode = st.radio(
        "Mode", ["auto", "manual"], horizontal=True, key="promotion_mode",
        help="manual: a better challenger waits for approval instead of being promoted.",
    )  # fmt: skip
    body["mode"] = mode
elif action == "approve":
    body["version"] = st.text_input("Version to approve", key="promotion_version").strip()
missing = "the admin key" if not admin_key else "a version" if action == "approve" and not body["version"] else None
if missing:
    st.caption(f"Enter {missing} above to run this.")
if st.button("Run", type="primary", disabled=bool(missing), key="promotion_run"):
    answer = ui.attempt(
        lambda: Trainer(config).promotion_action(task, action, admin_key, body),
        spinner=f"Running {action}… (a decision evaluates both models; this can take a while)",
    )
    if answer is not None:
        decision = answer.get("decision", action) if isinstance(answer, dict) else action
        reason = answer.get("reason", "") if isinstance(answer, dict) else ""
        st.success(f"{decision}: {reason}" if reason else str(decision))
        with st.expander("Full answer"):
            st.json(answer)
        st.cache_data.clear()  # the registry and the history changed
