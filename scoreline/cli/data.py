"""Data commands: ``scoreline simulate``, ``scoreline ingest`` and ``scoreline datasets``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

from scoreline.core.errors import ScorelineError

console = Console(stderr=True)


def truth_path(out: Path) -> Path:
    """Where the true probabilities of a simulated file go: ``results.csv`` → ``results.truth.csv``."""
    return out.with_name(f"{out.stem}.truth{out.suffix or '.csv'}")


def write_simulation(task_id: str, matches: int, seed: int, out: Path) -> tuple[Path, Path]:
    """Simulate ``matches`` rows of ``task_id`` into ``out`` and the truth side file next to it."""
    import numpy as np
    import pyarrow as pa

    from scoreline.tasks import get_task

    raw, truth = get_task(task_id).simulate(matches, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(raw, preserve_index=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_boolean(field.type):  # the source format spells booleans TRUE/FALSE
            spelled = pa.array(np.where(raw[field.name].to_numpy(), "TRUE", "FALSE"))
            table = table.set_column(index, field.name, spelled)
    _write_plain_csv(table, out)
    side = truth_path(out)
    _write_plain_csv(pa.Table.from_pandas(truth, preserve_index=False), side)
    return out, side


def _write_plain_csv(table: Any, path: Path) -> None:
    """CSV without quotes, like the source formats (quotes only if a value needs them)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open("wb") as handle:
        handle.write((",".join(table.column_names) + "\n").encode())
        try:
            pacsv.write_csv(table, handle, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        except pa.ArrowInvalid:
            handle.seek(0)
            handle.truncate()
            pacsv.write_csv(table, handle, pacsv.WriteOptions(quoting_style="needed"))


def simulate(
    task: str = typer.Argument(..., help="task id, e.g. match-outcome"),
    matches: int = typer.Option(20_000, "--matches", "-n", min=1, help="number of rows to simulate"),
    seed: int = typer.Option(7, help="random seed; the same seed gives the same data"),
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write; the truth goes to <name>.truth.csv"),
) -> None:
    """Write seeded realistic data in the task's raw format, plus the true probabilities of every row."""
    with console.status(f"simulating {matches:,} rows of {task}"):
        try:
            data, side = write_simulation(task, matches, seed, out)
        except ScorelineError as exc:
            _fail(exc)
    console.print(f"wrote {data} and {side}")


class _ProgressReader:
    """A file wrapper that advances a progress bar as httpx reads the upload."""

    def __init__(self, handle: BinaryIO, progress: Progress, task_id: Any) -> None:
        self.handle = handle
        self.progress = progress
        self.task_id = task_id

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.progress.advance(self.task_id, len(chunk))
        return chunk


def ingest(
    task: str = typer.Argument(..., help="task id, e.g. match-outcome"),
    dataset: str = typer.Argument(..., help="dataset name (a slug such as international-results)"),
    files: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="the raw data file(s): several make one version"
    ),
    url: str | None = typer.Option(None, "--url", help="ingest service base URL; default: the local store directly"),
    api_key: str | None = typer.Option(None, "--api-key", envvar="SCORELINE_API_KEY", help="for --url"),
    timeout_s: float = typer.Option(600.0, "--timeout", help="HTTP timeout for --url"),
    append: bool = typer.Option(
        False, "--append", help="extend the dataset's latest version: the union, de-duplicated (e.g. a new season)"
    ),
) -> None:
    """Validate raw files and store them as one dataset version (locally, or through an ingest service)."""
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    file = files[0]
    if len(files) > 1 or append:
        manifest, created = _ingest_files(task, dataset, files, url, api_key, timeout_s, append)
    elif url:
        import httpx

        size = file.stat().st_size
        with (
            Progress(*columns, DownloadColumn(), TransferSpeedColumn(), console=console) as progress,
            file.open("rb") as handle,
        ):
            bar = progress.add_task(f"uploading {file.name}", total=size)
            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            response = httpx.post(
                f"{url.rstrip('/')}/v1/datasets/{task}/{dataset}",
                files={"file": (file.name, _ProgressReader(handle, progress, bar), "text/csv")},
                headers=headers,
                timeout=timeout_s,
            )
            progress.update(bar, description="validated and stored")
        if response.status_code >= 400:
            console.print(f"[red]ingest answered {response.status_code}[/red]")
            typer.echo(response.text)
            raise typer.Exit(1)
        manifest = response.json()
        created = response.status_code == 201
    else:
        from scoreline.core.settings import StorageSettings
        from scoreline.data.datasets import DatasetCatalog
        from scoreline.data.storage import open_store

        catalog = DatasetCatalog(open_store(StorageSettings()))
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task(f"ingesting {file.name}", total=1.0)

            def report(stage: str, fraction: float) -> None:
                progress.update(bar, description=stage, completed=fraction)

            try:
                result = catalog.ingest(task, dataset, file, file.name, source_kind="cli", progress=report)
            except ScorelineError as exc:
                progress.stop()
                _fail(exc)
        manifest = result.manifest.model_dump(mode="json")
        created = result.created
    state = "new version" if created else "already stored"
    console.print(f"{task}/{dataset}@{manifest['version']}: {state}, {manifest['rows']:,} rows")
    lineage = manifest.get("lineage") or {}
    if lineage:
        base = lineage.get("base_version") or "nothing"
        console.print(
            f"  from {len(lineage.get('files', []))} file(s) on {base}: {lineage.get('rows_added', 0):,} rows added, "
            f"{lineage.get('duplicates_dropped', 0):,} duplicates dropped"
        )
    typer.echo(json.dumps(manifest, indent=2))


def datasets(
    url: str | None = typer.Option(None, "--url", help="ingest service base URL; default: the local store"),
) -> None:
    """List the stored datasets and their latest versions."""
    if url:
        import httpx

        listing = httpx.get(f"{url.rstrip('/')}/v1/datasets", timeout=60).json()
    else:
        from scoreline.core.settings import StorageSettings
        from scoreline.data.datasets import DatasetCatalog
        from scoreline.data.storage import open_store

        listing = [s.model_dump(mode="json") for s in DatasetCatalog(open_store(StorageSettings())).list_datasets()]
    typer.echo(json.dumps(listing, indent=2))


def _fail(exc: ScorelineError) -> None:
    console.print(f"[red]{exc.code.value}[/red]: {exc.message}")
    if exc.details:
        typer.echo(json.dumps(exc.details, indent=2, default=str))
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the ``scoreline`` app."""
    app.command("simulate")(simulate)
    app.command("ingest")(ingest)
    app.command("datasets")(datasets)


def _ingest_files(
    task: str, dataset: str, files: list[Path], url: str | None, api_key: str | None, timeout_s: float, append: bool
) -> tuple[dict[str, Any], bool]:
    """Several files as one version (and/or appended), through the service or into the local store."""
    if url:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        parts = [
            ("file", (f.name, f.read_bytes(), "application/zip" if f.suffix == ".zip" else "text/csv")) for f in files
        ]
        with console.status(f"uploading {len(files)} file(s)"):
            response = httpx.post(
                f"{url.rstrip('/')}/v1/datasets/{task}/{dataset}",
                files=parts,
                params={"append": "true"} if append else None,
                headers=headers,
                timeout=timeout_s,
            )
        if response.status_code >= 400:
            console.print(f"[red]ingest answered {response.status_code}[/red]")
            typer.echo(response.text)
            raise typer.Exit(1)
        return response.json(), response.status_code == 201
    from scoreline.core.settings import StorageSettings
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.data.storage import open_store

    catalog = DatasetCatalog(open_store(StorageSettings()))
    try:
        with console.status(f"ingesting {len(files)} file(s)"):
            result = catalog.ingest_files(task, dataset, [(f.name, f) for f in files], append=append, source_kind="cli")
    except ScorelineError as exc:
        _fail(exc)
    return result.manifest.model_dump(mode="json"), result.created
