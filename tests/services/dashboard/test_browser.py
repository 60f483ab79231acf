"""The dashboard in headless Chromium (Debian's ``chromium``, driven by Playwright) against a running stack:
real MLflow with a trained champion, model-api, ingest and trainer processes, and the dashboard started the way
``make run`` starts it (``python -m scoreline_dashboard``), given the three service URLs only. Pick two teams on
Predict, submit, read three probabilities that sum to 1 and the served model version; pick the forecast task,
submit its example request, see the fan chart and the values of every horizon day. Screenshots of every page go to
test-artifacts/dashboard/ (gitignored) for a person to look at."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import REPO, ServerProcess, free_port
from tests.services.dashboard.conftest import SECOND_TASK, ServingStack

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Each page's title, and a text its last section shows once the script has run to the end.
PAGES = {
    "batch": ("Batch predictions", "One row per request."),
    "models": ("Models", "Change the champion"),
    "data": ("Data", "Columns of version"),
    "monitoring": ("Monitoring", "Live accuracy vs holdout"),
}


@pytest.fixture(scope="module")
def dashboard(serving_stack: ServingStack, logs_dir: Path) -> Iterator[ServerProcess]:
    port = free_port()
    server = ServerProcess(
        "dashboard",
        [sys.executable, "-m", "scoreline_dashboard"],
        port,
        health_path="/_stcore/health",
        env={**serving_stack.env(), "SCORELINE_DASHBOARD_PORT": str(port)},
        log_path=logs_dir / f"dashboard-{port}.log",
    )
    with server.start(timeout_s=120):
        yield server


@pytest.fixture(scope="module")
def browser_page() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make system-deps)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # Streamlit scrolls inside its own container, so a tall window is what shows a whole page.
        page = browser.new_page(viewport={"width": 1280, "height": 2200})
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            browser.close()


def settled(page: Any, quiet_s: float = 2.0, timeout_s: float = 60.0) -> None:
    """Wait until the script run is over: no spinner and no 'running' indicator for ``quiet_s`` in a row
    (both appear only after a short delay, so one look is not enough)."""
    busy = '[data-testid="stSpinner"], [data-testid="stStatusWidget"]'
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if page.locator(busy).count():
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the page was still running after {timeout_s}s")


def choose(page: Any, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()


def test_predict_in_the_browser_and_screenshot_every_page(
    serving_stack: ServingStack, dashboard: ServerProcess, browser_page: Any
) -> None:
    page = browser_page
    api = serving_stack.model_api.url
    schema = httpx.get(f"{api}/v1/match-outcome/schema", timeout=10).json()
    served = next(m for m in serving_stack.read(f"{api}/v1/models").json()["models"] if m["task"] == "match-outcome")
    home, away = schema["entities"]["home_team"][:2]

    page.goto(dashboard.url + "/")
    page.get_by_role("heading", name="Predict").wait_for()
    settled(page)
    choose(page, "Task", "match-outcome")
    settled(page)
    choose(page, "Home Team", home)
    settled(page)
    choose(page, "Away Team", away)
    settled(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    page.locator('[data-testid="stMetricValue"]').nth(2).wait_for()
    settled(page)

    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    probabilities = [float(v.strip().rstrip("%")) / 100 for v in values]
    assert len(probabilities) == 3
    assert all(0 < p < 1 for p in probabilities)
    assert sum(probabilities) == pytest.approx(1.0, abs=0.002)  # each shown to 0.1 %
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert [label.strip() for label in labels] == schema["classes"]
    assert page.get_by_text(re.compile(rf"version {re.escape(served['version'])}\b")).count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "predict.png"), full_page=True)

    for path, (title, last) in PAGES.items():
        page.goto(f"{dashboard.url}/{path}")
        page.get_by_role("heading", name=title).first.wait_for()
        page.get_by_text(last).first.wait_for()
        settled(page)
        page.screenshot(path=str(ARTIFACTS / f"{path}.png"), full_page=True)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{path} shows a traceback"
        assert "Traceback" not in page.content()
    assert {p.name for p in ARTIFACTS.glob("*.png")} >= {"predict.png", *(f"{p}.png" for p in PAGES)}


def test_predict_a_forecast_in_the_browser(
    serving_stack: ServingStack, dashboard: ServerProcess, browser_page: Any
) -> None:
    """A task of another kind, with three entity fields, drawn from its schema alone: a fan chart and a table."""
    task = SECOND_TASK
    schema = httpx.get(f"{serving_stack.model_api.url}/v1/{task}/schema", timeout=10).json()
    page = browser_page
    page.goto(dashboard.url + "/")
    page.get_by_role("heading", name="Predict").wait_for()
    settled(page)
    choose(page, "Task", task)
    settled(page)
    for field in schema["entity_fields"]:  # a picker per entity field, filled in from the example request
        page.locator('[data-testid="stSelectbox"]').filter(has_text=field.replace("_", " ").title()).wait_for()
    page.get_by_role("button", name="Predict", exact=True).click()
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    settled(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert page.get_by_text(re.compile(r"band: p10 to p90")).count() == 1
    page.screenshot(path=str(ARTIFACTS / f"predict-{task}.png"), full_page=True)
