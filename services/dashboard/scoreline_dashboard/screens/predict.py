"""Predict: pick a served task, fill in the form built from its schema, see the answer drawn by the task's kind.

Everything comes from model-api: the served tasks (``GET /v1/models``), the form (``GET /v1/{task}/schema``:
the request's JSON schema, entity fields with their known names, an example request for the defaults) and the
answer (``POST /v1/{task}/predict``). No task is named here."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import altair as alt
import streamlit as st
from scoreline_dashboard import ui, views
from scoreline_dashboard.services import ModelApi, PredictResult

GRID = 3  # scalar fields per row

config = ui.settings()
st.title("Predict")
st.caption(f"Asks model-api at {config.model_api_url} for the served champion's prediction.")

task = ui.task_picker(config, key="predict_task")
if task is None:
    st.stop()
schema = ui.read("schema", task, config=config, spinner="Loading the served model's inputs…")
if schema is None:
    st.stop()
kind = str(schema.get("kind") or "")
if schema.get("title"):
    st.subheader(str(schema["title"]))
if not schema.get("model_version"):
    st.warning(f"model-api serves no model for {task} yet: train one and promote it (Models page).")
    st.stop()
fields = views.form_fields(schema)


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _number(spec: views.FormField, value: Any, container: Any, key: str) -> Any:
    integer = spec.kind == "integer"
    cast = int if integer else float
    bounds: dict[str, Any] = {}
    if spec.minimum is not None:
        bounds["min_value"] = cast(spec.minimum)
    if spec.maximum is not None:
        bounds["max_value"] = cast(spec.maximum)
    start = cast(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if start is not None and (
        ("min_value" in bounds and start < bounds["min_value"])
        or ("max_value" in bounds and start > bounds["max_value"])
    ):
        start = None
    return container.number_input(
        _label(spec), value=start, step=1 if integer else None, format="%d" if integer else None,
        key=key, help=spec.description, placeholder="empty" if not spec.required else None, **bounds,
    )  # fmt: skip


def _label(spec: views.FormField) -> str:
    return f"{spec.title}{' *' if spec.required else ''}"


def field_widget(spec: views.FormField, container: Any) -> Any:
    """Draw one field; its value as the request takes it (None: left empty)."""
    key = f"field_{task}_{spec.name}"
    value = spec.default
    if spec.kind == "entity":
        index = spec.options.index(value) if value in spec.options else None
        return container.selectbox(
            _label(spec), spec.options, index=index, key=key, placeholder="Type to search…",
            help=spec.description or f"{len(spec.options):,} {spec.noun or 'name'}s known to the served model",
        )  # fmt: skip
    if spec.kind == "enum":
        options = spec.options if spec.required else [None, *spec.options]
        index = options.index(value) if value in options else 0
        return container.selectbox(_label(spec), options, index=index, key=key, help=spec.description)
    if spec.kind in ("number", "integer"):
        return _number(spec, value, container, key)
    if spec.kind == "boolean":
        if value is None and not spec.required:
            choice = container.selectbox(
                _label(spec), ["", "yes", "no"], index=0, key=key, help=spec.description,
                format_func=lambda o: o or "(leave out)",
            )  # fmt: skip
            return {"yes": True, "no": False}.get(choice)
        container.write("")
        return container.checkbox(_label(spec), value=bool(value), key=key, help=spec.description)
    if spec.kind == "date":
        chosen = container.date_input(_label(spec), value=_date(value), key=key, help=spec.description)
        return chosen.isoformat() if isinstance(chosen, dt.date) else None
    if spec.kind in ("string", "datetime"):
        text = container.text_input(_label(spec), value="" if value is None else str(value), key=key,
                                    help=spec.description)  # fmt: skip
        return text.strip() or None
    return None  # JSON fields are drawn below the grid


def json_widget(spec: views.FormField) -> tuple[Any, str | None]:
    key = f"field_{task}_{spec.name}"
    start = "" if spec.default is None else json.dumps(spec.default, indent=2)
    with st.expander(f"{_label(spec)} (JSON)", expanded=spec.required or bool(start)):
        text = st.text_area(
            spec.title, value=start, key=key, height=160, help=spec.description, label_visibility="collapsed",
            placeholder=f"Paste JSON here{'' if spec.required else ' (optional)'}: {spec.description or spec.name}",
        )  # fmt: skip
    return views.parse_json_field(text)


def request_form() -> dict[str, Any] | None:
    instance: dict[str, Any] = {}
    problems: list[str] = []
    scalar = [f for f in fields if f.kind != "json"]
    entity_counts = {f.noun: len(f.options) for f in scalar if f.kind == "entity"}
    if entity_counts:
        st.caption(
            " · ".join(f"{n:,} {noun}s known to the served model" for noun, n in entity_counts.items())
            + ". Type in a box to search."
        )
    for start in range(0, len(scalar), GRID):
        columns = st.columns(GRID)
        for column, spec in zip(columns, scalar[start : start + GRID], strict=False):
            instance[spec.name] = field_widget(spec, column)
    for spec in (f for f in fields if f.kind == "json"):
        value, problem = json_widget(spec)
        instance[spec.name] = value
        if problem:
            problems.append(f"{spec.title}: {problem}")
    instance = {name: value for name, value in instance.items() if value is not None and value != ""}
    problems = views.form_problems(fields, instance) + problems
    for problem in problems:
        st.info(problem)
    if not st.button("Predict", type="primary", disabled=bool(problems), key="predict_button"):
        return None
    return instance


def show_classification(answer: dict[str, Any]) -> None:
    frame = views.probabilities_frame(answer.get("probabilities") or {}, list(schema.get("classes") or []))
    columns = st.columns(max(1, len(frame)))
    for column, name, probability in zip(columns, frame["class"], frame["probability"], strict=False):
        column.metric(str(name), f"{probability:.1%}")
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
            y=alt.Y("class:N", sort=None, title=None),
            color=alt.Color("class:N", legend=None),
            tooltip=["class", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=max(80, 45 * len(frame)))
    )
    st.altair_chart(chart, use_container_width=True)


def show_forecast(answer: dict[str, Any]) -> None:
    frame = views.forecast_frame(answer)
    low_name, high_name = views.interval_names(answer)
    base = alt.Chart(frame).encode(x=alt.X("day:O", title="days ahead"))
    layers = []
    if frame["low"].notna().any():
        layers.append(
            base.mark_area(opacity=0.3).encode(
                y=alt.Y("low:Q", title="forecast"), y2="high:Q",
                tooltip=["day", alt.Tooltip("low:Q", title=low_name, format=",.0f"),
                         alt.Tooltip("high:Q", title=high_name, format=",.0f")],
            )
        )  # fmt: skip
    layers.append(
        base.mark_line(point=True).encode(
            y=alt.Y("value:Q", title="forecast"), tooltip=["day", alt.Tooltip("value:Q", format=",.1f")]
        )
    )
    st.altair_chart(alt.layer(*layers), use_container_width=True)
    st.caption(f"Line: the forecast per day ahead; band: {low_name} to {high_name}.")
    table = frame.rename(columns={"low": low_name, "high": high_name}).dropna(axis=1, how="all")
    st.dataframe(table, hide_index=True, use_container_width=True)


def show_contributions(answer: dict[str, Any]) -> None:
    frame = views.contributions_frame(answer.get("contributions"))
    if frame.empty:
        return
    st.markdown("**What pushed this prediction most** (SHAP values of the model's features)")
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title="contribution (model margin)"),
            y=alt.Y("feature:N", sort=None, title=None),
            color=alt.Color("direction:N", scale=alt.Scale(domain=["up", "down"], range=["#4c78a8", "#e45756"]),
                            legend=None),
            tooltip=["feature", alt.Tooltip("contribution:Q", format=".3f")],
        )
        .properties(height=max(80, 28 * len(frame)))
    )  # fmt: skip
    st.altair_chart(chart, use_container_width=True)


def show_entities(instance: dict[str, Any]) -> None:
    """What the served state says about the entities of the request (``team_state`` of the schema)."""
    state = schema.get("team_state") or {}
    named = [
        (spec.title, instance[spec.name])
        for spec in fields
        if spec.kind == "entity" and isinstance(state.get(instance.get(spec.name)), dict)
    ]
    if not named:
        return
    st.markdown("**Now, in the served model's state**")
    for column, (title, name) in zip(st.columns(len(named)), named, strict=True):
        column.markdown(f"**{name}** ({title})")
        column.json(state[name], expanded=False)


def show_result(result: PredictResult, instance: dict[str, Any]) -> None:
    answer = result.predictions[0].model_dump(exclude_none=True)
    if answer.get("label"):
        st.subheader(str(answer["label"]))
    if kind in ("binary", "multiclass") or (not kind and answer.get("probabilities")):
        show_classification(answer)
    elif kind == "forecast" or isinstance(answer.get("prediction"), list):
        show_forecast(answer)
    else:
        st.metric("Prediction", views.value_text(answer.get("prediction")))
    show_contributions(answer)
    show_entities(instance)
    st.caption(f"Model {result.model_name or f'scoreline-{task}'} · version {result.model_version or 'unknown'}")


instance = request_form()
if instance is not None:
    result = ui.attempt(lambda: ModelApi(config).predict(task, [instance]), spinner="Asking the model…")
    if result is not None:
        st.session_state["last_prediction"] = (task, instance, result)

if "last_prediction" in st.session_state:
    last_task, last_instance, last_result = st.session_state["last_prediction"]
    if last_task == task:
        show_result(last_result, last_instance)
        with st.expander("Request and answer (JSON)"):
            st.json({"instances": [last_instance], "answer": last_result.model_dump(mode="json", exclude_none=True)})
