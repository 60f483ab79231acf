"""Data: the datasets and versions ingest holds, a version's manifest and notes, and the distribution of each
column of its canonical table. All from ingest: ``GET /v1/datasets``, ``GET /v1/datasets/{task}/{dataset}/versions``,
``GET .../versions/{version}`` and ``GET .../versions/{version}/data`` (Parquet). No task's columns are named."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from scoreline_dashboard import ui, views

DEFAULT_PLOTS = 4
config = ui.settings()
st.title("Data")
st.caption(f"Dataset versions from ingest at {config.ingest_url}. Versions are immutable; the newest is used to train.")

entries = ui.read("datasets", config=config, spinner="Listing datasets…")
if entries is None:
    st.stop()
if not entries:
    st.info("No dataset has been ingested yet. Upload one with POST /v1/datasets/{task}/{dataset} on ingest.")
    st.stop()

left, right = st.columns(2)
tasks = sorted({str(entry.get("task")) for entry in entries})
task = left.selectbox("Task", tasks, key="data_task")
datasets = sorted({str(entry.get("dataset")) for entry in entries if entry.get("task") == task})
dataset = right.selectbox("Dataset", datasets, key="data_dataset")

listing = ui.read("versions", task, dataset, config=config, spinner="Listing versions…")
if listing is None:
    st.stop()
versions = views.newest_first(listing)
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
    notes = views.manifest_notes(manifest)
    if notes:
        st.markdown("**Notes from the adapter**")
        st.markdown("\n".join(f"- {note}" for note in notes))
    with st.expander("Manifest", expanded=False):
        st.json(manifest)

st.header(f"Columns of version {version}")
table = ui.read("data", task, dataset, version, config=config, spinner="Loading the version's rows…")
if table is None:
    st.stop()
if len(table) > config.dashboard_max_plot_rows:
    st.caption(f"Plotted: a seeded sample of {config.dashboard_max_plot_rows:,} of {len(table):,} rows.")
    table = table.sample(config.dashboard_max_plot_rows, random_state=0)

summary = views.column_summary(table)
st.dataframe(
    summary,
    hide_index=True,
    use_container_width=True,
    column_config={"missing": st.column_config.ProgressColumn("missing", format="percent", min_value=0, max_value=1)},
)
names = [str(c) for c in table.columns]
chosen = st.multiselect("Distributions of", names, default=names[:DEFAULT_PLOTS], key="data_columns")


def distribution_chart(series: pd.Series) -> alt.Chart:
    kind = views.column_kind(series)
    if kind in ("numeric", "datetime") and series.nunique(dropna=True) > 12:
        bins = views.histogram(series)
        if kind == "datetime":
            bins = bins.assign(start=pd.to_datetime(bins["start"]), end=pd.to_datetime(bins["end"]))
        axis_type = "T" if kind == "datetime" else "Q"
        return (
            alt.Chart(bins)
            .mark_bar()
            .encode(
                x=alt.X(f"start:{axis_type}", title=str(series.name)), x2="end", y=alt.Y("rows:Q", title="rows"),
                tooltip=["start", "end", "rows"],
            )
        )  # fmt: skip
    counts = views.top_categories(series)
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(x=alt.X("rows:Q"), y=alt.Y("value:N", sort=None, title=str(series.name)), tooltip=["value", "rows"])
    )


for start in range(0, len(chosen), 2):
    for column, name in zip(st.columns(2), chosen[start : start + 2], strict=False):
        column.subheader(name)
        column.altair_chart(distribution_chart(table[name]), use_container_width=True)

with st.expander("First rows"):
    st.dataframe(table.head(50), use_container_width=True)
