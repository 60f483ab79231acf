"""``scoreline train``, ``scoreline promote`` and ``scoreline rollback``: the trainer's work, in-process."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from scoreline.cli.options import parse_day
from scoreline.core.errors import ScorelineError
from scoreline.core.settings import MlflowSettings, StorageSettings

console = Console(stderr=True)


class CliSettings(StorageSettings, MlflowSettings):
    promotion_margin: float = 0.001
    promotion_mode: str = "auto"
    promotion_baseline: str = "best"


def _fail(error: ScorelineError) -> typer.Exit:
    console.print(f"[red]error[/red] ({error.code.value}): {error.message}")
    if error.details:
        console.print(json.dumps(error.details, indent=2, default=str))
    return typer.Exit(code=1)


def _catalog(settings: CliSettings) -> Any:
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.data.storage import open_store

    return DatasetCatalog(open_store(settings))


def _promoter(settings: CliSettings) -> Any:
    from scoreline.lifecycle.pipeline import latest_from_catalog
    from scoreline.lifecycle.promotion import Promoter
    from scoreline.lifecycle.registry import Registry

    return Promoter(Registry(settings.mlflow_uri), latest_from_catalog(_catalog(settings)))


def _print_decision(decision: Any) -> None:
    console.print(f"[bold]{decision.decision}[/bold]: {decision.reason}")
    typer.echo(json.dumps(decision.to_dict(), indent=2, default=str))


def train_command(
    task: str = typer.Argument(..., help="task id, e.g. match-outcome"),
    dataset: str = typer.Option(..., "--dataset", "-d", help="dataset name in the catalog"),
    version: str | None = typer.Option(None, "--version", "-v", help="dataset version (latest when omitted)"),
    holdout_start: str | None = typer.Option(None, "--holdout-start", help="first holdout date, YYYY-MM-DD"),
    trials: int = typer.Option(0, "--trials", min=0, help="Optuna trials (0 = no tuning)"),
    seconds: float = typer.Option(120.0, "--seconds", min=1.0, help="tuning time budget in seconds"),
) -> None:
    """Train TASK on a dataset version, log it to MLflow and register it as the challenger."""
    from scoreline.lifecycle.pipeline import train_and_register
    from scoreline.ml.training import TuningBudget

    settings = CliSettings()
    start = parse_day(holdout_start, "--holdout-start")
    budget = TuningBudget(trials=trials, seconds=seconds) if trials else None
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    try:
        with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
            step = bar.add_task(f"training {task}", total=1.0)

            def progress(fraction: float, stage: str) -> None:
                bar.update(step, completed=fraction, description=stage[:60])

            trained = train_and_register(
                task,
                dataset,
                version,
                catalog=_catalog(settings),
                tracking_uri=settings.mlflow_uri,
                holdout_start=start,
                tuning_budget=budget,
                progress=progress,
            )
    except ScorelineError as error:
        raise _fail(error) from error
    registered = trained.registered
    console.print(f"registered {registered.name} version {registered.version} (run {registered.run_id}) as challenger")
    typer.echo(json.dumps({**registered.to_dict(), "metrics": trained.metrics}, indent=2))


def promote_command(
    task: str = typer.Argument(..., help="task id, e.g. match-outcome"),
    approve: str | None = typer.Option(None, "--approve", help="approve this version waiting for approval"),
    manual: bool = typer.Option(False, "--manual", help="record the decision and wait for --approve"),
    margin: float | None = typer.Option(None, "--margin", min=0.0, max=0.99, help="minimum relative improvement"),
    actor: str = typer.Option("cli", "--actor", help="who decides (recorded on the version)"),
) -> None:
    """Decide whether the challenger becomes champion (or approve a pending version)."""
    from scoreline.lifecycle.promotion import PromotionPolicy

    settings = CliSettings()
    try:
        promoter = _promoter(settings)
        if approve is not None:
            decision = promoter.approve(task, approve, actor)
        else:
            policy = PromotionPolicy(
                margin=settings.promotion_margin if margin is None else margin,
                mode="manual" if manual else settings.promotion_mode,  # type: ignore[arg-type]
                baseline=settings.promotion_baseline,
            )
            decision = promoter.decide(task, policy, actor)
    except ScorelineError as error:
        raise _fail(error) from error
    _print_decision(decision)


def rollback_command(
    task: str = typer.Argument(..., help="task id, e.g. match-outcome"),
    actor: str = typer.Option("cli", "--actor", help="who rolls back (recorded on the versions)"),
) -> None:
    """Point the champion back at the version it replaced."""
    try:
        decision = _promoter(CliSettings()).rollback(task, actor)
    except ScorelineError as error:
        raise _fail(error) from error
    _print_decision(decision)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``scoreline`` app."""
    app.command("train")(train_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
