"""The dashboard of the running services in headless Chromium, where match-outcome is served from the real
international results: pick two real national teams on Predict and read the served model's probabilities, then
see the champion's reliability diagram on Models (drawn from its run's logged calibration table)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from scoreline_launcher.stack import LocalStack

from tests.services.dashboard.test_browser import ARTIFACTS, browser_page, choose, settled  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(1800)]
TASK = "match-outcome"
HOME, AWAY = "Brazil", "Argentina"


def test_predict_two_real_national_teams_and_see_the_reliability_diagram(
    recent_results_stack: LocalStack,
    browser_page: Any,  # noqa: F811
) -> None:
    page = browser_page
    dashboard = recent_results_stack.url(recent_results_stack.settings.dashboard_port)
    api = recent_results_stack.clients().model_api
    known = api.schema(TASK).entities["home_team"]
    assert {HOME, AWAY} <= set(known) and "Baistmark" not in known  # real teams, not the simulator's
    served = api.models().get(TASK)
    assert served is not None and served.version

    page.goto(dashboard + "/")
    page.get_by_role("heading", name="Predict").wait_for()
    settled(page)
    choose(page, "Task", TASK)
    settled(page)
    choose(page, "Home Team", HOME)
    settled(page)
    choose(page, "Away Team", AWAY)
    settled(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.locator('[data-testid="stMetricValue"]').nth(2).wait_for()
    settled(page)
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    shown = [float(v.strip().rstrip("%")) / 100 for v in values]
    assert len(shown) == 3 and sum(shown) == pytest.approx(1.0, abs=0.002)
    # The same answer as model-api gives for the page's request: the two teams, the served example's defaults
    # (a neutral venue, today).
    example = api.schema(TASK).example_request or {}
    request = {**example, "home_team": HOME, "away_team": AWAY}
    answer = api.predict(TASK, request)["predictions"][0]["probabilities"]
    assert shown == pytest.approx([answer[c] for c in ("home", "draw", "away")], abs=0.0011)
    assert page.get_by_text(re.compile(rf"version {re.escape(str(served.version))}\b")).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "predict-real-teams.png"), full_page=True)

    page.goto(dashboard + "/models")
    page.get_by_role("heading", name="Models").first.wait_for()
    choose(page, "Task", TASK)
    page.get_by_role("heading", name="Reliability diagram").wait_for()
    page.get_by_text("evaluation/calibration.csv").first.wait_for()
    settled(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "models-reliability.png"), full_page=True)
