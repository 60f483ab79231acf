"""Ingest throughput: simulated matches as CSV → validated canonical Parquet in the store.

Printed beside the baseline measured in the same run on the same file: pyarrow's own CSV reader
and Parquet writer with no validation (``pyarrow.csv.read_csv`` → ``pyarrow.parquet.write_table``).
Each side runs ``--repeats`` times, alternating, into fresh folders; the best time of each counts,
which keeps noise from other processes on a shared machine out of the ratio.

    uv run python benchmarks/ingest.py [--matches 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from scoreline.cli.data import write_simulation
from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore

TASK = "match-outcome"


def raw_pyarrow(csv: Path, out_dir: Path) -> float:
    out_dir.mkdir(parents=True)
    started = time.perf_counter()
    table = pacsv.read_csv(csv)
    pq.write_table(table, out_dir / "data.parquet", compression="zstd")
    return time.perf_counter() - started


def scoreline_ingest(csv: Path, store_dir: Path) -> tuple[float, int]:
    catalog = DatasetCatalog(LocalStore(store_dir))
    started = time.perf_counter()
    result = catalog.ingest(TASK, "benchmark", csv, csv.name, source_kind="cli")
    elapsed = time.perf_counter() - started
    assert result.created
    return elapsed, result.manifest.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scoreline-bench-ingest-"))
    try:
        csv, _ = write_simulation(TASK, args.matches, args.seed, work / "matches.csv")
        size_mb = csv.stat().st_size / 1e6
        print(f"input: {args.matches:,} simulated matches, {size_mb:.1f} MB CSV")
        raw_times, ingest_times = [], []
        rows = 0
        for repeat in range(args.repeats):
            raw_times.append(raw_pyarrow(csv, work / f"raw-{repeat}"))
            elapsed, rows = scoreline_ingest(csv, work / f"store-{repeat}")
            ingest_times.append(elapsed)
            shutil.rmtree(work / f"raw-{repeat}")
            shutil.rmtree(work / f"store-{repeat}")
        assert rows == args.matches
        raw_best, ingest_best = min(raw_times), min(ingest_times)
        print(f"{'':38} {'best s':>8} {'rows/s':>12}   all runs (s)")
        print(
            f"{'raw pyarrow CSV -> Parquet (baseline)':38} {raw_best:8.2f} {rows / raw_best:12,.0f}   "
            + " ".join(f"{t:.2f}" for t in raw_times)
        )
        print(
            f"{'scoreline ingest (validated, stored)':38} {ingest_best:8.2f} {rows / ingest_best:12,.0f}   "
            + " ".join(f"{t:.2f}" for t in ingest_times)
        )
        ratio = raw_best / ingest_best
        print(f"ingest speed / raw speed = {ratio:.2f} (target >= 0.50): {'met' if ratio >= 0.5 else 'NOT met'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
