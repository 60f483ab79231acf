"""Batch: upload a CSV or Parquet file, preview it, predict it through model-api, download the result."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st
from scoreline_dashboard import ui, views
from scoreline_dashboard.services import ModelApi, Trainer

PREVIEW_ROWS = 20
CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}

config = ui.settings()
st.title("Batch predictions")
st.caption(
    "Upload many requests at once (a table of rows to compare); model-api predicts every row and gives back the "
    "same table with the prediction, its words and, for classification, the probability of each class."
)

task = ui.task_picker(config, key="batch_task")
upload = st.file_uploader("CSV or Parquet file", type=list(CONTENT_TYPES), key="batch_file")
if task is None:
    st.stop()


def scheduled_runs(task_id: str) -> None:
    """The scheduled prediction runs of the task (POST /v1/predictions/{task} on the trainer; the daily DAG)."""
    runs = ui.attempt(lambda: Trainer(config).prediction_runs(task_id))
    with st.expander(f"Scheduled prediction runs ({len(runs or [])})", expanded=False):
        if not runs:
            st.caption("No scheduled prediction run yet (the daily scoreline_predict DAG makes them).")
            return
        table = pd.DataFrame(runs)[["run_id", "created_at", "model_version", "dataset_version", "rows"]]
        st.dataframe(table, use_container_width=True, hide_index=True)
        chosen = st.selectbox("Run", [run["run_id"] for run in runs], key="scheduled_run")
        if chosen and st.button("Show this run", key="scheduled_show"):
            data = ui.attempt(lambda: Trainer(config).prediction_run_data(task_id, chosen))
            if data is not None:
                st.dataframe(pd.read_csv(io.BytesIO(data)), use_container_width=True, hide_index=True)
                st.download_button("Download run", data=data, file_name=f"{task_id}-{chosen}.csv", mime="text/csv")


scheduled_runs(task)
if upload is None:
    schema = ui.read("schema", task, config=config)
    fields = views.form_fields(schema) if schema else []
    if fields:
        st.info(f"One row per request. Columns: {views.example_columns(fields)} (bold ones are required).")
    st.stop()

content = upload.getvalue()
extension = upload.name.rsplit(".", 1)[-1].lower()


def read_table(data: bytes, kind: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data)) if kind == "parquet" else pd.read_csv(io.BytesIO(data))


try:
    preview = read_table(content, extension)
except Exception as exc:  # any parser error means the file is not what it claims to be
    st.error(f"{upload.name} could not be read as {extension.upper()}: {exc}")
    st.stop()
st.markdown(f"**{upload.name}** · {len(preview):,} rows · columns: {', '.join(map(str, preview.columns))}")
st.dataframe(preview.head(PREVIEW_ROWS), use_container_width=True)

if st.button("Predict all rows", type="primary", key="batch_predict"):
    answer = ui.attempt(
        lambda: ModelApi(config).predict_batch(task, upload.name, content, CONTENT_TYPES[extension]),
        spinner=f"Predicting {len(preview):,} rows…",
    )
    if answer is not None:
        st.session_state["batch_result"] = (upload.name, answer)

if "batch_result" in st.session_state and st.session_state["batch_result"][0] == upload.name:
    _, (data, content_type) = st.session_state["batch_result"]
    kind = "parquet" if "parquet" in content_type else "csv"
    try:
        result = read_table(data, kind)
    except Exception as exc:  # model-api answered something that is not a table
        st.error(f"model-api answered {content_type} that could not be read as a table: {exc}")
        st.stop()
    st.success(f"Predicted {len(result):,} rows.")
    # The whole table, sortable by any column: e.g. compare candidates by their probability.
    st.dataframe(result, use_container_width=True, hide_index=True)
    stem = upload.name.rsplit(".", 1)[0]
    st.download_button(
        "Download predictions",
        data=data,
        file_name=f"{stem}-predictions.{kind}",
        mime=content_type,
        key="batch_download",
    )
