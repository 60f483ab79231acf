"""``scoreline replay TASK --from DATE``: play a real period forward against the running services (see
``scoreline.monitoring.replay``), with a progress bar here and on the dashboard's Monitoring page."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scoreline.cli.options import parse_day
from scoreline.core.errors import ScorelineError
from scoreline.core.settings import AuthSettings, ServiceUrls
from scoreline.monitoring.replay import ReplayStatus

console = Console(stderr=True)


class ClientServices:
    """The replay's services over the typed client (``scoreline_client``)."""

    def __init__(self, clients: Any) -> None:
        self.clients = clients

    def predict(self, task: str, instances: list[dict[str, Any]]) -> int:
        return len(self.clients.model_api.predict(task, instances)["predictions"])

    def append_results(self, task: str, dataset: str, content: bytes, filename: str) -> str:
        ingested = self.clients.ingest.upload_files(task, dataset, [(filename, content)], append=True, timeout_s=300)
        return ingested.manifest.version

    def monitor(self, task: str) -> dict[str, Any]:
        run = self.clients.trainer.monitor_run([task], timeout_s=600)
        return next((r for r in run["tasks"] if r["task"] == task), {})

    def logged(self, task: str, since: datetime) -> int:
        return self.clients.trainer.summary(task, since=since).predictions

    def report(self, status: ReplayStatus) -> None:
        self.clients.trainer.report_replay(status.model_dump(mode="json"))


def build_clients(urls: ServiceUrls, auth: AuthSettings) -> Any:
    try:
        from scoreline_client import ScorelineClients
    except ImportError as error:
        raise typer.BadParameter("scoreline replay needs the scoreline-client package (services/client)") from error
    return ScorelineClients.build(
        ingest_url=urls.ingest_url,
        trainer_url=urls.trainer_url,
        model_api_url=urls.model_api_url,
        api_key=auth.api_key.get_secret_value() if auth.api_key else None,
        admin_key=auth.admin_key.get_secret_value() if auth.admin_key else None,
        timeout_s=120.0,
    )


def source_table(clients: Any, task: str, dataset: str, version: str | None) -> tuple[Any, str]:
    """The replayed canonical table from ingest: ``dataset``'s ``version`` (its latest when None)."""
    import pandas as pd

    if version is None:
        latest = clients.ingest.latest_version(task, dataset)
        if latest is None:
            raise typer.BadParameter(f"ingest has no dataset {dataset!r} for {task}; ingest it first or name --dataset")
        version = latest.version
    content = clients.ingest.data(task, dataset, version, timeout_s=300)
    return pd.read_parquet(io.BytesIO(content)), version


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``scoreline`` app."""

    @app.command("replay")
    def replay_command(
        task_id: str = typer.Argument(..., metavar="TASK", help="e.g. match-outcome"),
        start: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD"),
        end: str | None = typer.Option(None, "--to", help="last day, YYYY-MM-DD (default: the data's last day)"),
        days: int | None = typer.Option(None, "--days", help="the period's length in days, instead of --to"),
        dataset: str | None = typer.Option(None, help="the real data played (default: the task's default dataset)"),
        version: str | None = typer.Option(None, help="its version (default: the latest)"),
        into: str = typer.Option("replay", help="the dataset each day's results are appended to"),
        monitor_every: int = typer.Option(7, min=1, help="run drift and live accuracy every this many played days"),
        as_json: bool = typer.Option(False, "--json", help="print the final status as JSON"),
    ) -> None:
        """Play a real period forward day by day: model-api predicts each day's matches before they happen (logged
        like any prediction), then the day's results are appended through ingest and the monitor runs, so live
        accuracy and drift fill in. Needs SCORELINE_API_KEY and SCORELINE_ADMIN_KEY, and the services' URLs."""
        from scoreline.monitoring.replay import period, replay
        from scoreline.tasks import get_task

        try:
            task = get_task(task_id)
        except ScorelineError as error:
            raise typer.BadParameter(error.message) from error
        first, last = parse_day(start, "--from"), parse_day(end, "--to")
        assert first is not None
        auth = AuthSettings()
        if auth.api_key is None or auth.admin_key is None:
            raise typer.BadParameter("set SCORELINE_API_KEY and SCORELINE_ADMIN_KEY (predictions, ingest, monitor)")
        clients = build_clients(ServiceUrls(), auth)
        name = dataset or task.default_dataset
        try:
            canonical, used = source_table(clients, task.id, name, version)
            first, last = period(first, last, days, canonical, task.date_column)
            console.print(f"replaying {task.id} {first} → {last} from {name}@{used}; results into {into!r}")
            with Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console,
            ) as progress:  # fmt: skip
                bar = progress.add_task("days", total=(last - first).days + 1, detail="")

                def on_day(status: ReplayStatus) -> None:
                    live = status.live or {}
                    detail = f"{status.day} predictions={status.predictions} results={status.results}"
                    if live:
                        detail += f" drift={live.get('drift_status')} matched={live.get('matched')}"
                    progress.update(bar, completed=status.days_done, detail=detail)

                final = replay(
                    task, canonical, first, last, ClientServices(clients),
                    dataset=into, monitor_every=monitor_every, on_day=on_day,
                )  # fmt: skip
        except ScorelineError as error:
            console.print(f"[red]error[/red] ({error.code.value}): {error.message}")
            raise typer.Exit(1) from error
        except Exception as error:  # the client's ServiceError: a service refused or is down
            message = getattr(error, "message", None)
            if message is None:
                raise
            console.print(f"[red]error[/red]: {message}")
            raise typer.Exit(2) from error
        if as_json:
            typer.echo(json.dumps(final.model_dump(mode="json"), indent=2))
        else:
            live = final.live or {}
            typer.echo(
                f"{final.task}: {final.days_total} days, {final.predictions} predictions logged, {final.results} "
                f"results into {final.dataset}@{final.dataset_version}; drift {live.get('drift_status')} "
                f"({live.get('drift_rows')} rows), live accuracy matched {live.get('matched')}"
            )
