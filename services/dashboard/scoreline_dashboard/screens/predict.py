"""Predict: pick a task and its inputs, see the probabilities, the likely result and the model version."""

from __future__ import annotations

import datetime as dt
from typing import Any

import altair as alt
import streamlit as st
from scoreline_dashboard import ui, views
from scoreline_dashboard.services import ModelApi, PredictResult

config = ui.settings()
st.title("Predict")
st.caption(f"Asks model-api at {config.model_api_url} for the served champion's probabilities.")

task = ui.task_picker(config, key="predict_task")
schema = ui.read("schema", task, config=config, spinner="Loading the served model's inputs…")
if schema is None:
    st.stop()


def show_result(result: PredictResult, instance: dict[str, Any]) -> None:
    prediction = result.predictions[0]
    probabilities = prediction.probabilities
    home, away = instance.get("home_team", "home"), instance.get("away_team", "away")
    labels = {"home": f"{home} win", "draw": "Draw", "away": f"{away} win"}
    st.subheader(views.outcome_in_words(probabilities, home, away, neutral=bool(instance.get("neutral"))))
    columns = st.columns(len(probabilities))
    frame = views.probabilities_frame(probabilities, labels)
    for column, row in zip(columns, frame.itertuples(), strict=True):
        column.metric(row.outcome, f"{row.probability:.1%}")
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="probability"),
            y=alt.Y("outcome:N", sort=None, title=None),
            color=alt.Color("outcome:N", legend=None),
            tooltip=["outcome", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=160)
    )
    st.altair_chart(chart, use_container_width=True)
    st.caption(f"Model {result.model_name or f'scoreline-{task}'} · version {result.model_version or 'unknown'}")
    if prediction.label:
        st.caption(f"Predicted: {prediction.label}")
    raw = prediction.model_dump()
    details = {side: views.team_details(schema, raw, team, side) for side, team in (("home", home), ("away", away))}
    if any(details.values()):
        st.markdown("**Teams now** (the served model's state)")
        left, right = st.columns(2)
        for column, side, team in ((left, "home", home), (right, "away", away)):
            column.markdown(f"**{team}**")
            if details[side]:
                column.json(details[side], expanded=True)
            else:
                column.caption("no details")


COMPETITIONS = [
    "Friendly",
    "FIFA World Cup",
    "FIFA World Cup qualification",
    "UEFA Euro",
    "UEFA Nations League",
    "Copa América",
    "African Cup of Nations",
    "AFC Asian Cup",
    "Gold Cup",
]


def match_form() -> dict[str, Any] | None:
    teams = views.team_names(schema)
    if not teams:
        st.warning("The served model lists no teams yet: is a champion loaded? See the Models page.")
        return None
    st.caption(f"{len(teams):,} teams known to the served model. Type in a box to search.")
    left, right = st.columns(2)
    home = left.selectbox("Home team", teams, index=None, placeholder="Type to search…", key="home_team")
    away = right.selectbox("Away team", teams, index=None, placeholder="Type to search…", key="away_team")
    left, middle, right = st.columns(3)
    date = left.date_input("Match date", value=dt.date.today(), key="match_date")
    competition = middle.selectbox(
        "Competition", COMPETITIONS, index=0, accept_new_options=True, key="competition",
        help="Its importance shapes the prediction; type another name if it is not listed.",
    )  # fmt: skip
    right.write("")
    neutral = right.checkbox("Neutral venue", key="neutral", help="No home advantage, e.g. a tournament abroad.")
    problems = views.match_problems(home, away, teams)
    for problem in problems:
        st.info(problem)
    if not st.button("Predict", type="primary", disabled=bool(problems), key="predict_button"):
        return None
    return {
        "home_team": home,
        "away_team": away,
        "date": date.isoformat(),
        "neutral": neutral,
        "competition": competition or "Friendly",
    }


def generic_form() -> dict[str, Any] | None:
    instance: dict[str, Any] = {}
    for name, spec in views.request_fields(schema).items():
        label = f"{name}{' *' if spec['required'] else ''}"
        help_text = spec.get("description")
        if spec["type"] in ("number", "integer"):
            value = st.number_input(label, value=spec.get("default"), key=f"field_{name}", help=help_text)
        elif spec["type"] == "boolean":
            value = st.checkbox(label, value=bool(spec.get("default", False)), key=f"field_{name}", help=help_text)
        else:
            value = st.text_input(label, value=spec.get("default") or "", key=f"field_{name}", help=help_text) or None
        if value is not None:
            instance[name] = int(value) if spec["type"] == "integer" else value
    if not st.button("Predict", type="primary", key="predict_button"):
        return None
    return instance


instance = match_form() if task == "match-outcome" else generic_form()
if instance is not None:
    result = ui.attempt(lambda: ModelApi(config).predict(task, [instance]), spinner="Asking the model…")
    if result is not None:
        st.session_state["last_prediction"] = (task, instance, result)

if "last_prediction" in st.session_state:
    last_task, last_instance, last_result = st.session_state["last_prediction"]
    if last_task == task:
        show_result(last_result, last_instance)
