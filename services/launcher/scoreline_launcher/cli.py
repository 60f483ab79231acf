"""``scoreline-launcher``: ``up`` starts the suite locally (``make run``)."""

from __future__ import annotations

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
    from scoreline_launcher.stack import LocalStack, StackSettings, resolve_keys, wait_forever

    console = Console()
    settings = StackSettings()
    if simulated:
        settings = settings.model_copy(update={"simulated": True})
    keys = resolve_keys(settings)
    stack = LocalStack(settings, keys, say=console.print)
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
                wait_forever()
    except (ScorelineError, ServiceError) as error:
        console.print(f"[red]scoreline-launcher up failed:[/red] {error.message}")
        raise typer.Exit(1) from error
    except RuntimeError as error:  # a server did not start; its log is named in the message
        console.print(f"[red]scoreline-launcher up failed:[/red] {error}")
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        console.print("stopping")


def main() -> None:
    app()
