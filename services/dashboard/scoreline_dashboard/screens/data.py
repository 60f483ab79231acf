"""Data: dataset versions per task with their manifests, and distribution plots of the latest version."""

from __future__ import annotations

import altair as alt
import streamlit as st
from scoreline_dashboard import ui, views
from scoreline_dashboard.client import ServiceCallError

config = ui.settings()
st.title("Data")
st.caption(f"Dataset versions from ingest at {config.ingest_url}. Versions are immutable; the newest is used to train.")

listing = ui.read("datasets", config=config, spinner="Listing datasets…")
if listing is None:
    st.stop()
entries = views.dataset_entries(listing)
if not entries:
    st.info("No dataset has been ingested yet. Upload one with POST /v1/datasets/{task}/{dataset} on ingest.")
    st.stop()

tasks = sorted({str(entry.get("task")) for entry in entries})
task = st.selectbox("Task", tasks, key="data_task")
datasets = sorted({str(entry.get("dataset")) for entry in entries if entry.get("task") == task})
dataset = st.selectbox("Dataset", datasets, key="data_dataset")

versions_listing = ui.read("versions", task, dataset, config=config, spinner="Listing versions…")
if versions_listing is None:
    st.stop()
versions = views.version_entries(versions_listing)
if not versions:
    st.info(f"{task}/{dataset} has no versions.")
    st.stop()

st.dataframe(views.versions_table(versions), hide_index=True, use_container_width=True)
version = st.selectbox("Version", [str(v["version"]) for v in versions], key="data_version")
manifest = ui.read("manifest", task, dataset, version, config=config)
if manifest is not None:
    columns = st.columns(3)
    columns[0].metric("Rows", f"{int(manifest.get('rows', 0)):,}")
    columns[1].metric("Columns", len(manifest.get("columns", [])))
    created = str(manifest.get("created_at") or "")
    columns[2].metric("Created", created[:10] or "?", help=created or None)
    with st.expander("Manifest", expanded=False):
        st.json(manifest)

latest = str(versions[0]["version"])
st.header(f"Latest version {latest}")
if task != "match-outcome":
    st.info("Distribution plots are drawn for match-outcome datasets.")
    st.stop()
reader = ui.cached(ui.READERS["data"], config.dashboard_cache_ttl_s)
try:
    with st.spinner("Loading the latest version…"):
        matches = reader(ui.config_key(config), task, dataset, latest)
except ServiceCallError as exc:
    if exc.status == 404:
        st.info("ingest does not offer the rows of a version, so there are no plots; the manifest is above.")
    else:
        st.error(exc.message, icon=":material/error:")
    st.stop()

required = {"date", "home_score", "away_score"}
if not required <= set(matches.columns):
    st.info(f"The latest version lacks {', '.join(sorted(required - set(matches.columns)))}; no plots.")
    st.stop()

left, right = st.columns(2)
left.subheader("Goals per match")
left.altair_chart(
    alt.Chart(views.goals_distribution(matches))
    .mark_bar()
    .encode(x=alt.X("goals:O", title="total goals (10 = 10 or more)"), y="matches:Q", tooltip=["goals", "matches"]),
    use_container_width=True,
)
right.subheader("Home advantage over time")
right.altair_chart(
    alt.Chart(views.home_advantage_by_year(matches))
    .mark_line(point=True)
    .encode(
        x=alt.X("year:Q", axis=alt.Axis(format="d")),
        y=alt.Y("home_advantage:Q", title="home win rate minus away win rate", axis=alt.Axis(format="%")),
        tooltip=["year", alt.Tooltip("home_advantage:Q", format=".1%"), "matches"],
    ),
    use_container_width=True,
)
st.subheader("Results by year")
st.altair_chart(
    alt.Chart(views.results_by_year(matches))
    .mark_area()
    .encode(
        x=alt.X("year:Q", axis=alt.Axis(format="d")),
        y=alt.Y("share:Q", stack="normalize", axis=alt.Axis(format="%")),
        color=alt.Color("result:N", sort=["home", "draw", "away"]),
        tooltip=["year", "result", alt.Tooltip("share:Q", format=".1%")],
    ),
    use_container_width=True,
)
