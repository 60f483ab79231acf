from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from scoreline.errors import ScorelineError


def register(app: typer.Typer) -> None:
    app.command("up")(up)


def up(
    bootstrap: bool = typer.Option(True, help="Simulate, ingest, train and promote every task after start."),
    stay: bool = typer.Option(True, help="Keep running until Ctrl-C."),
) -> None:
    """Start MLflow, ingest, trainer, model-api and the dashboard locally (``make run``)."""
    from scoreline.stack import LocalStack, StackSettings, resolve_keys, wait_forever

    console = Console()
    settings = StackSettings()
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

                    stack.bootstrap(progress)
            console.print(stack.banner())
            if stay:
                wait_forever()
    except ScorelineError as error:
        console.print(f"[red]scoreline up failed:[/red] {error.message}")
        raise typer.Exit(1) from error
    except KeyboardInterrupt:
        console.print("stopping")
