"""What a served task must do end to end, checked against a running stack (``LocalStack``): shared by the
end-to-end tests of the built-in tasks and of the plug-in task defined in the tests."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
import pandas as pd
from scoreline_launcher.stack import LocalStack

from scoreline.predlog.jsonl import read_jsonl

DRIFT_ROWS = 150  # more than MonitoringSettings.drift_min_rows, so drift is measured


def schema(stack: LocalStack, task: str) -> dict[str, Any]:
    return httpx.get(f"{stack.url(stack.settings.model_api_port)}/v1/{task}/schema", timeout=10).json()


def predict(stack: LocalStack, task: str, instances: list[dict[str, Any]]) -> httpx.Response:
    return httpx.post(
        f"{stack.url(stack.settings.model_api_port)}/v1/{task}/predict", json={"instances": instances}, timeout=30
    )


def predict_batch(stack: LocalStack, task: str, table: pd.DataFrame) -> pd.DataFrame:
    response = httpx.post(
        f"{stack.url(stack.settings.model_api_port)}/v1/{task}/predict/batch",
        files={"file": ("requests.csv", table.to_csv(index=False).encode(), "text/csv")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return pd.read_csv(io.BytesIO(response.content))


def logged_records(stack: LocalStack, task: str, at_least: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The task's records in the local prediction log, once at least ``at_least`` are there (or the timeout)."""
    deadline = time.monotonic() + timeout_s
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        # Complete lines only: the sink may be writing a file meanwhile (read_jsonl skips a last line in part).
        records = [record for record in read_jsonl(stack.home / "predictions") if record.get("task") == task]
        if len(records) >= at_least:
            break
        time.sleep(0.5)
    return records


def monitor_run(stack: LocalStack, task: str) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.url(stack.settings.trainer_port)}/v1/monitor/runs",
        json={"tasks": [task]},
        headers={"Authorization": f"Bearer {stack.keys.admin_key}"},
        timeout=180,
    )
    assert response.status_code == 200, response.text
    return next(result for result in response.json()["tasks"] if result["task"] == task)


def open_predict_page(stack: LocalStack, task: str, answer_text: str) -> None:
    """The dashboard's Predict page in headless Chromium: the task's form, its example, Predict, the answer."""
    from playwright.sync_api import sync_playwright

    url = stack.url(stack.settings.dashboard_port)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{url}/?task={task}", timeout=90_000)
            page.get_by_role("button", name="Predict").first.wait_for(timeout=90_000)
            page.get_by_role("button", name="Predict").first.click()
            page.get_by_text(answer_text).first.wait_for(timeout=90_000)
        finally:
            browser.close()
