from __future__ import annotations

import json

import httpx
import typer

from scoreline.core.settings import AuthSettings, ServiceUrls


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``scoreline`` app."""

    @app.command("monitor")
    def monitor(
        task: list[str] = typer.Option(None, "--task", help="task to check (repeatable); all champions if omitted"),
        window_hours: float | None = typer.Option(None, help="drift window in hours (settings default)"),
        as_json: bool = typer.Option(False, "--json", help="print the whole report as JSON"),
    ) -> None:
        """Run drift and live accuracy now on the trainer (POST /v1/monitor/runs) and print the statuses.

        Exits 1 when a task's alert rule holds. Needs SCORELINE_ADMIN_KEY and SCORELINE_TRAINER_URL.
        """
        urls, auth = ServiceUrls(), AuthSettings()
        if auth.admin_key is None:
            raise typer.BadParameter("set SCORELINE_ADMIN_KEY: the monitor route is an admin route")
        body = {"tasks": task or None, "window_hours": window_hours}
        try:
            response = httpx.post(
                urls.trainer_url.rstrip("/") + "/v1/monitor/runs",
                json=body,
                headers={"Authorization": f"Bearer {auth.admin_key.get_secret_value()}"},
                timeout=600,
            )
        except httpx.HTTPError as error:
            typer.echo(f"the trainer at {urls.trainer_url} did not answer: {error}", err=True)
            raise typer.Exit(2) from error
        if response.status_code >= 400:
            typer.echo(f"the trainer answered {response.status_code}: {response.text[:500]}", err=True)
            raise typer.Exit(2)
        report = response.json()
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        else:
            for result in report["tasks"]:
                drift = result.get("drift") or {}
                typer.echo(
                    f"{result['task']:<20} v{result['model_version'] or '-':<6} {result['status']:<18} "
                    f"rows={drift.get('rows', 0):<7} alert={result['alert']} {result['reason'] or ''}"
                )
        raise typer.Exit(1 if report["alert"] else 0)
