"""``scoreline-launcher``: ``up`` starts the suite locally (``make run``); ``bootstrap`` feeds running services."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

app = typer.Typer(
    help="Scoreline's local launcher: the whole suite as processes on this machine.", no_args_is_help=True
)


@app.callback()
def _root() -> None:
    """Keeps ``up`` a sub-command (``scoreline-launcher up``)."""


@app.command("up")
def up(
    bootstrap: bool = typer.Option(True, help="Ingest, train and promote every registered task after start."),
    stay: bool = typer.Option(True, help="Keep running until Ctrl-C."),
    simulated: bool = typer.Option(
        False,
        "--simulated",
        help="Feed every task its simulator's data; by default a task that bundles real data trains on it.",
    ),
) -> None:
    """Start MLflow, ingest, trainer, model-api and the dashboard locally (``make run``)."""
    from scoreline_client import ServiceError

    from scoreline.core.errors import ScorelineError
    from scoreline.core.logs import configure_logging
    from scoreline_launcher.processes import stop_on_signals
    from scoreline_launcher.stack import LocalStack, StackSettings, resolve_keys, wait_forever

    stop_on_signals()  # SIGTERM/SIGHUP stop every server too, as Ctrl-C does
    configure_logging("launcher", stream=sys.stdout)  # a command: its progress lines go to stdout
    console = Console()
    settings = StackSettings()
    if simulated:
        settings = settings.model_copy(update={"simulated": True})
    keys = resolve_keys(settings)
    stack = LocalStack(settings, keys, say=logging.getLogger("scoreline.launcher").info)  # timestamped lines
    try:
        with stack.running():
            if bootstrap:
                with Progress(TextColumn("training {task.description}"), BarColumn(), console=console) as bar:
                    bars: dict[str, int] = {}

                    def progress(task_id: str, fraction: float) -> None:
                        if task_id not in bars:
                            bars[task_id] = bar.add_task(task_id, total=1.0)
                        bar.update(bars[task_id], completed=fraction)

                    report = stack.bootstrap(progress)
                for task_id, reason in report.failed.items():
                    console.print(f"[red]{task_id} is not served:[/red] {reason}")
            console.print(stack.banner())
            if stay:
                with stack.monitoring():  # drift and live accuracy on a timer: the Monitoring page fills in
                    wait_forever()
    except (ScorelineError, ServiceError) as error:
        console.print(f"[red]scoreline-launcher up failed:[/red] {error.message}")
        raise typer.Exit(1) from error
    except RuntimeError as error:  # a server did not start; its log is named in the message
        console.print(f"[red]scoreline-launcher up failed:[/red] {error}")
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        console.print("stopping")


@app.command("bootstrap")
def bootstrap(
    task: list[str] = typer.Option(None, "--task", help="Only these tasks (repeatable); default: every task."),
) -> None:
    """Bootstrap services that already run (compose's one-shot job): no process is started.

    Reads SCORELINE_INGEST_URL, _TRAINER_URL, _MODEL_API_URL, _API_KEY, _ADMIN_KEY (and for the MLflow webhook
    SCORELINE_MLFLOW_URI, _WEBHOOK_URL, _WEBHOOK_SECRET). Exits 1 when a task is not served at the end."""
    from pydantic import ValidationError
    from scoreline_client import ServiceError

    from scoreline.core.errors import ScorelineError
    from scoreline.core.logs import configure_logging
    from scoreline_launcher.remote import BootstrapSettings, RemoteStack

    configure_logging("launcher", stream=sys.stdout)  # a command: its progress lines go to stdout
    console = Console()
    try:
        settings = BootstrapSettings()  # type: ignore[call-arg]  # required values come from the environment
    except ValidationError as error:
        missing = ", ".join(f"SCORELINE_{'_'.join(map(str, e['loc'])).upper()}" for e in error.errors())
        console.print(f"[red]scoreline-launcher bootstrap: missing or invalid settings:[/red] {missing}")
        raise typer.Exit(2) from error
    stack = RemoteStack(settings, say=logging.getLogger("scoreline.launcher").info)
    try:
        report = stack.run(task or None)
    except (ScorelineError, ServiceError) as error:
        console.print(f"[red]scoreline-launcher bootstrap failed:[/red] {error.message}")
        raise typer.Exit(1) from error
    except RuntimeError as error:
        console.print(f"[red]scoreline-launcher bootstrap failed:[/red] {error}")
        raise typer.Exit(1) from error
    for task_id, reason in report.failed.items():
        console.print(f"[red]{task_id} is not served:[/red] {reason}")
    served = sorted(stack.served_tasks())
    console.print(f"served: {', '.join(served) or 'nothing'}")
    if report.failed:
        raise typer.Exit(1)


def main() -> None:
    app()
