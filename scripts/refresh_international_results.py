"""Refresh the bundled international results (data/international_results/) from the upstream repository.

Downloads ``results.csv``, ``shootouts.csv``, ``former_names.csv`` and ``LICENSE`` from
https://github.com/martj42/international_results at one commit (the newest on the default branch unless
``--ref`` names one), checks every CSV header and that ``results.csv`` is read by the match-outcome
adapter without a problem, then replaces the files atomically and records the commit in README.md.
Needs internet access to api.github.com and raw.githubusercontent.com.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import httpx

REPOSITORY = "martj42/international_results"
TARGET = Path(__file__).resolve().parents[1] / "data" / "international_results"
HEADERS = {
    "results.csv": "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral",
    "shootouts.csv": "date,home_team,away_team,winner,first_shooter",
    "former_names.csv": "current,former,start_date,end_date",
}
FILES = (*HEADERS, "LICENSE")


def resolve_commit(client: httpx.Client, ref: str | None) -> str:
    """The full commit sha of ``ref`` (a branch, tag or sha), or of the default branch's head."""
    answer = client.get(f"https://api.github.com/repos/{REPOSITORY}/commits/{ref or 'HEAD'}")
    answer.raise_for_status()
    return str(answer.json()["sha"])


def download(client: httpx.Client, commit: str, name: str) -> bytes:
    answer = client.get(f"https://raw.githubusercontent.com/{REPOSITORY}/{commit}/{name}")
    answer.raise_for_status()
    return answer.content


def check(files: dict[str, bytes]) -> int:
    """Raise on a changed header or a results file the adapter refuses; the number of matches."""
    for name, header in HEADERS.items():
        first = files[name].decode("utf-8-sig").split("\n", 1)[0].strip()
        if first != header:
            raise SystemExit(f"{name}: header changed upstream: {first!r}; expected {header!r}")
    if b"CC0" not in files["LICENSE"]:
        raise SystemExit("LICENSE: no longer CC0 upstream; not refreshing (check the new terms first)")
    from scoreline.tasks.match_outcome.data import to_canonical

    return len(to_canonical(files["results.csv"], "results.csv"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="upstream branch, tag or commit (default: the newest commit)")
    parser.add_argument("--dry-run", action="store_true", help="download and check, change nothing")
    args = parser.parse_args(argv)
    with httpx.Client(timeout=60.0, follow_redirects=True) as client:
        commit = resolve_commit(client, args.ref)
        files = {name: download(client, commit, name) for name in FILES}
    matches = check(files)
    print(f"{REPOSITORY}@{commit}: results.csv has {matches:,} matches")
    if args.dry_run:
        return 0
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        partial = TARGET / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(TARGET / name)
    readme = TARGET / "README.md"
    if readme.exists():
        text = re.sub(
            r"upstream commit `[0-9a-f]{40}`[^;\n]*",
            f"upstream commit `{commit}` (refreshed by scripts/refresh_international_results.py)",
            readme.read_text(),
        )
        readme.write_text(text)
    print(f"updated {TARGET}; review the row counts in {readme.name} and commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
